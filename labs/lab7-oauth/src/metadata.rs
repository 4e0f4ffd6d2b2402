//! How a client finds out what this server wants (RFC 9728): a metadata
//! document at a well-known URL, and a pointer to it in every 401.
//!
//! An MCP client that meets a 401 reads `resource_metadata` from the
//! challenge, fetches the document, and learns which authorization server
//! issues tokens for this resource and which scopes exist. Lab 6 named its
//! own `/login` there; since lab 7 it is the real authorization server,
//! `--issuer`, where the client runs OAuth (authorization code + PKCE).

use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{public_url::PublicUrl, rbac};

/// What the document says: this server's name and its authorization server.
#[derive(Debug, Clone)]
pub struct ResourceNames {
    pub public: PublicUrl,
    /// `--issuer`, exactly as tokens carry it in `iss`.
    pub issuer: Arc<str>,
}

/// `GET /.well-known/oauth-protected-resource/mcp` (and the root variant,
/// for clients that try it first). Public: a client needs it before it has
/// a token.
pub async fn protected_resource(State(names): State<ResourceNames>) -> Response {
    let document = json!({
        // Byte for byte the URL tokens are issued for (`aud`), so that a
        // client can check it asked the right server (RFC 9728 §3.3).
        "resource": names.public.mcp(),
        // The issuer identifier: a client finds the server's own metadata
        // under it (RFC 8414), and must get the same `issuer` back.
        "authorization_servers": [&*names.issuer],
        "scopes_supported": rbac::SCOPES_SUPPORTED,
        // Tokens only in the Authorization header: never in a query string
        // (it ends up in logs) nor in a form body.
        "bearer_methods_supported": ["header"],
        "resource_name": "Orders shop (MCP auth labs)",
    });
    // Anyone may read it, and a browser-based client from another origin too.
    ([(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], Json(document)).into_response()
}

/// The `WWW-Authenticate` value for a refusal: `Bearer`, the given
/// parameters (`error`, `error_description`, `scope`), and always
/// `resource_metadata`, so that any 401 or 403 tells the client where to
/// read how to get a better token.
pub fn bearer_challenge(public: &PublicUrl, params: &[(&str, &str)]) -> String {
    let mut challenge = String::from("Bearer ");
    for (name, value) in params {
        // Values are the server's own fixed text, never client input: no
        // quote or backslash to escape.
        challenge.push_str(&format!("{name}=\"{value}\", "));
    }
    challenge.push_str(&format!("resource_metadata=\"{}\"", public.metadata()));
    challenge
}
