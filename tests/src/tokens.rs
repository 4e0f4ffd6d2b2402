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

/// The `permissions` claim of `token`, sorted, on one line, e.g.
/// `["Orders.Read","User.Read"]`; a claim that is not an array as it is.
pub fn permissions(token: &str) -> anyhow::Result<String> {
    Ok(match claims(token)?.get("permissions") {
        None => "(no permissions claim)".to_owned(),
        Some(Value::Array(items)) => {
            let mut items = items.clone();
            items.sort_by_key(ToString::to_string);
            Value::Array(items).to_string()
        }
        Some(other) => other.to_string(),
    })
}

/// Claims for the checks' demo user, issued now and valid for `ttl` seconds
/// (negative: already expired), as an object to adjust per case.
pub fn demo_claims(ttl: i64) -> serde_json::Map<String, Value> {
    let now = now();
    let claims = serde_json::json!({
        "sub": "42", "name": "Jane Doe", "iat": now, "exp": now + ttl,
    });
    claims.as_object().cloned().unwrap_or_default()
}

/// Signs `claims` with `alg` (an HMAC algorithm) and `secret`.
pub fn sign(
    claims: &serde_json::Map<String, Value>,
    alg: Algorithm,
    secret: &str,
) -> anyhow::Result<String> {
    let key = EncodingKey::from_secret(secret.as_bytes()).context("bad secret")?;
    jsonwebtoken::encode(&Header::new(alg), claims, &key).context("cannot sign")
}

/// `claims` signed the way a server that knows [`JWT_SECRET`] would.
pub fn hs256(claims: &serde_json::Map<String, Value>) -> anyhow::Result<String> {
    sign(claims, Algorithm::HS256, JWT_SECRET)
}

/// An unsigned token (`"alg":"none"`, empty signature), the classic forgery.
pub fn unsigned(claims: &serde_json::Map<String, Value>) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
    format!("{header}.{payload}.")
}

/// A token as a snapshot shows it, without anything that changes between
/// runs: the header, the claim names, the values of the stable claims, the
/// lifetime `exp - iat`, whether `iat` is now, and whether the signature
/// verifies with [`JWT_SECRET`].
pub fn describe(token: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    if !is_jwt(token) {
        return format!("not a JWT: {}", shape(token));
    }
    let part = |i: usize| -> Option<serde_json::Map<String, Value>> {
        let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(i)?).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let (Some(header), Some(payload)) = (part(0), part(1)) else {
        return "three parts, but the header or payload is not base64url JSON".to_owned();
    };
    // serde_json's map is ordered by key unless `preserve_order` is on: sort
    // explicitly so a feature flag elsewhere cannot reorder a snapshot.
    let sorted = |map: &serde_json::Map<String, Value>| {
        let map: std::collections::BTreeMap<_, _> = map.iter().collect();
        serde_json::to_string(&map).unwrap_or_default()
    };
    let verdict = match claims(token) {
        Ok(_) => "valid with JWT_SECRET".to_owned(),
        Err(e) => format!("{e:#}"),
    };
    format!(
        "header: {}\n{}\nsignature: {verdict}",
        sorted(&header),
        describe_claims(&payload)
    )
}

/// Claims as a snapshot shows them: their names, the values of the stable
/// ones, `exp - iat` and whether `iat` is now; never a raw timestamp.
pub fn describe_claims(payload: &serde_json::Map<String, Value>) -> String {
    let mut names: Vec<&str> = payload.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut out = format!("claims: {}\n", names.join(", "));
    for name in &names {
        match *name {
            "iat" | "exp" | "nbf" => {}
            "jti" => out.push_str("jti: <unique id>\n"),
            _ => out.push_str(&format!("{name}: {}\n", payload[*name])),
        }
    }
    let time = |name: &str| payload.get(name).and_then(Value::as_i64);
    match (time("iat"), time("exp")) {
        (Some(iat), Some(exp)) => {
            out.push_str(&format!("exp - iat: {} s\n", exp - iat));
            let skew = iat - now();
            if skew.abs() <= 10 {
                out.push_str("iat: now\n");
            } else {
                out.push_str(&format!("iat: {skew} s from now\n"));
            }
        }
        _ => out.push_str("exp - iat: (iat or exp is not a number)\n"),
    }
    out.trim_end().to_owned()
}
