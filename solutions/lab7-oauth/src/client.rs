//! The lab's client side: get an access token with OAuth 2.1 the way an
//! MCP client must (MCP authorization, 2025-11-25), with rmcp's `auth`
//! support doing the protocol and this file deciding when:
//!
//! 1. Call the server without a token. Its 401 names the resource metadata
//!    (`resource_metadata=`) and the scopes to ask for first (`scope=`).
//! 2. Discover: the resource metadata names the authorization server, whose
//!    own metadata names its endpoints.
//! 3. Authorize: authorization code with PKCE (S256: a random verifier,
//!    only its hash in the URL) and `resource` = the server's `/mcp` (RFC
//!    8707), so that the token is for that server and no other.
//! 4. Exchange the code, with the verifier, for an access token and a
//!    refresh token. A stolen code is useless without the verifier.
//! 5. On 403 `insufficient_scope`, step up once: authorize again for the
//!    union of what we have and what the server asked for.
//! 6. When the access token expires (or the server refuses it), refresh.
//!    The authorization server rotates refresh tokens: each works once, and
//!    rmcp keeps the new one; using an old one again would revoke them all.

use std::{collections::HashMap, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, extract::RawQuery, response::Html, routing::get};
use futures::stream::BoxStream;
use reqwest::{
    Url,
    header::{HeaderName, HeaderValue, LOCATION},
};
use rmcp::{
    model::ClientJsonRpcMessage,
    transport::{
        StreamableHttpClientTransport,
        auth::{
            AuthClient, AuthError, AuthorizationCallback, AuthorizationManager, OAuthClientConfig,
        },
        streamable_http_client::{
            InsufficientScopeError, SseError, StreamableHttpClient,
            StreamableHttpClientTransportConfig, StreamableHttpError, StreamableHttpPostResponse,
            StreamableHttpResponseLimits,
        },
    },
};
use shop::client::ToolCall;
use sse_stream::Sse;
use tokio::sync::{Mutex, mpsc};

type HttpError = StreamableHttpError<reqwest::Error>;

/// Where the authorization server sends the code in `--headless` mode. The
/// code never travels there: the client reads it from the redirect itself.
/// Port 9 is "discard", where nothing listens.
const HEADLESS_REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// How long a person has to log in, in a browser.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The kit's pre-registered public client (`authz` knows it), used when no
/// client id is given and the authorization server offers no registration.
const KIT_CLIENT_ID: &str = "lab7-client";

/// The name this client registers under, for the authorization server's
/// consent page and its list of clients.
const CLIENT_NAME: &str = "lab7 client (mcp-auth-labs)";

/// From the command line.
#[derive(Clone)]
pub struct Options {
    /// Approve by reading the redirect, without a browser.
    pub headless: bool,
    /// `--client-id` (and `--client-secret`); `None`: register dynamically
    /// where the authorization server offers it, else [`KIT_CLIENT_ID`].
    pub client: Option<Registered>,
}

/// A client id the authorization server knows: issued out of band
/// (pre-registered), the URL of a client id metadata document (CIMD), or
/// one it issued when this client registered. A confidential client also
/// holds a secret. (No `Debug`: it would print the secret.)
#[derive(Clone)]
pub struct Registered {
    pub id: String,
    pub secret: Option<String>,
}

/// Authorizes when the server asks, then lists the tools and makes `calls`.
pub async fn run(mcp_url: &str, options: &Options, calls: &[ToolCall]) -> anyhow::Result<()> {
    let manager = AuthorizationManager::new(mcp_url)
        .await
        .with_context(|| format!("`{mcp_url}` is not a usable server URL"))?;
    let client = Authorizing {
        inner: AuthClient::new(reqwest::Client::new(), manager),
        approver: Arc::new(Approver::start(options.headless).await?),
        client: Arc::new(Mutex::new(options.client.clone())),
        authorizations: Arc::default(),
    };
    let config = StreamableHttpClientTransportConfig::with_uri(mcp_url);
    let transport = StreamableHttpClientTransport::with_client(client, config);
    shop::client::run_session(transport, calls).await?;
    Ok(())
}

/// An MCP HTTP client that authorizes when the server asks.
///
/// rmcp's `AuthClient` (inside) attaches the access token, refreshes it
/// shortly before it expires, and refreshes once when the server refuses
/// it. What it cannot do alone is get the first token or more scopes: both
/// need the user's approval. This wrapper does those, and retries once.
#[derive(Clone)]
struct Authorizing {
    inner: AuthClient<reqwest::Client>,
    approver: Arc<Approver>,
    /// Who this client is at the authorization server; set once it has
    /// registered, so that it registers once per run.
    client: Arc<Mutex<Option<Registered>>>,
    /// How many authorizations have completed. Held while one runs: the
    /// session sends from several tasks, and requests refused at the same
    /// time must lead to one authorization, not one each.
    authorizations: Arc<Mutex<u32>>,
}

impl Authorizing {
    /// Sends; on 401 authorizes, on 403 `insufficient_scope` steps up, and
    /// sends again, once. A second refusal is returned as it is: looping
    /// would ask the user (or the authorization server) forever.
    async fn with_oauth<T, F, Fut>(&self, send: F) -> Result<T, HttpError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let seen = *self.authorizations.lock().await;
        match send().await {
            Err(HttpError::AuthRequired(refused)) => {
                self.authorize(seen, &refused.www_authenticate_header)
                    .await?;
                send().await
            }
            Err(HttpError::InsufficientScope(refused)) => {
                self.step_up(seen, refused).await?;
                send().await
            }
            other => other,
        }
    }

    /// Steps 2-4: discovery from the 401's challenge, then authorization
    /// code + PKCE for the scopes it names.
    async fn authorize(&self, seen: u32, challenge: &str) -> Result<(), HttpError> {
        let mut authorizations = self.authorizations.lock().await;
        if *authorizations != seen {
            return Ok(()); // another request authorized while this one waited
        }
        let url = {
            let mut manager = self.inner.auth_manager.lock().await;
            let found = manager
                .resolve_metadata_from_challenge(Some(challenge))
                .await?;
            if !found.source.is_discovered() {
                return Err(failed(
                    "the server's metadata names no authorization server".to_owned(),
                ));
            }
            let issuer = found.metadata.issuer.clone().unwrap_or_default();
            let offers_registration = found.metadata.registration_endpoint.is_some();
            manager.set_metadata(found.metadata);
            let scopes = manager.select_initial_scopes(&[]).await;
            self.identify(&mut manager, offers_registration, &scopes, &issuer)
                .await?;
            println!("authorizing at {issuer} (scope: {})", scopes.join(" "));
            let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
            // PKCE S256 and `resource` are rmcp's: it keeps the verifier
            // until the code comes back.
            manager.get_authorization_url(&scopes).await?
        };
        self.approve_and_exchange(&url).await?;
        *authorizations += 1;
        Ok(())
    }

    /// Who is asking, in the order MCP 2025-11-25 gives ("Client
    /// Registration Approaches"): a client id given (pre-registered, or a
    /// metadata document URL), else one the authorization server issues
    /// now by dynamic client registration (RFC 7591) if it offers it, else
    /// the kit's `lab7-client`. At the token endpoint rmcp then sends the
    /// client id alone (`none`) or, with a secret, HTTP Basic unless the
    /// authorization server offers only `client_secret_post`. (rmcp 3.11
    /// drops the `token_endpoint_auth_method` of a registration's answer:
    /// a server that offers both and registers us for the form gets Basic.)
    async fn identify(
        &self,
        manager: &mut AuthorizationManager,
        offers_registration: bool,
        scopes: &[String],
        issuer: &str,
    ) -> Result<(), HttpError> {
        let redirect_uri = self.approver.redirect_uri();
        let mut client = self.client.lock().await;
        let config = match &*client {
            Some(known) => {
                let config = OAuthClientConfig::new(&known.id, redirect_uri);
                match &known.secret {
                    Some(secret) => config.with_client_secret(secret),
                    None => config,
                }
            }
            None if offers_registration => {
                let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                // rmcp registers a public client (`none`) and configures the
                // manager with the id (and any secret) the answer holds.
                let config = manager
                    .register_client(CLIENT_NAME, redirect_uri, &scopes)
                    .await?;
                println!("registered at {issuer} as {}", config.client_id);
                *client = Some(Registered {
                    id: config.client_id,
                    secret: config.client_secret,
                });
                return Ok(());
            }
            None => OAuthClientConfig::new(KIT_CLIENT_ID, redirect_uri),
        };
        manager.configure_client(config)?;
        Ok(())
    }

    /// Step 5: the token is valid but lacks a scope. Ask for everything we
    /// hold plus what the server named, once.
    async fn step_up(&self, seen: u32, refused: InsufficientScopeError) -> Result<(), HttpError> {
        let mut authorizations = self.authorizations.lock().await;
        if *authorizations != seen {
            return Ok(());
        }
        let Some(needed) = refused.required_scope.clone() else {
            // Nothing to ask for: the refusal stands.
            return Err(HttpError::InsufficientScope(refused));
        };
        println!("step-up: the server needs {needed}; authorizing again");
        let url = self
            .inner
            .auth_manager
            .lock()
            .await
            .request_scope_upgrade(&needed)
            .await?;
        self.approve_and_exchange(&url).await?;
        *authorizations += 1;
        Ok(())
    }

    /// The user approves `url`; the code that comes back is exchanged for
    /// tokens (with the PKCE verifier, and checking `state`).
    async fn approve_and_exchange(&self, url: &str) -> Result<(), HttpError> {
        let callback = self.approver.approve(url).await?;
        let callback = AuthorizationCallback::from_redirect_url(&callback)?;
        let manager = self.inner.auth_manager.lock().await;
        manager
            .exchange_code_for_token_with_issuer(
                &callback.code,
                &callback.csrf_token,
                callback.issuer.as_deref(),
            )
            .await?;
        println!(
            "authorized (scope: {})",
            manager.get_current_scopes().await.join(" ")
        );
        Ok(())
    }
}

/// How the user approves: headless (the authorization server approves at
/// once and we read its redirect) or in a browser, which the authorization
/// server redirects to a listener of ours on the loopback interface.
enum Approver {
    Headless {
        http: reqwest::Client,
    },
    Browser {
        redirect_uri: String,
        callbacks: Mutex<mpsc::Receiver<String>>,
    },
}

impl Approver {
    async fn start(headless: bool) -> anyhow::Result<Approver> {
        if headless {
            let http = reqwest::Client::builder()
                // The redirect is the answer: read it, do not follow it.
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .context("cannot build the HTTP client")?;
            return Ok(Approver::Headless { http });
        }
        // Any free port: loopback redirect URIs may use any (RFC 8252 §7.3).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen for the login callback")?;
        let redirect_uri = format!("http://{}/callback", listener.local_addr()?);
        let (sender, callbacks) = mpsc::channel(1);
        let callback_uri = redirect_uri.clone();
        let app = Router::new().route(
            "/callback",
            get(move |RawQuery(query): RawQuery| async move {
                let url = format!("{callback_uri}?{}", query.unwrap_or_default());
                // A second callback while none is awaited is dropped.
                let _ = sender.try_send(url);
                Html("<p>Done: you can close this window and go back to the terminal.</p>")
            }),
        );
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("the login callback listener stopped: {e}");
            }
        });
        Ok(Approver::Browser {
            redirect_uri,
            callbacks: Mutex::new(callbacks),
        })
    }

    fn redirect_uri(&self) -> &str {
        match self {
            Approver::Headless { .. } => HEADLESS_REDIRECT_URI,
            Approver::Browser { redirect_uri, .. } => redirect_uri,
        }
    }

    /// The redirect URL with the code, once the user approved `url`.
    async fn approve(&self, url: &str) -> Result<String, HttpError> {
        let callback = match self {
            Approver::Headless { http } => {
                let response =
                    http.get(url).send().await.map_err(|e| {
                        failed(format!("cannot reach the authorization server: {e}"))
                    })?;
                if !response.status().is_redirection() {
                    return Err(failed(format!(
                        "the authorization server answered {} instead of redirecting: it wants a person to log in (start it with --approve-as USER, or run without --headless)",
                        response.status()
                    )));
                }
                response
                    .headers()
                    .get(LOCATION)
                    .and_then(|location| location.to_str().ok())
                    .ok_or_else(|| failed("a redirect without Location".to_owned()))?
                    .to_owned()
            }
            Approver::Browser { callbacks, .. } => {
                println!("open this URL in a browser and log in:\n  {url}");
                let mut callbacks = callbacks.lock().await;
                tokio::time::timeout(LOGIN_TIMEOUT, callbacks.recv())
                    .await
                    .ok()
                    .flatten()
                    .ok_or_else(|| failed("no login within 5 minutes".to_owned()))?
            }
        };
        self.checked(callback)
    }

    /// The callback must come to our redirect URI and carry no `error`.
    fn checked(&self, callback: String) -> Result<String, HttpError> {
        let url = Url::parse(&callback)
            .map_err(|_| failed("the authorization server redirected to a non-URL".to_owned()))?;
        if !callback.starts_with(&format!("{}?", self.redirect_uri())) {
            return Err(failed(format!(
                "the authorization server redirected elsewhere than {}",
                self.redirect_uri()
            )));
        }
        let query: HashMap<_, _> = url.query_pairs().collect();
        if let Some(error) = query.get("error") {
            let description = query.get("error_description").map_or("", |d| d);
            return Err(failed(format!(
                "the authorization server refused: {error} {description}"
            )));
        }
        Ok(callback)
    }
}

fn failed(message: String) -> HttpError {
    HttpError::Auth(AuthError::AuthorizationFailed(message))
}

impl StreamableHttpClient for Authorizing {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    /// Overridden so the transport's byte limits still apply to the
    /// responses (the default would drop them).
    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        // No token passed down: `AuthClient` attaches the current one.
        self.with_oauth(|| {
            self.inner.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                None,
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        self.with_oauth(|| {
            self.inner.delete_session(
                uri.clone(),
                session_id.clone(),
                None,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.with_oauth(|| {
            self.inner.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                None,
                custom_headers.clone(),
            )
        })
        .await
    }
}
