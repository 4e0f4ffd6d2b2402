//! Access tokens from an authorization server: JWTs (RFC 9068) signed with
//! the server's private key and checked here with its public one.
//!
//! Lab 6 held one HMAC secret that both signed and verified. Now this
//! server holds no secret at all: the authorization server signs (RS256 or
//! ES256), publishes the public keys (see `jwks.rs`), and any resource
//! server can verify without being able to mint.
//!
//! That move brings a classic mistake with it: letting the token choose how
//! it is verified. The header's `alg` is the sender's word. A verifier that
//! follows it accepts `alg: none`, or an HS256 token whose "secret" is the
//! RSA public key (which everyone has). Here the key decides: the `kid`
//! names a key, the key has one algorithm, and a token that says another is
//! refused before its signature is looked at (RFC 8725 §3.1).

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, Validation, decode, decode_header,
    errors::{Error as JwtError, ErrorKind},
};
use serde::Deserialize;

use crate::jwks::KeySet;

/// How far past `exp` (and before `nbf`) a token is still accepted, for
/// clocks that disagree a little, here and at the authorization server.
pub const LEEWAY_SECS: u64 = 30;

/// The `typ` header of an access token (RFC 9068 §2.1). An ID token signed
/// with the same key is not an access token (RFC 8725 §3.11).
const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The only algorithms accepted, whatever a key or token says.
const ACCEPTED_ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

/// What this server reads from a verified access token. `aud`, `exp` and
/// `nbf` are checked by the validation and not needed afterwards.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// The user (or, for a machine client, the client) the token is for.
    pub sub: String,
    /// The authorization server that issued it: `--issuer`, checked.
    pub iss: String,
    /// A display name, when the issuer includes one (OpenID Connect's
    /// `name`); the kit's authorization server does not.
    #[serde(default)]
    pub name: Option<String>,
    /// The granted scopes, space-separated (RFC 9068 §2.2.3). They are lab
    /// 4's permission names.
    #[serde(default)]
    pub scope: String,
    /// The same, as Entra ID names it; read only when there is no `scope`.
    #[serde(default)]
    scp: Option<String>,
}

impl Claims {
    /// The scopes as lab 4's permissions: split on spaces, compared exactly
    /// later (`Orders.Read` is not `orders.read`).
    pub fn permissions(&self) -> Vec<String> {
        self.scope
            .split(' ')
            .filter(|scope| !scope.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Checks access tokens against the issuer's keys, for this server's `/mcp`
/// (or `--audience`).
#[derive(Clone)]
pub struct Validator {
    keys: KeySet,
    issuer: Arc<str>,
    audience: Arc<str>,
    /// `--accept-typ-jwt`: `typ: JWT` or none passes too.
    accept_typ_jwt: bool,
}

/// Why a token was refused. The middleware turns these into two answers
/// ("Token expired", "Invalid token"); the audit log gets the detail.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("expired")]
    Expired,
    #[error("bad signature")]
    BadSignature,
    #[error("malformed (not three base64url parts of JSON)")]
    Malformed,
    #[error("wrong algorithm (only RS256 and ES256, and only the one of its key)")]
    WrongAlgorithm,
    #[error("no kid (the header must name the key)")]
    MissingKid,
    #[error("signed with a key the issuer does not publish (unknown kid)")]
    UnknownKey,
    #[error("missing exp (a token must expire)")]
    MissingExp,
    #[error("not valid yet (nbf is in the future)")]
    NotYetValid,
    #[error("invalid claims (sub and iss must be strings, scope a string)")]
    InvalidClaims,
    #[error("for another audience (aud is missing or not this server's /mcp)")]
    WrongAudience,
    #[error("from another issuer (iss is missing or not --issuer)")]
    WrongIssuer,
    #[error("not an access token (the header's typ is not at+jwt)")]
    WrongType,
}

impl Validator {
    /// Tokens must come from `issuer` (exactly) and be for `audience`
    /// (this server's canonical `/mcp` URL, unless `--audience` says
    /// otherwise). `accept_typ_jwt` lets tokens without the RFC 9068
    /// `at+jwt` type through, for providers that issue none.
    pub fn new(keys: KeySet, issuer: &str, audience: &str, accept_typ_jwt: bool) -> Validator {
        Validator {
            keys,
            issuer: issuer.into(),
            audience: audience.into(),
            accept_typ_jwt,
        }
    }

    /// Checks the shape, the algorithm against the key, the signature, the
    /// times, the issuer, the audience and the type, and returns the claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        // Three base64url parts and nothing else, before any decoding (RFC
        // 8725bis, JWT format confusion).
        if !is_compact_jws(token) {
            return Err(TokenError::Malformed);
        }
        // The header is read to find the key, and is trusted for nothing
        // else: its `jku`, `x5u` and `jwk` (a URL or key of the sender's
        // choice) are never used.
        let header = decode_header(token).map_err(|e| TokenError::from_jwt(&e, token))?;
        if !ACCEPTED_ALGORITHMS.contains(&header.alg) {
            return Err(TokenError::WrongAlgorithm);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::MissingKid)?;
        let key = self.keys.key(kid).await.ok_or(TokenError::UnknownKey)?;
        // Pinned: an RSA key verifies RS256 only, an EC key ES256 only.
        if header.alg != key.algorithm {
            return Err(TokenError::WrongAlgorithm);
        }
        let data = decode::<serde_json::Value>(token, &key.key, &self.validation(key.algorithm))
            .map_err(|e| TokenError::from_jwt(&e, token))?;
        let typ = data.header.typ.as_deref().unwrap_or_default();
        if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
            && !typ.eq_ignore_ascii_case("application/at+jwt")
        {
            self.accept_plain_jwt(typ)?;
        }
        let mut claims: Claims =
            serde_json::from_value(data.claims).map_err(|_| TokenError::InvalidClaims)?;
        if claims.scope.is_empty() {
            claims.scope = claims.scp.take().unwrap_or_default();
        }
        Ok(claims)
    }

    /// A token that is not typed `at+jwt` passes only with
    /// `--accept-typ-jwt`, and then only as `JWT` or untyped: another type
    /// (`dpop+jwt`, `logout+jwt`…) is never an access token.
    fn accept_plain_jwt(&self, typ: &str) -> Result<(), TokenError> {
        if self.accept_typ_jwt && (typ.is_empty() || typ.eq_ignore_ascii_case("JWT")) {
            Ok(())
        } else {
            Err(TokenError::WrongType)
        }
    }

    /// What `decode` checks for a key of `algorithm`: that algorithm only,
    /// `exp` and `nbf` with our leeway, and `iss` and `aud` required and
    /// equal to ours (jsonwebtoken accepts a token *without* `aud` unless
    /// it is required).
    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.set_audience(&[&*self.audience]);
        validation.set_issuer(&[&*self.issuer]);
        validation
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
            ErrorKind::Json(_)
                if header_alg(token).is_some_and(|alg| alg != "RS256" && alg != "ES256") =>
            {
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
