//! `authz`: the kit's teaching OAuth 2.1 authorization server (lab 7).
//!
//! **A teaching stand-in, not a product.** It does what an authorization
//! server must do for an MCP client and resource server to be built and
//! tested against it, in code small enough to read in one sitting:
//!
//! - metadata (RFC 8414) at `/.well-known/oauth-authorization-server` and
//!   `/.well-known/openid-configuration`, public keys at `/jwks`;
//! - `/authorize`: the authorization code flow with PKCE S256 only
//!   (`authorize.rs`), a login form or, headless, `approve_as` a demo user;
//! - `/token` (`token.rs`): the code (once, with its verifier; presented
//!   again, it revokes the refresh tokens it bought), refresh
//!   tokens (rotated; a reused one revokes its whole family), client
//!   credentials; `resource` (RFC 8707) is required and becomes `aud`;
//! - access tokens are JWTs (RFC 9068, `typ: at+jwt`) signed RS256 or ES256,
//!   with keys rotated on request and the old key kept for a grace period;
//! - clients: `lab7-client` (public, loopback redirects), `shipping-bot`
//!   (client credentials), and any client whose `client_id` is the URL of
//!   its metadata document (CIMD).
//!
//! What a real one adds: persistent storage (codes, refresh tokens and keys
//! survive a restart here only by being lost), a consent screen and user
//! accounts with MFA and lockout, TLS, private keys in an HSM or KMS and
//! scheduled rotation, client registration and management, revocation
//! (RFC 7009) and introspection (RFC 7662), CSRF protection on the login
//! form, rate limits, audit logs, SSRF defences and caching for metadata
//! documents, and the years of review a security product needs.
//!
//! The checks use it in-process: [`start`] serves it on a port and returns
//! a [`Running`] handle with test hooks ([`Running::mint`], [`Running::rotate`],
//! [`Running::stats`]…). The `authz` binary serves the same thing.

mod authorize;
mod clients;
mod grants;
mod keys;
mod metadata;
mod scopes;
mod stats;
mod token;
mod users;

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use axum::{
    Router,
    routing::{get, post},
};
use serde::Serialize;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use keys::{Alg, StartingKeys};
pub use stats::{AuthorizeSeen, Stats, TokenSeen};

use crate::{grants::Grants, keys::KeyRing, users::User};

/// How the server runs. `Default` is the binary's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer URL tokens and metadata name; default `http://<bound address>`.
    pub issuer: Option<String>,
    /// Approve every authorization request at once as this demo user,
    /// without a login form: for checks and CI, never for people.
    pub approve_as: Option<String>,
    /// The algorithm new tokens are signed with.
    pub alg: Alg,
    /// How long an access token lives.
    pub access_ttl: Duration,
    /// How long a rotated-out key stays in the JWKS.
    pub grace: Duration,
    /// Serve `/admin/rotate` and `/admin/stats` (teaching and test hooks).
    pub admin: bool,
    /// The keys to start with; default: fresh ones. Servers given the same
    /// keys publish the same JWKS (the checks share one set to start fast).
    pub starting_keys: Option<StartingKeys>,
    /// How long `/jwks` takes to answer (a test hook; default none): a slow
    /// authorization server, so that requests arriving together meet a
    /// fetch that is still under way.
    pub jwks_delay: Duration,
    /// The `iss` the authorization redirect carries instead of this
    /// server's own (a test hook; default none): what a client sees in a
    /// mix-up attack, another authorization server's answer reaching it
    /// (RFC 9207).
    pub redirect_issuer: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            issuer: None,
            approve_as: None,
            alg: Alg::default(),
            access_ttl: Duration::from_secs(5 * 60),
            grace: Duration::from_secs(10 * 60),
            admin: false,
            starting_keys: None,
            jwks_delay: Duration::ZERO,
            redirect_issuer: None,
        }
    }
}

/// A token for [`Running::mint`]: what the checks need to forge the
/// tokens a resource server must refuse, signed with a real key.
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub sub: String,
    /// Space-separated scopes.
    pub scope: String,
    pub aud: String,
    /// Default: the server's issuer.
    pub iss: Option<String>,
    /// Lifetime from `iat` to `exp`; may be 0.
    pub ttl: Duration,
    /// Already expired by this much: `exp` = now − this.
    pub expired_by: Option<Duration>,
    /// The header's `kid`; default: the signing key's. A kid the server
    /// does not hold is written as given, over the signing key's signature.
    pub kid: Option<String>,
    /// The header's `typ`; default `at+jwt`.
    pub typ: Option<String>,
}

impl Default for MintRequest {
    fn default() -> MintRequest {
        MintRequest {
            sub: "jane.doe".to_owned(),
            scope: "User.Read Orders.Read".to_owned(),
            aud: String::new(),
            iss: None,
            ttl: Duration::from_secs(5 * 60),
            expired_by: None,
            kid: None,
            typ: None,
        }
    }
}

/// Everything the handlers share.
struct AppState {
    issuer: String,
    /// The `iss` of authorization redirects: `issuer`, unless a test says.
    redirect_issuer: String,
    approve_as: Option<&'static User>,
    access_ttl: Duration,
    jwks_delay: Duration,
    keys: Mutex<KeyRing>,
    grants: Mutex<Grants>,
    stats: Mutex<Stats>,
    /// Fetches client metadata documents.
    http: reqwest::Client,
}

/// A poisoned lock only means another request panicked mid-update; the
/// data is still the best there is, so carry on with it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The claims of every access token (RFC 9068 §2.2).
#[derive(Debug, Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    nbf: u64,
    jti: String,
    scope: &'a str,
    client_id: &'a str,
}

/// A random, unguessable string for codes, refresh tokens and ids:
/// 256 bits from the OS, base64url without padding.
fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Starts the server on `addr` (port 0 picks one) and returns once it is
/// bound and serving.
pub async fn start(addr: &str, config: Config) -> anyhow::Result<Running> {
    let approve_as = match &config.approve_as {
        Some(name) => {
            Some(users::find(name).with_context(|| format!("approve_as: no demo user `{name}`"))?)
        }
        None => None,
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let issuer = config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_owned();
    // RSA key generation takes a moment: keep it off the async threads.
    let (alg, grace) = (config.alg, config.grace);
    let starting = config.starting_keys.clone();
    let keys = tokio::task::spawn_blocking(move || KeyRing::new(alg, grace, starting))
        .await
        .context("key generation panicked")??;
    let state = Arc::new(AppState {
        redirect_issuer: config.redirect_issuer.clone().unwrap_or(issuer.clone()),
        issuer,
        approve_as,
        access_ttl: config.access_ttl,
        jwks_delay: config.jwks_delay,
        keys: Mutex::new(keys),
        grants: Mutex::new(Grants::default()),
        stats: Mutex::new(Stats::default()),
        http: reqwest::Client::builder()
            // A metadata document is fetched where it is, not where it
            // redirects to: a redirect could point anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the HTTP client")?,
    });
    let app = router(state.clone(), config.admin);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let serving = axum::serve(listener, app).with_graceful_shutdown(async {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        });
        if let Err(e) = serving.await {
            tracing::error!("authorization server failed: {e}");
        }
    });
    tracing::info!(issuer = %state.issuer, "authorization server started");
    Ok(Running {
        state,
        local,
        stop: Some(stop),
        server: Some(server),
    })
}

fn router(state: Arc<AppState>, admin: bool) -> Router {
    let mut app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::metadata),
        )
        .route("/.well-known/openid-configuration", get(metadata::metadata))
        .route("/jwks", get(metadata::jwks))
        .route("/authorize", get(authorize::start).post(authorize::login))
        .route("/token", post(token::token));
    if admin {
        app = app
            .route("/admin/rotate", post(metadata::admin_rotate))
            .route("/admin/stats", get(metadata::admin_stats));
    }
    app.with_state(state)
}

/// A running server. Dropping it stops the server.
pub struct Running {
    state: Arc<AppState>,
    local: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Running {
    /// The issuer URL, e.g. `http://127.0.0.1:4000`.
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The address the server is bound to (useful with port 0 and `--issuer`).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local
    }

    /// A snapshot of what the server has seen so far.
    pub fn stats(&self) -> Stats {
        lock(&self.state.stats).clone()
    }

    /// Whether `candidate` is an authorization code or a refresh token this
    /// server issued (live, spent or redeemed), so that a test can look
    /// for them in a client's output without the server keeping a copy.
    pub fn issued(&self, candidate: &str) -> bool {
        lock(&self.state.grants).issued(candidate)
    }

    /// A new signing key (same algorithm, new kid); the old one stays in
    /// the JWKS for the grace period. Returns the new kid. Generates the
    /// key on the calling thread (RSA: a fraction of a second).
    ///
    /// # Panics
    /// If the OS cannot supply randomness for the key.
    pub fn rotate(&self) -> String {
        let alg = lock(&self.state.keys).signing_alg();
        match keys::KeyPair::generate(alg) {
            Ok(fresh) => lock(&self.state.keys).rotate_to(fresh),
            Err(e) => panic!("cannot rotate the signing key: {e:#}"),
        }
    }

    /// The kid new tokens are signed with.
    pub fn signing_kid(&self) -> String {
        lock(&self.state.keys).signing_kid().to_owned()
    }

    /// Drops every key but the signing one from the JWKS, now.
    pub fn retire_unused(&self) {
        lock(&self.state.keys).retire_unused();
    }

    /// A signed access token with exactly these claims.
    pub fn mint(&self, token: MintRequest) -> anyhow::Result<String> {
        let now = unix_now();
        let exp = match token.expired_by {
            Some(ago) => now.saturating_sub(ago.as_secs()),
            None => now + token.ttl.as_secs(),
        };
        let iat = exp.saturating_sub(token.ttl.as_secs());
        let claims = AccessClaims {
            iss: token.iss.as_deref().unwrap_or(&self.state.issuer),
            sub: &token.sub,
            aud: &token.aud,
            exp,
            iat,
            nbf: iat,
            jti: random_token(),
            scope: &token.scope,
            client_id: "authz-mint",
        };
        lock(&self.state.keys).sign(
            &claims,
            token.kid.as_deref(),
            token.typ.as_deref().unwrap_or(token::ACCESS_TOKEN_TYP),
        )
    }

    /// The public key `kid` as PEM, as a confused verifier would use it for
    /// an HS256 secret.
    pub fn public_key_pem(&self, kid: &str) -> Option<String> {
        lock(&self.state.keys).public_key_pem(kid)
    }

    /// Publishes `jwk` in the JWKS as it is (a `kty: "oct"` key, say).
    pub fn publish_extra_jwk(&self, jwk: serde_json::Value) {
        lock(&self.state.keys).publish_extra(jwk);
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

#[cfg(test)]
mod tests;
