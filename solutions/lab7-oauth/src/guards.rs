//! Checks that run before any credential is looked at: where a request
//! comes from (the `Origin` of a browser page) and how big it is.
//!
//! Both are cheap and refuse early on purpose. A page on another site
//! (or a DNS-rebinding attack that makes `evil.example` resolve to
//! 127.0.0.1) gets nothing from a local server; a 1 MB header or body
//! costs no signature check and no JSON parse before it is refused.
//! (Lab 6's rate limits guarded `/login` and `/refresh`; since lab 7 the
//! authorization server has those endpoints, and their limits.)

use std::sync::Arc;

use axum::{
    Json,
    body::Body,
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;
use shop::url::ServerUrl;

use crate::{auth::audit, public_url::PublicUrl};

/// The longest `Authorization` header read at all: an RS256 access token
/// is ~1 KB, 8 KB leaves room for any honest one.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// The largest `/mcp` body: a JSON-RPC message with a tool's arguments.
/// rmcp's own limit is 4 MiB; the shop's tools take a number or two.
pub const MAX_MCP_BODY_BYTES: usize = 256 * 1024;

/// The origins a browser page may call from: this server's own, and each
/// `--allowed-origin`. Compared as `scheme://host[:port]`, lowercase.
#[derive(Debug, Clone)]
pub struct AllowedOrigins(Arc<Vec<String>>);

impl AllowedOrigins {
    pub fn new(public: &PublicUrl, extra: &[ServerUrl]) -> AllowedOrigins {
        let origins = std::iter::once(public.origin())
            .chain(extra.iter().map(ServerUrl::root))
            .map(str::to_ascii_lowercase)
            .collect();
        AllowedOrigins(Arc::new(origins))
    }
}

/// 403 for a request whose `Origin` is not on the list. A request without
/// `Origin` is not from a browser page (curl, an MCP client, a server) and
/// goes on to the token check; `Origin: null` (a sandboxed page, a file)
/// is refused unless listed.
pub async fn check_origin(
    State(allowed): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let known = origin
            .to_str()
            .is_ok_and(|origin| allowed.0.contains(&origin.to_ascii_lowercase()));
        if !known {
            audit("-", request.uri().path(), "refused", "origin not allowed");
            return refusal(StatusCode::FORBIDDEN, "Origin not allowed");
        }
    }
    next.run(request).await
}

/// The body limit of a group of routes, for [`limit_sizes`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// 431 for an `Authorization` header over [`MAX_AUTHORIZATION_BYTES`], 413
/// for a body over the route's limit: before the token is decoded, the
/// body parsed, or a password hashed. The body is read here, up to the
/// limit and no further, whatever `Content-Length` says (or does not say,
/// for a chunked body).
pub async fn limit_sizes(
    State(BodyLimit(limit)): State<BodyLimit>,
    request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map_or(0, |value| value.len());
    if authorization > MAX_AUTHORIZATION_BYTES {
        audit(
            "-",
            request.uri().path(),
            "refused",
            "Authorization too large",
        );
        return refusal(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Authorization header too large",
        );
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return too_large(limit);
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => too_large(limit),
    }
}

fn too_large(limit: usize) -> Response {
    audit(
        "-",
        "a request body",
        "refused",
        &format!("body over {limit} bytes"),
    );
    refusal(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
