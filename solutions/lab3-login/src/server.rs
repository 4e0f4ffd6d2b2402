//! The server's wiring: what is public, and what sits behind the token check.

use axum::{
    Router, middleware,
    routing::{get, post},
};
use shop::{Orders, Shop};

use crate::{
    auth,
    jwt::Keys,
    login::{self, LoginState},
    resource,
    users::Users,
};

/// The whole app: every route and the layers in front of them; `run`
/// serves it. (The checks judge it only through the binary, over HTTP.)
pub fn app(keys: Keys, users: Users) -> Router {
    let orders = Orders::demo();
    let mcp = shop::mcp_service(move || Shop::new(orders.clone()));

    // Behind the token check: the MCP endpoint and the protected resource.
    let protected = Router::new()
        .route("/resource", get(resource::resource))
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(
            keys.clone(),
            auth::require_jwt,
        ));

    // Public: you cannot need a token to get one. Other methods on /login
    // get 405 with `Allow: POST` from the router.
    let public = Router::new()
        .route("/login", post(login::login))
        .with_state(LoginState { users, keys })
        .route("/health", get(|| async { "ok" }));

    public.merge(protected)
}

pub async fn run(addr: &str, keys: Keys, users: Users) -> anyhow::Result<()> {
    shop::serve(addr, app(keys, users)).await
}
