//! The lab's idea, part 1: a JSON Web Token is `header.payload.signature`,
//! three base64url parts. The header names the algorithm, the payload
//! carries the claims (who, until when), and the signature is an HMAC-SHA256
//! of the first two parts under a key only the server knows. Anyone can read
//! a token; only the key holder can make one that verifies.
//!
//! Read docs/lab2-jwt.md, then fill in each `TODO(lab2)` here and in
//! `auth.rs`. `cargo xtask check lab2` tells you which behaviour is still missing.

use std::time::Duration;

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode,
    errors::{Error as JwtError, ErrorKind},
    get_current_timestamp,
};
use serde::{Deserialize, Serialize};

/// How far past `exp` (and before `nbf`) a token is still accepted, for
/// clocks that disagree a little. jsonwebtoken's default is 60 s; we state
/// ours instead of inheriting it, and keep it small next to a token's life.
pub const LEEWAY_SECS: u64 = 30;

/// HS256 keys shorter than the hash output (32 bytes) are guessable offline:
/// anyone holding one token can try candidate keys until the signature
/// matches (RFC 8725 §3.5).
const MIN_SECRET_BYTES: usize = 32;

/// The demo key, used when `JWT_SECRET` is not set. It is public (it is in
/// this file), so a token it signed proves nothing outside the lab.
const DEMO_SECRET: &str = "lab-demo-jwt-secret-change-me-0123456789";

/// What a token says about its bearer. The names are the registered JWT
/// claims (RFC 7519 §4.1) plus the course's `name` and `admin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user's stable id.
    pub sub: String,
    /// Display name.
    pub name: String,
    /// Present (and `true`) only for administrators.
    #[serde(default, skip_serializing_if = "is_false")]
    pub admin: bool,
    /// Issued at, in seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, in seconds since the Unix epoch.
    pub exp: u64,
}

/// The signing and verifying key: one HMAC secret used both ways.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// Why a token was refused. The middleware turns these into two answers
/// ("Token expired", "Invalid token"); `verify` prints the detail.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("expired")]
    Expired,
    #[error("bad signature")]
    BadSignature,
    #[error("malformed (not three base64url parts of JSON)")]
    Malformed,
    #[error("wrong algorithm (only HS256 is accepted)")]
    WrongAlgorithm,
    #[error("missing exp (a token must expire)")]
    MissingExp,
    #[error("not valid yet (nbf is in the future)")]
    NotYetValid,
    #[error("invalid claims (sub and name must be strings, iat and exp numbers)")]
    InvalidClaims,
}

impl Keys {
    /// Reads the key from `JWT_SECRET`, or uses the demo key.
    pub fn from_env() -> anyhow::Result<Keys> {
        // TODO(lab2): step 1 — read the key from `JWT_SECRET`
        // (`std::env::var_os`). Fall back to `DEMO_SECRET`, with a
        // `tracing::warn!`, only when the variable is unset. An empty
        // `JWT_SECRET` counts as set: it is too short, so `Keys::new`
        // refuses it. (docs/lab2-jwt.md#step-1-the-signing-key)
        Keys::new(DEMO_SECRET.as_bytes())
    }

    pub fn new(secret: &[u8]) -> anyhow::Result<Keys> {
        // TODO(lab2): step 1 — refuse a secret shorter than `MIN_SECRET_BYTES`
        // with an error that names JWT_SECRET (`anyhow::bail!`).
        // (docs/lab2-jwt.md#step-1-the-signing-key)
        Ok(Keys {
            encoding: EncodingKey::from_secret(secret).context("unusable JWT_SECRET")?,
            decoding: DecodingKey::from_secret(secret).context("unusable JWT_SECRET")?,
        })
    }

    /// Signs a token for `sub` that expires `ttl` from now.
    pub fn mint(
        &self,
        sub: &str,
        name: &str,
        admin: bool,
        ttl: Duration,
    ) -> anyhow::Result<String> {
        // TODO(lab2): step 2 — build the `Claims` (`iat` is now, from
        // `get_current_timestamp()`; `exp` is `iat` + `ttl`, and a TTL so long
        // that the sum overflows is an error naming the TTL, not a panic) and
        // sign them with
        // `encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)`.
        // (docs/lab2-jwt.md#step-2-mint-a-token)
        bail!("minting is not written yet: see TODO(lab2) step 2 in src/jwt.rs")
    }

    /// Checks the signature, then the times, and returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        // TODO(lab2): step 3 — build a `Validation` that allows only HS256,
        // uses `LEEWAY_SECS`, checks `nbf` and requires `exp`. Then
        // `decode::<serde_json::Value>(token, &self.decoding, &validation)`,
        // turn an error into a `TokenError` with `TokenError::from_jwt`, and
        // read the claims with `serde_json::from_value`.
        // (docs/lab2-jwt.md#step-3-verify-a-token)
        Err(TokenError::Malformed)
    }
}

impl TokenError {
    fn from_jwt(error: &JwtError, token: &str) -> TokenError {
        match error.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => TokenError::MissingExp,
            // jsonwebtoken has no `none` algorithm, so such a header fails
            // to parse; name the real problem instead of "malformed".
            ErrorKind::Json(_) if header_alg(token).is_some_and(|alg| alg != "HS256") => {
                TokenError::WrongAlgorithm
            }
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
                TokenError::Malformed
            }
            ErrorKind::Json(_) if header_alg(token).is_none() => TokenError::Malformed,
            _ => TokenError::InvalidClaims,
        }
    }
}

/// The `alg` a token's header claims, read without trusting it: only to say
/// why the token is refused.
fn header_alg(token: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(…)")
    }
}

fn is_false(value: &bool) -> bool {
    !value
}
