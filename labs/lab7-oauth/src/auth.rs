//! Lab 2's middleware, grown up: it lets a request through only with a
//! valid access token for this server, tells the MCP tools and `/resource`
//! who it belongs to, and (lab 6) keeps each MCP session to the user who
//! opened it and caps how many sessions one user keeps open. Since lab 7
//! the tokens come from an authorization server (`jwt::Validator`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;
use shop::Caller;

use crate::{
    jwt::{TokenError, Validator},
    metadata::bearer_challenge,
    public_url::PublicUrl,
    rbac,
};

/// The MCP session header (Streamable HTTP transport).
const SESSION_ID: &str = "mcp-session-id";

/// How long a session lives without a request: rmcp's own idle timeout
/// (`SessionConfig::keep_alive`, 5 minutes), after which it closes the
/// session and forgets it. Sessions idle longer count for no one's budget.
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What the middleware needs: the token check, the server's name for its
/// challenges, and who opened which session.
#[derive(Clone)]
pub struct AuthState {
    validator: Validator,
    public: PublicUrl,
    sessions: SessionOwners,
}

impl AuthState {
    /// `max_sessions_per_user`: live sessions one user may hold at once.
    pub fn new(validator: Validator, public: PublicUrl, max_sessions_per_user: usize) -> AuthState {
        AuthState {
            validator,
            public,
            sessions: SessionOwners {
                sessions: Arc::default(),
                max_per_user: max_sessions_per_user,
            },
        }
    }
}

/// One log line per authorization decision, in one shape, for whoever
/// reads the logs or alerts on them: who (`sub`, `-` before a token is
/// verified), what (a route, or `tools/call <tool>`), the decision and why.
/// Never a credential: no token, password or session id.
pub fn audit(sub: &str, what: &str, decision: &str, reason: &str) {
    tracing::info!(target: "audit", sub, what, decision, reason, "auth decision");
}

/// Runs before every request to the protected routes.
pub async fn require_jwt(
    State(state): State<AuthState>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = request.uri().path().to_owned();
    let Some(token) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(bearer_token)
    else {
        audit("-", &route, "refused", "no Bearer token");
        return AuthError::MissingToken.response(&state.public);
    };

    // The token is checked on every request, not once per MCP session: a
    // session id is not a credential, and the token may expire mid-session.
    let claims = match state.validator.verify(token).await {
        Ok(claims) => claims,
        Err(reason) => {
            // The reason goes to the log (never the token itself); the
            // client only learns "expired" or "invalid".
            audit("-", &route, "refused", &format!("token {reason}"));
            return AuthError::from(reason).response(&state.public);
        }
    };
    // A valid token is not enough for a session: it must be the token of
    // the user who opened it. Otherwise anyone who sees a session id (in a
    // log, a proxy, a shared screen) can use another user's session with
    // their own valid token.
    let owner = Owner {
        iss: claims.iss.clone(),
        sub: claims.sub.clone(),
    };
    let session = session_id(request.headers());
    match &session {
        Some(id) if !state.sessions.may_use(id, &owner) => {
            audit(
                &owner.sub,
                &route,
                "refused",
                "session opened by another user, or by no one",
            );
            return session_not_found();
        }
        Some(_) => {}
        // Each session costs memory until it ends or idles out; one user
        // (or one stolen token) must not hold thousands. Only a POST to the
        // MCP endpoint without a session can open one.
        None if request.method() == Method::POST && route.starts_with("/mcp") => {
            if let Err(retry_after) = state.sessions.may_open(&owner) {
                audit(&owner.sub, &route, "refused", "too many open sessions");
                return too_many_sessions(retry_after);
            }
        }
        None => {}
    }

    audit(&owner.sub, &route, "allowed", "valid token");
    // Only what the signature vouches for reaches the tools: rmcp hands each
    // tool the `Parts` of its own request, extensions included.
    let permissions = claims.permissions();
    request.extensions_mut().insert(Caller {
        name: claims.name.unwrap_or_else(|| claims.sub.clone()),
        sub: claims.sub,
        permissions,
    });
    let method = request.method().clone();
    let response = next.run(request).await;
    state
        .sessions
        .observe(session.as_deref(), &method, &response, owner);
    response
}

/// Who opened a session: the verified issuer and subject of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    iss: String,
    sub: String,
}

/// A live session: who opened it, and when it was last used.
#[derive(Debug)]
struct Session {
    owner: Owner,
    last_used: Instant,
}

/// Session id → owner. rmcp's session manager never sees the HTTP request
/// that creates a session, so the binding lives here, next to the token.
#[derive(Debug, Clone)]
struct SessionOwners {
    sessions: Arc<Mutex<HashMap<String, Session>>>,
    max_per_user: usize,
}

impl SessionOwners {
    /// Whether `owner` may use session `id`, which then counts as used. An
    /// id nobody recorded is refused like one of someone else's: every
    /// session is opened through this middleware, so it never existed,
    /// ended, or idled out.
    fn may_use(&self, id: &str, owner: &Owner) -> bool {
        match self.lock().get_mut(id) {
            Some(session) if session.owner == *owner => {
                session.last_used = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// `Ok` when `owner` may open one more session, else how long until
    /// their least recently used one idles out.
    ///
    /// Refuses rather than evicting the oldest: rmcp gives no way to close
    /// a session from here, and the oldest may be the one in use.
    fn may_open(&self, owner: &Owner) -> Result<(), Duration> {
        let now = Instant::now();
        let mut sessions = self.lock();
        sessions.retain(|_, session| now.duration_since(session.last_used) < SESSION_IDLE_TIMEOUT);
        let theirs = sessions.values().filter(|session| session.owner == *owner);
        if theirs.clone().count() < self.max_per_user {
            return Ok(());
        }
        let oldest = theirs.map(|session| session.last_used).min().unwrap_or(now);
        Err(SESSION_IDLE_TIMEOUT.saturating_sub(now.duration_since(oldest)))
    }

    /// Records the owner of a session the response just opened, and
    /// forgets one that ended (DELETE) or that rmcp no longer knows (404,
    /// e.g. after its idle timeout), so the map does not grow forever.
    fn observe(&self, sent: Option<&str>, method: &Method, response: &Response, owner: Owner) {
        match sent {
            None => {
                if let Some(opened) = session_id(response.headers()) {
                    let last_used = Instant::now();
                    self.lock().insert(opened, Session { owner, last_used });
                }
            }
            Some(id) => {
                let ended = *method == Method::DELETE && response.status().is_success();
                if ended || response.status() == StatusCode::NOT_FOUND {
                    self.lock().remove(id);
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // No code path panics while holding it; a poisoned map is still whole.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SESSION_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// 404 "Session not found", exactly as for a session that does not exist
/// (the official Python SDK's answer): a 403 would confirm to a guesser
/// that the id is live.
fn session_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32600, "message": "Session not found" },
        })),
    )
        .into_response()
}

/// 429 with `Retry-After`: close a session (DELETE) or wait for one to
/// idle out.
fn too_many_sessions(retry_after: Duration) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(
            header::RETRY_AFTER,
            retry_after.as_secs().max(1).to_string(),
        )],
        Json(json!({ "error": "Too many open sessions" })),
    )
        .into_response()
}

/// What the client is told, named by what it should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer …` at all: get a token and send it.
    MissingToken,
    /// A token that was valid once: get a new one.
    Expired,
    /// A token that never was valid here (forged, broken, wrong algorithm,
    /// another audience, issuer or type…).
    InvalidToken,
}

impl From<TokenError> for AuthError {
    fn from(reason: TokenError) -> AuthError {
        match reason {
            TokenError::Expired => AuthError::Expired,
            _ => AuthError::InvalidToken,
        }
    }
}

impl AuthError {
    /// Always 401 with a challenge that points to the metadata (RFC 9728
    /// §5.1), so that a client that has no token, or a bad one, learns
    /// where to get a good one. `error="invalid_token"` only when a token
    /// was presented (RFC 6750 §3.1). Without a token, `scope` says what
    /// to ask the authorization server for first; a 403 asks for more later
    /// (step-up), so a client never holds more than it uses.
    pub fn response(self, public: &PublicUrl) -> Response {
        let (params, message): (&[(&str, &str)], &str) = match self {
            AuthError::MissingToken => (
                &[("scope", rbac::FIRST_SCOPES)],
                "Missing or invalid Authorization header",
            ),
            AuthError::Expired => (
                &[
                    ("error", "invalid_token"),
                    ("error_description", "Token expired"),
                ],
                "Token expired",
            ),
            AuthError::InvalidToken => (
                &[
                    ("error", "invalid_token"),
                    ("error_description", "Invalid token"),
                ],
                "Invalid token",
            ),
        };
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, bearer_challenge(public, params))],
            Json(json!({ "error": message })),
        )
            .into_response()
    }
}

/// The token of a `Bearer <token>` header. The scheme is case-insensitive
/// (RFC 9110 §11.1), so `bearer x` and `BEARER x` count too.
pub fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
