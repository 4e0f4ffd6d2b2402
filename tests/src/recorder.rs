//! A reference server for the client checks: the demo shop behind the
//! course's lab-1 rules, recording the `Authorization` header of every
//! request it receives.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::{
    Router,
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use shop::{Orders, Shop};
use tokio::task::JoinHandle;

/// A running recorder; stops when dropped.
pub struct Recorder {
    /// The MCP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    seen: Seen,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct Guard {
    expected: String,
    seen: Seen,
}

type Seen = Arc<Mutex<Vec<Option<String>>>>;

impl Recorder {
    /// Accepts `Authorization: Bearer <token>` (scheme in any case).
    pub async fn start(token: &str) -> anyhow::Result<Recorder> {
        let seen = Seen::default();
        let guard = Guard {
            expected: token.to_owned(),
            seen: seen.clone(),
        };
        let orders = Orders::demo();
        let app = Router::new()
            .nest_service("/mcp", shop::mcp_service(move || Shop::new(orders.clone())))
            .layer(middleware::from_fn_with_state(guard, record));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the recorder")?;
        let url = format!("http://{}/mcp", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Recorder { url, seen, task })
    }

    /// The `Authorization` value of each request received so far.
    pub fn seen(&self) -> Vec<Option<String>> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(guard): State<Guard>, request: Request, next: Next) -> Response {
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
    next.run(request).await
}
