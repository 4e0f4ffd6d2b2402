//! The signing keys: made at start, published at `/jwks`, rotated on request.
//!
//! A resource server never sees a private key. It fetches the public half
//! of each key from `/jwks` and picks the one a token names in its `kid`
//! header. Rotation is therefore a publishing problem: the new key must be
//! in the JWKS before tokens carry its kid, and the old one must stay there
//! until every token it signed has expired (the grace period).

use std::{
    fmt,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{Jwk, PublicKeyUse, ThumbprintHash},
};
use p256::{
    elliptic_curve::Generate,
    pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding},
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde::Serialize;

/// The two signature algorithms the server signs with. Both are asymmetric:
/// whoever verifies needs only the public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alg {
    /// RSA PKCS#1 v1.5 with SHA-256, the one every JWT library supports.
    #[default]
    RS256,
    /// ECDSA on P-256 with SHA-256: small keys and signatures.
    ES256,
}

impl Alg {
    fn algorithm(self) -> Algorithm {
        match self {
            Alg::RS256 => Algorithm::RS256,
            Alg::ES256 => Algorithm::ES256,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
        })
    }
}

impl FromStr for Alg {
    type Err = String;

    fn from_str(text: &str) -> Result<Alg, String> {
        match text {
            "RS256" => Ok(Alg::RS256),
            "ES256" => Ok(Alg::ES256),
            _ => Err(format!("`{text}` is not RS256 or ES256")),
        }
    }
}

/// One key pair. The private half never leaves this struct.
#[derive(Clone)]
pub struct KeyPair {
    kid: String,
    alg: Alg,
    private: EncodingKey,
    /// The public half as a JWK, with `kid`, `use` and `alg` filled in.
    public_jwk: Jwk,
    /// The public half as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    public_pem: String,
    /// When a rotated-out key leaves the JWKS; `None` while it is current.
    retire_at: Option<Instant>,
}

impl KeyPair {
    /// A fresh key. RSA keys are 2048 bits, the floor RFC 7518 §3.3 sets.
    pub fn generate(alg: Alg) -> anyhow::Result<KeyPair> {
        let (private, public_pem) = match alg {
            Alg::RS256 => {
                let key = rsa::PrivateKey::new(&mut rand::rngs::SysRng, 2048)
                    .context("cannot generate an RSA key")?;
                let der = key.to_pkcs1_der().context("cannot encode the RSA key")?;
                let pem = key
                    .to_public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .context("cannot encode the RSA public key")?;
                (EncodingKey::from_rsa_der(der.as_bytes()), pem)
            }
            Alg::ES256 => {
                let key = p256::ecdsa::SigningKey::try_generate()
                    .map_err(|e| anyhow::anyhow!("cannot generate a P-256 key: {e}"))?;
                let der = key.to_pkcs8_der().context("cannot encode the P-256 key")?;
                let pem = key
                    .verifying_key()
                    .to_public_key_pem(LineEnding::LF)
                    .context("cannot encode the P-256 public key")?;
                (EncodingKey::from_ec_der(der.as_bytes()), pem)
            }
        };
        let mut public_jwk = Jwk::from_encoding_key(&private, alg.algorithm())
            .context("cannot describe the key as a JWK")?;
        // The kid is the key's RFC 7638 thumbprint: unique per key, and
        // anyone can recompute it from the public key.
        let kid = public_jwk
            .thumbprint(ThumbprintHash::SHA256)
            .context("cannot compute the key's thumbprint")?;
        public_jwk.common.key_id = Some(kid.clone());
        public_jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(KeyPair {
            kid,
            alg,
            private,
            public_jwk,
            public_pem,
            retire_at: None,
        })
    }

    fn published(&self, now: Instant) -> bool {
        self.retire_at.is_none_or(|at| now < at)
    }
}

/// The two keys a server starts with (one RS256, one ES256), made once and
/// given to any number of servers: an RSA key takes ~50 ms to make, and the
/// checks start dozens of servers that need not differ in their keys.
#[derive(Clone)]
pub struct StartingKeys(Arc<[KeyPair; 2]>);

impl StartingKeys {
    pub fn generate() -> anyhow::Result<StartingKeys> {
        Ok(StartingKeys(Arc::new([
            KeyPair::generate(Alg::RS256)?,
            KeyPair::generate(Alg::ES256)?,
        ])))
    }
}

impl fmt::Debug for StartingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private halves.
        let kids: Vec<&str> = self.0.iter().map(|key| key.kid.as_str()).collect();
        f.debug_tuple("StartingKeys").field(&kids).finish()
    }
}

/// The JWKS document: `{"keys": [...]}`.
#[derive(Debug, Serialize)]
pub struct JwkSet {
    pub keys: Vec<serde_json::Value>,
}

/// Every key the server holds, and which one signs new tokens.
pub struct KeyRing {
    keys: Vec<KeyPair>,
    signing_kid: String,
    /// Extra JWKs published as they are, for tests that need a hostile
    /// JWKS (a `kty: "oct"` key, say). The server never signs with them.
    extra: Vec<serde_json::Value>,
    grace: Duration,
}

impl KeyRing {
    /// One RS256 and one ES256 key (`starting`, or fresh ones), both
    /// published; `alg` signs.
    pub fn new(
        alg: Alg,
        grace: Duration,
        starting: Option<StartingKeys>,
    ) -> anyhow::Result<KeyRing> {
        let keys = match starting {
            Some(keys) => keys.0.to_vec(),
            None => StartingKeys::generate()?.0.to_vec(),
        };
        let signing_kid = keys
            .iter()
            .find(|key| key.alg == alg)
            .map(|key| key.kid.clone())
            .context("no key for the signing algorithm")?;
        Ok(KeyRing {
            keys,
            signing_kid,
            extra: Vec::new(),
            grace,
        })
    }

    /// The public keys a resource server may verify with right now.
    pub fn jwks(&self) -> JwkSet {
        let now = Instant::now();
        let published = self
            .keys
            .iter()
            .filter(|key| key.published(now))
            .filter_map(|key| serde_json::to_value(&key.public_jwk).ok());
        JwkSet {
            keys: published.chain(self.extra.iter().cloned()).collect(),
        }
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// Signs `claims` as an `at+jwt` (RFC 9068) with the key `kid`, or the
    /// signing key when `kid` is `None`. A `kid` the ring does not hold is
    /// still written into the header, over the signing key's signature:
    /// that is how tests make tokens naming a key nobody published.
    pub fn sign(
        &self,
        claims: &impl Serialize,
        kid: Option<&str>,
        typ: &str,
    ) -> anyhow::Result<String> {
        let kid = kid.unwrap_or(&self.signing_kid);
        let key = self
            .keys
            .iter()
            .find(|key| key.kid == kid)
            .or_else(|| self.keys.iter().find(|key| key.kid == self.signing_kid))
            .context("the signing key is missing")?;
        let mut header = Header::new(key.alg.algorithm());
        header.kid = Some(kid.to_owned());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &key.private).context("cannot sign the token")
    }

    /// The algorithm of the signing key, which its successor keeps.
    pub fn signing_alg(&self) -> Alg {
        self.keys
            .iter()
            .find(|key| key.kid == self.signing_kid)
            .map_or(Alg::default(), |key| key.alg)
    }

    /// Makes `fresh` the signing key (generate it with [`KeyPair::generate`]
    /// first, outside the lock: RSA takes a moment). The old key stays
    /// published for the grace period, so tokens it signed still verify.
    pub fn rotate_to(&mut self, fresh: KeyPair) -> String {
        let now = Instant::now();
        for key in &mut self.keys {
            if key.kid == self.signing_kid {
                key.retire_at = Some(now + self.grace);
            }
        }
        self.signing_kid = fresh.kid.clone();
        self.keys.push(fresh);
        // Keys past their grace period are gone for good.
        self.keys.retain(|key| key.published(now));
        self.signing_kid.clone()
    }

    /// Drops every key but the signing one, at once, extra JWKs included.
    pub fn retire_unused(&mut self) {
        let signing = self.signing_kid.clone();
        self.keys.retain(|key| key.kid == signing);
        self.extra.clear();
    }

    pub fn public_key_pem(&self, kid: &str) -> Option<String> {
        self.keys
            .iter()
            .find(|key| key.kid == kid)
            .map(|key| key.public_pem.clone())
    }

    pub fn publish_extra(&mut self, jwk: serde_json::Value) {
        self.extra.push(jwk);
    }
}
