//! The server's wiring: what is public, and what sits behind the token check.

use std::time::Duration;

use axum::{
    Router, middleware,
    routing::{get, post},
};
use shop::{Orders, Shop, url::ServerUrl};

use crate::{
    auth::{self, AuthState, Denylist},
    guards::{self, AllowedOrigins, BodyLimit, LoginAttempts},
    jwt::Keys,
    login::{self, LoginState},
    metadata,
    public_url::PublicUrl,
    rbac::{self, Guarded},
    refresh, resource,
    store::RefreshStore,
    upstream::Upstream,
    users::Users,
};

/// How the server is run, from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--public-url`: the URL clients reach the server at, when it is not
    /// the bound address (behind a proxy, a container's port mapping).
    pub public_url: Option<ServerUrl>,
    /// `--allowed-origin`: browser origins allowed next to the server's own.
    pub allowed_origins: Vec<ServerUrl>,
    /// `--trust-proxy`: a proxy of ours sets `X-Forwarded-For`, so the rate
    /// limits key on its last entry instead of the socket peer.
    pub trust_proxy: bool,
    /// `--max-sessions-per-user`: live MCP sessions one user may hold.
    pub max_sessions_per_user: usize,
    /// `--upstream-url`: the shipping service `shipping_status` asks.
    pub upstream_url: Option<ServerUrl>,
    /// How long an access token lives.
    pub access_ttl: Duration,
}

/// The whole app: every route and the layers in front of them; `run`
/// serves it. (The checks judge it only through the binary, over HTTP.)
pub fn app(
    public: PublicUrl,
    settings: &Settings,
    keys: Keys,
    users: Users,
    refresh_tokens: RefreshStore,
    upstream: Upstream,
) -> Router {
    let orders = Orders::demo();
    // Every tool call passes the permission check in `Guarded` too. The
    // SDK refuses a `Host` that is neither loopback nor the public name.
    let mcp = shop::serve::mcp_service_for_hosts(
        move || Guarded::new(Shop::new(orders.clone()), upstream.clone()),
        &[public.host().to_owned()],
    );
    let origins = AllowedOrigins::new(&public, &settings.allowed_origins);
    let denylist = Denylist::default();

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
            AuthState::new(
                keys.clone(),
                public.clone(),
                denylist.clone(),
                settings.max_sessions_per_user,
            ),
            auth::require_jwt,
        ))
        .layer(middleware::from_fn_with_state(
            BodyLimit(guards::MAX_MCP_BODY_BYTES),
            guards::limit_sizes,
        ))
        .layer(middleware::from_fn_with_state(
            origins.clone(),
            guards::check_origin,
        ))
        .with_state(public.clone());

    // Public: you cannot need a token to get one; `/refresh` and `/logout`
    // take the refresh token in their body instead. Other methods on /login
    // get 405 with `Allow: POST` from the router. A request meets the
    // Origin check, the rate limit per address, the size limit, and at
    // /login the limit per username.
    let login_route = post(login::login).layer(middleware::from_fn_with_state(
        LoginAttempts::default(),
        guards::limit_per_username,
    ));
    let token_endpoints = Router::new()
        .route("/login", login_route)
        .route("/refresh", post(refresh::refresh))
        .route("/logout", post(refresh::logout))
        .with_state(LoginState {
            users,
            keys,
            refresh_tokens,
            access_ttl: settings.access_ttl,
            denylist,
        })
        .layer(middleware::from_fn_with_state(
            BodyLimit(guards::MAX_TOKEN_ENDPOINT_BODY_BYTES),
            guards::limit_sizes,
        ));
    let token_endpoints = guards::rate_limited(token_endpoints, settings.trust_proxy).layer(
        middleware::from_fn_with_state(origins, guards::check_origin),
    );

    // Public and readable from any origin: how to get a token. RFC 9728
    // §3.1: the path-inserted name for `/mcp`, and the root one for
    // clients that try it first.
    let discovery = Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(metadata::protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(metadata::protected_resource),
        )
        .with_state(public)
        .route("/health", get(|| async { "ok" }));

    token_endpoints.merge(discovery).merge(protected)
}

pub async fn run(
    addr: &str,
    settings: Settings,
    users: Users,
    refresh_tokens: RefreshStore,
) -> anyhow::Result<()> {
    shop::serve::serve_bound(addr, |bound| {
        let public = PublicUrl::new(settings.public_url.as_ref(), bound);
        let keys = Keys::from_env(&public)?;
        let upstream = Upstream::from_env(settings.upstream_url.as_ref())?;
        Ok(app(
            public,
            &settings,
            keys,
            users,
            refresh_tokens,
            upstream,
        ))
    })
    .await
}
