//! Lab 2's middleware, grown up: it lets a request through only with a
//! valid access token for this server, tells the MCP tools and `/resource`
//! who it belongs to, and (lab 6) keeps each MCP session to the user who
//! opened it, caps how many sessions one user keeps open, and refuses
//! access tokens revoked at logout.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;
use shop::Caller;

use crate::{
    jwt::{Claims, Keys, TokenError},
    metadata::bearer_challenge,
    public_url::PublicUrl,
};

/// How long a session lives without a request: rmcp's own idle timeout
/// (`SessionConfig::keep_alive`, 5 minutes), after which it closes the
/// session and forgets it. Sessions idle longer count for no one's budget.
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What the middleware needs: the key, the server's name for its
/// challenges, and the tokens revoked at logout.
#[derive(Debug, Clone)]
pub struct AuthState {
    keys: Keys,
    public: PublicUrl,
    denylist: Denylist,
}

impl AuthState {
    /// `max_sessions_per_user`: live sessions one user may hold at once.
    ///
    /// TODO(lab6): item 9 — keep it, and with each session's owner also
    /// when it was last used. A request without `mcp-session-id` (an
    /// `initialize`) from a user who already holds `max_sessions_per_user`
    /// sessions used within `SESSION_IDLE_TIMEOUT` gets 429 with
    /// `Retry-After` (until their least recently used one idles out), before
    /// `next.run`. (docs/lab6-posture.md#9-a-session-budget-per-user)
    pub fn new(
        keys: Keys,
        public: PublicUrl,
        denylist: Denylist,
        max_sessions_per_user: usize,
    ) -> AuthState {
        AuthState {
            keys,
            public,
            denylist,
        }
    }
}

/// Access tokens revoked before they expire (logout), by `(iss, jti)`.
#[derive(Debug, Clone, Default)]
pub struct Denylist(Arc<Mutex<HashMap<(String, String), u64>>>);

impl Denylist {
    /// Revokes the token these (verified) claims came from; `/logout`
    /// calls it with the access token sent along.
    pub fn deny(&self, claims: &Claims) {
        // TODO(lab6): item 7 — remember `(claims.iss, claims.jti)` with
        // `claims.exp`, drop the entries whose token has expired anyway
        // (past `exp` plus the leeway), and refuse a listed token in
        // `require_jwt` with 401 `invalid_token`. Key by the claims, never
        // by the token's text. (docs/lab6-posture.md#7-logout-revokes-the-access-token)
    }
}

// TODO(lab6): item 11 — one log line per authorization decision, in one
// shape: `pub fn audit(sub: &str, what: &str, decision: &str, reason: &str)`
// with `tracing::info!(target: "audit", sub, what, decision, reason, "auth
// decision")`, called at every refusal here, in `step_up` (and `require`), in
// `check_origin` and `limit_sizes`, and once when a request is allowed. Never
// a token, password or session id. (docs/lab6-posture.md#11-an-audit-line-per-decision)

/// Runs before every request to the protected routes.
pub async fn require_jwt(
    State(state): State<AuthState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(bearer_token)
    else {
        tracing::debug!("refused: no Bearer token");
        return AuthError::MissingToken.response(&state.public);
    };

    // The token is checked on every request, not once per MCP session: a
    // session id is not a credential, and the token may expire mid-session.
    let claims = match state.keys.verify(token) {
        Ok(claims) => claims,
        Err(reason) => {
            // The reason goes to the log (never the token itself); the
            // client only learns "expired" or "invalid".
            tracing::debug!("refused: token {reason}");
            return AuthError::from(reason).response(&state.public);
        }
    };

    // TODO(lab6): item 3 — a valid token is not enough for a session: it
    // must be the token of the user who opened it. Record who (`iss`, `sub`)
    // opened each session (the `mcp-session-id` header of the response to
    // a request that had none), and answer a request whose `mcp-session-id`
    // was opened by someone else with 404 "Session not found", as for a
    // session that does not exist. Forget a session after a successful
    // DELETE, or when the MCP server answers 404 for it.
    // (docs/lab6-posture.md#3-sessions-belong-to-the-user-who-opened-them)

    // Only what the signature vouches for reaches the tools: rmcp hands each
    // tool the `Parts` of its own request, extensions included.
    request.extensions_mut().insert(Caller {
        sub: claims.sub,
        name: claims.name,
        permissions: claims.permissions,
    });
    next.run(request).await
}

/// What the client is told, named by what it should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer …` at all: log in and send a token.
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
    /// was presented (RFC 6750 §3.1).
    pub fn response(self, public: &PublicUrl) -> Response {
        let (params, message): (&[(&str, &str)], &str) = match self {
            AuthError::MissingToken => (&[], "Missing or invalid Authorization header"),
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
