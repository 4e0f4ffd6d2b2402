//! The token endpoints of labs 3–5 (`/login`, `/refresh`, `/logout`) and the
//! protected `/resource`, as the checks call them.

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    LabBinary,
    harness::{ClientRun, RunningServer},
    http::{self, Reply},
    tokens,
};

/// The course's reader.
pub const READER: (&str, &str) = ("jane.doe", "secure123");
/// The demo admin (lab 4's walkthrough).
pub const ADMIN: (&str, &str) = ("alex.admin", "admin-pass-123");

/// An access/refresh pair from `/login` or `/refresh`.
#[derive(Debug, Clone)]
pub struct Pair {
    pub access: String,
    pub refresh: String,
}

/// POSTs `body` as JSON to `path`.
pub async fn post(server: &RunningServer, path: &str, body: Value) -> anyhow::Result<Reply> {
    http::send(Method::POST, &server.url(path), &[], Some(body)).await
}

/// `GET path` with `Authorization: Bearer <token>`.
pub async fn get_with(server: &RunningServer, path: &str, token: &str) -> anyhow::Result<Reply> {
    let bearer = format!("Bearer {token}");
    http::send(
        Method::GET,
        &server.url(path),
        &[("authorization", &bearer)],
        None,
    )
    .await
}

/// Logs `user` in and returns the pair, failing unless the reply is a 200
/// with two string tokens.
pub async fn login(
    server: &RunningServer,
    (username, password): (&str, &str),
) -> anyhow::Result<Pair> {
    let reply = post(
        server,
        "/login",
        json!({ "username": username, "password": password }),
    )
    .await?;
    pair(&reply).with_context(|| format!("logging in as {username}"))
}

/// Runs the lab's `client --url BASE --username U --password P`.
pub async fn run_client_as(
    lab: &LabBinary,
    base_url: &str,
    (username, password): (&str, &str),
) -> anyhow::Result<ClientRun> {
    let args = [
        "--url",
        base_url,
        "--username",
        username,
        "--password",
        password,
    ];
    lab.run_client(&args).await
}

/// `POST /refresh {"refreshToken": token}`.
pub async fn refresh(server: &RunningServer, token: &str) -> anyhow::Result<Reply> {
    post(server, "/refresh", json!({ "refreshToken": token })).await
}

/// The pair in a 200 reply of `/login` or `/refresh`.
pub fn pair(reply: &Reply) -> anyhow::Result<Pair> {
    if reply.status != reqwest::StatusCode::OK {
        bail!("expected 200 with a token pair, got {}", reply.render(&[]));
    }
    let json = reply.json().context("the reply is not JSON")?;
    let field = |name: &str| {
        json.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("the reply has no string `{name}`: {json}"))
    };
    Ok(Pair {
        access: field("accessToken")?,
        refresh: field("refreshToken")?,
    })
}

/// A reply with every token in its JSON body replaced by its shape, and
/// the named headers shown.
pub fn render_redacted(reply: &Reply, headers: &[&str]) -> String {
    let mut out = format!("status: {}\n", reply.status);
    for name in headers {
        let value = reply.headers.get(*name).map_or("-".into(), |v| {
            String::from_utf8_lossy(v.as_bytes()).into_owned()
        });
        out.push_str(&format!("{name}: {value}\n"));
    }
    let body = match reply.json() {
        Some(json) => serde_json::to_string_pretty(&redacted(json)).unwrap_or_default(),
        None if reply.body.is_empty() => "(empty)".to_owned(),
        None => reply.body.chars().take(200).collect(),
    };
    out.push_str(&format!("body: {body}"));
    out
}

/// Status and body on one line, tokens redacted, e.g. `400 {"error":"invalid_grant"}`.
pub fn short(reply: &Reply) -> String {
    let body = match reply.json() {
        Some(json) => redacted(json).to_string(),
        None if reply.body.is_empty() => "(empty)".to_owned(),
        None => reply.body.chars().take(120).collect(),
    };
    format!("{} {body}", reply.status.as_u16())
}

/// `json` with the values of `accessToken` and `refreshToken` replaced by
/// their shape (see [`refresh_shape`] for the second).
fn redacted(mut json: Value) -> Value {
    if let Value::Object(map) = &mut json {
        if let Some(Value::String(token)) = map.get("accessToken") {
            let shape = tokens::shape(token);
            map.insert("accessToken".into(), Value::String(shape));
        }
        if let Some(Value::String(token)) = map.get("refreshToken") {
            let shape = refresh_shape(token);
            map.insert("refreshToken".into(), Value::String(shape));
        }
    }
    json
}

/// A refresh token's shape: `<opaque, ≥128 bits>` when it is base64url of
/// at least 16 bytes and not a JWT (how many more bits is the lab's
/// choice), else [`tokens::shape`].
pub fn refresh_shape(token: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_or(0, |raw| raw.len());
    if !tokens::is_jwt(token) && bytes >= 16 {
        "<opaque, ≥128 bits>".to_owned()
    } else {
        tokens::shape(token)
    }
}
