//! A reference resource server for lab 7's client checks: the demo shop at
//! `/mcp`, protected as the MCP authorization specification asks, trusting
//! tokens of one authorization server (the checks' in-process `authz`).
//!
//! - `GET /.well-known/oauth-protected-resource/mcp`: RFC 9728 metadata
//!   naming the authorization server;
//! - no token: 401 `Bearer resource_metadata="…", scope="User.Read Orders.Read"`;
//! - a token that does not verify (signature by the issuer's JWKS, `iss`,
//!   `aud` = this server's `/mcp`, `exp`): 401 `error="invalid_token"`;
//! - a `tools/call` whose permission is not in the token's `scope`: 403
//!   `error="insufficient_scope", scope="<that permission>"` (step-up);
//! - with [`Expiry::AfterOneCall`], an access token serves one `tools/call`
//!   and is then answered 401 `invalid_token`, as if it had expired, so a
//!   client making several calls has to refresh between them.
//!
//! It logs what it was sent, one line per decision, tokens numbered in the
//! order they first arrived (their values never reach a snapshot).

use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use axum::{
    Json, Router,
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{JwkSet, KeyAlgorithm},
};
use serde_json::{Value, json};
use shop::{Caller, Orders, Shop};
use tokio::task::JoinHandle;

/// The scopes a client should ask for first (lab 7's baseline).
pub const BASELINE_SCOPE: &str = "User.Read Orders.Read";

/// How long an access token stays good at this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Until its `exp`.
    AtExp,
    /// For one `tools/call`; afterwards 401 `invalid_token`.
    AfterOneCall,
}

/// A running reference resource server; stops when dropped.
pub struct ResourceServer {
    /// The canonical MCP URL, `http://127.0.0.1:PORT/mcp`.
    pub mcp_url: String,
    state: Shared,
    task: JoinHandle<()>,
}

struct Inner {
    issuer: String,
    mcp_url: String,
    metadata_url: String,
    keys: JwkSet,
    expiry: Expiry,
    /// Every distinct access token presented, in order of arrival.
    tokens: Vec<String>,
    /// Tokens (by number) that already served a `tools/call`.
    spent: Vec<usize>,
    log: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

impl ResourceServer {
    /// Starts the server for tokens of `issuer`, whose RFC 8414 metadata
    /// names the JWKS it fetches once, now.
    pub async fn start(issuer: &str, expiry: Expiry) -> anyhow::Result<ResourceServer> {
        let keys = fetch_keys(issuer).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the reference resource server")?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let mcp_url = format!("{base_url}/mcp");
        let state: Shared = Arc::new(Mutex::new(Inner {
            issuer: issuer.to_owned(),
            mcp_url: mcp_url.clone(),
            metadata_url: format!("{base_url}/.well-known/oauth-protected-resource/mcp"),
            keys,
            expiry,
            tokens: Vec::new(),
            spent: Vec::new(),
            log: Vec::new(),
        }));
        let orders = Orders::demo();
        let mcp = Router::new()
            .nest_service("/mcp", shop::mcp_service(move || Shop::new(orders.clone())))
            .layer(middleware::from_fn_with_state(state.clone(), guard));
        let app = Router::new()
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                get(metadata).with_state(state.clone()),
            )
            .merge(mcp);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ResourceServer {
            mcp_url,
            state,
            task,
        })
    }

    /// What the server decided, one line per request that mattered, in order.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().map(|s| s.log.clone()).unwrap_or_default()
    }

    /// Every access token a client presented.
    pub fn tokens(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.tokens.clone())
            .unwrap_or_default()
    }
}

impl Drop for ResourceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn fetch_keys(issuer: &str) -> anyhow::Result<JwkSet> {
    let client = crate::http::client()?;
    let metadata: Value = client
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .context("cannot reach the authorization server's metadata")?
        .json()
        .await
        .context("the authorization server's metadata is not JSON")?;
    let jwks_uri = metadata["jwks_uri"]
        .as_str()
        .context("the authorization server's metadata has no jwks_uri")?;
    client
        .get(jwks_uri)
        .send()
        .await
        .context("cannot fetch the authorization server's JWKS")?
        .json()
        .await
        .context("the authorization server's JWKS is not a JWK Set")
}

async fn metadata(State(state): State<Shared>) -> Response {
    let Ok(inner) = state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    Json(json!({
        "resource": inner.mcp_url,
        "authorization_servers": [inner.issuer],
        "scopes_supported": ["User.Read", "Orders.Read", "Orders.Delete", "Orders.Refund"],
        "bearer_methods_supported": ["header"],
    }))
    .into_response()
}

/// The permission a tool needs beyond a valid token (lab 4's table).
fn permission_for(tool: &str) -> Option<&'static str> {
    match tool {
        "list_orders" | "get_order" | "shipping_status" => Some("Orders.Read"),
        "delete_order" => Some("Orders.Delete"),
        "refund_order" => Some("Orders.Refund"),
        _ => None,
    }
}

/// What a verified token says.
struct Verified {
    sub: String,
    scopes: Vec<String>,
}

impl Inner {
    fn verify(&self, token: &str) -> anyhow::Result<Verified> {
        let header = jsonwebtoken::decode_header(token).context("no JWT header")?;
        let kid = header.kid.context("no kid")?;
        let jwk = self.keys.find(&kid).context("unknown kid")?;
        let alg = match jwk.common.key_algorithm {
            Some(KeyAlgorithm::RS256) => Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => Algorithm::ES256,
            _ => bail!("the key is not for RS256 or ES256"),
        };
        if header.alg != alg {
            bail!("alg does not match the key");
        }
        let key = DecodingKey::from_jwk(jwk).context("unusable key")?;
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.set_audience(&[&self.mcp_url]);
        validation.set_issuer(&[&self.issuer]);
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims;
        Ok(Verified {
            sub: claims["sub"].as_str().unwrap_or_default().to_owned(),
            scopes: claims["scope"]
                .as_str()
                .unwrap_or_default()
                .split(' ')
                .filter(|scope| !scope.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    /// The token's number (1, 2, …), in order of first arrival.
    fn number(&mut self, token: &str) -> usize {
        match self.tokens.iter().position(|seen| seen == token) {
            Some(at) => at + 1,
            None => {
                self.tokens.push(token.to_owned());
                self.tokens.len()
            }
        }
    }

    fn challenge(&self, error: Option<&str>, scope: Option<&str>) -> String {
        let mut parts = Vec::new();
        parts.extend(error.map(|error| format!("error=\"{error}\"")));
        parts.extend(scope.map(|scope| format!("scope=\"{scope}\"")));
        parts.push(format!("resource_metadata=\"{}\"", self.metadata_url));
        format!("Bearer {}", parts.join(", "))
    }
}

/// What the JSON-RPC request is: its method and, for `tools/call`, the tool.
fn describe(message: &Value) -> (String, Option<String>) {
    let method = message["method"]
        .as_str()
        .unwrap_or("(no method)")
        .to_owned();
    let tool = (method == "tools/call")
        .then(|| message["params"]["name"].as_str().map(str::to_owned))
        .flatten();
    (method, tool)
}

async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, 1 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let message = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
    let (method, tool) = describe(&message);
    let what = match &tool {
        Some(tool) => format!("{} {method} {tool}", parts.method),
        None => format!("{} {method}", parts.method),
    };
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    // Only what a reviewer needs: the requests that carry the flow, and
    // every refusal; not each notification or stream.
    let logged = matches!(method.as_str(), "initialize" | "tools/list" | "tools/call");
    let decision = {
        let Ok(mut inner) = state.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        decide(&mut inner, token.as_deref(), tool.as_deref(), &what, logged)
    };
    match decision {
        Err((status, challenge)) => refuse(status, challenge),
        Ok(caller) => {
            let mut request = Request::from_parts(parts, Body::from(bytes));
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
    }
}

/// The caller a request may proceed as, or the refusal (its status and
/// challenge), logged.
fn decide(
    inner: &mut Inner,
    token: Option<&str>,
    tool: Option<&str>,
    what: &str,
    logged: bool,
) -> Result<Caller, (StatusCode, String)> {
    let Some(token) = token else {
        inner.log.push(format!("{what} without a token: 401"));
        let challenge = inner.challenge(None, Some(BASELINE_SCOPE));
        return Err((StatusCode::UNAUTHORIZED, challenge));
    };
    let number = inner.number(token);
    let verified = match inner.verify(token) {
        Ok(verified) => verified,
        Err(_) => {
            inner
                .log
                .push(format!("{what} with token {number}: 401 invalid_token"));
            let challenge = inner.challenge(Some("invalid_token"), None);
            return Err((StatusCode::UNAUTHORIZED, challenge));
        }
    };
    let with = format!("{what} with token {number} ({})", verified.scopes.join(" "));
    if let Some(tool) = tool {
        if let Some(needed) = permission_for(tool)
            && !verified.scopes.iter().any(|scope| scope == needed)
        {
            inner
                .log
                .push(format!("{with}: 403 insufficient_scope {needed}"));
            let challenge = inner.challenge(Some("insufficient_scope"), Some(needed));
            return Err((StatusCode::FORBIDDEN, challenge));
        }
        if inner.expiry == Expiry::AfterOneCall && inner.spent.contains(&number) {
            inner
                .log
                .push(format!("{with}: 401 invalid_token (expired)"));
            let challenge = inner.challenge(Some("invalid_token"), None);
            return Err((StatusCode::UNAUTHORIZED, challenge));
        }
        inner.spent.push(number);
    }
    if logged {
        inner.log.push(format!("{with}: ok"));
    }
    Ok(Caller {
        name: verified.sub.clone(),
        sub: verified.sub,
        permissions: verified.scopes,
    })
}

fn refuse(status: StatusCode, challenge: String) -> Response {
    let error = if status == StatusCode::FORBIDDEN {
        "insufficient_scope"
    } else {
        "invalid_token"
    };
    (
        status,
        [(header::WWW_AUTHENTICATE, challenge)],
        Json(json!({ "error": error })),
    )
        .into_response()
}
