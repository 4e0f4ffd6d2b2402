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

/// Why an https issuer fails here, and what it takes to change that.
const NO_TLS: &str = "\n  (this build has no TLS: an https issuer needs a TLS-enabled reqwest. \
    Add \"rustls\" to the features of `reqwest` under [workspace.dependencies] in the root \
    Cargo.toml. The cost: rustls with aws-lc-rs, C code that needs a C compiler (and cmake on \
    some platforms), minutes more to build and a few MB per binary, in every crate of the \
    workspace, since features unify. A local Keycloak can run on http://localhost instead.)";

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

/// Reads the metadata of `issuer`: the RFC 8414 document first, then the
/// OpenID Connect one, which is all some providers serve. Fails with every
/// URL tried and why when neither answers, and at once when one answers
/// for another issuer.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> anyhow::Result<AuthorizationServer> {
    let mut failures = Vec::new();
    for url in metadata_urls(issuer)? {
        let metadata = match fetch_json::<Metadata>(http, &url).await {
            Ok(metadata) => metadata,
            Err(e) => {
                failures.push(format!("{url}: {e:#}"));
                continue;
            }
        };
        if metadata.issuer.as_deref() != Some(issuer) {
            bail!(
                "the metadata at {url} is for issuer {}, not --issuer {issuer}; tokens are only accepted from the issuer named exactly",
                metadata.issuer.as_deref().unwrap_or("(none)")
            );
        }
        let jwks_uri = metadata
            .jwks_uri
            .with_context(|| format!("the metadata at {url} has no jwks_uri"))?;
        let parsed = Url::parse(&jwks_uri)
            .with_context(|| format!("the metadata at {url} has an unusable jwks_uri"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("the metadata at {url} has a jwks_uri that is not http(s): {jwks_uri}");
        }
        return Ok(AuthorizationServer {
            issuer: issuer.to_owned(),
            jwks_uri,
        });
    }
    let mut message = format!(
        "cannot read the metadata of the authorization server {issuer}:\n  {}",
        failures.join("\n  ")
    );
    if issuer.starts_with("https:") {
        // The workspace's reqwest is built without TLS (see the root Cargo.toml).
        message.push_str(NO_TLS);
    }
    bail!(message)
}

/// RFC 8414 §3.1 inserts the well-known name between the host and the
/// issuer's path (`https://sso/.well-known/oauth-authorization-server/realms/x`);
/// OpenID Connect appends it (`https://sso/realms/x/.well-known/openid-configuration`).
/// For an issuer without a path both sit at the root.
fn metadata_urls(issuer: &str) -> anyhow::Result<[String; 2]> {
    let url = Url::parse(issuer).with_context(|| format!("--issuer {issuer} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        bail!("--issuer {issuer} must be an http(s) URL without a query or fragment (RFC 8414 §2)");
    }
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    Ok([
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
    ])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_for_issuers_with_and_without_a_path() {
        assert_eq!(
            metadata_urls("http://127.0.0.1:4000").unwrap(),
            [
                "http://127.0.0.1:4000/.well-known/oauth-authorization-server",
                "http://127.0.0.1:4000/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("http://sso.local:8080/realms/labs").unwrap(),
            [
                "http://sso.local:8080/.well-known/oauth-authorization-server/realms/labs",
                "http://sso.local:8080/realms/labs/.well-known/openid-configuration",
            ]
        );
        assert!(metadata_urls("http://sso.local/?tenant=x").is_err());
        assert!(metadata_urls("sso.local").is_err());
    }
}
