//! Raw HTTP requests, and how a reply is rendered for a snapshot.

use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

/// Longest body kept in an observation; a lab that answers with a whole MCP
/// stream where a refusal was expected should not flood the diff.
const MAX_BODY: usize = 1200;

/// A reply as a check sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// A JSON-RPC `initialize` request, the first thing an MCP client sends.
pub fn initialize_request() -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "lab-checks", "version": "1.0.0" }
        }
    })
}

/// POSTs an MCP `initialize` to `url` with an optional `Authorization` value
/// sent exactly as given.
pub async fn post_initialize(url: &str, authorization: Option<&str>) -> anyhow::Result<Reply> {
    let mut headers = vec![("accept", "application/json, text/event-stream")];
    if let Some(value) = authorization {
        headers.push(("authorization", value));
    }
    send(Method::POST, url, &headers, Some(initialize_request())).await
}

/// One JSON-RPC message to the MCP endpoint `url` within the session
/// `session`, with an optional `Authorization` value sent exactly as given.
pub async fn post_in_session(
    url: &str,
    session: &str,
    authorization: Option<&str>,
    body: Value,
) -> anyhow::Result<Reply> {
    let mut headers = vec![
        ("accept", "application/json, text/event-stream"),
        ("mcp-session-id", session),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    headers.extend(authorization.map(|value| ("authorization", value)));
    send(Method::POST, url, &headers, Some(body)).await
}

/// Sends one request and reads the whole reply.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    json_body: Option<Value>,
) -> anyhow::Result<Reply> {
    let mut request = request(&method, url, headers)?;
    if let Some(body) = json_body {
        request = request.json(&body);
    }
    finish(request, &method, url).await
}

/// [`send`] with a body sent exactly as given (e.g. broken JSON), with no
/// `Content-Type` unless `headers` has one.
pub async fn send_raw(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<Reply> {
    let request = request(&method, url, headers)?.body(body.to_owned());
    finish(request, &method, url).await
}

/// How long a check's request waits for an answer. Under the kit's own CI
/// (two cores, the planted mistakes building beside the labs) a server took
/// over 10 s to answer a login; a stuck handler still fails within a
/// check's 30 s, with this error rather than the check's deadline.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The client every check sends with: no request waits more than
/// [`REQUEST_TIMEOUT`].
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("cannot build an HTTP client")
}

fn request(
    method: &Method,
    url: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<reqwest::RequestBuilder> {
    let mut request = client()?.request(method.clone(), url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Ok(request)
}

async fn finish(
    request: reqwest::RequestBuilder,
    method: &Method,
    url: &str,
) -> anyhow::Result<Reply> {
    let response = request
        .send()
        .await
        .with_context(|| format!("{method} {} failed", crate::redact::ports(url)))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

impl Reply {
    /// The status line, the named headers (`-` when absent) and the body
    /// (pretty-printed when it is JSON), one per line.
    pub fn render(&self, headers: &[&str]) -> String {
        let mut out = format!("status: {}\n", self.status);
        for name in headers {
            let value = self.headers.get(*name).map_or("-".into(), |v| {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            });
            out.push_str(&format!("{name}: {value}\n"));
        }
        out.push_str(&format!("body: {}", self.rendered_body()));
        out
    }

    /// The body as JSON, when it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    fn rendered_body(&self) -> String {
        if self.body.is_empty() {
            return "(empty)".into();
        }
        if let Some(json) = self.json() {
            return serde_json::to_string_pretty(&json).unwrap_or_default();
        }
        let mut body: String = self.body.chars().take(MAX_BODY).collect();
        if body.len() < self.body.len() {
            body.push_str("\n… (cut)");
        }
        body
    }
}
