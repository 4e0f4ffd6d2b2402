#!/usr/bin/env python3
"""Lab 6's price, measured: tools/call throughput with auth, and memory under
an initialize flood, for lab 5's server and lab 6's side by side.

Not a test: numbers depend on the machine. Run it from the repository root
with two server binaries built the same way, e.g.

    cargo build --release -p lab5-solution -p lab6-solution
    python3 scripts/bench-lab6.py target/release/lab5-solution target/release/lab6-solution

(or your own `target/release/lab6`). Standard library only. For each server
it logs in as jane.doe, opens one MCP session, and then

  * throughput: THREADS keep-alive connections call the `add` tool for
    SECONDS; it reports calls per second and the server's CPU time per call
    (from /proc, Linux only), which does not depend on how fast this Python
    client is;
  * flood: FLOOD `initialize` requests with jane.doe's token and no DELETE,
    and the server's resident memory before and after.
"""

import http.client
import json
import os
import subprocess
import sys
import threading
import time

THREADS = 4
SECONDS = 10
FLOOD = 10_000
SECRET = "bench-only-jwt-secret-0123456789abcdef"

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    },
}
ADD = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "add", "arguments": {"a": 2, "b": 40}},
}


def start(binary):
    env = {"PATH": os.environ.get("PATH", ""), "JWT_SECRET": SECRET}
    server = subprocess.Popen(
        [binary, "server", "--addr", "127.0.0.1:0", "--db", ":memory:"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = server.stdout.readline()
    if not line.startswith("listening on http://"):
        server.kill()
        sys.exit(f"{binary} did not start: {line!r}")
    host, port = line.strip().removeprefix("listening on http://").rsplit(":", 1)
    return server, host, int(port)


def post(conn, path, body, headers):
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json", **headers})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def mcp_headers(token, session=None):
    headers = {
        "accept": "application/json, text/event-stream",
        "authorization": f"Bearer {token}",
        "mcp-protocol-version": "2025-11-25",
    }
    if session:
        headers["mcp-session-id"] = session
    return headers


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # utime and stime, the 14th and 15th fields, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(binary):
    server, host, port = start(binary)
    try:
        conn = http.client.HTTPConnection(host, port)
        status, _, body = post(conn, "/login", {"username": "jane.doe", "password": "secure123"}, {})
        token = json.loads(body)["accessToken"]
        status, headers, _ = post(conn, "/mcp", INITIALIZE, mcp_headers(token))
        session = {k.lower(): v for k, v in headers.items()}["mcp-session-id"]
        post(conn, "/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, mcp_headers(token, session))

        calls, failures = [0] * THREADS, [0] * THREADS
        deadline = time.monotonic() + SECONDS

        def call_add(i):
            own = http.client.HTTPConnection(host, port)
            request_id = i * 10_000_000
            while time.monotonic() < deadline:
                # Ids must differ between calls in flight in one session:
                # the server routes each answer by its id.
                request_id += 1
                body = {**ADD, "id": request_id}
                status, _, body = post(own, "/mcp", body, mcp_headers(token, session))
                if status == 200 and b'"42"' in body:
                    calls[i] += 1
                else:
                    failures[i] += 1

        cpu_before = cpu_seconds(server.pid)
        threads = [threading.Thread(target=call_add, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu = cpu_seconds(server.pid) - cpu_before

        rss_before = rss_mb(server.pid)
        answers = {}
        for _ in range(FLOOD):
            status, _, _ = post(conn, "/mcp", INITIALIZE, mcp_headers(token))
            answers[status] = answers.get(status, 0) + 1
        time.sleep(1)
        rss_after = rss_mb(server.pid)
        total = sum(calls)
        return {
            "calls/s": total / SECONDS,
            "failed calls": sum(failures),
            "server CPU per call (µs)": cpu / max(total, 1) * 1e6,
            "RSS before flood (MB)": rss_before,
            "RSS after flood (MB)": rss_after,
            "flood answers": answers,
        }
    finally:
        server.kill()
        server.wait()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    before, after = (measure(binary) for binary in sys.argv[1:])
    print(f"{THREADS} connections x {SECONDS} s of tools/call add; then {FLOOD} initialize requests\n")
    print(f"{'':28} {'lab 5':>14} {'lab 6':>14}")
    for key in before:
        print(f"{key:28} {str(round(before[key], 1) if isinstance(before[key], float) else before[key]):>14} "
              f"{str(round(after[key], 1) if isinstance(after[key], float) else after[key]):>14}")
    print(f"\nlab 6 / lab 5 throughput: {after['calls/s'] / before['calls/s']:.2f}x; "
          f"CPU per call: {after['server CPU per call (µs)'] / before['server CPU per call (µs)']:.2f}x")


if __name__ == "__main__":
    main()
