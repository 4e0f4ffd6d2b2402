//! The lab's client side: log in, use the access token for the MCP session,
//! and when the server answers 401 because it expired, refresh once, keep
//! the new refresh token, and retry the same request.

use std::{collections::HashMap, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use futures::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::{
    model::ClientJsonRpcMessage,
    transport::{
        StreamableHttpClientTransport,
        streamable_http_client::{
            SseError, StreamableHttpClient, StreamableHttpClientTransportConfig,
            StreamableHttpError, StreamableHttpPostResponse, StreamableHttpResponseLimits,
        },
    },
};
use serde_json::{Value, json};
use shop::client::ToolCall;
use sse_stream::Sse;
use tokio::sync::Mutex;

type HttpError = StreamableHttpError<reqwest::Error>;

/// Logs in, waits `wait` (the walkthrough's demo lets the access token
/// expire), then runs the shop session.
pub async fn run(base: &str, username: &str, password: &str, wait: Duration) -> anyhow::Result<()> {
    let base = base.trim_end_matches('/');
    let http = reqwest::Client::new();
    let pair = post_for_pair(
        &http,
        &format!("{base}/login"),
        json!({ "username": username, "password": password }),
    )
    .await
    .context("login failed")?;
    println!("logged in as {username}");
    if !wait.is_zero() {
        println!("waiting {} s before connecting (--wait)", wait.as_secs());
        tokio::time::sleep(wait).await;
    }

    let client = Refreshing {
        http,
        refresh_url: format!("{base}/refresh").into(),
        tokens: Arc::new(Mutex::new(pair)),
    };
    let config = StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp"));
    let transport = StreamableHttpClientTransport::with_client(client, config);
    let calls = [
        ToolCall::new("list_orders", json!({})),
        ToolCall::new("get_order", json!({ "id": 1 })),
        ToolCall::new("whoami", json!({})),
    ];
    shop::client::run_session(transport, &calls).await?;
    Ok(())
}

/// The tokens the client holds. Both change on every refresh. No `Debug`:
/// they must not end up in a log line.
struct Pair {
    access: String,
    refresh: String,
}

/// An MCP HTTP client that sends the current access token and, on a 401,
/// refreshes and retries once.
///
/// rmcp fixes the `Authorization` header when the transport is built; this
/// wrapper ignores the header rmcp hands it and uses its own. It is the
/// same shape as rmcp's OAuth `AuthClient`, without the OAuth discovery.
#[derive(Clone)]
struct Refreshing {
    http: reqwest::Client,
    refresh_url: Arc<str>,
    /// Behind a lock: the MCP session sends from several tasks (the POSTs
    /// and a background GET stream), and they must never refresh the same
    /// token twice; the server would see a reuse and revoke the login.
    tokens: Arc<Mutex<Pair>>,
}

impl Refreshing {
    /// Sends with the current access token; on 401 refreshes once and sends
    /// again. A second 401 is returned as it is: looping would hammer the
    /// server with a token it keeps refusing.
    async fn with_refresh<T, F, Fut>(&self, send: F) -> Result<T, HttpError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let access = self.tokens.lock().await.access.clone();
        match send(access.clone()).await {
            Err(HttpError::AuthRequired(challenge)) => {
                if let Err(e) = self.refresh(&access).await {
                    eprintln!("refresh failed: {e:#}; log in again");
                    return Err(HttpError::AuthRequired(challenge));
                }
                let access = self.tokens.lock().await.access.clone();
                send(access).await
            }
            other => other,
        }
    }

    /// Trades the refresh token for a new pair, unless another task has
    /// already replaced `expired` while this one waited for the lock.
    async fn refresh(&self, expired: &str) -> anyhow::Result<()> {
        let mut tokens = self.tokens.lock().await;
        if tokens.access != expired {
            return Ok(());
        }
        let body = json!({ "refreshToken": tokens.refresh });
        *tokens = post_for_pair(&self.http, &self.refresh_url, body).await?;
        // The old refresh token is gone for good: it was just used, and
        // using it again would look like theft.
        println!("  (access token expired: refreshed, retrying)");
        Ok(())
    }
}

impl StreamableHttpClient for Refreshing {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    /// Overridden so the transport's byte limits still apply to the
    /// responses (the default would drop them).
    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.with_refresh(|token| {
            self.http.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                Some(token),
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        self.with_refresh(|token| {
            self.http.delete_session(
                uri.clone(),
                session_id.clone(),
                Some(token),
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.with_refresh(|token| {
            self.http.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                Some(token),
                custom_headers.clone(),
            )
        })
        .await
    }
}

/// POSTs `body` and reads `{"accessToken","refreshToken"}` from a 200.
async fn post_for_pair(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<Pair> {
    let response = http
        .post(url)
        .json(&body)
        // Per request: the same client also carries the MCP session's
        // long-lived event stream, which must not time out.
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .context("cannot reach the server")?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("HTTP {} {body}", status.as_u16());
    }
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("the answer has no `{name}`"))
    };
    Ok(Pair {
        access: field("accessToken")?,
        refresh: field("refreshToken")?,
    })
}
