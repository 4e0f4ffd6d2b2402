//! Lab 2's middleware: it lets a request through only with a valid token,
//! and tells the MCP tools and `/resource` who it belongs to and, since
//! lab 4, what they may do.

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
    let Some(token) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(bearer_token)
    else {
        tracing::debug!("refused: no Bearer token");
        return AuthError::MissingToken.into_response();
    };

    // The token is checked on every request, not once per MCP session: a
    // session id is not a credential, and the token may expire mid-session.
    let claims = match keys.verify(token) {
        Ok(claims) => claims,
        Err(reason) => {
            // The reason goes to the log (never the token itself); the
            // client only learns "expired" or "invalid".
            tracing::debug!("refused: token {reason}");
            return AuthError::from(reason).into_response();
        }
    };

    // Only what the signature vouches for reaches the tools: rmcp hands each
    // tool the `Parts` of its own request, extensions included.
    request.extensions_mut().insert(Caller {
        sub: claims.sub,
        name: claims.name,
        permissions: claims.permissions,
    });
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
        match reason {
            TokenError::Expired => AuthError::Expired,
            _ => AuthError::InvalidToken,
        }
    }
}

impl IntoResponse for AuthError {
    /// Always 401: lab 1 answered a wrong secret with 403, but 403 means "I
    /// know who you are and you may not", and a bad token proves no identity
    /// (RFC 6750 §3.1). The challenge says so in a form clients act on: the
    /// rmcp client treats only a 401 with `WWW-Authenticate` as "log in".
    fn into_response(self) -> Response {
        let (challenge, message) = match self {
            AuthError::MissingToken => (
                r#"Bearer realm="mcp""#,
                "Missing or invalid Authorization header",
            ),
            AuthError::Expired => (
                r#"Bearer realm="mcp", error="invalid_token", error_description="Token expired""#,
                "Token expired",
            ),
            AuthError::InvalidToken => (
                r#"Bearer realm="mcp", error="invalid_token", error_description="Invalid token""#,
                "Invalid token",
            ),
        };
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            Json(json!({ "error": message })),
        )
            .into_response()
    }
}

/// The token of a `Bearer <token>` header. The scheme is case-insensitive
/// (RFC 9110 §11.1), so `bearer x` and `BEARER x` count too.
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
