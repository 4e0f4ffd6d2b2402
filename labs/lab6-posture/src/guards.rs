//! Checks that run before any credential is looked at: where a request
//! comes from (the `Origin` of a browser page), how big it is, and how
//! often this client (or this username) has asked.
//!
//! All are cheap and refuse early on purpose. A page on another site
//! (or a DNS-rebinding attack that makes `evil.example` resolve to
//! 127.0.0.1) gets nothing from a local server; a 1 MB header or body
//! costs no HMAC, no JSON parse and no argon2 before it is refused; and a
//! password guesser gets ten tries a minute, not ten thousand.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use serde_json::{Value, json};
use shop::url::ServerUrl;
use tower_governor::{
    GovernorError, GovernorLayer,
    governor::GovernorConfigBuilder,
    key_extractor::{KeyExtractor, PeerIpKeyExtractor},
};

use crate::public_url::PublicUrl;

/// The longest `Authorization` header read at all: a token of this server
/// is ~600 bytes, 8 KB leaves room for any honest one.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// The largest body of `/login`, `/refresh` and `/logout`: two short
/// strings in JSON.
pub const MAX_TOKEN_ENDPOINT_BODY_BYTES: usize = 4 * 1024;

/// The largest `/mcp` body: a JSON-RPC message with a tool's arguments.
/// rmcp's own limit is 4 MiB; the shop's tools take a number or two.
pub const MAX_MCP_BODY_BYTES: usize = 256 * 1024;

/// Requests to `/login`, `/refresh` and `/logout` one client address may
/// make in a burst; one more is allowed every [`RATE_REFILL`], so ten a
/// minute once the burst is spent.
pub const RATE_BURST: u32 = 10;
pub const RATE_REFILL: Duration = Duration::from_secs(6);

/// Login attempts for one username, from any address, in a burst; one
/// more every [`RATE_REFILL`]. Against a guesser who rotates addresses.
pub const LOGIN_BURST_PER_USERNAME: u32 = 10;

/// Usernames the per-username limiter remembers before it forgets the
/// idle ones: a guesser who invents names must not grow it forever.
const MAX_REMEMBERED_USERNAMES: usize = 10_000;

/// The origins a browser page may call from: this server's own, and each
/// `--allowed-origin`. Compared as `scheme://host[:port]`, lowercase.
#[derive(Debug, Clone)]
pub struct AllowedOrigins(Arc<Vec<String>>);

impl AllowedOrigins {
    pub fn new(public: &PublicUrl, extra: &[ServerUrl]) -> AllowedOrigins {
        let origins = std::iter::once(public.issuer())
            .chain(extra.iter().map(ServerUrl::root))
            .map(str::to_ascii_lowercase)
            .collect();
        AllowedOrigins(Arc::new(origins))
    }
}

/// Runs before the token check on every route but the metadata.
pub async fn check_origin(
    State(allowed): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    // TODO(lab6): item 5 — a request whose `Origin` header is not one of
    // `allowed` (compare lowercase) gets 403 `{"error":"Origin not allowed"}`
    // before anything else runs: a page on another site, or a DNS-rebinding
    // attack, must get nothing. No `Origin` at all is not a browser page:
    // let it through to the token check. `Origin: null` is refused.
    // (docs/lab6-posture.md#5-origin-and-host)
    next.run(request).await
}

/// The body limit of a group of routes, for [`limit_sizes`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Runs before the token check, with the limit of its routes.
pub async fn limit_sizes(
    State(BodyLimit(limit)): State<BodyLimit>,
    request: Request,
    next: Next,
) -> Response {
    // TODO(lab6): item 6 — refuse what is too big before any signature
    // check, JSON parse or password hash: an `Authorization` header over
    // `MAX_AUTHORIZATION_BYTES` gets 431 (`too_large` has the body's 413),
    // a `Content-Length` over `limit` gets 413, and the body itself is read
    // with `axum::body::to_bytes(body, limit)` (413 when it is longer, for a
    // chunked body that declares no length) and put back
    // (`Request::from_parts(parts, Body::from(bytes))`).
    // (docs/lab6-posture.md#6-sizes-before-crypto)
    next.run(request).await
}

/// `router` (the token endpoints) with a limit per client address.
pub fn rate_limited(router: Router, trust_proxy: bool) -> Router {
    // TODO(lab6): item 8 — limit `/login`, `/refresh` and `/logout` per
    // client address with tower_governor: `GovernorConfigBuilder::default()
    // .period(RATE_REFILL).burst_size(RATE_BURST).key_extractor(…).finish()`
    // and `router.layer(GovernorLayer::new(config).error_handler(…))`,
    // answering 429 with `Retry-After` (`too_many`). The key is the socket
    // peer (`PeerIpKeyExtractor`); only with `trust_proxy` the LAST entry of
    // `X-Forwarded-For`, the one your proxy appended: everything before it
    // is whatever the client wrote (so not `SmartIpKeyExtractor`, which
    // reads the first). (docs/lab6-posture.md#8-rate-limits)
    router
}

/// Login attempts per username, shared by every request to `/login`.
#[derive(Debug, Clone)]
pub struct LoginAttempts(Arc<DefaultKeyedRateLimiter<String>>);

impl Default for LoginAttempts {
    fn default() -> LoginAttempts {
        let per_username = NonZeroU32::new(LOGIN_BURST_PER_USERNAME).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(RATE_REFILL)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(per_username);
        LoginAttempts(Arc::new(RateLimiter::keyed(quota)))
    }
}

/// Runs before `/login`.
pub async fn limit_per_username(
    State(attempts): State<LoginAttempts>,
    request: Request,
    next: Next,
) -> Response {
    // TODO(lab6): item 8 — read the body (`limit_sizes` has bounded it),
    // take its `username`, and answer 429 (`too_many`) when
    // `attempts.0.check_key(&username)` refuses, whichever address the
    // attempt comes from; put the body back for the login handler.
    next.run(request).await
}

/// 429 with `Retry-After` in whole seconds (RFC 6585 §4).
fn too_many(wait_secs: u64) -> Response {
    let mut response = refusal(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait_secs.max(1)));
    response
}

fn too_large(limit: usize) -> Response {
    tracing::info!(
        decision = "refused",
        reason = "body too large",
        limit,
        "size check"
    );
    refusal(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
