//! The lab's idea, part 2: a middleware that lets a request through only
//! with a valid token, and tells the MCP tools who it belongs to.
//!
//! Read docs/lab2-jwt.md, then fill in each `TODO(lab2)`.

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;
use shop::Caller;

use crate::jwt::{Keys, TokenError};

/// Runs before every request to the protected routes.
pub async fn require_jwt(State(keys): State<Keys>, mut request: Request, next: Next) -> Response {
    // TODO(lab2): step 4 — no `Authorization: Bearer <token>` (use
    // `bearer_token`): return `AuthError::MissingToken.into_response()`.
    // (docs/lab2-jwt.md#step-4-no-token-401)

    // TODO(lab2): step 5 — `keys.verify(token)`; on `Err(reason)`, log the
    // reason at debug level (never the token) and return
    // `AuthError::from(reason).into_response()`.
    // (docs/lab2-jwt.md#step-5-refuse-bad-tokens)

    // TODO(lab2): step 6 — insert a `Caller` built from the claims into
    // `request.extensions_mut()`, so that the `whoami` tool can say who is
    // calling. (docs/lab2-jwt.md#step-6-tell-the-tools-who-is-calling)
    next.run(request).await
}

/// What the client is told, named by what it should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer …` at all: log in and send a token.
    MissingToken,
    /// A token that was valid once: get a new one.
    Expired,
    /// A token that never was valid here (forged, broken, wrong algorithm…).
    InvalidToken,
}

impl From<TokenError> for AuthError {
    fn from(reason: TokenError) -> AuthError {
        // TODO(lab2): step 5 — an expired token is `Expired`; every other
        // reason is `InvalidToken`. (docs/lab2-jwt.md#step-5-refuse-bad-tokens)
        AuthError::InvalidToken
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        // TODO(lab2): step 4 — 401 with a JSON body `{"error": "…"}` and a
        // `WWW-Authenticate` challenge: `Bearer realm="mcp"` for a missing
        // token; for a token that was presented, add
        // `error="invalid_token", error_description="…"`. The messages are
        // "Missing or invalid Authorization header", "Token expired" and
        // "Invalid token". (docs/lab2-jwt.md#step-4-no-token-401)
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// The token of a `Bearer <token>` header. The scheme is case-insensitive
/// (RFC 9110 §11.1), so `bearer x` and `BEARER x` count too.
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
