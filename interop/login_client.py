"""Log in with username/password, then use the access token on the MCP endpoint.

Usage:
  login_client.py --base http://127.0.0.1:PORT --username U --password P [--call TOOL] [--args JSON]

POSTs BASE/login {"username", "password"}, expects {"accessToken", "refreshToken"},
then runs the mcp_client.py flow against BASE/mcp with the access token as Bearer.
Default call: whoami with no arguments.

Stdout:
  login: ok
  mcp: BASE/mcp (bearer token)
  call: TOOL {args}
  server: NAME VERSION (protocol P)
  tools: a, b, c
  result: TEXT              (or `error: TEXT` when the result has isError,
                            or `rpc error: code N: MSG` on a JSON-RPC error reply)

Exit: 0 ok, 4 login failed (`login failed: HTTP <status> <body>` on stderr),
3 MCP refused (HTTP 401/403), 5 JSON-RPC error, 1 anything else.
"""

import argparse
import sys

from common import ClientFailure, die, login, parse_args_json, run_and_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="server base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--call", default="whoami", help="tool to call (default: whoami)")
    parser.add_argument("--args", default="{}", help="tool arguments as a JSON object (default: {})")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: 30)")
    opts = parser.parse_args()
    args = parse_args_json(opts.args)
    base = opts.base.rstrip("/")
    try:
        access, _refresh = login(base, opts.username, opts.password)
    except ClientFailure as failure:
        die(str(failure), failure.exit_code)
    print("login: ok")
    return run_and_report(f"{base}/mcp", access, opts.call, args, opts.timeout)


if __name__ == "__main__":
    sys.exit(main())
