//! The demo client session every lab's `client` subcommand runs: initialize,
//! list the tools, call a few, and print a transcript on stdout.
//!
//! The labs differ in how they obtain and send a credential; that part lives
//! in each lab's `client.rs`. Everything after the transport is built is here.

use std::error::Error as StdError;

use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    service::ClientInitializeError,
    transport::{
        StreamableHttpClientTransport,
        streamable_http_client::{
            AuthRequiredError, InsufficientScopeError, StreamableHttpClient, StreamableHttpError,
        },
    },
};
use serde_json::Value;

/// One tool call to make and print.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub name: String,
    pub arguments: serde_json::Map<String, Value>,
}

impl ToolCall {
    /// `arguments` must be a JSON object (or `null` for none).
    pub fn new(name: &str, arguments: Value) -> ToolCall {
        let arguments = match arguments {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        ToolCall {
            name: name.to_owned(),
            arguments,
        }
    }
}

/// Why a session failed, shaped by what a client does next.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The server refused the credential (HTTP 401 or 403).
    #[error("the server refused the credential: HTTP {status} ({detail})")]
    Refused { status: u16, detail: String },
    /// Anything else: connection refused, protocol error, …
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

/// Initializes an MCP session over `transport`, lists the tools and makes
/// `calls`, printing each step. Tool errors are printed, not returned: a
/// refused tool call is part of the transcript (lab 4 shows them).
pub async fn run_session<C>(
    transport: StreamableHttpClientTransport<C>,
    calls: &[ToolCall],
) -> Result<(), SessionError>
where
    C: StreamableHttpClient + Send + Sync + 'static,
{
    let client = ().serve(transport).await.map_err(classify)?;
    if let Some(server) = client.peer_info().and_then(|info| info.server_info.clone()) {
        println!("connected to {} {}", server.name, server.version);
    }

    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .map_err(classify)?
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect();
    names.sort();
    println!("tools: {}", names.join(", "));

    for call in calls {
        println!(
            "call {} {}",
            call.name,
            Value::Object(call.arguments.clone())
        );
        let params =
            CallToolRequestParams::new(call.name.clone()).with_arguments(call.arguments.clone());
        match client.call_tool(params).await {
            Ok(result) => println!("  -> {}", render(&result)),
            Err(e) => match classify(e) {
                refused @ SessionError::Refused { .. } => return Err(refused),
                SessionError::Failed(e) => println!("  -> error: {e:#}"),
            },
        }
    }

    // Ends the session on the server (an HTTP DELETE, with the credential).
    client
        .cancel()
        .await
        .map_err(|e| SessionError::Failed(e.into()))?;
    Ok(())
}

/// A tool result as one line: its text content, marked when it is an error.
pub fn render(result: &CallToolResult) -> String {
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.as_str()))
        .collect();
    let text = text.join(" ");
    if result.is_error == Some(true) {
        format!("tool error: {text}")
    } else {
        text
    }
}

/// Sorts an rmcp client error into "refused" (401/403) and everything else,
/// by walking its source chain for the transport's own error types.
pub fn classify<E>(error: E) -> SessionError
where
    E: StdError + Send + Sync + 'static,
{
    let mut next: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(current) = next {
        if let Some(auth) = current.downcast_ref::<AuthRequiredError>() {
            return refused(
                401,
                format!("WWW-Authenticate: {}", auth.www_authenticate_header),
            );
        }
        if let Some(scope) = current.downcast_ref::<InsufficientScopeError>() {
            return refused(
                403,
                format!("WWW-Authenticate: {}", scope.www_authenticate_header),
            );
        }
        match current.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
            // Other 4xx answers arrive as "HTTP 403 Forbidden: <body>".
            Some(StreamableHttpError::UnexpectedServerResponse(text)) => {
                if let Some((status, body)) = refused_status(text) {
                    return refused(status, body.to_owned());
                }
            }
            Some(StreamableHttpError::Client(e)) => {
                return SessionError::Failed(anyhow::anyhow!(
                    "cannot reach the server: {}",
                    error_chain(e)
                ));
            }
            _ => {}
        }
        // The initialize error keeps the transport error in a field that is
        // not its `source()`.
        next = match current.downcast_ref::<ClientInitializeError>() {
            Some(ClientInitializeError::TransportError { error, .. }) => Some(error),
            _ => current.source(),
        };
    }
    SessionError::Failed(anyhow::Error::new(error))
}

/// `"HTTP 403 Forbidden: body"` → `(403, "body")`, for 401 and 403 only.
fn refused_status(text: &str) -> Option<(u16, &str)> {
    let rest = text.strip_prefix("HTTP ")?;
    let status = rest.get(..3)?.parse::<u16>().ok()?;
    let body = rest.split_once(": ").map_or("", |(_, body)| body);
    matches!(status, 401 | 403).then_some((status, body))
}

/// "a: b: c" from an error and its sources, without the SDK's type names.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut next = error.source();
    while let Some(current) = next {
        parts.push(current.to_string());
        next = current.source();
    }
    parts.join(": ")
}

fn refused(status: u16, detail: String) -> SessionError {
    SessionError::Refused { status, detail }
}
