//! The clients the server knows: two registered in advance, and any client
//! that describes itself with a Client ID Metadata Document (CIMD).
//!
//! A client is known by where it may send the user back to. Handing a code
//! to an unregistered `redirect_uri` would hand it to whoever owns that URL,
//! so a bad client or redirect URI gets an error page, never a redirect.

use std::{net::IpAddr, time::Duration};

use reqwest::Url;
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// A client, as the server knows it for one request.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub kind: ClientKind,
}

#[derive(Debug, Clone)]
pub enum ClientKind {
    /// `lab7-client`: a native app without a secret (a public client). It
    /// listens on a loopback port it picks at run time, so any port is
    /// accepted (RFC 8252 §7.3); PKCE stands in for the missing secret.
    Loopback,
    /// A client whose id is the URL of its metadata document; it may use
    /// exactly the redirect URIs the document lists. Public, like the above.
    Metadata { redirect_uris: Vec<String> },
    /// `shipping-bot`: a service acting for itself (client credentials),
    /// with a secret and a fixed set of scopes.
    Machine {
        secret: &'static str,
        scopes: &'static [&'static str],
    },
}

const LOOPBACK_CLIENT: &str = "lab7-client";
const MACHINE_CLIENT: &str = "shipping-bot";
// A demo secret in the source, like the demo passwords: a real server keeps
// a hash of a generated secret, per client, in its database.
const MACHINE_SECRET: &str = "shipping-bot-secret";
const MACHINE_SCOPES: &[&str] = &["Orders.Read"];

/// Why a `client_id` was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("unknown client_id")]
    Unknown,
    #[error("client metadata document {url}: {reason}")]
    Metadata { url: String, reason: String },
}

impl Client {
    /// The client for `client_id`; a URL is fetched as its metadata document.
    pub async fn find(http: &reqwest::Client, client_id: &str) -> Result<Client, ClientError> {
        if let Some(client) = Client::registered(client_id) {
            return Ok(client);
        }
        if !(client_id.starts_with("https://") || client_id.starts_with("http://")) {
            return Err(ClientError::Unknown);
        }
        Ok(Client {
            id: client_id.to_owned(),
            kind: fetch_metadata(http, client_id).await?,
        })
    }

    /// A client registered in advance, without fetching anything.
    pub fn registered(client_id: &str) -> Option<Client> {
        let kind = match client_id {
            LOOPBACK_CLIENT => ClientKind::Loopback,
            MACHINE_CLIENT => ClientKind::Machine {
                secret: MACHINE_SECRET,
                scopes: MACHINE_SCOPES,
            },
            _ => return None,
        };
        Some(Client {
            id: client_id.to_owned(),
            kind,
        })
    }

    /// A client without a secret, which must therefore prove with PKCE that
    /// it is the one that started the flow.
    pub fn is_public(&self) -> bool {
        !matches!(self.kind, ClientKind::Machine { .. })
    }

    /// Whether a code for this client may be sent to `redirect_uri`.
    pub fn accepts_redirect(&self, redirect_uri: &str) -> bool {
        match &self.kind {
            ClientKind::Loopback => is_loopback_callback(redirect_uri),
            ClientKind::Metadata { redirect_uris } => {
                redirect_uris.iter().any(|uri| uri == redirect_uri)
            }
            ClientKind::Machine { .. } => false,
        }
    }

    /// Whether `secret` is this client's secret, compared in constant time.
    pub fn secret_matches(&self, secret: &str) -> bool {
        match &self.kind {
            ClientKind::Machine { secret: own, .. } => {
                bool::from(own.as_bytes().ct_eq(secret.as_bytes()))
            }
            _ => false,
        }
    }
}

/// `http://127.0.0.1:<port>/callback` or `http://localhost:<port>/callback`.
fn is_loopback_callback(redirect_uri: &str) -> bool {
    Url::parse(redirect_uri).is_ok_and(|url| {
        url.scheme() == "http"
            && matches!(url.host_str(), Some("127.0.0.1" | "localhost"))
            && url.path() == "/callback"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none()
    })
}

/// The part of a client metadata document the server reads.
#[derive(Deserialize)]
struct MetadataDocument {
    client_id: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

/// Fetches and checks a client metadata document. A real server also caches
/// it, limits its size, and refuses URLs that resolve to internal addresses
/// (the fetch is a request the attacker chooses: SSRF).
async fn fetch_metadata(
    http: &reqwest::Client,
    client_id: &str,
) -> Result<ClientKind, ClientError> {
    let refuse = |reason: String| ClientError::Metadata {
        url: client_id.to_owned(),
        reason,
    };
    let url = Url::parse(client_id).map_err(|e| refuse(format!("not a URL: {e}")))?;
    match url.scheme() {
        // The kit's HTTP client is built without TLS, to keep the build small.
        "https" => {
            return Err(refuse(
                "https client metadata documents need TLS, which this teaching server's HTTP \
                 client is built without; serve the document over http on a loopback address"
                    .to_owned(),
            ));
        }
        "http" if is_loopback_host(&url) => {}
        _ => {
            return Err(refuse(
                "must be https, or http on a loopback address".to_owned(),
            ));
        }
    }
    let response = http
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| refuse(format!("cannot fetch it: {e}")))?;
    if !response.status().is_success() {
        return Err(refuse(format!("answered {}", response.status())));
    }
    let document: MetadataDocument = response
        .json()
        .await
        .map_err(|e| refuse(format!("not a metadata document: {e}")))?;
    // The document must name itself: otherwise anyone could point a
    // client_id at someone else's document and borrow its redirect URIs.
    if document.client_id != client_id {
        return Err(refuse(format!(
            "its client_id is `{}`, not the document's own URL",
            document.client_id
        )));
    }
    Ok(ClientKind::Metadata {
        redirect_uris: document.redirect_uris,
    })
}

fn is_loopback_host(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Scopes a machine client may have; users' clients get the user's.
pub fn machine_scopes(client: &Client) -> &'static [&'static str] {
    match client.kind {
        ClientKind::Machine { scopes, .. } => scopes,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_callbacks_on_any_port() {
        assert!(is_loopback_callback("http://127.0.0.1:49152/callback"));
        assert!(is_loopback_callback("http://localhost:8080/callback"));
        assert!(!is_loopback_callback("https://127.0.0.1:8080/callback"));
        assert!(!is_loopback_callback("http://127.0.0.1.evil.com/callback"));
        assert!(!is_loopback_callback("http://127.0.0.1:8080/other"));
        assert!(!is_loopback_callback("http://user@127.0.0.1:8080/callback"));
    }
}
