//! What the server says about itself: its metadata (RFC 8414), its public
//! keys, and, with `--admin`, the teaching hooks.

use std::sync::Arc;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::{Value, json};

use crate::{
    AppState, Stats,
    keys::{JwkSet, KeyPair},
    lock, scopes,
};

/// RFC 8414 metadata; served at the OpenID Connect path too, since some
/// clients look only there.
pub async fn metadata(State(state): State<Arc<AppState>>) -> Json<Value> {
    let issuer = &state.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "scopes_supported": scopes::ALL,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        // `plain` would send the secret itself through the browser.
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "client_id_metadata_document_supported": true,
        // The redirect carries `iss` (RFC 9207): a client talking to two
        // servers can tell which one a code came from.
        "authorization_response_iss_parameter_supported": true,
    }))
}

/// The public keys (RFC 7517), counted: the checks measure how often a
/// resource server refetches them.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Json<JwkSet> {
    lock(&state.stats).jwks_fetches += 1;
    tokio::time::sleep(state.jwks_delay).await;
    Json(lock(&state.keys).jwks())
}

/// `POST /admin/rotate`: a new signing key; answers its kid.
pub async fn admin_rotate(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match rotate(&state).await {
        Ok(kid) => (StatusCode::OK, Json(json!({ "kid": kid }))),
        Err(e) => {
            tracing::error!("cannot rotate the signing key: {e:#}");
            let error = json!({ "error": "server_error", "error_description": "rotation failed" });
            (StatusCode::INTERNAL_SERVER_ERROR, Json(error))
        }
    }
}

/// Generates the next signing key off the async threads, then swaps it in.
pub async fn rotate(state: &AppState) -> anyhow::Result<String> {
    let alg = lock(&state.keys).signing_alg();
    let fresh = tokio::task::spawn_blocking(move || KeyPair::generate(alg)).await??;
    Ok(lock(&state.keys).rotate_to(fresh))
}

/// `GET /admin/stats`: what the server has seen.
pub async fn admin_stats(State(state): State<Arc<AppState>>) -> Json<Stats> {
    Json(lock(&state.stats).clone())
}
