//! `/token`: where a client trades a code, a refresh token or its own
//! credentials for an access token (RFC 6749 §3.2, OAuth 2.1).

use std::sync::Arc;

use axum::{
    Form, Json,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    AccessClaims, AppState, TokenSeen,
    clients::{self, Client},
    grants::{Grant, RefreshLookup},
    lock, random_token, scopes, unix_now,
};

/// RFC 9068's media type for JWT access tokens, in the header's `typ`: a
/// resource server that checks it cannot be handed an ID token instead.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The form of `POST /token`, every grant's fields together.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
pub struct TokenError {
    error: &'static str,
    description: String,
}

fn refuse(error: &'static str, description: impl Into<String>) -> TokenError {
    TokenError {
        error,
        description: description.into(),
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.error, "error_description": self.description }));
        if self.error == "invalid_client" {
            let challenge = HeaderValue::from_static(r#"Basic realm="authz""#);
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
                no_store(),
                body,
            )
                .into_response()
        } else {
            (StatusCode::BAD_REQUEST, no_store(), body).into_response()
        }
    }
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

/// `POST /token`.
pub async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return refuse(
            "invalid_request",
            "the body must be a form with each field once",
        )
        .into_response();
    };
    let mut seen = TokenSeen {
        grant_type: form.grant_type.clone().unwrap_or_default(),
        pkce_verified: false,
        resource: form.resource.clone(),
        refresh_reused: false,
        ok: false,
    };
    let result = respond(&state, &headers, &form, &mut seen);
    seen.ok = result.is_ok();
    lock(&state.stats).record_token(seen);
    match result {
        Ok(body) => (StatusCode::OK, no_store(), Json(body)).into_response(),
        Err(e) => {
            tracing::info!(error = e.error, "token request refused: {}", e.description);
            e.into_response()
        }
    }
}

fn respond(
    state: &AppState,
    headers: &HeaderMap,
    form: &TokenForm,
    seen: &mut TokenSeen,
) -> Result<serde_json::Value, TokenError> {
    let (client_id, secret) = client_credentials_of(headers, form)?;
    let (client_id, secret) = (client_id.as_str(), secret.as_deref());
    match form.grant_type.as_deref() {
        Some("authorization_code") => redeem_code(state, form, client_id, seen),
        Some("refresh_token") => refresh(state, form, client_id, seen),
        Some("client_credentials") => client_credentials(state, form, client_id, secret),
        Some(other) => Err(refuse(
            "unsupported_grant_type",
            format!("grant_type `{other}` is not supported"),
        )),
        None => Err(refuse("invalid_request", "grant_type is missing")),
    }
}

/// Who the client says it is: HTTP Basic (`client_secret_basic`), or
/// `client_id` (and `client_secret`) in the form.
fn client_credentials_of(
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<(String, Option<String>), TokenError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "));
    if let Some(encoded) = basic {
        let bad = || refuse("invalid_client", "malformed Basic credentials");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
        if form
            .client_id
            .as_deref()
            .is_some_and(|form_id| form_id != id)
        {
            return Err(refuse("invalid_request", "two different client_ids"));
        }
        return Ok((id.to_owned(), Some(secret.to_owned())));
    }
    match &form.client_id {
        Some(id) => Ok((id.clone(), form.client_secret.clone())),
        None => Err(refuse("invalid_client", "client_id is missing")),
    }
}

/// `authorization_code`: the code once, from the client it was issued to,
/// with the verifier whose hash the client sent at `/authorize`.
fn redeem_code(
    state: &AppState,
    form: &TokenForm,
    client_id: &str,
    seen: &mut TokenSeen,
) -> Result<serde_json::Value, TokenError> {
    let code = form
        .code
        .as_deref()
        .ok_or_else(|| refuse("invalid_request", "code is missing"))?;
    let issued = lock(&state.grants)
        .redeem_code(code)
        .ok_or_else(|| refuse("invalid_grant", "the code is unknown, expired or used"))?;
    if issued.grant.client_id != client_id {
        return Err(refuse(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if form.redirect_uri.as_deref() != Some(issued.redirect_uri.as_str()) {
        return Err(refuse(
            "invalid_grant",
            "redirect_uri differs from the one at /authorize",
        ));
    }
    let verifier = form
        .code_verifier
        .as_deref()
        .ok_or_else(|| refuse("invalid_grant", "code_verifier is missing"))?;
    if s256(verifier) != issued.code_challenge {
        return Err(refuse(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ));
    }
    seen.pkce_verified = true;
    // RFC 8707: the token is for one resource, the one the user approved.
    match form.resource.as_deref() {
        None => return Err(refuse("invalid_target", "resource is required (RFC 8707)")),
        Some(resource) if resource != issued.grant.resource => {
            return Err(refuse(
                "invalid_target",
                "resource differs from the one at /authorize",
            ));
        }
        Some(_) => {}
    }
    let refresh_token = lock(&state.grants).start_family(code, issued.grant.clone());
    issue(state, &issued.grant, Some(refresh_token))
}

/// BASE64URL(SHA-256(verifier)), RFC 7636 §4.2.
fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `refresh_token`: each refresh token works once and is replaced by a new
/// one (rotation). A spent one presented again means two parties hold the
/// family, one of them a thief: the whole family is revoked.
fn refresh(
    state: &AppState,
    form: &TokenForm,
    client_id: &str,
    seen: &mut TokenSeen,
) -> Result<serde_json::Value, TokenError> {
    let token = form
        .refresh_token
        .as_deref()
        .ok_or_else(|| refuse("invalid_request", "refresh_token is missing"))?;
    // One lock for look-up and rotation: two requests racing with the same
    // token cannot both succeed.
    let mut grants = lock(&state.grants);
    let (family, mut grant) = match grants.look_up_refresh(token) {
        RefreshLookup::Live { family, grant } => (family, grant),
        RefreshLookup::Spent { family } => {
            grants.revoke_family(&family);
            seen.refresh_reused = true;
            tracing::warn!(
                client_id,
                "a spent refresh token was reused: its family is revoked"
            );
            return Err(refuse(
                "invalid_grant",
                "the refresh token was already used",
            ));
        }
        RefreshLookup::Unknown => {
            return Err(refuse(
                "invalid_grant",
                "the refresh token is unknown or revoked",
            ));
        }
    };
    if grant.client_id != client_id {
        return Err(refuse(
            "invalid_grant",
            "the refresh token was issued to another client",
        ));
    }
    // Without `resource` the token is for the resource first approved
    // (RFC 8707 §2.2); another resource would widen the grant.
    if form
        .resource
        .as_deref()
        .is_some_and(|r| r != grant.resource)
    {
        return Err(refuse(
            "invalid_target",
            "resource differs from the one first approved",
        ));
    }
    // A client may ask for less than it was granted, never for more.
    if let Some(requested) = form.scope.as_deref().filter(|s| !s.trim().is_empty()) {
        let granted: Vec<&str> = grant.scope.split(' ').collect();
        let mut asked = requested.split(' ').filter(|scope| !scope.is_empty());
        if asked.any(|scope| !granted.contains(&scope)) {
            return Err(refuse(
                "invalid_scope",
                "scope exceeds the one first granted",
            ));
        }
        grant.scope = scopes::grant(Some(requested), &granted);
    }
    let next = grants.rotate_refresh(token, family);
    drop(grants);
    issue(state, &grant, Some(next))
}

/// `client_credentials`: a confidential client acting for itself, proving
/// who it is with its secret. No user, so no refresh token: it can always
/// ask again.
fn client_credentials(
    state: &AppState,
    form: &TokenForm,
    client_id: &str,
    secret: Option<&str>,
) -> Result<serde_json::Value, TokenError> {
    // Only registered clients have secrets: nothing is fetched here.
    let client =
        Client::registered(client_id).ok_or_else(|| refuse("invalid_client", "unknown client"))?;
    if client.is_public() {
        return Err(refuse(
            "unauthorized_client",
            "a public client cannot use client_credentials",
        ));
    }
    if !secret.is_some_and(|secret| client.secret_matches(secret)) {
        return Err(refuse("invalid_client", "wrong client credentials"));
    }
    let resource = form
        .resource
        .as_deref()
        .ok_or_else(|| refuse("invalid_target", "resource is required (RFC 8707)"))?;
    let scope = scopes::grant(form.scope.as_deref(), clients::machine_scopes(&client));
    if scope.is_empty() {
        return Err(refuse(
            "invalid_scope",
            "none of the requested scopes may be granted",
        ));
    }
    let grant = Grant {
        client_id: client.id.clone(),
        sub: client.id,
        scope,
        resource: resource.to_owned(),
    };
    issue(state, &grant, None)
}

/// A signed access token for `grant`, and the response around it.
fn issue(
    state: &AppState,
    grant: &Grant,
    refresh_token: Option<String>,
) -> Result<serde_json::Value, TokenError> {
    let now = unix_now();
    let ttl = state.access_ttl.as_secs();
    let claims = AccessClaims {
        iss: &state.issuer,
        sub: &grant.sub,
        aud: &grant.resource,
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: random_token(),
        scope: &grant.scope,
        client_id: &grant.client_id,
    };
    let access_token = lock(&state.keys)
        .sign(&claims, None, ACCESS_TOKEN_TYP)
        .map_err(|e| {
            tracing::error!("cannot sign an access token: {e:#}");
            refuse("server_error", "cannot sign the token")
        })?;
    tracing::info!(client_id = %grant.client_id, sub = %grant.sub, aud = %grant.resource, scope = %grant.scope, "access token issued");
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": grant.scope,
    });
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    Ok(body)
}
