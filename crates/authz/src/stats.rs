//! What the server has seen: the checks read it to tell whether a client
//! used PKCE and `resource`, and how often a resource server fetched keys.
//! No codes, verifiers or tokens are kept, only facts about them.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// `GET /jwks` requests.
    pub jwks_fetches: u64,
    /// The last 1000 `GET /authorize`, in order.
    pub authorize: Vec<AuthorizeSeen>,
    /// The last 1000 `POST /token`, in order.
    pub token: Vec<TokenSeen>,
}

/// How many requests of each kind are kept: the newest, so that a server
/// left running does not grow without end.
const KEPT: usize = 1000;

impl Stats {
    pub(crate) fn record_authorize(&mut self, seen: AuthorizeSeen) {
        keep_newest(&mut self.authorize, seen);
    }

    pub(crate) fn record_token(&mut self, seen: TokenSeen) {
        keep_newest(&mut self.token, seen);
    }
}

fn keep_newest<T>(list: &mut Vec<T>, item: T) {
    if list.len() >= KEPT {
        list.remove(0);
    }
    list.push(item);
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthorizeSeen {
    pub client_id: String,
    pub code_challenge_method: Option<String>,
    pub has_code_challenge: bool,
    pub resource: Option<String>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenSeen {
    pub grant_type: String,
    /// A code was redeemed with a verifier that matched its challenge.
    pub pkce_verified: bool,
    pub resource: Option<String>,
    /// A refresh token was presented a second time (and its family revoked).
    pub refresh_reused: bool,
    /// Tokens were issued.
    pub ok: bool,
}
