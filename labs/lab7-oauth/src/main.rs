//! Lab 7: lab 6's resource server, now trusting a real authorization
//! server, and a client that gets its tokens with OAuth 2.1.
//!
//! Start the kit's authorization server, then this one:
//! `cargo run -p authz -- server --approve-as alex.admin --addr 127.0.0.1:4000`,
//! `cargo run -p lab7 -- server --issuer http://127.0.0.1:4000`
//! (`GET /resource`, MCP at `/mcp`, metadata at
//! `/.well-known/oauth-protected-resource/mcp`).
//! Client: `cargo run -p lab7 -- client --headless http://127.0.0.1:3000/mcp`.
//!
//! The server holds no secret: it verifies RS256/ES256 tokens with the
//! issuer's published keys. Your work is in `discovery.rs`, `jwks.rs`,
//! `jwt.rs` and `client.rs`, at each `TODO(lab7)`. `cargo xtask check lab7`
//! says what is still open, and `docs/lab7-oauth.md` walks through each step.

mod auth;
mod client;
mod discovery;
mod guards;
mod jwks;
mod jwt;
mod metadata;
mod public_url;
mod rbac;
mod resource;
mod server;
mod upstream;

use std::{process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use shop::{client::ToolCall, url::ServerUrl};

#[derive(Parser)]
#[command(
    about = "Lab 7: a resource server that trusts an authorization server, and an OAuth client"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve /resource and the MCP shop at /mcp, behind access tokens from --issuer.
    Server {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: String,
        /// The authorization server whose tokens are accepted, exactly as
        /// its tokens name it in `iss`, e.g. http://127.0.0.1:4000 or
        /// Keycloak's http://sso.local:8080/realms/labs. Its metadata and
        /// keys are read at start. http only in this build: an https issuer
        /// (Entra ID, Auth0) needs reqwest's `rustls` feature in the root
        /// Cargo.toml, which brings C code (aws-lc-rs) into every crate's
        /// build.
        #[arg(long)]
        issuer: String,
        /// The audience tokens must be for (`aud`). Default: this server's
        /// canonical MCP URL, <public url>/mcp, which clients ask for as the
        /// `resource`. Providers that ignore `resource` name the API their
        /// own way: Entra ID's `api://<app id>` (v1.0 tokens; v2.0 tokens
        /// carry the app id itself), Auth0's API identifier, what a Keycloak
        /// audience mapper adds. Never a client id: ID tokens carry that.
        #[arg(long, value_name = "URI")]
        audience: Option<String>,
        /// Also accept tokens whose header says `typ: JWT`, or has no
        /// `typ`, from providers that do not issue RFC 9068 (`at+jwt`)
        /// access tokens, such as Keycloak and Entra ID. Off by default:
        /// `at+jwt` is what tells an access token from an ID token signed
        /// with the same key. With it on, only the audience check keeps ID
        /// tokens out (their `aud` is the client id).
        #[arg(long)]
        accept_typ_jwt: bool,
        /// The URL clients reach this server at, e.g. https://mcp.example.com,
        /// when it is not the bound address (a proxy, a port mapping).
        /// Tokens must be for its /mcp (unless --audience says otherwise);
        /// default: http://<bound address>.
        #[arg(long, value_parser = ServerUrl::parse)]
        public_url: Option<ServerUrl>,
        /// A browser origin allowed to call, e.g. https://app.example.com,
        /// next to the server's own; repeat for more. Requests with any
        /// other `Origin` get 403 (DNS rebinding, cross-site pages).
        #[arg(long = "allowed-origin", value_parser = ServerUrl::parse)]
        allowed_origins: Vec<ServerUrl>,
        /// Live MCP sessions one user may hold; one more `initialize` gets 429
        /// until a session ends (DELETE) or idles out (5 minutes).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
        max_sessions_per_user: u16,
        /// The shipping service the `shipping_status` tool asks, called with
        /// the server's own token from `UPSTREAM_TOKEN`, never the user's.
        #[arg(long, value_parser = ServerUrl::parse)]
        upstream_url: Option<ServerUrl>,
        /// A token signed with a key id this server does not know makes it
        /// fetch the issuer's keys again, at most this often: `10s`, `1m`…
        #[arg(long, default_value = "10s", value_parser = shop::duration::parse)]
        jwks_refetch_interval: Duration,
    },
    /// Get a token with OAuth 2.1 (authorization code + PKCE), then call the shop's tools.
    Client {
        /// Approve without a browser: GET the authorization URL and read the
        /// code from its redirect (the authorization server must approve at
        /// once, e.g. `authz server --approve-as jane.doe`).
        #[arg(long)]
        headless: bool,
        /// This client's id at the authorization server: pre-registered
        /// (the kit's `lab7-client`), or the URL of its client id metadata
        /// document (CIMD). Default: register dynamically (RFC 7591) where
        /// the authorization server offers it, else `lab7-client`.
        #[arg(long)]
        client_id: Option<String>,
        /// The secret of a confidential pre-registered --client-id, sent to
        /// the token endpoint as the authorization server's metadata says
        /// (HTTP Basic, or in the form). Prefer the environment: a command line is visible to
        /// other users of the machine.
        #[arg(long, env = "LAB7_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// A tool to call after listing them, `NAME` or `NAME={"id":1}`;
        /// repeat for more, in order. Default: list_orders.
        #[arg(long = "call", value_parser = parse_call)]
        calls: Vec<ToolCall>,
        /// The MCP server, e.g. http://127.0.0.1:3000/mcp (its root works too).
        /// Last, so that a test suite can append it.
        url: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    shop::init_tracing();
    match run(Cli::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Server {
            addr,
            issuer,
            public_url,
            allowed_origins,
            max_sessions_per_user,
            upstream_url,
            jwks_refetch_interval,
            audience,
            accept_typ_jwt,
        } => {
            let settings = server::Settings {
                issuer,
                audience,
                accept_typ_jwt,
                public_url,
                allowed_origins,
                max_sessions_per_user: max_sessions_per_user.into(),
                upstream_url,
                jwks_refetch_interval,
            };
            server::run(&addr, settings).await
        }
        Command::Client {
            headless,
            client_id,
            client_secret,
            mut calls,
            url,
        } => {
            if calls.is_empty() {
                calls.push(ToolCall::new("list_orders", serde_json::json!({})));
            }
            let client = match (client_id, client_secret) {
                (Some(id), secret) => Some(client::Registered { id, secret }),
                (None, Some(_)) => anyhow::bail!(
                    "--client-secret (or LAB7_CLIENT_SECRET) belongs to a pre-registered client: give its --client-id too"
                ),
                (None, None) => conformance_suite_client()?,
            };
            let options = client::Options { headless, client };
            client::run(&mcp_url(&url)?, &options, &calls).await
        }
    }
}

/// The MCP endpoint: `<root>/mcp` for the server's root, else the URL as
/// given (a test suite's server may mount MCP elsewhere).
fn mcp_url(text: &str) -> anyhow::Result<String> {
    if let Ok(url) = ServerUrl::parse(text) {
        return Ok(url.mcp());
    }
    if text.starts_with("http://") || text.starts_with("https://") {
        return Ok(text.to_owned());
    }
    anyhow::bail!("`{text}` is not an http(s) URL, e.g. http://127.0.0.1:3000/mcp")
}

/// For the MCP conformance suite only: it hands a scenario's pre-registered
/// client (`auth/pre-registration`) to the client under test as
/// `MCP_CONFORMANCE_CONTEXT={"client_id":…,"client_secret":…}` in the
/// environment. Unset everywhere else.
fn conformance_suite_client() -> anyhow::Result<Option<client::Registered>> {
    #[derive(serde::Deserialize)]
    struct Context {
        client_id: Option<String>,
        client_secret: Option<String>,
    }
    let Ok(json) = std::env::var("MCP_CONFORMANCE_CONTEXT") else {
        return Ok(None);
    };
    let context: Context =
        serde_json::from_str(&json).context("MCP_CONFORMANCE_CONTEXT is not the JSON expected")?;
    Ok(context.client_id.map(|id| client::Registered {
        id,
        secret: context.client_secret,
    }))
}

/// `NAME` or `NAME=JSON_OBJECT`.
fn parse_call(text: &str) -> Result<ToolCall, String> {
    let (name, arguments) = match text.split_once('=') {
        Some((name, json)) => {
            let arguments: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| format!("the arguments of `{name}` are not JSON: {e}"))?;
            if !arguments.is_object() {
                return Err(format!("the arguments of `{name}` must be a JSON object"));
            }
            (name, arguments)
        }
        None => (text, serde_json::json!({})),
    };
    if name.is_empty() {
        return Err("a tool name is needed, e.g. --call list_orders".to_owned());
    }
    Ok(ToolCall::new(name, arguments))
}
