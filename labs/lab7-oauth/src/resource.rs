//! A protected HTTP resource next to the MCP endpoint, behind the same
//! middleware; since lab 4 it also needs the `User.Read` permission.

use axum::{
    Extension, Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde_json::json;
use shop::Caller;

use crate::{public_url::PublicUrl, rbac};

/// `GET /resource`. The handler asks for the `Caller` the middleware
/// inserted, so it cannot run for a request that has none, and everything
/// it says about the user comes from the verified token.
pub async fn resource(
    State(public): State<PublicUrl>,
    Extension(caller): Extension<Caller>,
) -> Response {
    // The middleware has already refused invalid tokens with 401: only a
    // valid token reaches this permission check, which answers 403.
    if let Err(denied) = rbac::require(&caller, rbac::USER_READ) {
        return denied.response(&public);
    }
    Json(json!({
        "message": "This is protected data",
        "user": { "sub": caller.sub, "name": caller.name },
    }))
    .into_response()
}
