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

use crate::{auth::audit, public_url::PublicUrl};

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

/// `router` (the token endpoints) with a limit per client address: the
/// socket peer, or with `trust_proxy` the address the proxy saw.
///
/// `X-Forwarded-For` is whatever the client wrote, unless a proxy you run
/// wrote it: read it only when told that one does (`--trust-proxy`), and
/// then only its last entry, the one the proxy appended. The first entry
/// (what tower_governor's `SmartIpKeyExtractor` reads) is the client's.
pub fn rate_limited(router: Router, trust_proxy: bool) -> Router {
    if trust_proxy {
        limit_by(router, ProxiedClient)
    } else {
        limit_by(router, PeerIpKeyExtractor)
    }
}

fn limit_by<K>(router: Router, key: K) -> Router
where
    K: KeyExtractor<Key = IpAddr> + Send + Sync + 'static,
{
    let Some(config) = GovernorConfigBuilder::default()
        .period(RATE_REFILL)
        .burst_size(RATE_BURST)
        .key_extractor(key)
        .finish()
    else {
        unreachable!("RATE_REFILL and RATE_BURST are not zero");
    };
    // The limiter keeps one entry per address it has seen: forget the
    // idle ones now and then.
    let limiter = config.limiter().clone();
    tokio::spawn(async move {
        let mut every_minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            limiter.retain_recent();
        }
    });
    router.layer(
        GovernorLayer::new(config).error_handler(|error| match error {
            GovernorError::TooManyRequests { wait_time, .. } => {
                audit("-", "a token endpoint", "refused", "rate limit per address");
                too_many(wait_time)
            }
            // No peer address: the server was started without `ConnectInfo`.
            _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }),
    )
}

/// The client address behind one trusted proxy: the last `X-Forwarded-For`
/// entry, else the socket peer.
#[derive(Debug, Clone, Copy)]
struct ProxiedClient;

impl KeyExtractor for ProxiedClient {
    type Key = IpAddr;

    fn extract<T>(&self, request: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        let forwarded = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|list| list.rsplit(',').next()?.trim().parse().ok());
        let peer = || {
            request
                .extensions()
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip())
        };
        forwarded
            .or_else(peer)
            .ok_or(GovernorError::UnableToExtractKey)
    }
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

/// 429 for a login attempt on a username that has had its burst, from
/// whichever addresses. Every attempt counts, right or wrong: an attacker
/// can therefore slow the real user's logins too, for as long as the
/// attack lasts; a limit on failures only would need the answer first.
pub async fn limit_per_username(
    State(attempts): State<LoginAttempts>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    // `limit_sizes` has already bounded the body.
    let Ok(body) = axum::body::to_bytes(body, MAX_TOKEN_ENDPOINT_BODY_BYTES).await else {
        return too_large(MAX_TOKEN_ENDPOINT_BODY_BYTES);
    };
    let username = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|credentials| credentials["username"].as_str().map(str::to_owned));
    if let Some(username) = username {
        if attempts.0.len() > MAX_REMEMBERED_USERNAMES {
            attempts.0.retain_recent();
        }
        if let Err(not_until) = attempts.0.check_key(&username) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            audit("-", "/login", "refused", "rate limit per username");
            return too_many(wait.as_secs().max(1));
        }
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
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
