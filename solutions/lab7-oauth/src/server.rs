//! The server's wiring: what is public, and what sits behind the token check.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, middleware, routing::get};
use shop::{Orders, Shop, url::ServerUrl};

use crate::{
    auth::{self, AuthState},
    discovery,
    guards::{self, AllowedOrigins, BodyLimit},
    jwks::KeySet,
    jwt::Validator,
    metadata::{self, ResourceNames},
    public_url::PublicUrl,
    rbac::{self, Guarded},
    resource,
    upstream::Upstream,
};

/// How the server is run, from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--issuer`: the authorization server whose tokens are accepted.
    pub issuer: String,
    /// `--audience`: the `aud` tokens must carry, when it is not the
    /// canonical MCP URL (providers that name an API their own way).
    pub audience: Option<String>,
    /// `--accept-typ-jwt`: also accept `typ: JWT` (or none), for providers
    /// without RFC 9068 access tokens.
    pub accept_typ_jwt: bool,
    /// `--public-url`: the URL clients reach the server at, when it is not
    /// the bound address (behind a proxy, a container's port mapping).
    pub public_url: Option<ServerUrl>,
    /// `--allowed-origin`: browser origins allowed next to the server's own.
    pub allowed_origins: Vec<ServerUrl>,
    /// `--max-sessions-per-user`: live MCP sessions one user may hold.
    pub max_sessions_per_user: usize,
    /// `--upstream-url`: the shipping service `shipping_status` asks.
    pub upstream_url: Option<ServerUrl>,
    /// `--jwks-refetch-interval`: unknown key ids refetch the JWKS at most
    /// this often.
    pub jwks_refetch_interval: Duration,
}

/// The whole app: every route and the layers in front of them; `run`
/// serves it. (The checks judge it only through the binary, over HTTP.)
pub fn app(public: PublicUrl, settings: &Settings, keys: KeySet, upstream: Upstream) -> Router {
    let orders = Orders::demo();
    // Every tool call passes the permission check in `Guarded` too. The
    // SDK refuses a `Host` that is neither loopback nor the public name.
    let mcp = shop::serve::mcp_service_for_hosts(
        move || Guarded::new(Shop::new(orders.clone()), upstream.clone()),
        &[public.host().to_owned()],
    );
    let origins = AllowedOrigins::new(&public, &settings.allowed_origins);
    let audience = settings.audience.clone().unwrap_or_else(|| public.mcp());
    let validator = Validator::new(keys, &settings.issuer, &audience, settings.accept_typ_jwt);

    // Behind the token check: the MCP endpoint and the protected resource.
    // Each `.layer` wraps the ones before it, so a request meets them
    // bottom-up: Origin, sizes, the token, then the step-up check, which
    // reads the caller the token check inserted.
    let protected = Router::new()
        .route("/resource", get(resource::resource))
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(
            public.clone(),
            rbac::step_up,
        ))
        .layer(middleware::from_fn_with_state(
            AuthState::new(validator, public.clone(), settings.max_sessions_per_user),
            auth::require_jwt,
        ))
        .layer(middleware::from_fn_with_state(
            BodyLimit(guards::MAX_MCP_BODY_BYTES),
            guards::limit_sizes,
        ))
        .layer(middleware::from_fn_with_state(
            origins,
            guards::check_origin,
        ))
        .with_state(public.clone());

    // Public and readable from any origin: how to get a token. RFC 9728
    // §3.1: the path-inserted name for `/mcp`, and the root one for
    // clients that try it first. No token endpoints here any more: the
    // authorization server has them.
    let names = ResourceNames {
        public,
        issuer: Arc::from(settings.issuer.as_str()),
    };
    let discovery = Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(metadata::protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(metadata::protected_resource),
        )
        .with_state(names)
        .route("/health", get(|| async { "ok" }));

    discovery.merge(protected)
}

/// Finds the authorization server's keys, then serves. Without them no
/// token could be checked: the server stops with the reason before it
/// says `listening on`.
pub async fn run(addr: &str, settings: Settings) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        // The metadata names where the keys are; a redirect could name
        // another place, chosen by whoever answers on the way.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")?;
    let issuer = discovery::discover(&http, &settings.issuer).await?;
    let keys = KeySet::fetch(http, issuer.jwks_uri, settings.jwks_refetch_interval).await?;
    shop::serve::serve_bound(addr, |bound| {
        let public = PublicUrl::new(settings.public_url.as_ref(), bound);
        let upstream = Upstream::from_env(settings.upstream_url.as_ref())?;
        Ok(app(public, &settings, keys, upstream))
    })
    .await
}
