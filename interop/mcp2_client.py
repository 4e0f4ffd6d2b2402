"""List a server's tools and call one with the official MCP Python SDK 2.x.

Usage (with target/interop-venv-mcp2's Python, not the 1.x venv's):
  mcp2_client.py --url http://127.0.0.1:PORT/mcp [--token TOKEN] [--call TOOL] [--args JSON] [--mode auto|legacy]
  mcp2_client.py --url http://127.0.0.1:PORT/mcp --oauth-client-id ID [--redirect-port N] [--call ...]

The 2.x API, as the SDK's "Client transports" and "OAuth clients" pages write
it: everything HTTP-shaped (here the `Authorization` header, or OAuth) lives
on an `httpx2.AsyncClient` handed to `streamable_http_client(url,
http_client=...)`, and `Client` takes that transport:

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            await client.list_tools()

--mode is `Client`'s connect mode: `auto` (the SDK's default) probes
`server/discover` (protocol 2026-07-28) and falls back to the `initialize`
handshake; `legacy` only does the handshake (protocol 2025-11-25 and older).

With --token every request carries `Authorization: Bearer TOKEN`. With
--oauth-client-id the SDK's `OAuthClientProvider` gets the token itself:
from the server's 401 it discovers the protected resource metadata, the
authorization server and its metadata and the scopes, then runs the
authorization code flow with PKCE S256 and `resource` (RFC 8707), and on a
403 `insufficient_scope` it authorizes again for the union of the scopes
(step-up). The client is the pre-registered public client ID (stored
`client_info`; the kit's authorization server has no dynamic registration)
with the loopback redirect URI http://127.0.0.1:PORT/callback
(--redirect-port). Headless: the authorization server must approve at once
(`authz server --approve-as USER`), so the "browser" is one GET of the
authorization URL, not following its 302, whose Location is handed back as
the callback (code, state, iss); the SDK checks state and iss (RFC 9207).

Defaults: --call add --args '{"a": 2, "b": 40}' (other tools: {}).

Stdout, line by line as it happens (mcp_client.py's lines, plus `sdk:` and
`authorize:`):
  sdk: mcp 2.x.y
  mcp: URL (bearer token|no token|oauth client ID)
  call: TOOL {args as sorted JSON}
  authorize: scope="S" resource=R code_challenge_method=M   (each authorization, --oauth-client-id only)
  server: NAME VERSION (protocol P)
  tools: a, b, c            (sorted)
  result: TEXT              (or `error: TEXT` when the result has isError,
                            or `rpc error: code N: MSG` on a JSON-RPC error reply)
  granted: S                (the last token's scope, --oauth-client-id only)

Exit: 0 ok (also for isError), 3 HTTP 401/403 from the MCP endpoint
(`refused: HTTP <status>` and its `www-authenticate: ...` on stderr), 4 the
OAuth flow failed (`oauth failed: ...`), 5 JSON-RPC error, 1 anything else,
2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp import Client, MCPError
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

EXIT_FAILURE = 1
EXIT_REFUSED = 3
EXIT_OAUTH_FAILED = 4
EXIT_RPC_ERROR = 5


class Failure(Exception):
    """A failure with the message for stderr and the exit code to use."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class AuthWatch:
    """Remembers whether the MCP endpoint refused the last request POSTed to it.

    mcp 2.x turns a non-2xx answer without a JSON-RPC body into a JSON-RPC
    error ("Server returned an error response") and drops the status, so an
    httpx2 response hook on the client we hand the SDK is where it is seen.
    The hook also sees the 401 an OAuth provider answers by getting a token,
    so each POST's answer replaces the last one's: what counts is how the
    endpoint answered the request the SDK finally gave up on (a closing
    DELETE is not one of the session's requests).
    """

    url: str
    status: int | None = None
    www_authenticate: str | None = None

    async def on_response(self, response: httpx2.Response) -> None:
        request = response.request
        if request.method != "POST" or str(request.url) != self.url:
            return
        refused = response.status_code in (401, 403)
        self.status = response.status_code if refused else None
        self.www_authenticate = response.headers.get("www-authenticate") if refused else None


class MemoryStorage:
    """The SDK's `TokenStorage` protocol, in memory: nothing outlives the run."""

    def __init__(self, client_info: OAuthClientInformationFull | None = None):
        self.tokens: OAuthToken | None = None
        self.client_info = client_info

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class HeadlessBrowser:
    """The provider's redirect_handler and callback_handler, for an
    authorization server that approves without a login form: "open" the
    authorization URL with one GET that does not follow redirects, and hand
    back the query of the redirect it answers with."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.location: str | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        asked = {key: values[0] for key, values in parse_qs(urlsplit(authorization_url).query).items()}
        print(
            f'authorize: scope="{asked.get("scope", "")}" resource={asked.get("resource", "-")} '
            f"code_challenge_method={asked.get('code_challenge_method', '-')}"
        )
        async with httpx2.AsyncClient(timeout=self.timeout) as http:
            response = await http.get(authorization_url)
        self.location = response.headers.get("location")
        if response.status_code not in (302, 303) or not self.location:
            raise Failure(
                f"oauth failed: GET /authorize answered HTTP {response.status_code}, not a redirect "
                "(does the authorization server approve headless, --approve-as?)",
                EXIT_OAUTH_FAILED,
            )

    async def callback_handler(self) -> AuthorizationCodeResult:
        query = {key: values[0] for key, values in parse_qs(urlsplit(self.location or "").query).items()}
        if "error" in query:
            raise Failure(f"oauth failed: the authorization server redirected with error={query['error']}", EXIT_OAUTH_FAILED)
        if "code" not in query:
            raise Failure(f"oauth failed: no code in the redirect to {self.location}", EXIT_OAUTH_FAILED)
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))


def oauth_provider(url: str, client_id: str, redirect_port: int, browser: HeadlessBrowser) -> OAuthClientProvider:
    redirect_uri = f"http://127.0.0.1:{redirect_port}/callback"
    # A public client registered in advance: no secret, PKCE instead. Stored
    # client_info wins over dynamic registration (and over a metadata URL).
    registered = OAuthClientInformationFull(
        client_id=client_id,
        redirect_uris=[redirect_uri],
        token_endpoint_auth_method="none",
    )
    metadata = OAuthClientMetadata(
        client_name="mcp-auth-labs interop (mcp 2.x)",
        redirect_uris=[redirect_uri],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=url,
        client_metadata=metadata,
        storage=MemoryStorage(registered),
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )


class _QuietSuccessfulTermination(logging.Filter):
    """Drop the SDK's "Session termination failed: 202" warning: rmcp answers the
    closing DELETE with 202 Accepted, which is a success, not a failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Session termination failed: 2")


logging.getLogger("mcp.client.streamable_http").addFilter(_QuietSuccessfulTermination())


def die(message: str, exit_code: int = EXIT_FAILURE) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(exit_code)


def first_text(result: Any) -> str:
    """Text of the first content item (or a stand-in when there is none)."""
    if result.content:
        first = result.content[0]
        text = getattr(first, "text", None)
        return text if text is not None else f"<{first.type} content>"
    if result.structured_content is not None:
        return json.dumps(result.structured_content, sort_keys=True)
    return "<no content>"


def leaves(exc: BaseException) -> list[BaseException]:
    """Flatten (nested) exception groups into their leaf exceptions."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


async def session(opts: argparse.Namespace, args: dict[str, Any]) -> None:
    """Connect, list tools, call one, printing as it goes; raise Failure on failure."""
    watch = AuthWatch(opts.url)
    headers = {"Authorization": f"Bearer {opts.token}"} if opts.token else None
    provider = None
    if opts.oauth_client_id:
        provider = oauth_provider(opts.url, opts.oauth_client_id, opts.redirect_port, HeadlessBrowser(opts.timeout))
    try:
        async with httpx2.AsyncClient(
            headers=headers,
            auth=provider,
            timeout=httpx2.Timeout(opts.timeout),
            event_hooks={"response": [watch.on_response]},
        ) as http:
            transport = streamable_http_client(opts.url, http_client=http)
            async with Client(transport, mode=opts.mode, read_timeout_seconds=opts.timeout) as client:
                info = client.server_info
                name = f"{info.name} {info.version}" if info else "<no server info>"
                print(f"server: {name} (protocol {client.protocol_version})")
                tools = sorted(t.name for t in (await client.list_tools()).tools)
                print(f"tools: {', '.join(tools)}")
                try:
                    result = await client.call_tool(opts.call, args)
                except MCPError as e:
                    if watch.status is not None:
                        raise
                    print(f"rpc error: code {e.code}: {e.error.message}")
                    raise Failure(f"rpc error: code {e.code}: {e.error.message}", EXIT_RPC_ERROR) from e
                print(f"{'error' if result.is_error else 'result'}: {first_text(result)}")
        if provider is not None and provider.context.current_tokens is not None:
            print(f"granted: {provider.context.current_tokens.scope}")
    except Failure:
        raise
    except Exception as exc:  # the SDK's task groups wrap failures in exception groups
        found = leaves(exc)
        for leaf in found:
            if isinstance(leaf, Failure):  # raised in a handler of ours, inside the SDK
                raise leaf from exc
        if watch.status is not None:
            message = f"refused: HTTP {watch.status}"
            if watch.www_authenticate:
                message += f"\nwww-authenticate: {watch.www_authenticate}"
            raise Failure(message, EXIT_REFUSED) from exc
        for leaf in found:
            if isinstance(leaf, OAuthFlowError):
                raise Failure(f"oauth failed: {type(leaf).__name__}: {leaf}", EXIT_OAUTH_FAILED) from exc
        for leaf in found:
            if isinstance(leaf, MCPError):
                raise Failure(f"rpc error: code {leaf.code}: {leaf.error.message}", EXIT_RPC_ERROR) from exc
            if isinstance(leaf, httpx2.HTTPError):
                raise Failure(f"failed: HTTP error talking to {opts.url}: {leaf!r}") from exc
        raise Failure(f"failed: MCP session with {opts.url}: {exc!r}") from exc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="MCP endpoint, e.g. http://127.0.0.1:8080/mcp")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--token", help="Bearer token to send")
    auth.add_argument("--oauth-client-id", metavar="ID", help="get the token with OAuth, as this pre-registered client")
    parser.add_argument(
        "--redirect-port", type=int, default=33418, help="port of the loopback OAuth redirect URI (default: 33418)"
    )
    parser.add_argument(
        "--mode",
        choices=["auto", "legacy"],
        default="auto",
        help="Client's connect mode: auto (the SDK's default: server/discover, else initialize) or legacy (initialize)",
    )
    parser.add_argument("--call", default="add", help="tool to call (default: add)")
    parser.add_argument(
        "--args", default=None, help='tool arguments as a JSON object (default for add: {"a": 2, "b": 40})'
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: 30)")
    opts = parser.parse_args()
    if opts.args is None:
        args: Any = {"a": 2, "b": 40} if opts.call == "add" else {}
    else:
        try:
            args = json.loads(opts.args)
        except json.JSONDecodeError as e:
            parser.error(f"--args is not valid JSON: {e}")
        if not isinstance(args, dict):
            parser.error("--args must be a JSON object")

    if opts.oauth_client_id:
        how = f"oauth client {opts.oauth_client_id}"
    else:
        how = "bearer token" if opts.token else "no token"
    print(f"sdk: mcp {version('mcp')}")
    print(f"mcp: {opts.url} ({how})")
    print(f"call: {opts.call} {json.dumps(args, sort_keys=True)}")
    try:
        asyncio.run(session(opts, args))
    except Failure as failure:
        sys.stdout.flush()
        die(str(failure), failure.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
