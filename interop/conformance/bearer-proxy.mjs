// A reverse proxy that adds `Authorization: Bearer <token>` to every request
// it forwards, and changes nothing else (Host and Origin pass through as the
// client sent them, bodies and SSE streams are piped).
//
// Why: the conformance suite's server scenarios connect without any
// credential and have no option to send one, while every lab server wants a
// token. Run them against this proxy, in front of the lab's server.
//
// Usage: node bearer-proxy.mjs [--listen 127.0.0.1:0]
//   prints `listening on http://HOST:PORT` once bound, then reads two lines
//   from stdin: the lab server's base URL (http://127.0.0.1:PORT) and the
//   token. Reading them after binding lets the lab server be started with
//   `--allowed-origin <this proxy's URL>`; reading the token from stdin
//   keeps it out of process listings. Until both lines are in, requests get
//   503. A request that already has an Authorization header keeps it.
import http from "node:http";
import readline from "node:readline";

const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "upgrade"];

function listenAddress(argv) {
  const at = argv.indexOf("--listen");
  const value = at === -1 ? "127.0.0.1:0" : argv[at + 1];
  const match = /^(.+):(\d+)$/.exec(value ?? "");
  if (!match) {
    console.error(`bearer-proxy: --listen wants HOST:PORT, got ${value}`);
    process.exit(2);
  }
  return { host: match[1], port: Number(match[2]) };
}

let upstream = null;
let token = null;

function withoutHopByHop(headers) {
  const kept = { ...headers };
  for (const name of HOP_BY_HOP) delete kept[name];
  return kept;
}

const server = http.createServer((request, response) => {
  if (upstream === null || token === null) {
    response.writeHead(503, { "content-type": "text/plain" });
    response.end("bearer-proxy: no upstream and token read from stdin yet\n");
    return;
  }
  const headers = withoutHopByHop(request.headers);
  headers.authorization ??= `Bearer ${token}`;
  const forwarded = http.request(
    new URL(request.url, upstream),
    { method: request.method, headers },
    (answer) => {
      response.writeHead(answer.statusCode, withoutHopByHop(answer.headers));
      answer.pipe(response);
    },
  );
  forwarded.on("error", (error) => {
    if (!response.headersSent) {
      response.writeHead(502, { "content-type": "text/plain" });
    }
    response.end(`bearer-proxy: upstream failed: ${error.message}\n`);
  });
  // A client that hangs up (an SSE stream it is done with) ends the upstream
  // request too, so the lab server sees the stream close.
  response.on("close", () => forwarded.destroy());
  request.pipe(forwarded);
});

const { host, port } = listenAddress(process.argv.slice(2));
server.listen(port, host, () => {
  const bound = server.address();
  console.log(`listening on http://${host}:${bound.port}`);
});

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (upstream === null) {
    upstream = new URL(line.trim());
  } else if (token === null) {
    token = line.trim();
  }
});
