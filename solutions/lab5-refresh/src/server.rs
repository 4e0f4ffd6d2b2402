//! The server's wiring: what is public, and what sits behind the token check.

use std::time::Duration;

use axum::{
    Router, middleware,
    routing::{get, post},
};
use shop::{Orders, Shop};

use crate::{
    auth,
    jwt::Keys,
    login::{self, LoginState},
    rbac::Guarded,
    refresh, resource,
    store::RefreshStore,
    users::Users,
};

/// The whole app: every route and the layers in front of them; `run`
/// serves it. (The checks judge it only through the binary, over HTTP.)
pub fn app(keys: Keys, users: Users, refresh_tokens: RefreshStore, access_ttl: Duration) -> Router {
    let orders = Orders::demo();
    // Every tool call passes the permission check in `Guarded` first.
    let mcp = shop::mcp_service(move || Guarded::new(Shop::new(orders.clone())));

    // Behind the token check: the MCP endpoint and the protected resource.
    let protected = Router::new()
        .route("/resource", get(resource::resource))
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(
            keys.clone(),
            auth::require_jwt,
        ));

    // Public: you cannot need a token to get one; `/refresh` and `/logout`
    // take the refresh token in their body instead. Other methods on /login
    // get 405 with `Allow: POST` from the router.
    let public = Router::new()
        .route("/login", post(login::login))
        .route("/refresh", post(refresh::refresh))
        .route("/logout", post(refresh::logout))
        .with_state(LoginState {
            users,
            keys,
            refresh_tokens,
            access_ttl,
        })
        .route("/health", get(|| async { "ok" }));

    public.merge(protected)
}

pub async fn run(
    addr: &str,
    keys: Keys,
    users: Users,
    refresh_tokens: RefreshStore,
    access_ttl: Duration,
) -> anyhow::Result<()> {
    shop::serve(addr, app(keys, users, refresh_tokens, access_ttl)).await
}
