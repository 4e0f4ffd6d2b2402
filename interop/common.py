"""Shared helpers for the interop scripts (not a script itself).

- MCP over Streamable HTTP with an optional Bearer token: `call_tool`
  (returns an `Outcome`), `print_outcome`, and `run_and_report` (the whole
  "connect, list tools, call one tool, print, pick an exit code" flow).
- Plain JSON POSTs for the labs' /login and /refresh endpoints: `post_json`,
  `login`, `refresh`, `token_pair`.

Exit codes used by the scripts:
  0 ok (a tool result with isError=true still exits 0 and prints `error: ...`)
  1 other failure (`failed: ...` on stderr: cannot connect, bad response, ...)
  2 usage error (argparse) / invalid token (jwt_tool decode)
  3 the MCP endpoint refused with HTTP 401/403
  4 login (or refresh) failed
  5 the MCP server answered a request with a JSON-RPC error
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

EXIT_FAILURE = 1
EXIT_REFUSED = 3
EXIT_LOGIN_FAILED = 4
EXIT_RPC_ERROR = 5


class ClientFailure(Exception):
    """A failure with the message for stderr and the exit code to use."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code


class Refused(ClientFailure):
    """The MCP endpoint answered HTTP 401 or 403."""

    def __init__(self, status: int, www_authenticate: str | None = None):
        message = f"refused: HTTP {status}"
        if www_authenticate:
            message += f"\nwww-authenticate: {www_authenticate}"
        super().__init__(message, EXIT_REFUSED)
        self.status = status


@dataclass
class Outcome:
    """What one MCP session saw: the tool list and how one tool call ended."""

    server: str
    tools: list[str]
    kind: str  # "result", "error" (CallToolResult.isError) or "rpc error" (JSON-RPC error reply)
    text: str


@dataclass
class _AuthWatch:
    """Remembers the first 401/403 the MCP endpoint sent back.

    With mcp 1.x a 401/403 surfaces as httpx.HTTPStatusError raised in one of
    the transport's tasks, so it reaches us wrapped in (nested) exception
    groups, sometimes only as a cancellation of the pending request. An httpx
    response hook (installed through streamablehttp_client's
    httpx_client_factory) sees the status however the SDK reports it; the
    exception groups are still unwrapped as a fallback.
    """

    status: int | None = None
    www_authenticate: str | None = None

    async def on_response(self, response: httpx.Response) -> None:
        if self.status is None and response.status_code in (401, 403):
            self.status = response.status_code
            self.www_authenticate = response.headers.get("www-authenticate")

    def client_factory(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        auth: httpx.Auth | None = None,
    ) -> httpx.AsyncClient:
        """An mcp `McpHttpClientFactory` (what streamablehttp_client calls with its
        headers/timeout/auth): the client the SDK would build, plus our response hook."""
        return httpx.AsyncClient(
            headers=headers, timeout=timeout, auth=auth, event_hooks={"response": [self.on_response]}
        )


class _QuietSuccessfulTermination(logging.Filter):
    """Drop mcp's "Session termination failed: 202" warning: rmcp answers the
    closing DELETE with 202 Accepted, which is a success, not a failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Session termination failed: 2")


logging.getLogger("mcp.client.streamable_http").addFilter(_QuietSuccessfulTermination())
# streamablehttp_client is the course's (mcp 1.x) API, used on purpose: keep its
# DeprecationWarning off stderr even when warnings are enabled (-W default).
warnings.filterwarnings("ignore", message="Use `streamable_http_client` instead", category=DeprecationWarning)


def die(message: str, exit_code: int = EXIT_FAILURE) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(exit_code)


def parse_args_json(text: str) -> dict[str, Any]:
    """Parse --args: a JSON object of tool arguments."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        die(f"error: --args is not valid JSON: {e}", 2)
    if not isinstance(value, dict):
        die("error: --args must be a JSON object", 2)
    return value


def _leaves(exc: BaseException) -> list[BaseException]:
    """Flatten (nested) exception groups into their leaf exceptions."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _first_text(result: Any) -> str:
    """Text of the first content item (or a stand-in when there is none)."""
    if result.content:
        first = result.content[0]
        text = getattr(first, "text", None)
        return text if text is not None else f"<{first.type} content>"
    if result.structuredContent is not None:
        return json.dumps(result.structuredContent, sort_keys=True)
    return "<no content>"


async def _session(url: str, token: str | None, tool: str, args: dict[str, Any], timeout: float) -> Outcome:
    watch = _AuthWatch()
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        # The course's mcp 1.x call, plus a client factory that adds the 401/403 hook.
        async with streamablehttp_client(
            url, headers=headers, timeout=timeout, httpx_client_factory=watch.client_factory
        ) as (read, write, _):
            async with ClientSession(read, write, read_timeout_seconds=timedelta(seconds=timeout)) as session:
                init = await session.initialize()
                server = f"{init.serverInfo.name} {init.serverInfo.version} (protocol {init.protocolVersion})"
                tools = sorted(t.name for t in (await session.list_tools()).tools)
                try:
                    result = await session.call_tool(tool, args)
                except McpError as e:
                    if watch.status is not None:
                        raise
                    return Outcome(server, tools, "rpc error", f"code {e.error.code}: {e.error.message}")
                return Outcome(server, tools, "error" if result.isError else "result", _first_text(result))
    except Exception as exc:  # usually an ExceptionGroup from the SDK's task groups
        if watch.status is not None:
            raise Refused(watch.status, watch.www_authenticate) from exc
        leaves = _leaves(exc)
        for leaf in leaves:
            if isinstance(leaf, httpx.HTTPStatusError) and leaf.response.status_code in (401, 403):
                raise Refused(leaf.response.status_code, leaf.response.headers.get("www-authenticate")) from exc
        for leaf in leaves:
            if isinstance(leaf, McpError):
                raise ClientFailure(f"rpc error: code {leaf.error.code}: {leaf.error.message}", EXIT_RPC_ERROR) from exc
            if isinstance(leaf, httpx.HTTPError):
                raise ClientFailure(f"failed: HTTP error talking to {url}: {leaf!r}") from exc
        raise ClientFailure(f"failed: MCP session with {url}: {exc!r}") from exc


def call_tool(url: str, token: str | None, tool: str, args: dict[str, Any], timeout: float = 30.0) -> Outcome:
    """Open an MCP session at `url`, list tools, call `tool`; raise ClientFailure/Refused on failure."""
    return asyncio.run(_session(url, token, tool, args, timeout))


def print_outcome(outcome: Outcome) -> None:
    print(f"tools: {', '.join(outcome.tools)}")
    print(f"{outcome.kind}: {outcome.text}")


def run_and_report(url: str, token: str | None, tool: str, args: dict[str, Any], timeout: float) -> int:
    """The scripts' common MCP flow: print the transcript, return the exit code."""
    print(f"mcp: {url} ({'bearer token' if token else 'no token'})")
    print(f"call: {tool} {json.dumps(args, sort_keys=True)}")
    try:
        outcome = call_tool(url, token, tool, args, timeout)
    except ClientFailure as failure:
        die(str(failure), failure.exit_code)
    print(f"server: {outcome.server}")
    print_outcome(outcome)
    if outcome.kind == "rpc error":
        print(f"rpc error: {outcome.text}", file=sys.stderr)
        return EXIT_RPC_ERROR
    return 0


def post_json(url: str, body: dict[str, Any], timeout: float = 30.0) -> tuple[int, Any]:
    """POST a JSON body; return (status, parsed JSON body or raw text)."""
    try:
        response = httpx.post(url, json=body, timeout=timeout)
    except httpx.HTTPError as e:
        raise ClientFailure(f"failed: POST {url}: {e!r}") from e
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


def compact(value: Any) -> str:
    """One-line JSON (sorted keys) for transcripts."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")) if not isinstance(value, str) else value


def token_pair(status: int, body: Any, what: str) -> tuple[str, str]:
    """Extract {accessToken, refreshToken} from a 2xx answer, else raise (exit 4)."""
    if not 200 <= status < 300:
        raise ClientFailure(f"{what} failed: HTTP {status} {compact(body)}".rstrip(), EXIT_LOGIN_FAILED)
    if not (
        isinstance(body, dict)
        and isinstance(body.get("accessToken"), str)
        and isinstance(body.get("refreshToken"), str)
    ):
        raise ClientFailure(
            f"{what} failed: HTTP {status} without accessToken/refreshToken: {compact(body)}", EXIT_LOGIN_FAILED
        )
    return body["accessToken"], body["refreshToken"]


def login(base: str, username: str, password: str) -> tuple[str, str]:
    """POST BASE/login; return (access_token, refresh_token)."""
    status, body = post_json(f"{base}/login", {"username": username, "password": password})
    return token_pair(status, body, "login")


def refresh(base: str, refresh_token: str) -> tuple[int, Any]:
    """POST BASE/refresh; return (status, body) without judging it."""
    return post_json(f"{base}/refresh", {"refreshToken": refresh_token})
