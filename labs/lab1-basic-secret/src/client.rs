//! The lab's client side: send the secret with every MCP request.

use rmcp::transport::{
    StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
};
use serde_json::json;
use shop::client::{SessionError, ToolCall};

pub async fn run(url: &str, token: Option<&str>) -> Result<(), SessionError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        // TODO(lab1): step 6 — give the token to the transport so that every
        // request of the session carries `Authorization: Bearer <token>`.
        // (docs/lab1-basic-secret.md#step-6-the-client-sends-the-secret)
    }
    let transport = StreamableHttpClientTransport::from_config(config);

    let calls = [
        ToolCall::new("add", json!({ "a": 2, "b": 40 })),
        ToolCall::new("whoami", json!({})),
    ];
    shop::client::run_session(transport, &calls).await
}
