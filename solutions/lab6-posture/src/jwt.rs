//! Lab 2's tokens, with lab 4's `permissions` claim: a JSON Web Token is `header.payload.signature`,
//! three base64url parts. The header names the algorithm, the payload
//! carries the claims (who, until when), and the signature is an HMAC-SHA256
//! of the first two parts under a key only the server knows. Anyone can read
//! a token; only the key holder can make one that verifies.
//!
//! Lab 6 makes them access tokens in the sense of RFC 9068: each names who
//! issued it (`iss`), which resource it is for (`aud`), its own id (`jti`),
//! and its type in the header (`typ: at+jwt`). A valid signature is no
//! longer enough: a token for another server, from another issuer, or of
//! another kind (an ID token signed with the same key) is refused.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode,
    errors::{Error as JwtError, ErrorKind},
    get_current_timestamp,
};
use serde::{Deserialize, Serialize};

use crate::public_url::PublicUrl;

/// How far past `exp` (and before `nbf`) a token is still accepted, for
/// clocks that disagree a little. jsonwebtoken's default is 60 s; we state
/// ours instead of inheriting it, and keep it small next to a token's life.
pub const LEEWAY_SECS: u64 = 30;

/// The `typ` header of an access token (RFC 9068 §2.1). Checking it keeps
/// other JWTs signed with the same key (ID tokens, lab 2's plain `JWT`s)
/// from passing as access tokens (RFC 8725 §3.11).
const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// HS256 keys shorter than the hash output (32 bytes) are guessable offline:
/// anyone holding one token can try candidate keys until the signature
/// matches (RFC 8725 §3.5).
const MIN_SECRET_BYTES: usize = 32;

/// The demo key, used when `JWT_SECRET` is not set. It is public (it is in
/// this file), so a token it signed proves nothing outside the lab.
const DEMO_SECRET: &str = "lab-demo-jwt-secret-change-me-0123456789";

/// What a token says about its bearer. The names are the registered JWT
/// claims (RFC 7519 §4.1) plus the course's `name` and `permissions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user's stable id.
    pub sub: String,
    /// Display name.
    pub name: String,
    /// What the bearer may do, e.g. `Orders.Read` (lab 4). A token without
    /// the claim grants nothing; one where it is not an array of strings
    /// does not deserialize, so it is invalid (401), never a crash.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Issuer: who minted the token; this server's `/login` (lab 7: an
    /// authorization server).
    pub iss: String,
    /// Audience: the resource the token is for, the canonical `/mcp` URL.
    /// A string when minted here; `verify` has checked it before this is
    /// read, in whichever form the token had it (RFC 7519 allows an array).
    pub aud: serde_json::Value,
    /// The token's own unique id, for revoking one token (lab 6's logout).
    pub jti: String,
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
    /// `iss` of every token minted and accepted here.
    issuer: String,
    /// `aud` of every token minted and accepted here.
    audience: String,
    /// What `verify` accepts, decided once: the same for every token, and
    /// shared, since the middleware's state is cloned for every request.
    validation: Arc<Validation>,
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
    #[error("invalid claims (sub, name and jti must be strings, iat and exp numbers)")]
    InvalidClaims,
    #[error("for another audience (aud is missing or not this server's /mcp)")]
    WrongAudience,
    #[error("from another issuer (iss is missing or not this server)")]
    WrongIssuer,
    #[error("not an access token (the header's typ is not at+jwt)")]
    WrongType,
}

impl Keys {
    /// Reads the key from `JWT_SECRET`. Without it the server still starts,
    /// with the public demo key and a warning. A key that is set but too
    /// short is refused, because that is a mistake worth stopping for; an
    /// empty one counts as set (`JWT_SECRET=` or `JWT_SECRET="$TYPO"` in a
    /// deploy script), so it is refused too rather than swapped for a key
    /// that anyone can read.
    pub fn from_env(public: &PublicUrl) -> anyhow::Result<Keys> {
        match std::env::var_os("JWT_SECRET") {
            Some(value) => {
                let value = value
                    .into_string()
                    .map_err(|_| anyhow::anyhow!("JWT_SECRET is not valid UTF-8"))?;
                Keys::new(value.as_bytes(), public)
            }
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: using the public demo key, fine for the lab only"
                );
                Keys::new(DEMO_SECRET.as_bytes(), public)
            }
        }
    }

    pub fn new(secret: &[u8], public: &PublicUrl) -> anyhow::Result<Keys> {
        if secret.len() < MIN_SECRET_BYTES {
            bail!(
                "JWT_SECRET is {} bytes long; an HS256 key needs at least {MIN_SECRET_BYTES} random bytes (try `openssl rand -base64 32`)",
                secret.len()
            );
        }
        // The algorithm is the server's choice, never the token's: a token
        // that says `none` or `HS512` is refused before its signature is
        // looked at (RFC 8725 §3.1). `Validation::new` allows only HS256.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        // jsonwebtoken ignores `nbf` unless asked; a token that is "not
        // valid before" next week must not work today.
        validation.validate_nbf = true;
        // No `exp`, no entry (lab 2). And a token must say whom it is for
        // and who made it: jsonwebtoken accepts a token *without* `aud`
        // even after `set_audience`, unless `aud` is required.
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.set_audience(&[public.mcp()]);
        validation.set_issuer(&[public.issuer()]);
        Ok(Keys {
            encoding: EncodingKey::from_secret(secret).context("unusable JWT_SECRET")?,
            decoding: DecodingKey::from_secret(secret).context("unusable JWT_SECRET")?,
            issuer: public.issuer().to_owned(),
            audience: public.mcp(),
            validation: Arc::new(validation),
        })
    }

    /// Signs a token for `sub` that expires `ttl` from now.
    pub fn mint(
        &self,
        sub: &str,
        name: &str,
        permissions: &[String],
        ttl: Duration,
    ) -> anyhow::Result<String> {
        let iat = get_current_timestamp();
        // `iat + ttl` overflows for an absurd TTL: a panic in a debug build,
        // a token that expired in 1970 in a release build. Say so instead.
        let exp = iat
            .checked_add(ttl.as_secs())
            .with_context(|| format!("a TTL of {ttl:?} is too long: exp = iat + ttl overflows"))?;
        let claims = Claims {
            sub: sub.to_owned(),
            name: name.to_owned(),
            permissions: permissions.to_vec(),
            iss: self.issuer.clone(),
            aud: self.audience.clone().into(),
            jti: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
            iat,
            exp,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        encode(&header, &claims, &self.encoding).context("cannot sign the token")
    }

    /// Checks the shape, the signature, the times, the issuer and the
    /// audience, then the type, and returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        // Three base64url parts and nothing else, before any decoding: a
        // brace, a quote or a space means some other serialization, which
        // a lenient parser might read differently (RFC 8725bis, JWT format
        // confusion).
        if !is_compact_jws(token) {
            return Err(TokenError::Malformed);
        }
        // The HMAC comparison inside `decode` is constant-time. Decoding
        // into a plain JSON value first lets the validation speak (a missing
        // `exp` is "missing exp", not "no field exp in struct Claims"); only
        // then do we insist on the claims this server needs.
        let data = decode::<serde_json::Value>(token, &self.decoding, &self.validation)
            .map_err(|e| TokenError::from_jwt(&e, token))?;
        // The header is read only for `typ`. Its `kid`, `jku`, `x5u` and
        // `jwk` are the sender's words: this server has one key and never
        // fetches or accepts another, whatever the token says.
        let typ = data.header.typ.as_deref().unwrap_or_default();
        if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
            && !typ.eq_ignore_ascii_case("application/at+jwt")
        {
            return Err(TokenError::WrongType);
        }
        serde_json::from_value(data.claims).map_err(|_| TokenError::InvalidClaims)
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
            ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => TokenError::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => TokenError::WrongIssuer,
            ErrorKind::InvalidAudience => TokenError::WrongAudience,
            ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
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

/// `header.payload.signature`, each part non-empty base64url.
fn is_compact_jws(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
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
