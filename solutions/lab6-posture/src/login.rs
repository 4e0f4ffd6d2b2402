//! `POST /login` trades a username and a password for two tokens: an
//! access token for every request, and a refresh token for getting a new
//! pair at `/refresh` (lab 5) without asking for the password again.

use std::time::Duration;

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    auth::Denylist,
    jwt::Keys,
    rbac,
    store::RefreshStore,
    users::{User, Users},
};

/// What `/login`, `/refresh` and `/logout` need.
#[derive(Debug, Clone)]
pub struct LoginState {
    pub users: Users,
    pub keys: Keys,
    /// Where refresh tokens live (as hashes), shared with `/refresh`.
    pub refresh_tokens: RefreshStore,
    /// How long an access token lives: short, because it cannot be revoked
    /// (lab 2); a stolen one is useful only until it expires.
    pub access_ttl: Duration,
    /// Access tokens given up at `/logout` (lab 6), shared with the
    /// middleware that checks them.
    pub denylist: Denylist,
}

/// The request body, `{"username": …, "password": …}`.
#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// The response body, in the course's camelCase.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenPair {
    access_token: String,
    refresh_token: String,
}

/// What a client is told when it gets no tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    /// Not a JSON object with two strings: fix the request.
    BadRequest,
    /// Unknown user or wrong password; deliberately the same answer, so the
    /// endpoint cannot be used to find out which usernames exist.
    InvalidCredentials,
    /// Our fault; the details are in the log.
    Internal,
}

pub async fn login(
    State(state): State<LoginState>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Response {
    // axum's own rejections are 400, 415 or 422 with a text body; the
    // course's clients expect 400 with JSON for any unusable body. The
    // rejection's text can quote the body, password included: not logged.
    let Json(Credentials { username, password }) = match body {
        Ok(body) => body,
        Err(rejection) => {
            tracing::debug!(status = %rejection.status(), "login refused: unusable body");
            return LoginError::BadRequest.into_response();
        }
    };

    // argon2 is slow on purpose; run it where it cannot stall other requests.
    let users = state.users;
    let checked = tokio::task::spawn_blocking(move || {
        let user = users.verify(&username, &password);
        (username, user)
    })
    .await;
    let user = match checked {
        Ok((_, Some(user))) => user,
        Ok((username, None)) => {
            tracing::info!(%username, "login refused: invalid credentials");
            return LoginError::InvalidCredentials.into_response();
        }
        Err(e) => {
            tracing::error!("password check failed: {e}");
            return LoginError::Internal.into_response();
        }
    };

    // Each login starts a new family of refresh tokens (see store.rs).
    let refresh_token = match state.refresh_tokens.issue(user.username).await {
        Ok(token) => token,
        Err(e) => {
            tracing::error!("cannot store a refresh token: {e:#}");
            return LoginError::Internal.into_response();
        }
    };
    tracing::info!(username = user.username, "logged in");
    token_pair(&state, user, refresh_token)
}

/// The 200 answer of `/login` and `/refresh`: a new access token for
/// `user`, next to `refresh_token`.
pub fn token_pair(state: &LoginState, user: &User, refresh_token: String) -> Response {
    // The token carries permissions, not the role: every check reads them
    // from the token, and only this line knows where they come from.
    let permissions = rbac::permissions_of(user.role);
    let minted = state
        .keys
        .mint(user.username, user.name, &permissions, state.access_ttl);
    let access_token = match minted {
        Ok(token) => token,
        Err(e) => {
            tracing::error!("cannot mint an access token: {e:#}");
            return LoginError::Internal.into_response();
        }
    };
    // Tokens are credentials: no cache, proxy or browser may keep this
    // response (RFC 6749 §5.1).
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(TokenPair {
            access_token,
            refresh_token,
        }),
    )
        .into_response()
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            LoginError::BadRequest => (StatusCode::BAD_REQUEST, "Invalid request"),
            LoginError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "Invalid credentials"),
            LoginError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
