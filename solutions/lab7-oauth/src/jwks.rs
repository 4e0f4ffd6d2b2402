//! The authorization server's public keys (its JWK Set, RFC 7517), cached
//! by key id.
//!
//! A token names the key that signed it in its header (`kid`); the server
//! looks the key up here instead of fetching the JWKS for every request.
//! When the authorization server rotates its signing key, the first token
//! with the new `kid` is unknown here: the server fetches the JWKS again and
//! finds it. But a `kid` is whatever the sender wrote, so an attacker can
//! send a thousand made-up ones; each must not cost a fetch, or this server
//! becomes a way to flood the authorization server. Unknown ids cause at most
//! one fetch per `--jwks-refetch-interval`, and requests that arrive while
//! one fetch is under way wait for it instead of starting their own.
//!
//! Only keys this server can use safely enter the cache: asymmetric
//! signing keys (`use` absent or `sig`) for RS256 or ES256, each pinned to
//! its one algorithm. A symmetric (`kty: oct`) key is a shared secret: in a
//! public document it is anyone's, and whoever has it can sign any token.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse},
};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::discovery::fetch_json;

/// How long the cached keys are used without a look at the JWKS: after
/// that, the next request fetches it again (within the same budget as an
/// unknown `kid`), so that a key the authorization server retired stops
/// working here too.
const MAX_KEY_AGE: Duration = Duration::from_secs(10 * 60);

/// A key this server verifies with, and the one algorithm it may be used for.
#[derive(Clone)]
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// The keys by `kid`, shared by every request (the middleware's state is
/// cloned for each one).
#[derive(Clone)]
pub struct KeySet(Arc<Inner>);

struct Inner {
    http: reqwest::Client,
    jwks_uri: String,
    refetch_interval: Duration,
    cached: RwLock<Cached>,
    /// When the last refetch started. Held across a fetch, so that
    /// concurrent requests make one fetch, not one each.
    last_refetch: Mutex<Option<Instant>>,
}

struct Cached {
    by_kid: HashMap<String, VerifyingKey>,
    fetched_at: Instant,
}

impl KeySet {
    /// Fetches the JWKS at start. An issuer with no key this server can
    /// use is a configuration error: every token would be refused.
    pub async fn fetch(
        http: reqwest::Client,
        jwks_uri: String,
        refetch_interval: Duration,
    ) -> anyhow::Result<KeySet> {
        let by_kid = fetch_keys(&http, &jwks_uri)
            .await
            .with_context(|| format!("cannot read the JWKS at {jwks_uri}"))?;
        if by_kid.is_empty() {
            bail!("the JWKS at {jwks_uri} has no RS256 or ES256 signing key with a kid");
        }
        tracing::info!(keys = by_kid.len(), "JWKS loaded");
        Ok(KeySet(Arc::new(Inner {
            http,
            jwks_uri,
            refetch_interval,
            cached: RwLock::new(Cached {
                by_kid,
                fetched_at: Instant::now(),
            }),
            last_refetch: Mutex::new(None),
        })))
    }

    /// The key named `kid`. Unknown (or known but old) keys cause a
    /// refetch, at most one per interval; `None` when the key still is not
    /// there.
    pub async fn key(&self, kid: &str) -> Option<VerifyingKey> {
        let (key, fetched_at) = {
            let cached = self.read();
            (cached.by_kid.get(kid).cloned(), cached.fetched_at)
        };
        if key.is_some() && fetched_at.elapsed() < MAX_KEY_AGE {
            return key;
        }
        self.refetch(fetched_at).await;
        self.read().by_kid.get(kid).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        // Nothing panics while holding it; a poisoned cache is still whole.
        self.0
            .cached
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fetches the JWKS again, unless another request did while this one
    /// waited (the cache is newer than `seen`), or the last refetch is less
    /// than an interval ago. A failed fetch keeps the keys we have.
    async fn refetch(&self, seen: Instant) {
        let mut last_refetch = self.0.last_refetch.lock().await;
        if self.read().fetched_at != seen {
            return;
        }
        if last_refetch.is_some_and(|at| at.elapsed() < self.0.refetch_interval) {
            tracing::debug!("unknown key id, but the JWKS was refetched less than an interval ago");
            return;
        }
        *last_refetch = Some(Instant::now());
        match fetch_keys(&self.0.http, &self.0.jwks_uri).await {
            Ok(by_kid) => {
                tracing::info!(keys = by_kid.len(), "JWKS refetched");
                let mut cached = self
                    .0
                    .cached
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *cached = Cached {
                    by_kid,
                    fetched_at: Instant::now(),
                };
            }
            Err(e) => tracing::warn!("cannot refetch the JWKS, keeping the keys we have: {e:#}"),
        }
    }
}

/// `{"keys": [...]}`, each key read on its own: one key this server does
/// not understand (an encryption key, a new key type) must not make the
/// whole set unreadable.
#[derive(Deserialize)]
struct JwkSetDocument {
    keys: Vec<Value>,
}

async fn fetch_keys(
    http: &reqwest::Client,
    jwks_uri: &str,
) -> anyhow::Result<HashMap<String, VerifyingKey>> {
    let document: JwkSetDocument = fetch_json(http, jwks_uri).await?;
    let mut by_kid = HashMap::new();
    for value in document.keys {
        let kid = value["kid"].as_str().unwrap_or("(none)").to_owned();
        let usable = serde_json::from_value::<Jwk>(value)
            .map_err(|_| "not a JWK this server reads")
            .and_then(|jwk| usable_key(&jwk));
        match usable {
            Ok((kid, key)) => {
                by_kid.insert(kid, key);
            }
            Err(reason) => tracing::info!(kid, "JWKS key skipped: {reason}"),
        }
    }
    Ok(by_kid)
}

/// The key's id and the key pinned to its one algorithm, or why this
/// server will not verify with it.
fn usable_key(jwk: &Jwk) -> Result<(String, VerifyingKey), &'static str> {
    let kid = jwk.common.key_id.clone().ok_or("no kid")?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|key_use| *key_use != PublicKeyUse::Signature)
    {
        return Err("not a signing key (use is not sig)");
    }
    // The key type decides the algorithm: RSA signs RS256, EC P-256 signs
    // ES256, and nothing else is accepted. A key without `alg` (Entra ID
    // publishes none) gets its type's; one whose `alg` says otherwise is
    // not used at all.
    let (algorithm, expected) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            (Algorithm::ES256, KeyAlgorithm::ES256)
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric (oct) key: a secret in a public document signs anything");
        }
        _ => return Err("neither RSA nor EC P-256"),
    };
    if jwk.common.key_algorithm.is_some_and(|alg| alg != expected) {
        return Err("its alg is not RS256 for RSA or ES256 for EC P-256");
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "unreadable key material")?;
    Ok((kid, VerifyingKey { algorithm, key }))
}
