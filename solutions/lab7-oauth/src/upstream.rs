//! The shipping service behind the `shipping_status` tool: another API that
//! this server calls on a user's behalf.
//!
//! The user's access token was issued for this server (`aud` is our
//! `/mcp`); it is not a credential for anything else, and passing it on
//! would hand the shipping service a token it must refuse, or worse, one it
//! accepts and can replay here. The call uses the server's own credential
//! for that service (`UPSTREAM_TOKEN`), and the user's token never leaves.

use std::time::Duration;

use anyhow::Context;
use axum::http::request::Parts;
use serde_json::Value;
use shop::url::ServerUrl;

/// The upstream service and this server's credential for it.
#[derive(Clone)]
pub struct Upstream {
    /// `--upstream-url`; without it the tool says it is not configured.
    base_url: Option<String>,
    /// `UPSTREAM_TOKEN`: the server's own token for the upstream.
    credential: Option<String>,
    http: reqwest::Client,
}

/// By hand, so that a `{:?}` in a log line never prints the credential.
impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base_url", &self.base_url)
            .field("credential", &self.credential.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// `url` from `--upstream-url`, the credential from `UPSTREAM_TOKEN`.
    pub fn from_env(url: Option<&ServerUrl>) -> anyhow::Result<Upstream> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            // A redirect could carry the credential to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the upstream HTTP client")?;
        Ok(Upstream {
            base_url: url.map(|url| url.root().to_owned()),
            credential: std::env::var("UPSTREAM_TOKEN").ok(),
            http,
        })
    }

    /// The shipping status of `order`, asked with the server's credential.
    /// `_request` is the caller's HTTP request: its `Authorization` is the
    /// caller's token, for this server only, and is not read here.
    pub async fn shipping_status(&self, order: u32, _request: &Parts) -> Result<String, String> {
        let (Some(base_url), Some(credential)) = (&self.base_url, &self.credential) else {
            return Err(
                "the shipping service is not configured (--upstream-url, UPSTREAM_TOKEN)"
                    .to_owned(),
            );
        };
        let response = self
            .http
            .get(format!("{base_url}/shipping/{order}"))
            .bearer_auth(credential)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!("shipping service unreachable: {e}");
                "the shipping service is unreachable".to_owned()
            })?;
        if !response.status().is_success() {
            return Err(format!(
                "the shipping service answered {}",
                response.status()
            ));
        }
        let status: Value = response
            .json()
            .await
            .map_err(|_| "the shipping service answered something else than JSON".to_owned())?;
        Ok(format!(
            "order {order}: {}",
            status["status"].as_str().unwrap_or("unknown")
        ))
    }
}
