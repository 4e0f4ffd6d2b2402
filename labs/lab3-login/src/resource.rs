//! The lab's idea, part 3: a protected HTTP resource next to the MCP
//! endpoint, behind the same middleware.
//!
//! Read docs/lab3-login.md, then fill in the `TODO(lab3)`.

use axum::{Extension, Json};
use serde_json::{Value, json};
use shop::Caller;

/// `GET /resource`. The handler asks for the `Caller` the middleware
/// inserted, so it cannot run for a request that has none, and everything
/// it says about the user comes from the verified token.
pub async fn resource(Extension(caller): Extension<Caller>) -> Json<Value> {
    // TODO(lab3): step 4 — answer `{"message": "This is protected data",
    // "user": {"sub": …, "name": …}}` with the caller's `sub` and `name`.
    // (docs/lab3-login.md#step-4-the-protected-resource)
    Json(json!({}))
}
