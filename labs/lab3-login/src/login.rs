//! The lab's idea, part 2: `POST /login` trades a username and a password
//! for two tokens, an access token for every request and a refresh token
//! for getting a new one later (lab 5).
//!
//! Read docs/lab3-login.md, then fill in each `TODO(lab3)`.

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

use crate::{jwt::Keys, users::Users};

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
    // TODO(lab3): step 2 — an unusable body (`Err(rejection)`) is
    // `LoginError::BadRequest`; don't log the rejection's text, it can quote
    // the password. (docs/lab3-login.md#step-2-post-login)

    // TODO(lab3): step 2 — check the credentials with `state.users.verify`
    // inside `tokio::task::spawn_blocking` (argon2 is slow on purpose); no
    // user is `LoginError::InvalidCredentials`, for an unknown user and a
    // wrong password alike. (docs/lab3-login.md#step-2-post-login)

    // TODO(lab3): step 2 — mint the access token with `state.keys.mint(…,
    // ACCESS_TTL)` and answer 200 with `Cache-Control: no-store` and
    // `Json(TokenPair { access_token, refresh_token: new_refresh_token() })`.
    // (docs/lab3-login.md#step-2-post-login)
    (
        StatusCode::NOT_IMPLEMENTED,
        Json(json!({ "error": "login is not written yet" })),
    )
        .into_response()
}

/// 256 random bits, base64url: not a JWT, so it can never pass the access
/// token check, whatever a client does with it (RFC 8725 §3.12 asks that
/// one kind of token cannot be taken for another). Lab 3 issues it and
/// forgets it; lab 5 stores its hash and trades it for a new pair.
fn new_refresh_token() -> String {
    // TODO(lab3): step 3 — 32 random bytes (`rand::random::<[u8; 32]>()`),
    // encoded with `URL_SAFE_NO_PAD`.
    // (docs/lab3-login.md#step-3-a-refresh-token-that-is-not-an-access-token)
    String::new()
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
