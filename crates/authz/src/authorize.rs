//! `/authorize`: where the user's browser is sent to approve a client.
//!
//! The request is checked in two stages. First the client and its
//! `redirect_uri`: until both are known good, the server must not redirect
//! anywhere, so those errors are a page. Then everything else (PKCE,
//! `resource`, scopes): those errors go back to the client as
//! `redirect_uri?error=…`, where the client can read them.

use std::sync::Arc;

use axum::{
    Form,
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use reqwest::Url;
use serde::Deserialize;

use crate::{
    AppState, AuthorizeSeen,
    clients::Client,
    grants::{AuthorizationRequest, Grant},
    lock, scopes,
    users::{self, User},
};

/// The query of `GET /authorize` (RFC 6749 §4.1.1, RFC 7636, RFC 8707).
#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
}

/// `GET /authorize`.
pub async fn start(
    State(state): State<Arc<AppState>>,
    query: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Response {
    // A parameter given twice is malformed (RFC 6749 §3.1), and so is one
    // that is not UTF-8: nothing says which client to redirect to.
    let Ok(Query(query)) = query else {
        return error_page("The authorization request is malformed.");
    };
    lock(&state.stats).record_authorize(AuthorizeSeen {
        client_id: query.client_id.clone().unwrap_or_default(),
        code_challenge_method: query.code_challenge_method.clone(),
        has_code_challenge: query.code_challenge.is_some(),
        resource: query.resource.clone(),
        scope: query.scope.clone(),
    });
    let request = match check(&state, query).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    match state.approve_as {
        Some(user) => approve(&state, request, user),
        None => {
            let id = lock(&state.grants).hold_login(request);
            login_page(&id, StatusCode::OK, None)
        }
    }
}

/// The form the login page posts back.
#[derive(Deserialize)]
pub struct LoginForm {
    request_id: String,
    username: String,
    password: String,
}

/// `POST /authorize`: the login form. A real server also protects it from
/// cross-site posts (a CSRF token) and from guessing (rate limits).
pub async fn login(State(state): State<Arc<AppState>>, Form(form): Form<LoginForm>) -> Response {
    let Some(request) = lock(&state.grants).held_login(&form.request_id) else {
        return error_page("This login form has expired. Start again from the application.");
    };
    let LoginForm {
        request_id,
        username,
        password,
    } = form;
    // argon2 is slow on purpose: off the async threads.
    let user = tokio::task::spawn_blocking(move || users::verify(&username, &password))
        .await
        .ok()
        .flatten();
    match user {
        Some(user) => {
            lock(&state.grants).finish_login(&request_id);
            approve(&state, request, user)
        }
        None => login_page(
            &request_id,
            StatusCode::UNAUTHORIZED,
            Some("Wrong username or password."),
        ),
    }
}

/// The stage-one checks, then the rest: a request the user may approve.
async fn check(state: &AppState, query: AuthorizeQuery) -> Result<AuthorizationRequest, Response> {
    let Some(client_id) = query.client_id else {
        return Err(error_page("The request has no client_id."));
    };
    let client = Client::find(&state.http, &client_id)
        .await
        .map_err(|e| error_page(&format!("The client is not accepted: {e}.")))?;
    let Some(redirect_uri) = query.redirect_uri else {
        return Err(error_page("The request has no redirect_uri."));
    };
    if !client.accepts_redirect(&redirect_uri) {
        return Err(error_page(
            "The redirect_uri is not one this client registered.",
        ));
    }

    // From here on the client can be told what went wrong.
    let refuse = |error: &str, description: &str| {
        let params = [("error", error), ("error_description", description)];
        back_to_client(state, &redirect_uri, query.state.as_deref(), &params)
    };
    if query.response_type.as_deref() != Some("code") {
        return Err(refuse(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    let Some(code_challenge) = query.code_challenge else {
        return Err(refuse(
            "invalid_request",
            "a code_challenge is required (PKCE)",
        ));
    };
    // `plain` (or no method, which means plain) sends the verifier itself
    // through the browser: anyone who sees the code sees it too.
    if query.code_challenge_method.as_deref() != Some("S256") {
        return Err(refuse(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    if !is_s256_challenge(&code_challenge) {
        return Err(refuse(
            "invalid_request",
            "code_challenge must be BASE64URL(SHA-256(verifier)): 43 characters",
        ));
    }
    let Some(resource) = query.resource.filter(|r| is_resource_uri(r)) else {
        return Err(refuse(
            "invalid_target",
            "resource (RFC 8707) is required: the absolute URL of the server the token is for",
        ));
    };
    Ok(AuthorizationRequest {
        client_id: client.id,
        redirect_uri,
        state: query.state,
        code_challenge,
        scope: query.scope,
        resource,
    })
}

/// The user said yes: a code for what they may grant, back to the client.
fn approve(state: &AppState, request: AuthorizationRequest, user: &User) -> Response {
    let client_state = request.state.clone();
    let redirect_uri = request.redirect_uri.clone();
    let scope = scopes::grant(request.scope.as_deref(), user.scopes);
    if scope.is_empty() {
        let params = [
            ("error", "invalid_scope"),
            (
                "error_description",
                "none of the requested scopes may be granted to this user",
            ),
        ];
        return back_to_client(state, &redirect_uri, client_state.as_deref(), &params);
    }
    let grant = Grant {
        client_id: request.client_id.clone(),
        sub: user.username.to_owned(),
        scope,
        resource: request.resource.clone(),
    };
    tracing::info!(client_id = %grant.client_id, sub = %grant.sub, scope = %grant.scope, "authorization approved");
    let code = lock(&state.grants).issue_code(request, grant);
    back_to_client(
        state,
        &redirect_uri,
        client_state.as_deref(),
        &[("code", &code)],
    )
}

/// A 302 to the client's `redirect_uri` with `params`, its `state` and the
/// server's `iss` (RFC 9207) added to the query.
fn back_to_client(
    state: &AppState,
    redirect_uri: &str,
    client_state: Option<&str>,
    params: &[(&str, &str)],
) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page("The redirect_uri is not a URL.");
    };
    url.query_pairs_mut()
        .extend_pairs(params)
        .extend_pairs(client_state.map(|value| ("state", value)))
        .append_pair("iss", &state.redirect_issuer);
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// SHA-256 is 32 bytes: 43 base64url characters without padding.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 8707 §2: an absolute URI without a fragment.
fn is_resource_uri(resource: &str) -> bool {
    Url::parse(resource).is_ok_and(|url| url.fragment().is_none() && url.has_host())
}

/// An error the browser shows and no client reads. Plain text: the message
/// may quote what the request sent, which must not become markup.
fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("authorization request refused\n\n{message}\n"),
    )
        .into_response()
}

/// The login form. The request it belongs to stays on the server, named by
/// `request_id`: nothing from the query is echoed into the page.
fn login_page(request_id: &str, status: StatusCode, problem: Option<&str>) -> Response {
    let problem = problem.map_or(String::new(), |text| {
        format!("<p><strong>{text}</strong></p>")
    });
    let page = format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Log in: teaching authorization server</title></head>
<body>
<h1>Log in</h1>
<p>This is the kit's teaching authorization server, not a real login page.</p>
{problem}
<form method="post" action="/authorize">
<input type="hidden" name="request_id" value="{request_id}">
<p><label>Username <input name="username" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Log in and allow</button></p>
</form>
</body>
</html>
"#
    );
    (status, Html(page)).into_response()
}
