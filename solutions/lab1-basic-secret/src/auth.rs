//! The lab's idea: a middleware that lets a request through only when it
//! carries `Authorization: Bearer <secret>`.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The course's demo secret, used when `MCP_SECRET` is not set.
const DEMO_SECRET: &str = "secret-token";

/// The shared secret. It never appears in logs or `Debug` output.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Reads `MCP_SECRET`, or falls back to the course's demo value with a
    /// warning. A real server would refuse to start without a secret.
    pub fn from_env() -> Secret {
        match std::env::var("MCP_SECRET") {
            Ok(value) if !value.is_empty() => Secret(value.into()),
            _ => {
                tracing::warn!(
                    "MCP_SECRET is not set: using the demo secret, fine for the lab only"
                );
                Secret(DEMO_SECRET.into())
            }
        }
    }

    /// Compares in constant time, so response timing does not reveal how
    /// many leading bytes of a guess were right. Hashing both sides first
    /// gives equal lengths: `ct_eq` returns early on slices of different
    /// length, which would leak the secret's length.
    pub fn matches(&self, presented: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let presented = Sha256::digest(presented.as_bytes());
        expected.ct_eq(&presented).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Runs before every request to the protected routes.
pub async fn require_secret(
    State(secret): State<Secret>,
    request: Request,
    next: Next,
) -> Response {
    // No credential at all: 401 means "authenticate first", and RFC 9110
    // requires a `WWW-Authenticate` challenge with it.
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        tracing::debug!("refused: no Authorization header");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"mcp\"")],
            "Unauthorized",
        )
            .into_response();
    };

    // A credential that is not the secret: the course answers 403. The
    // standard answer is 401 with `error="invalid_token"`; lab 2 moves to it.
    if !bearer_token(value).is_some_and(|token| secret.matches(token)) {
        tracing::debug!("refused: Authorization is not the expected Bearer secret");
        return (StatusCode::FORBIDDEN, "Forbidden").into_response();
    }

    next.run(request).await
}

/// The token of a `Bearer <token>` header. The scheme is case-insensitive
/// (RFC 9110 §11.1), so `bearer x` and `BEARER x` count too.
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}
