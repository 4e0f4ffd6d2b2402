//! `POST /refresh` and `POST /logout`: the HTTP side of lab 5. The rules
//! (hashing, rotation, reuse detection, revocation) live in the store.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    auth,
    login::{LoginError, LoginState, token_pair},
    store::RefreshError,
};

/// The body of both endpoints, `{"refreshToken": …}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    refresh_token: String,
}

/// `POST /refresh {"refreshToken"}` → 200 `{"accessToken","refreshToken"}`;
/// the presented refresh token is spent.
pub async fn refresh(
    State(state): State<LoginState>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Response {
    // No body, not JSON, no `refreshToken` string: the request itself is
    // malformed. The rejection's text can quote the body: not logged.
    let Ok(Json(request)) = body else {
        return OAuthError::InvalidRequest.into_response();
    };
    let rotated = match state.refresh_tokens.rotate(&request.refresh_token).await {
        Ok(rotated) => rotated,
        Err(RefreshError::Reused) => {
            // Someone holds a copy of a token that was already exchanged.
            // The store has revoked the login; the owner must log in again.
            tracing::warn!("a spent refresh token was presented again: its login is revoked");
            return OAuthError::InvalidGrant.into_response();
        }
        Err(RefreshError::Invalid) => {
            tracing::debug!("refresh refused: unknown, expired or revoked token");
            return OAuthError::InvalidGrant.into_response();
        }
        Err(RefreshError::Store(e)) => {
            tracing::error!("refresh failed: {e:#}");
            return LoginError::Internal.into_response();
        }
    };
    // Permissions are read again from the user's current role, never copied
    // from the old token: a refresh cannot grant more than the user has.
    let Some(user) = state.users.find(&rotated.sub) else {
        tracing::warn!(sub = %rotated.sub, "refresh refused: the user no longer exists");
        return OAuthError::InvalidGrant.into_response();
    };
    token_pair(&state, user, rotated.token)
}

/// `POST /logout {"refreshToken"}` → 204; every refresh token of that
/// login stops working, and so does the access token sent along in
/// `Authorization` (lab 6). Other access tokens of the login live out
/// their few minutes: only the presented one is known here.
pub async fn logout(
    State(state): State<LoginState>,
    headers: HeaderMap,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Response {
    let Ok(Json(request)) = body else {
        return OAuthError::InvalidRequest.into_response();
    };
    // A token that does not verify needs no revoking: it is refused anyway.
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(auth::bearer_token);
    if let Some(Ok(claims)) = presented.map(|token| state.keys.verify(token)) {
        state.denylist.deny(&claims);
    }
    // An unknown token is not an error here: either way it cannot be used,
    // and the answer does not tell a guesser which tokens exist.
    match state
        .refresh_tokens
        .revoke_family(&request.refresh_token)
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            tracing::error!("logout failed: {e:#}");
            LoginError::Internal.into_response()
        }
    }
}

/// The token endpoint's errors, with OAuth's codes (RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OAuthError {
    /// The body is not `{"refreshToken": string}`: fix the request.
    InvalidRequest,
    /// The refresh token is no good (unknown, malformed, expired, spent or
    /// revoked): log in again. The reasons are not told apart.
    InvalidGrant,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let code = match self {
            OAuthError::InvalidRequest => "invalid_request",
            OAuthError::InvalidGrant => "invalid_grant",
        };
        (
            StatusCode::BAD_REQUEST,
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({ "error": code })),
        )
            .into_response()
    }
}
