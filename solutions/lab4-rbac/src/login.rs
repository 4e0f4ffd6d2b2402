//! Lab 3's `POST /login`: it trades a username and a password
//! for two tokens, an access token for every request and a refresh token
//! for getting a new one later (lab 5).

use std::time::Duration;

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{jwt::Keys, rbac, users::Users};

/// How long an access token lives. Short, because it cannot be revoked
/// (lab 2): a stolen one is useful only until it expires, and the refresh
/// token gets the client a new one without asking for the password again.
pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);

/// What `/login` needs.
#[derive(Debug, Clone)]
pub struct LoginState {
    pub users: Users,
    pub keys: Keys,
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

    // The token carries permissions, not the role: every check reads them
    // from the token, and only this line knows where they come from.
    let permissions = rbac::permissions_of(user.role);
    let access_token = match state
        .keys
        .mint(user.username, user.name, &permissions, ACCESS_TTL)
    {
        Ok(token) => token,
        Err(e) => {
            tracing::error!("cannot mint an access token: {e:#}");
            return LoginError::Internal.into_response();
        }
    };
    tracing::info!(username = user.username, "logged in");

    // Tokens are credentials: no cache, proxy or browser may keep this
    // response (RFC 6749 §5.1).
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(TokenPair {
            access_token,
            refresh_token: new_refresh_token(),
        }),
    )
        .into_response()
}

/// 256 random bits, base64url: not a JWT, so it can never pass the access
/// token check, whatever a client does with it (RFC 8725 §3.12 asks that
/// one kind of token cannot be taken for another). Lab 3 issues it and
/// forgets it; lab 5 stores its hash and trades it for a new pair.
fn new_refresh_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
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
