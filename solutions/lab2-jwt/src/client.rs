//! The lab's client side: send the secret with every MCP request.

use rmcp::transport::{
    StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
};
use serde_json::json;
use shop::client::{SessionError, ToolCall};

pub async fn run(url: &str, token: Option<&str>) -> Result<(), SessionError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        // rmcp sends this as `Authorization: Bearer <token>` on every request
        // of the session. Pass the bare token: it adds the `Bearer ` itself.
        config = config.auth_header(token);
    }
    let transport = StreamableHttpClientTransport::from_config(config);

    let calls = [
        ToolCall::new("add", json!({ "a": 2, "b": 40 })),
        ToolCall::new("whoami", json!({})),
    ];
    shop::client::run_session(transport, &calls).await
}
