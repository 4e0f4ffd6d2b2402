//! A reference MCP client for the paths that should work: initialize, list
//! the tools, call one, and render what happened (including a refusal).

use std::collections::HashMap;

use anyhow::Context;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;
use shop::client::{SessionError, classify, render};

/// Opens a session at `url` sending `authorization` verbatim (when given),
/// lists the tools and makes each call; renders the session as lines.
pub async fn session(
    url: &str,
    authorization: Option<&str>,
    calls: &[(&str, Value)],
) -> anyhow::Result<String> {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| (AUTHORIZATION.as_str(), value))
        .into_iter()
        .collect();
    session_with_headers(url, &headers, calls).await
}

/// [`session`] sending each of `headers` verbatim on every request.
pub async fn session_with_headers(
    url: &str,
    headers: &[(&str, &str)],
    calls: &[(&str, Value)],
) -> anyhow::Result<String> {
    let mut custom = HashMap::<HeaderName, HeaderValue>::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).context("not a valid header name")?;
        let value = HeaderValue::from_str(value).context("not a valid header value")?;
        custom.insert(name, value);
    }
    let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(custom);
    let transport = StreamableHttpClientTransport::from_config(config);
    let client = match ().serve(transport).await {
        Ok(client) => client,
        Err(e) => return Ok(refusal(classify(e))),
    };

    let mut names: Vec<String> = match client.list_all_tools().await {
        Ok(tools) => tools.into_iter().map(|t| t.name.to_string()).collect(),
        Err(e) => return Ok(refusal(classify(e))),
    };
    names.sort();
    let mut out = format!("tools: {}\n", names.join(", "));
    for (name, arguments) in calls {
        let arguments = arguments.as_object().cloned().unwrap_or_default();
        let line = match client
            .call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(arguments))
            .await
        {
            Ok(result) => render(&result),
            Err(e) => refusal(classify(e)),
        };
        out.push_str(&format!("call {name} -> {line}\n"));
    }
    let _ = client.cancel().await;
    Ok(out.trim_end().to_owned())
}

fn refusal(error: SessionError) -> String {
    match error {
        SessionError::Refused { status, detail } => format!("refused: HTTP {status} ({detail})"),
        SessionError::Failed(e) => format!("failed: {}", crate::redact::ports(&format!("{e:#}"))),
    }
}
