//! Checks every lab shares, because every lab can get them wrong the same
//! way: a session id taken as a credential, a handler that panics on a
//! strange `Authorization` header, a credential written to the logs.
//!
//! Each lab gets the same check ids (`session_id_is_not_a_credential`, …)
//! through [`cross_cutting!`], which binds the shared scenario to the lab's
//! way of getting a credential ([`Credentials`]). Titles, order and points
//! live in `labs.toml`, as for every check.

use std::fmt::Write as _;

use anyhow::Context;
use regex::Regex;
use reqwest::{
    StatusCode,
    header::{HeaderValue, InvalidHeaderValue},
};
use serde_json::json;

use crate::{
    LabBinary,
    api::{self, READER},
    harness::RunningServer,
    http::{self, Reply},
    mcp, tokens,
};

/// How a lab's server authenticates a request, and so how the checks get a
/// credential for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Lab 1: the shared secret in `MCP_SECRET`.
    Secret,
    /// Lab 2: a JWT signed with `JWT_SECRET` (the checks mint it).
    Jwt,
    /// Labs 3-4: `/login` hands out the access token.
    Login,
    /// Labs 5-6: `/login`, plus `/refresh` and `/logout`.
    LoginAndRefresh,
    /// Lab 7: an access token of an authorization server the checks run
    /// in-process, which the server is started to trust (`--issuer`).
    IssuerToken,
}

/// A lab's server as the shared checks run it, with the authorization
/// server it trusts (lab 7), which lives as long as it does.
struct Target {
    server: RunningServer,
    issuer: Option<authz::Running>,
}

/// Lab 1's secret under these checks: long and unlike anything a log prints.
const SECRET: &str = "checks-only-mcp-secret-5b1e9c7d";
/// Credentials that must be refused, and must not be logged either.
const WRONG_SECRET: &str = "checks-only-wrong-secret-83f0a2";
const WRONG_PASSWORD: &str = "checks-only-wrong-password-c41d";

impl Credentials {
    /// Starts the lab's server as its checks do, with `RUST_LOG` when given.
    async fn start(self, lab: &LabBinary, rust_log: Option<&str>) -> anyhow::Result<Target> {
        let mut env: Vec<(&str, &str)> = match self {
            Credentials::Secret => vec![("MCP_SECRET", SECRET)],
            Credentials::IssuerToken => Vec::new(),
            _ => tokens::JWT_ENV.to_vec(),
        };
        env.extend(rust_log.map(|filter| ("RUST_LOG", filter)));
        let issuer = match self {
            Credentials::IssuerToken => Some(crate::start_issuer(authz::Config::default()).await?),
            _ => None,
        };
        let args: Vec<&str> = match (self, &issuer) {
            (Credentials::LoginAndRefresh, _) => vec!["--db", ":memory:"],
            (_, Some(issuer)) => vec!["--issuer", issuer.issuer()],
            _ => Vec::new(),
        };
        let server = lab.start_server_with(&args, &env).await?;
        Ok(Target { server, issuer })
    }

    /// An `Authorization` value the server accepts for `/mcp`.
    async fn good(self, target: &Target) -> anyhow::Result<String> {
        let server = &target.server;
        let token = match (self, &target.issuer) {
            (Credentials::Secret, _) => SECRET.to_owned(),
            (Credentials::Jwt, _) => tokens::hs256(&tokens::demo_claims(900))?,
            (Credentials::Login | Credentials::LoginAndRefresh, _) => {
                api::login(server, READER).await?.access
            }
            (Credentials::IssuerToken, Some(issuer)) => issuer.mint(authz::MintRequest {
                sub: READER.0.to_owned(),
                aud: server.url("/mcp"),
                ..authz::MintRequest::default()
            })?,
            (Credentials::IssuerToken, None) => {
                anyhow::bail!("BUG: no authorization server to mint a token")
            }
        };
        Ok(format!("Bearer {token}"))
    }

    /// An `Authorization` value of the right shape that must be refused.
    fn wrong(self) -> anyhow::Result<String> {
        let token = match self {
            Credentials::Secret => WRONG_SECRET.to_owned(),
            _ => tokens::forged(&tokens::hs256(&tokens::demo_claims(900))?, json!([]))?,
        };
        Ok(format!("Bearer {token}"))
    }
}

/// Gives a lab the cross-cutting checks it lists, under their shared ids,
/// as a `shared` module inside the lab's own checks module:
/// `crate::security::cross_cutting!(Credentials::Secret, [never_logs_credentials]);`.
macro_rules! cross_cutting {
    ($credentials:expr, [$($check:ident),* $(,)?]) => {
        /// The checks every lab shares, bound to this lab's credentials.
        pub mod shared {
            #[allow(unused_imports)]
            use $crate::security::Credentials;
            $(
                pub async fn $check(lab: &$crate::LabBinary) -> anyhow::Result<String> {
                    $crate::security::$check(lab, $credentials).await
                }
            )*
            pub const CHECKS: &[(&str, $crate::CheckFn)] = $crate::checks![$($check),*];
        }
    };
}
pub(crate) use cross_cutting;

/// A live session id proves only that someone once authenticated; every
/// request must carry its own credential (MCP authorization spec: "MUST
/// NOT use sessions for authentication").
pub(crate) async fn session_id_is_not_a_credential(
    lab: &LabBinary,
    credentials: Credentials,
) -> anyhow::Result<String> {
    let target = credentials.start(lab, None).await?;
    let url = target.server.url("/mcp");
    let good = credentials.good(&target).await?;
    let init = http::post_initialize(&url, Some(&good)).await?;
    let session = init
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    http::post_in_session(&url, &session, Some(&good), initialized).await?;
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let without = http::post_in_session(&url, &session, None, list.clone()).await?;
    let wrong =
        http::post_in_session(&url, &session, Some(&credentials.wrong()?), list.clone()).await?;
    let with = http::post_in_session(&url, &session, Some(&good), list).await?;
    Ok(format!(
        "initialize with a valid credential: {} (session id: {})\n\n\
         tools/list in that session without Authorization:\n{}\n\n\
         tools/list in that session with a wrong credential:\n{}\n\n\
         tools/list in that session with the valid credential: {} ({})",
        init.status,
        if session.is_empty() { "none" } else { "issued" },
        refusal(&without),
        refusal(&wrong),
        with.status,
        if with.body.contains("\"whoami\"") {
            "lists the tools"
        } else {
            "no tool list"
        }
    ))
}

/// Header values a client (or an attacker) can send: the middleware must
/// refuse them like any wrong credential, not panic on `to_str().unwrap()`
/// (which drops the connection), and the server must keep serving.
pub(crate) async fn survives_malformed_authorization_headers(
    lab: &LabBinary,
    credentials: Credentials,
) -> anyhow::Result<String> {
    let target = credentials.start(lab, None).await?;
    let url = target.server.url("/mcp");
    let long = format!("Bearer {}", "A".repeat(16 * 1024));
    let cases: [(&str, Result<HeaderValue, InvalidHeaderValue>); 4] = [
        (
            "Bearer and bytes that are not UTF-8",
            HeaderValue::from_bytes(b"Bearer \xff\xfe\xfd"),
        ),
        (
            "Bearer and non-ASCII UTF-8 (\"Bearer caf\u{e9}\")",
            HeaderValue::from_bytes("Bearer caf\u{e9}".as_bytes()),
        ),
        ("an empty value", HeaderValue::from_bytes(b"")),
        ("Bearer and 16 KB of `A`", HeaderValue::from_str(&long)),
    ];
    let mut out = String::new();
    for (case, value) in cases {
        let value = value.with_context(|| format!("BUG: cannot build the header {case}"))?;
        // A fresh client each time: a dropped connection stays with its case.
        let answer = match post_initialize_raw(&http::client()?, &url, value).await {
            Ok(status) => format!("status: {status}"),
            Err(e) if e.is_timeout() => {
                format!("no answer within {} s", http::REQUEST_TIMEOUT.as_secs())
            }
            Err(_) => "no answer: the connection was dropped (did the handler panic?)".to_owned(),
        };
        let _ = writeln!(out, "Authorization: {case}\n  {answer}");
    }
    let good = credentials.good(&target).await?;
    let after = http::post_initialize(&url, Some(&good)).await?;
    let _ = write!(
        out,
        "\nthen a request with a valid credential:\n  status: {}",
        after.status
    );
    Ok(out)
}

/// Runs the lab's whole flow, with right and wrong credentials, against a
/// server logging at `trace`, and looks for every credential it presented
/// in everything the server wrote. Logs are read by more people, kept
/// longer and protected less than the credentials themselves.
pub(crate) async fn never_logs_credentials(
    lab: &LabBinary,
    credentials: Credentials,
) -> anyhow::Result<String> {
    let target = credentials.start(lab, Some("trace")).await?;
    let presented = present_every_credential(&target, credentials).await?;
    let lines = target.server.stop_and_read_output().await?;
    let mut found = String::new();
    for (what, needle) in &presented {
        // A JWT is found by its signature; hide the whole token in the report.
        let whole = Regex::new(&format!(
            r"(?:[A-Za-z0-9_-]+\.){{0,2}}{}",
            regex::escape(needle)
        ))
        .context("BUG: bad credential pattern")?;
        for line in lines.iter().filter(|line| line.contains(needle.as_str())) {
            let line = whole.replace_all(line, format!("[{what}]").as_str());
            let _ = writeln!(
                found,
                "  {what} in: {}",
                shorten(&crate::redact::ports(&line))
            );
        }
    }
    // Only what was found: a flow a lab has not finished presents less.
    Ok(format!(
        "credentials found in the server's output (RUST_LOG=trace):\n{}",
        if found.is_empty() { "  none\n" } else { &found }
    ))
}

/// Makes every request of the lab's flow once, right and wrong, and
/// returns what was presented: (what it is, the text to look for). For a
/// JWT that is its signature, the part that makes it a credential.
async fn present_every_credential(
    target: &Target,
    credentials: Credentials,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let server = &target.server;
    let mcp_url = server.url("/mcp");
    let mut presented = Vec::new();
    let wrong = credentials.wrong()?;
    http::post_initialize(&mcp_url, Some(&wrong)).await?;
    if credentials != Credentials::Secret {
        presented.push(("a refused token", signature(&wrong)));
    }
    if matches!(
        credentials,
        Credentials::Login | Credentials::LoginAndRefresh
    ) {
        api::post(
            server,
            "/login",
            json!({ "username": READER.0, "password": WRONG_PASSWORD }),
        )
        .await?;
        api::post(
            server,
            "/login",
            json!({ "username": "no.such.user", "password": WRONG_PASSWORD }),
        )
        .await?;
        presented.push(("the password", READER.1.to_owned()));
        presented.push(("a wrong password", WRONG_PASSWORD.to_owned()));
    }
    // A flow the lab has not finished yet (a starter's `/login` or
    // `/refresh`) is skipped: this check judges the logs, others the flows.
    let whoami = [("whoami", json!({}))];
    match credentials {
        Credentials::Secret | Credentials::Jwt | Credentials::IssuerToken => {
            let good = credentials.good(target).await?;
            mcp::session(&mcp_url, Some(&good), &whoami).await?;
            if credentials == Credentials::IssuerToken {
                let token = good.strip_prefix("Bearer ").unwrap_or(&good);
                api::get_with(server, "/resource", token).await?;
            }
            if credentials == Credentials::Secret {
                presented.push(("the secret", SECRET.to_owned()));
                presented.push(("a wrong secret", WRONG_SECRET.to_owned()));
            } else {
                presented.push(("an access token", signature(&good)));
            }
        }
        Credentials::Login | Credentials::LoginAndRefresh => {
            let Ok(pair) = api::login(server, READER).await else {
                return Ok(presented);
            };
            let bearer = format!("Bearer {}", pair.access);
            mcp::session(&mcp_url, Some(&bearer), &whoami).await?;
            api::get_with(server, "/resource", &pair.access).await?;
            presented.push(("an access token", signature(&pair.access)));
            presented.push(("a refresh token", pair.refresh.clone()));
            if credentials == Credentials::LoginAndRefresh {
                let rotated = api::refresh(server, &pair.refresh).await?;
                if let Ok(rotated) = api::pair(&rotated) {
                    presented.push(("a rotated refresh token", rotated.refresh));
                }
                // The first one again: reuse, refused.
                api::refresh(server, &pair.refresh).await?;
                if let Ok(fresh) = api::login(server, READER).await {
                    api::post(server, "/logout", json!({ "refreshToken": fresh.refresh })).await?;
                    presented.push(("a logged-out refresh token", fresh.refresh));
                }
            }
        }
    }
    Ok(presented)
}

/// A reply that should be a refusal: in full when it is one, else only
/// that it went through (an MCP stream would flood the diff).
fn refusal(reply: &Reply) -> String {
    if reply.status.is_success() {
        let what = if reply.body.contains("\"whoami\"") {
            "the tool list"
        } else {
            "an MCP answer"
        };
        format!("status: {} (let through: {what})", reply.status)
    } else {
        reply.render(&[])
    }
}

/// The part of a `Bearer <jwt>` value (or a bare token) that is secret.
fn signature(value: &str) -> String {
    let token = value.strip_prefix("Bearer ").unwrap_or(value);
    token.rsplit('.').next().unwrap_or(token).to_owned()
}

fn shorten(line: &str) -> String {
    const MAX: usize = 240;
    if line.chars().count() > MAX {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// An MCP `initialize` with `authorization` as raw bytes; only the status
/// matters, and a dropped connection is the caller's to describe.
async fn post_initialize_raw(
    client: &reqwest::Client,
    url: &str,
    authorization: HeaderValue,
) -> reqwest::Result<StatusCode> {
    let response = client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("authorization", authorization)
        .json(&http::initialize_request())
        .send()
        .await?;
    Ok(response.status())
}
