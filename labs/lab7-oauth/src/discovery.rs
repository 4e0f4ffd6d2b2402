//! Who issues the tokens this server accepts, and where its keys are.
//!
//! Lab 6 signed its own tokens; from lab 7 on an authorization server does
//! (the kit's `authz`, or Keycloak, Entra ID, Auth0…), named by `--issuer`.
//! At start the server reads the issuer's metadata (RFC 8414; OpenID
//! Connect Discovery is the same document under another name) and learns
//! the one thing it needs from it: `jwks_uri`, where the public keys are.
//!
//! The document must name the issuer we were told to trust, byte for byte
//! (RFC 8414 §3.3). Otherwise a typo or a proxy could point us at another
//! server's keys, and every token would be judged against the wrong issuer.

use anyhow::{Context, bail};
use reqwest::Url;
use serde::Deserialize;

/// The largest metadata document read: real ones are a few KB.
const MAX_METADATA_BYTES: usize = 64 * 1024;

/// What this server takes from the issuer's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationServer {
    /// Exactly `--issuer`: every accepted token's `iss`.
    pub issuer: String,
    /// Where the issuer publishes its public keys (a JWK Set, RFC 7517).
    pub jwks_uri: String,
}

/// The fields read from the metadata; the rest (endpoints, grant types) is
/// for clients.
#[derive(Deserialize)]
struct Metadata {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

/// Reads the metadata of `issuer` and returns where its keys are.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> anyhow::Result<AuthorizationServer> {
    // TODO(lab7): item 1 — the metadata must be for `--issuer`, byte for
    // byte: compare its `issuer` with ours and refuse to start otherwise
    // (RFC 8414 §3.3). And an issuer with a path (Keycloak's
    // `/realms/x`) has its RFC 8414 document at
    // `/.well-known/oauth-authorization-server/realms/x`, its OpenID one at
    // `/realms/x/.well-known/openid-configuration`: try both.
    // (docs/lab7-oauth.md#1-discovery)
    let url = format!(
        "{}/.well-known/oauth-authorization-server",
        issuer.trim_end_matches('/')
    );
    let metadata: Metadata = fetch_json(http, &url)
        .await
        .with_context(|| format!("cannot read the metadata of {issuer} at {url}"))?;
    let jwks_uri = metadata
        .jwks_uri
        .with_context(|| format!("the metadata at {url} has no jwks_uri"))?;
    Ok(AuthorizationServer {
        issuer: issuer.to_owned(),
        jwks_uri,
    })
}

/// GETs `url` and reads a JSON body of at most [`MAX_METADATA_BYTES`].
pub(crate) async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<T> {
    let mut response = http.get(url).send().await.context("unreachable")?;
    if !response.status().is_success() {
        bail!("HTTP {}", response.status());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.context("the answer broke off")? {
        if body.len() + chunk.len() > MAX_METADATA_BYTES {
            bail!("more than {MAX_METADATA_BYTES} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).context("not the JSON expected")
}
