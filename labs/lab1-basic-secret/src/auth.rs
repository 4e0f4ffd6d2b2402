//! The lab's idea: a middleware that lets a request through only when it
//! carries `Authorization: Bearer <secret>`.
//!
//! Read docs/lab1-basic-secret.md, then fill in each `TODO(lab1)`.
//! `cargo xtask check lab1` tells you which behaviour is still missing.

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

    /// Whether `presented` is the secret.
    pub fn matches(&self, presented: &str) -> bool {
        // TODO(lab1): step 5 — compare in constant time: hash both sides with
        // `Sha256::digest` and compare the digests with `ct_eq` (from `subtle`).
        // Never use `==` on secrets. (docs/lab1-basic-secret.md#step-5-compare-in-constant-time)
        false
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
    // TODO(lab1): step 2 — no `Authorization` header: answer 401 with the body
    // "Unauthorized" and a `WWW-Authenticate: Bearer realm="mcp"` header.
    // (docs/lab1-basic-secret.md#step-2-no-header-401)

    // TODO(lab1): step 3 — a header that is not `Bearer <secret>`: answer 403
    // with the body "Forbidden". Use `bearer_token` and `secret.matches`.
    // (docs/lab1-basic-secret.md#step-3-wrong-secret-403)

    // Step 4: everything else reaches the MCP server.
    next.run(request).await
}

/// The token of a `Bearer <token>` header.
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    // TODO(lab1): step 4 — split the value at the first space into scheme and
    // token; accept the scheme in any case (`bearer`, `Bearer`, `BEARER`).
    // The value is bytes a client chose: a value you cannot read as text is
    // a wrong credential (`None`), never a panic.
    // (docs/lab1-basic-secret.md#step-4-let-the-right-secret-through)
    None
}
