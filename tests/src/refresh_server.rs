//! A reference server for the refresh client checks (lab 5): `/login`,
//! `/refresh` and the demo shop at `/mcp`, where every access token is good
//! for at most one `tools/call`. A client making several calls therefore
//! has to refresh between them, and the server logs what it was sent.
//! [`Refresh`] says how `/refresh` answers.
//!
//! Tokens are plain counters (`access-1`, `refresh-1`, …): the client must
//! treat them as opaque, and the log can show them as they are.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::{
    Json, Router,
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use shop::{Caller, Orders, Shop};
use tokio::task::JoinHandle;

/// A running reference server; stops when dropped.
pub struct RefreshServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    state: Shared,
    task: JoinHandle<()>,
}

/// How `/refresh` behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Rotates: the latest refresh token buys a new pair, once.
    Rotates,
    /// Refuses every refresh with 400 `invalid_grant`.
    Refuses,
    /// Rotates, but no tool call is accepted after the first refresh (as
    /// when the account was disabled meanwhile): a refresh does not help,
    /// and a client must give up rather than refresh again. After
    /// [`LOOP_LIMIT`] rotations it refuses, so a looping client ends.
    DoesNotHelp,
}

/// How many refreshes [`Refresh::DoesNotHelp`] grants before refusing.
const LOOP_LIMIT: u32 = 3;

#[derive(Debug)]
struct Tokens {
    mode: Refresh,
    /// Number of the newest pair; 0 before login.
    generation: u32,
    /// Whether the newest access token has already served a `tools/call`.
    spent: bool,
    /// Whether the newest refresh token was already exchanged.
    refreshed: bool,
    log: Vec<String>,
}

type Shared = Arc<Mutex<Tokens>>;

const USERNAME: &str = "jane.doe";
const PASSWORD: &str = "secure123";

impl RefreshServer {
    pub async fn start(mode: Refresh) -> anyhow::Result<RefreshServer> {
        let state: Shared = Arc::new(Mutex::new(Tokens {
            mode,
            generation: 0,
            spent: false,
            refreshed: false,
            log: Vec::new(),
        }));
        let orders = Orders::demo();
        let mcp = Router::new()
            .nest_service("/mcp", shop::mcp_service(move || Shop::new(orders.clone())))
            .layer(middleware::from_fn_with_state(state.clone(), guard));
        let app = Router::new()
            .route("/login", post(login))
            .route("/refresh", post(refresh))
            .with_state(state.clone())
            .merge(mcp);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the refresh server")?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RefreshServer {
            base_url,
            state,
            task,
        })
    }

    /// What the server saw, one line per event, in order.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().map(|s| s.log.clone()).unwrap_or_default()
    }
}

impl Drop for RefreshServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Tokens {
    fn new_pair(&mut self) -> Value {
        self.generation += 1;
        self.spent = false;
        self.refreshed = false;
        let n = self.generation;
        json!({ "accessToken": format!("access-{n}"), "refreshToken": format!("refresh-{n}") })
    }
}

async fn login(State(state): State<Shared>, Json(body): Json<Value>) -> Response {
    let Ok(mut tokens) = state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if body["username"] != USERNAME || body["password"] != PASSWORD {
        tokens
            .log
            .push("POST /login: 401 (wrong credentials)".into());
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "Invalid credentials" })),
        )
            .into_response();
    }
    let pair = tokens.new_pair();
    let line = format!("POST /login: 200, pair {}", tokens.generation);
    tokens.log.push(line);
    Json(pair).into_response()
}

async fn refresh(State(state): State<Shared>, Json(body): Json<Value>) -> Response {
    let Ok(mut tokens) = state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let presented = body["refreshToken"].as_str().unwrap_or("(none)").to_owned();
    let current = format!("refresh-{}", tokens.generation);
    let allowed = match tokens.mode {
        Refresh::Rotates => true,
        Refresh::Refuses => false,
        Refresh::DoesNotHelp => tokens.generation <= LOOP_LIMIT,
    };
    let accepted = allowed && presented == current && !tokens.refreshed;
    if !accepted {
        tokens
            .log
            .push(format!("POST /refresh with {presented}: 400 invalid_grant"));
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    }
    tokens.refreshed = true;
    let pair = tokens.new_pair();
    let line = format!(
        "POST /refresh with {presented}: 200, pair {}",
        tokens.generation
    );
    tokens.log.push(line);
    Json(pair).into_response()
}

/// Accepts only the newest access token, and that for one `tools/call`
/// (in [`Refresh::DoesNotHelp`], only the login's).
async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, 1 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let method = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["method"].as_str().map(str::to_owned));
    let presented = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("(none)")
        .to_owned();
    let verdict = {
        let Ok(mut tokens) = state.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let current = presented == format!("access-{}", tokens.generation);
        let is_call = method.as_deref() == Some("tools/call");
        let refused_after_refresh = tokens.mode == Refresh::DoesNotHelp && tokens.generation > 1;
        let ok = current && !(is_call && (tokens.spent || refused_after_refresh));
        if is_call {
            let outcome = if ok { "ok" } else { "401" };
            tokens
                .log
                .push(format!("tools/call with {presented}: {outcome}"));
            tokens.spent |= ok;
        } else if !ok {
            tokens
                .log
                .push(format!("{} /mcp with {presented}: 401", parts.method));
        }
        ok
    };
    if !verdict {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
            Json(json!({ "error": "Token expired" })),
        )
            .into_response();
    }
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(Caller {
        sub: USERNAME.to_owned(),
        name: "Jane Doe".to_owned(),
        permissions: vec!["Orders.Read".to_owned()],
    });
    next.run(request).await
}
