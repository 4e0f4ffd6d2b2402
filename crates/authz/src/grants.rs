//! What the server remembers between requests: login forms in progress,
//! codes waiting to be redeemed, and refresh token families. In memory: a
//! restart forgets every grant, which a real server must not.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::random_token;

/// A code is redeemed within seconds by a working client; RFC 6749 §4.1.2
/// recommends at most 10 minutes.
const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a user has to fill in the login form.
const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);

/// An `/authorize` request that passed every check that does not depend on
/// who the user is.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    /// BASE64URL(SHA-256(verifier)): the client proves at `/token` that it
    /// knows the verifier, which never travelled through the browser.
    pub code_challenge: String,
    pub scope: Option<String>,
    pub resource: String,
}

/// What a code or a refresh token stands for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub sub: String,
    pub scope: String,
    pub resource: String,
}

/// A code, as remembered until it is redeemed.
pub struct IssuedCode {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: String,
    expires_at: Instant,
}

/// What a refresh token turned out to be.
pub enum RefreshLookup {
    Unknown,
    /// Presented before: whoever presents it now may have stolen it.
    Spent {
        family: String,
    },
    Live {
        family: String,
        grant: Grant,
    },
}

struct RefreshToken {
    family: String,
    spent: bool,
}

/// One chain of refresh tokens from one code, each replacing the last.
struct Family {
    grant: Grant,
    revoked: bool,
}

#[derive(Default)]
pub struct Grants {
    logins: HashMap<String, (AuthorizationRequest, Instant)>,
    codes: HashMap<String, IssuedCode>,
    /// Keyed by the token's SHA-256: a leak of this table is no leak of
    /// usable tokens (a real server stores them this way in its database).
    refresh_tokens: HashMap<String, RefreshToken>,
    families: HashMap<String, Family>,
    /// Redeemed codes (by SHA-256) and the family their tokens started, for
    /// as long as a code could have lived: a code presented again was
    /// intercepted, so what it bought is revoked (OAuth 2.1 §4.1.3).
    redeemed: HashMap<String, (String, Instant)>,
}

fn fingerprint(token: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

impl Grants {
    /// Keeps `request` while the user logs in; returns the form's id for it.
    pub fn hold_login(&mut self, request: AuthorizationRequest) -> String {
        let now = Instant::now();
        self.logins.retain(|_, (_, expires_at)| now < *expires_at);
        let id = random_token();
        self.logins.insert(id.clone(), (request, now + LOGIN_TTL));
        id
    }

    pub fn held_login(&self, id: &str) -> Option<AuthorizationRequest> {
        self.logins
            .get(id)
            .filter(|(_, expires_at)| Instant::now() < *expires_at)
            .map(|(request, _)| request.clone())
    }

    pub fn finish_login(&mut self, id: &str) {
        self.logins.remove(id);
    }

    pub fn issue_code(&mut self, request: AuthorizationRequest, grant: Grant) -> String {
        let now = Instant::now();
        self.codes.retain(|_, code| now < code.expires_at);
        let code = random_token();
        self.codes.insert(
            code.clone(),
            IssuedCode {
                grant,
                redirect_uri: request.redirect_uri,
                code_challenge: request.code_challenge,
                expires_at: now + CODE_TTL,
            },
        );
        code
    }

    /// The code's grant, removed: a code works once, even when the attempt
    /// that presents it fails (a wrong verifier may be an attacker's).
    ///
    /// A code that was already redeemed revokes the refresh tokens its
    /// first redemption started.
    pub fn redeem_code(&mut self, code: &str) -> Option<IssuedCode> {
        let now = Instant::now();
        self.redeemed.retain(|_, (_, forget_at)| now < *forget_at);
        if let Some((family, _)) = self.redeemed.remove(&fingerprint(code)) {
            tracing::warn!("an authorization code was presented again: its tokens are revoked");
            self.revoke_family(&family);
            return None;
        }
        self.codes.remove(code).filter(|code| now < code.expires_at)
    }

    /// The first refresh token of a new family, bought with `code`.
    pub fn start_family(&mut self, code: &str, grant: Grant) -> String {
        let family = random_token();
        self.families.insert(
            family.clone(),
            Family {
                grant,
                revoked: false,
            },
        );
        self.redeemed.insert(
            fingerprint(code),
            (family.clone(), Instant::now() + CODE_TTL),
        );
        self.add_refresh_token(family)
    }

    pub fn look_up_refresh(&self, token: &str) -> RefreshLookup {
        let Some(entry) = self.refresh_tokens.get(&fingerprint(token)) else {
            return RefreshLookup::Unknown;
        };
        match self.families.get(&entry.family) {
            Some(family) if !family.revoked && !entry.spent => RefreshLookup::Live {
                family: entry.family.clone(),
                grant: family.grant.clone(),
            },
            Some(family) if !family.revoked => RefreshLookup::Spent {
                family: entry.family.clone(),
            },
            // A revoked family's tokens are as good as unknown.
            _ => RefreshLookup::Unknown,
        }
    }

    /// Spends `token` and returns its successor in the same family.
    pub fn rotate_refresh(&mut self, token: &str, family: String) -> String {
        if let Some(entry) = self.refresh_tokens.get_mut(&fingerprint(token)) {
            entry.spent = true;
        }
        self.add_refresh_token(family)
    }

    /// Revokes every token of the family, the live one included: the server
    /// cannot tell the thief from the client, so both must log in again.
    pub fn revoke_family(&mut self, family: &str) {
        if let Some(family) = self.families.get_mut(family) {
            family.revoked = true;
        }
    }

    /// Whether `candidate` is a code or refresh token issued here: a code
    /// still waiting or redeemed (within its lifetime), a refresh token in
    /// any state.
    pub fn issued(&self, candidate: &str) -> bool {
        let print = fingerprint(candidate);
        self.codes.contains_key(candidate)
            || self.redeemed.contains_key(&print)
            || self.refresh_tokens.contains_key(&print)
    }

    fn add_refresh_token(&mut self, family: String) -> String {
        let token = random_token();
        self.refresh_tokens.insert(
            fingerprint(&token),
            RefreshToken {
                family,
                spent: false,
            },
        );
        token
    }
}
