//! The lab's client side: log in, then use the access token for the MCP
//! session.

use std::time::Duration;

use anyhow::{Context, bail};
use rmcp::transport::{
    StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
};
use serde::Deserialize;
use serde_json::json;
use shop::client::ToolCall;

/// The part of `/login`'s answer this client uses. The refresh token waits
/// for lab 5.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginReply {
    access_token: String,
}

/// `base` is the server's root, e.g. `http://127.0.0.1:3000`.
pub async fn run(base: &str, username: &str, password: &str) -> anyhow::Result<()> {
    let base = base.trim_end_matches('/');
    let access_token = log_in(base, username, password).await?;
    println!("logged in as {username}");

    // From here on it is lab 1's client: rmcp sends the token as
    // `Authorization: Bearer …` on every request of the session.
    let config = StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp"))
        .auth_header(access_token);
    let transport = StreamableHttpClientTransport::from_config(config);
    // A reader may read but not delete: the transcript shows the refusal as
    // a tool error, next to the calls that were allowed.
    let calls = [
        ToolCall::new("list_orders", json!({})),
        ToolCall::new("get_order", json!({ "id": 1 })),
        ToolCall::new("delete_order", json!({ "id": 2 })),
        ToolCall::new("whoami", json!({})),
    ];
    shop::client::run_session(transport, &calls).await?;
    Ok(())
}

async fn log_in(base: &str, username: &str, password: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("cannot build an HTTP client")?;
    let url = format!("{base}/login");
    let response = http
        .post(&url)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if !status.is_success() {
        // The server's body is its own fixed message, safe to show.
        let body = response.text().await.unwrap_or_default();
        bail!("login failed: HTTP {} {}", status.as_u16(), body.trim());
    }
    let reply: LoginReply = response
        .json()
        .await
        .context("login answered without an accessToken")?;
    Ok(reply.access_token)
}
