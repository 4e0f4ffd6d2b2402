"""Connect to an MCP server over Streamable HTTP, list its tools, call one.

Usage:
  mcp_client.py --url http://127.0.0.1:PORT/mcp [--token TOKEN] [--call TOOL] [--args JSON]

Defaults: --call add --args '{"a": 2, "b": 40}'. With --token, every request
carries `Authorization: Bearer TOKEN`.

Stdout:
  mcp: URL (bearer token|no token)
  call: TOOL {args as sorted JSON}
  server: NAME VERSION (protocol P)
  tools: a, b, c            (sorted)
  result: TEXT              (or `error: TEXT` when the result has isError,
                            or `rpc error: code N: MSG` on a JSON-RPC error reply)

Exit: 0 ok (also for isError), 3 HTTP 401/403 (`refused: HTTP <status>` on
stderr), 5 JSON-RPC error, 1 anything else.
"""

import argparse
import sys

from common import parse_args_json, run_and_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="MCP endpoint, e.g. http://127.0.0.1:8080/mcp")
    parser.add_argument("--token", help="Bearer token to send")
    parser.add_argument("--call", default="add", help="tool to call (default: add)")
    parser.add_argument(
        "--args", default=None, help='tool arguments as a JSON object (default for add: {"a": 2, "b": 40})'
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: 30)")
    opts = parser.parse_args()
    if opts.args is not None:
        args = parse_args_json(opts.args)
    else:
        args = {"a": 2, "b": 40} if opts.call == "add" else {}
    return run_and_report(opts.url, opts.token, opts.call, args, opts.timeout)


if __name__ == "__main__":
    sys.exit(main())
