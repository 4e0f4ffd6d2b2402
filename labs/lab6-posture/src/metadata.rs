//! How a client finds out what this server wants (RFC 9728): a metadata
//! document at a well-known URL, and a pointer to it in every 401.
//!
//! An MCP client that meets a 401 reads `resource_metadata` from the
//! challenge, fetches the document, and learns which authorization server
//! issues tokens for this resource and which scopes exist. The kit's
//! `/login` is not an OAuth authorization server (no authorization code,
//! no PKCE, no client registration): the document names it so that the
//! shape is right, and lab 7 replaces it with a real one.

use axum::{
    Json,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{public_url::PublicUrl, rbac};

/// `GET /.well-known/oauth-protected-resource/mcp` (and the root variant,
/// for clients that try it first). Public: a client needs it before it has
/// a token.
pub async fn protected_resource(State(public): State<PublicUrl>) -> Response {
    // TODO(lab6): item 1 — answer 200 with the protected resource metadata
    // (RFC 9728 §2) as JSON: `resource` (the canonical MCP URL,
    // `public.mcp()`), `authorization_servers` (`[public.issuer()]`),
    // `scopes_supported` (`rbac::SCOPES_SUPPORTED`) and
    // `bearer_methods_supported` (`["header"]`).
    // (docs/lab6-posture.md#1-protected-resource-metadata)
    (
        axum::http::StatusCode::NOT_FOUND,
        Json(json!({ "error": "Not found" })),
    )
        .into_response()
}

/// The `WWW-Authenticate` value for a refusal: `Bearer` and the given
/// parameters (`error`, `error_description`, `scope`).
pub fn bearer_challenge(public: &PublicUrl, params: &[(&str, &str)]) -> String {
    // TODO(lab6): item 1 — end every challenge with
    // `resource_metadata="<public.metadata()>"`, so that any 401 or 403
    // tells the client where to read how to get a better token. (`realm`
    // can go: the metadata says more.)
    let mut challenge = String::from(r#"Bearer realm="mcp""#);
    for (name, value) in params {
        // Values are the server's own fixed text, never client input: no
        // quote or backslash to escape.
        challenge.push_str(&format!(", {name}=\"{value}\""));
    }
    challenge
}
