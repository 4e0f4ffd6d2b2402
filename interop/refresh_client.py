"""Walk the refresh-token rotation flow, including reuse of a rotated token.

Usage:
  refresh_client.py --base http://127.0.0.1:PORT --username U --password P

Steps: login; whoami over MCP with the access token; POST BASE/refresh with the
refresh token (expects a new pair); POST BASE/refresh again with the OLD
refresh token (a reuse, expected 400 invalid_grant); whoami with the new
access token (which may be refused if the server revoked the whole family).

Stdout:
  login: ok
  whoami: TEXT                  (`whoami error: TEXT` if isError,
                                `whoami rpc error: code N: MSG` on a JSON-RPC error)
  rotated: yes|no               (does the new refresh token differ?)
  reuse: HTTP <status> <JSON body>
  after reuse: TEXT             or `after reuse: refused HTTP <status>`
                                (`after reuse error: ...` / `after reuse rpc error: ...`)

Exit: 0 when the flow ran to the end (whatever the server decided at the two
last steps); 4 login or the first refresh failed; 3 the first whoami was
refused; 1 anything else.
"""

import argparse
import sys

from common import ClientFailure, Outcome, Refused, call_tool, compact, die, login, refresh, token_pair


def whoami_line(label: str, outcome: Outcome) -> str:
    kind = "" if outcome.kind == "result" else f" {outcome.kind}"
    return f"{label}{kind}: {outcome.text}"


def flow(base: str, username: str, password: str, timeout: float) -> None:
    mcp = f"{base}/mcp"
    access, old_refresh = login(base, username, password)
    print("login: ok")
    print(whoami_line("whoami", call_tool(mcp, access, "whoami", {}, timeout)))

    new_access, new_refresh = token_pair(*refresh(base, old_refresh), "refresh")
    print(f"rotated: {'yes' if new_refresh != old_refresh else 'no'}")

    status, body = refresh(base, old_refresh)
    print(f"reuse: HTTP {status} {compact(body)}")

    try:
        print(whoami_line("after reuse", call_tool(mcp, new_access, "whoami", {}, timeout)))
    except Refused as refused:
        print(f"after reuse: refused HTTP {refused.status}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="server base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: 30)")
    opts = parser.parse_args()
    try:
        flow(opts.base.rstrip("/"), opts.username, opts.password, opts.timeout)
    except ClientFailure as failure:
        die(str(failure), failure.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
