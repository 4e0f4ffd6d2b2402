//! The server's wiring: which routes sit behind the secret.

use axum::{Router, middleware, routing::get};
use shop::{Orders, Shop};

use crate::auth::{self, Secret};

/// The whole app: every route and the layers in front of them; `run`
/// serves it. (The checks judge it only through the binary, over HTTP.)
pub fn app(secret: Secret) -> Router {
    let orders = Orders::demo();
    let mcp = shop::mcp_service(move || Shop::new(orders.clone()));

    // `.layer` wraps only the routes added before it: /mcp is protected,
    // /health (added after) stays public.
    Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(secret, auth::require_secret))
        .route("/health", get(|| async { "ok" }))
}

pub async fn run(addr: &str, secret: Secret) -> anyhow::Result<()> {
    shop::serve(addr, app(secret)).await
}
