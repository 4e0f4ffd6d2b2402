//! Serving a lab's router: the parts of `server` that are the same in every lab.

use std::{io::IsTerminal, sync::LazyLock, time::Duration};

use anyhow::Context;
use axum::{Router, serve::ListenerExt};
use rmcp::{
    ServerHandler,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::{
    EnvFilter,
    filter::{FilterExt as _, filter_fn},
    layer::{Layer as _, SubscriberExt as _},
    util::SubscriberInitExt as _,
};

/// Cancelled when the process is asked to stop; open MCP streams end with it.
static SHUTDOWN: LazyLock<CancellationToken> = LazyLock::new(CancellationToken::new);

/// The SDK's OAuth module, whose DEBUG lines [`init_tracing`] drops.
const SDK_AUTH: &str = "rmcp::transport::auth";

/// How long open connections get to finish after SIGINT/SIGTERM (Ctrl-C).
const GRACE: Duration = Duration::from_secs(3);

/// Logs go to stderr (stdout carries the `listening on` line and transcripts).
/// `RUST_LOG` tunes them. By default only warnings show, and none from the
/// SDK itself: its client logs every refused request as an ERROR, which the
/// lab clients already explain in one line.
///
/// Whatever `RUST_LOG` says, the SDK's OAuth module logs at most INFO: at
/// DEBUG rmcp 3.11 prints the authorization code it is about to exchange.
pub fn init_tracing() {
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,rmcp=off"));
    let no_sdk_auth_debug = filter_fn(|meta| {
        !(meta.target().starts_with(SDK_AUTH) && *meta.level() > tracing::Level::INFO)
    });
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_filter(env.and(no_sdk_auth_debug));
    tracing_subscriber::registry().with(logs).init();
}

/// The MCP endpoint as a tower service, ready for `Router::nest_service("/mcp", …)`.
///
/// `make` builds the handler for each new MCP session. Sessions are kept in
/// memory (the SDK's default), and every request still passes through the
/// lab's auth middleware: a session id is not a credential.
pub fn mcp_service<H, F>(make: F) -> StreamableHttpService<H, LocalSessionManager>
where
    H: ServerHandler,
    F: Fn() -> H + Send + Sync + 'static,
{
    let config =
        StreamableHttpServerConfig::default().with_cancellation_token(SHUTDOWN.child_token());
    StreamableHttpService::new(move || Ok(make()), Default::default(), config)
}

/// [`mcp_service`] that also accepts `hosts` in the `Host` header, next to
/// the SDK's loopback defaults: a server reached by another name (lab 6's
/// `--public-url`) is otherwise refused as a DNS-rebinding attempt.
pub fn mcp_service_for_hosts<H, F>(
    make: F,
    hosts: &[String],
) -> StreamableHttpService<H, LocalSessionManager>
where
    H: ServerHandler,
    F: Fn() -> H + Send + Sync + 'static,
{
    let defaults = StreamableHttpServerConfig::default();
    let allowed: Vec<String> = defaults
        .allowed_hosts
        .iter()
        .chain(hosts)
        .cloned()
        .collect();
    let config = defaults
        .with_allowed_hosts(allowed)
        .with_cancellation_token(SHUTDOWN.child_token());
    StreamableHttpService::new(move || Ok(make()), Default::default(), config)
}

/// Binds `addr`, prints `listening on http://HOST:PORT` (the real port, also
/// for port 0) as the first line on stdout, and serves `app` until SIGINT or
/// SIGTERM.
pub async fn serve(addr: &str, app: Router) -> anyhow::Result<()> {
    serve_bound(addr, |_| Ok(app)).await
}

/// [`serve`] for an app that needs to know its own address (lab 6 names
/// itself in its tokens and metadata): `make` gets the bound address, the
/// real port also for port 0, and runs before `listening on` is printed, so
/// that its error stops the server before anyone is told to connect.
pub async fn serve_bound(
    addr: &str,
    make: impl FnOnce(std::net::SocketAddr) -> anyhow::Result<Router>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // Listen for SIGINT and SIGTERM before announcing the port: whoever
    // reads `listening on` may stop us at once, and a signal that arrives
    // before its handler exists kills the process without a clean shutdown.
    let stop = stop_requested();
    let app = make(local)?;
    println!("listening on http://{local}");

    // MCP answers arrive as several small SSE frames. Without TCP_NODELAY,
    // Nagle's algorithm holds the later frames until the client's delayed ACK
    // (~40 ms on Linux): 183 requests/s instead of ~19,000.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {e}");
        }
    });

    // Each request carries the peer's address (`ConnectInfo<SocketAddr>`),
    // for limits per client (lab 6); nothing else reads it.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(SHUTDOWN.cancelled());
    tokio::select! {
        result = server => result.context("server failed")?,
        () = stop_then_grace(stop) => tracing::warn!("connections still open after {GRACE:?}; stopping anyway"),
    }
    Ok(())
}

async fn stop_then_grace(stop: impl Future<Output = ()>) {
    stop.await;
    SHUTDOWN.cancel();
    tokio::time::sleep(GRACE).await;
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed by this call,
/// not when the future is first polled.
#[cfg(unix)]
fn stop_requested() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        match (interrupt, terminate) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(
                    "cannot listen for SIGINT/SIGTERM ({e}): stop the server with SIGKILL"
                );
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Resolves on Ctrl-C, Ctrl-Break or the console closing (Windows has no
/// SIGTERM). As on Unix, the handlers are installed by this call.
#[cfg(windows)]
fn stop_requested() -> impl Future<Output = ()> {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    let handlers = (ctrl_c(), ctrl_break(), ctrl_close());
    async move {
        match handlers {
            (Ok(mut interrupt), Ok(mut brk), Ok(mut close)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = brk.recv() => {}
                    _ = close.recv() => {}
                }
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                tracing::warn!(
                    "cannot listen for Ctrl-C ({e}): stop the server by ending its process"
                );
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(not(any(unix, windows)))]
fn stop_requested() -> impl Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
