//! A reference server for the client checks: the demo shop behind the
//! course's lab-1 rules, recording the `Authorization` header of every
//! request it receives; optionally with the course's `POST /login` (lab 3).

use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use shop::{Caller, Orders, Shop};
use tokio::task::JoinHandle;

/// A running recorder; stops when dropped.
pub struct Recorder {
    /// The MCP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// The server's root, `http://127.0.0.1:PORT`.
    pub base_url: String,
    seen: Seen,
    logins: Logins,
    task: JoinHandle<()>,
}

/// What `POST /login` accepts and answers.
#[derive(Clone)]
struct Login {
    username: String,
    password: String,
    token: String,
    logins: Logins,
}

#[derive(Clone)]
struct Guard {
    expected: String,
    seen: Seen,
    /// Who a request with the expected token is, for `whoami`; lab 1's
    /// shared secret names nobody.
    caller: Option<Caller>,
}

type Seen = Arc<Mutex<Vec<Option<String>>>>;
type Logins = Arc<Mutex<Vec<String>>>;

impl Recorder {
    /// Accepts `Authorization: Bearer <token>` (scheme in any case).
    pub async fn start(token: &str) -> anyhow::Result<Recorder> {
        Recorder::serve(token, None).await
    }

    /// [`Recorder::start`] plus `POST /login`, which answers `username` and
    /// `password` with `{"accessToken": token, "refreshToken": …}` and
    /// anything else with 401 `{"error":"Invalid credentials"}`.
    pub async fn start_with_login(
        username: &str,
        password: &str,
        token: &str,
    ) -> anyhow::Result<Recorder> {
        let login = Login {
            username: username.to_owned(),
            password: password.to_owned(),
            token: token.to_owned(),
            logins: Logins::default(),
        };
        Recorder::serve(token, Some(login)).await
    }

    async fn serve(token: &str, login: Option<Login>) -> anyhow::Result<Recorder> {
        let seen = Seen::default();
        let guard = Guard {
            expected: token.to_owned(),
            seen: seen.clone(),
            caller: login.as_ref().map(|login| Caller {
                sub: login.username.clone(),
                name: login.username.clone(),
                permissions: Vec::new(),
            }),
        };
        let orders = Orders::demo();
        let mut app = Router::new()
            .nest_service("/mcp", shop::mcp_service(move || Shop::new(orders.clone())))
            .layer(middleware::from_fn_with_state(guard, record));
        let logins = login.as_ref().map(|l| l.logins.clone()).unwrap_or_default();
        if let Some(login) = login {
            app = app.route("/login", post(log_in).with_state(login));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the recorder")?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Recorder {
            url: format!("{base_url}/mcp"),
            base_url,
            seen,
            logins,
            task,
        })
    }

    /// The `Authorization` value of each request received so far.
    pub fn seen(&self) -> Vec<Option<String>> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The username of each `POST /login` received so far (`(no username)`
    /// when the body had none).
    pub fn logins(&self) -> Vec<String> {
        self.logins.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if let Ok(mut seen) = guard.seen.lock() {
        seen.push(value.clone());
    }
    let Some(value) = value else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"mcp\"")],
            "Unauthorized",
        )
            .into_response();
    };
    let accepted = value.split_once(' ').is_some_and(|(scheme, token)| {
        scheme.eq_ignore_ascii_case("bearer") && token == guard.expected
    });
    if !accepted {
        return (StatusCode::FORBIDDEN, "Forbidden").into_response();
    }
    if let Some(caller) = guard.caller {
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

async fn log_in(State(login): State<Login>, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    if let Ok(mut logins) = login.logins.lock() {
        let username = field("username");
        logins.push(
            if username.is_empty() {
                "(no username)"
            } else {
                username
            }
            .to_owned(),
        );
    }
    if field("username") != login.username || field("password") != login.password {
        let body = Json(json!({ "error": "Invalid credentials" }));
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    let pair = json!({ "accessToken": login.token, "refreshToken": "recorder-refresh-token" });
    ([(header::CACHE_CONTROL, "no-store")], Json(pair)).into_response()
}
