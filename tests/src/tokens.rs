//! Tokens as the checks see them: the JWT secret the checks start servers
//! with, minting variants of a lab's own access tokens (expired, forged,
//! other permissions), and telling tokens apart by shape for snapshots.

use std::{
    sync::LazyLock,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use regex::Regex;
use serde_json::Value;

/// The `JWT_SECRET` every check from lab 2 on starts a server with.
pub const JWT_SECRET: &str = "checks-only-jwt-secret-0123456789abcdef";

/// The environment that goes with it.
pub const JWT_ENV: &[(&str, &str)] = &[("JWT_SECRET", JWT_SECRET)];

static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
        .unwrap_or_else(|e| panic!("BUG: bad regex: {e}"))
});

static BASE64URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_-]+=*$").unwrap_or_else(|e| panic!("BUG: bad regex: {e}"))
});

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether `token` looks like a compact JWS: three base64url parts.
pub fn is_jwt(token: &str) -> bool {
    JWT.is_match(token)
}

/// How a token is shown in a snapshot: `<jwt>`, `<opaque, N bits>` (for a
/// base64url value without dots) or `<other: LEN chars>`. The value itself
/// never reaches a snapshot.
pub fn shape(token: &str) -> String {
    if is_jwt(token) {
        "<jwt>".to_owned()
    } else if BASE64URL.is_match(token) {
        let chars = token.trim_end_matches('=').len();
        // Each base64url character carries 6 bits; round down to whole bytes.
        format!("<opaque, {} bits>", chars * 6 / 8 * 8)
    } else {
        format!("<other: {} chars>", token.len())
    }
}

/// The claims of `token`, verified with [`JWT_SECRET`] and HS256 but with
/// expiry not checked (a check may look at an expired token on purpose).
pub fn claims(token: &str) -> anyhow::Result<serde_json::Map<String, Value>> {
    let key = DecodingKey::from_secret(JWT_SECRET.as_bytes()).context("bad checks secret")?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
        .context("the token does not verify with the JWT_SECRET the server was started with")?;
    Ok(data.claims)
}

/// A copy of the lab's own access token `token` with its claims changed by
/// `edit` and signed again with `secret`. Starting from a real token keeps
/// every claim the lab requires (`sub`, `name`, `aud`, …) in place.
pub fn variant(
    token: &str,
    secret: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> anyhow::Result<String> {
    let mut claims = claims(token)?;
    edit(&mut claims);
    let header = jsonwebtoken::decode_header(token).context("the token has no JWT header")?;
    if header.alg != Algorithm::HS256 {
        bail!("the token is signed with {:?}, not HS256", header.alg);
    }
    let key = EncodingKey::from_secret(secret.as_bytes()).context("bad secret")?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).context("cannot sign")
}

/// [`variant`] signed with [`JWT_SECRET`], with `permissions` replaced.
pub fn with_permissions(token: &str, permissions: Value) -> anyhow::Result<String> {
    variant(token, JWT_SECRET, |claims| {
        claims.insert("permissions".into(), permissions);
    })
}

/// [`variant`] that expired well past any leeway (two minutes ago).
pub fn expired(token: &str, permissions: Value) -> anyhow::Result<String> {
    variant(token, JWT_SECRET, |claims| {
        let now = now();
        claims.insert("iat".into(), (now - 600).into());
        claims.insert("exp".into(), (now - 120).into());
        claims.insert("permissions".into(), permissions);
    })
}

/// [`variant`] signed with a secret the server does not know.
pub fn forged(token: &str, permissions: Value) -> anyhow::Result<String> {
    variant(token, "a-secret-the-server-has-never-seen-0123", |claims| {
        claims.insert("permissions".into(), permissions);
    })
}

/// The `permissions` claim rendered on one line, e.g. `["Orders.Read"]`.
pub fn permissions_of(token: &str) -> anyhow::Result<String> {
    let claims = claims(token)?;
    Ok(claims
        .get("permissions")
        .map_or_else(|| "(no permissions claim)".to_owned(), Value::to_string))
}
