//! Lab 5, "refresh": short-lived access tokens, long-lived opaque refresh
//! tokens in SQLite, rotation with reuse detection, logout, and a client
//! that refreshes when its access token expires.
//! Titles, order and points live in `labs.toml`.
//!
//! Every server here gets its own database (`--db :memory:` or a file in a
//! fresh temporary directory): checks run in parallel in the suite, and the
//! lab's default file would be shared between them.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use axum::{
    Json, Router,
    response::{IntoResponse, Response},
    routing::{any, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::json;

use crate::{
    CheckFn, LabBinary,
    api::{self, READER},
    checks,
    harness::RunningServer,
    http, mcp,
    refresh_server::{Refresh, RefreshServer},
    tokens,
};

pub const CHECKS: &[(&str, CheckFn)] = checks![
    login_issues_a_short_lived_access_token_and_an_opaque_refresh_token,
    stores_refresh_tokens_only_as_hashes,
    refresh_rotates_the_pair,
    reuse_revokes_the_whole_family,
    refuses_unknown_expired_or_malformed_refresh_tokens_with_invalid_grant,
    refresh_without_a_token_is_invalid_request,
    keeps_access_and_refresh_tokens_apart,
    concurrent_refreshes_have_at_most_one_winner,
    rotation_is_atomic_across_processes,
    logout_revokes_the_family,
    restart_keeps_issued_tokens_and_revocations,
    client_refreshes_once_on_401_and_retries,
    client_gives_up_when_the_refresh_is_refused,
    client_refreshes_at_most_once_per_request,
];

crate::security::cross_cutting!(
    Credentials::LoginAndRefresh,
    [
        session_id_is_not_a_credential,
        survives_malformed_authorization_headers,
        never_logs_credentials,
    ]
);

/// How many refreshes race in [`concurrent_refreshes_have_at_most_one_winner`]
/// and [`rotation_is_atomic_across_processes`], and how many times.
const RACERS: usize = 24;
const ROUNDS: usize = 5;

async fn login_issues_a_short_lived_access_token_and_an_opaque_refresh_token(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let mut out = String::new();
    for ttl in [None, Some("90s")] {
        let server = match ttl {
            None => start(lab, &[]).await?,
            Some(ttl) => start(lab, &["--access-ttl", ttl]).await?,
        };
        let reply = login_reply(&server).await?;
        let first = api::pair(&reply)?;
        let second = api::login(&server, READER).await?;
        out.push_str(&format!(
            "--access-ttl {}:\n{}\naccess token: {}\nrefresh token: {}\nsecond login, different refresh token: {}\n\n",
            ttl.unwrap_or("(default)"),
            api::render_redacted(&reply, &["cache-control"]),
            lifetime(&first.access)?,
            api::refresh_shape(&first.refresh),
            yes(first.refresh != second.refresh),
        ));
    }
    Ok(out)
}

async fn stores_refresh_tokens_only_as_hashes(lab: &LabBinary) -> anyhow::Result<String> {
    let (dir, db) = database_file()?;
    let server = start_with_db(lab, &db).await?;
    let first = api::login(&server, READER).await?;
    let second = api::login(&server, READER).await?;
    server.stop().await?;
    let stored = database_bytes(dir.path())?;
    let mut out = format!(
        "database file written: {}\n",
        yes(db.exists() && !stored.is_empty())
    );
    for (label, token) in [("first", &first.refresh), ("second", &second.refresh)] {
        let raw = URL_SAFE_NO_PAD.decode(token).unwrap_or_default();
        let hex: String = raw.iter().map(|byte| format!("{byte:02x}")).collect();
        out.push_str(&format!(
            "the {label} login's refresh token is in the database as text: {}, as raw bytes: {}, as hex: {}\n",
            yes(contains(&stored, token.as_bytes())),
            yes(contains(&stored, &raw)),
            yes(contains(&stored, hex.as_bytes())),
        ));
    }
    Ok(out)
}

async fn refresh_rotates_the_pair(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &["--access-ttl", "90s"]).await?;
    let first = api::login(&server, READER).await?;
    let reply = api::refresh(&server, &first.refresh).await?;
    let second = api::pair(&reply)?;
    let claims = tokens::claims(&second.access)?;
    let resource = api::get_with(&server, "/resource", &second.access).await?;
    let again = api::refresh(&server, &first.refresh).await?;
    Ok(format!(
        "POST /refresh with the login's refresh token:\n{}\n\
         new refresh token differs from the old one: {}\n\
         new access token: {}, sub {}, permissions {}\n\
         GET /resource with the new access token: {}\n\
         the old refresh token again: {}",
        api::render_redacted(&reply, &["cache-control"]),
        yes(second.refresh != first.refresh),
        lifetime(&second.access)?,
        claims.get("sub").unwrap_or(&json!(null)),
        tokens::permissions(&second.access)?,
        resource.status,
        api::short(&again),
    ))
}

async fn reuse_revokes_the_whole_family(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let first = api::login(&server, READER).await?;
    let other = api::login(&server, READER).await?;
    let second = api::pair(&api::refresh(&server, &first.refresh).await?)?;
    let third = api::pair(&api::refresh(&server, &second.refresh).await?)?;
    let steps = [
        (
            "reuse of the login's (already rotated) token",
            first.refresh,
        ),
        ("the newest token of that family", third.refresh),
        ("a token of another login", other.refresh),
    ];
    let mut out = String::from("login -> rotate -> rotate, then:\n");
    for (label, token) in steps {
        let reply = api::refresh(&server, &token).await?;
        out.push_str(&format!("{label}: {}\n", api::short(&reply)));
    }
    Ok(out)
}

async fn refuses_unknown_expired_or_malformed_refresh_tokens_with_invalid_grant(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab, &["--refresh-ttl", "100ms"]).await?;
    let expiring = api::login(&server, READER).await?;
    // Well-formed, but never issued by the server.
    let unknown = URL_SAFE_NO_PAD.encode([0x5a; 32]);
    let mut out = String::new();
    for (label, token) in [
        ("unknown (well-formed, never issued)", unknown.as_str()),
        ("malformed", "not a refresh token"),
        ("empty", ""),
    ] {
        let reply = api::refresh(&server, token).await?;
        out.push_str(&format!("{label}: {}\n", api::short(&reply)));
    }
    // Refresh tokens live 100 ms here, counted from before this wait began,
    // so any wait longer than that is past it however loaded the machine.
    // (A store that counts whole seconds rounds the TTL to 0 and passes
    // too: the check is about expiry being enforced, and it keeps `check
    // lab5` fast.)
    tokio::time::sleep(Duration::from_millis(250)).await;
    let reply = api::refresh(&server, &expiring.refresh).await?;
    out.push_str(&format!(
        "expired (--refresh-ttl 100ms, 0.25 s later): {}",
        api::short(&reply)
    ));
    Ok(out)
}

async fn refresh_without_a_token_is_invalid_request(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let mut out = String::new();
    for (label, body) in [
        ("{}", json!({})),
        ("refreshToken is a number", json!({ "refreshToken": 42 })),
        (
            "refresh_token (wrong name)",
            json!({ "refresh_token": "x" }),
        ),
    ] {
        let reply = api::post(&server, "/refresh", body).await?;
        out.push_str(&format!("{label}: {}\n", api::short(&reply)));
    }
    let reply = http::send(
        reqwest::Method::POST,
        &server.url("/refresh"),
        &[("content-type", "application/json")],
        None,
    )
    .await?;
    out.push_str(&format!("no body: {}", api::short(&reply)));
    Ok(out)
}

async fn keeps_access_and_refresh_tokens_apart(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let pair = api::login(&server, READER).await?;
    let at_refresh = api::refresh(&server, &pair.access).await?;
    let resource = api::get_with(&server, "/resource", &pair.refresh).await?;
    let bearer = format!("Bearer {}", pair.refresh);
    let session = mcp::session(&server.url("/mcp"), Some(&bearer), &[]).await?;
    // The refresh token must still work: the attempts above did not use it.
    let still = api::refresh(&server, &pair.refresh).await?;
    Ok(format!(
        "access token sent to /refresh: {}\n\
         refresh token as Bearer on /resource: {}\n\
         refresh token as Bearer on /mcp: {session}\n\
         the refresh token afterwards, at /refresh: {}",
        api::short(&at_refresh),
        api::short(&resource),
        still.status,
    ))
}

async fn concurrent_refreshes_have_at_most_one_winner(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let mut tally = RaceTally::default();
    // A rotation that reads and writes in separate database calls loses
    // most races, but not every one: several rounds make a lucky pass
    // unlikely.
    for _ in 0..ROUNDS {
        let pair = api::login(&server, READER).await?;
        let replies = race(&[&server], &pair.refresh, RACERS).await?;
        tally.add(&server, &replies).await?;
    }
    Ok(format!(
        "{ROUNDS} rounds of {RACERS} refreshes with the same token at once\n{tally}"
    ))
}

/// Two server processes on one database file, as behind a load balancer:
/// the connection's mutex serializes requests inside one process only, so
/// here the database transaction alone must make rotation atomic. A read
/// before the write lock lets both processes win; a DEFERRED transaction
/// makes the second writer fail with `database is locked` (a 500).
async fn rotation_is_atomic_across_processes(lab: &LabBinary) -> anyhow::Result<String> {
    let (_dir, db) = database_file()?;
    let first = start_with_db(lab, &db).await?;
    let second = start_with_db(lab, &db).await?;
    let mut tally = RaceTally::default();
    for _ in 0..ROUNDS {
        let pair = api::login(&first, READER).await?;
        let replies = race(&[&first, &second], &pair.refresh, RACERS).await?;
        tally.add(&second, &replies).await?;
    }
    Ok(format!(
        "two servers on one --db file; {ROUNDS} rounds of {RACERS} refreshes with the same token at once, half to each\n{tally}"
    ))
}

/// What the rounds of a refresh race showed, deduplicated for a snapshot.
#[derive(Default)]
struct RaceTally {
    winners: Vec<String>,
    answers: Vec<String>,
    afterwards: Vec<String>,
}

impl RaceTally {
    /// Records one round; tries the winner's new refresh token at `server`.
    async fn add(&mut self, server: &RunningServer, replies: &[http::Reply]) -> anyhow::Result<()> {
        let won: Vec<&http::Reply> = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        self.winners.push(won.len().to_string());
        self.answers.extend(replies.iter().map(api::short));
        if let Some(winner) = won.first() {
            // The losers presented a used token: a reuse, which revokes
            // the family, so even the winner's new refresh token is dead.
            let winner = api::pair(winner)?;
            let reply = api::refresh(server, &winner.refresh).await?;
            self.afterwards.push(api::short(&reply));
        }
        Ok(())
    }
}

impl std::fmt::Display for RaceTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let distinct = |list: &[String]| {
            let mut list = list.to_vec();
            list.sort();
            list.dedup();
            list.join(" | ")
        };
        write!(
            f,
            "winners (200) per round: {}\n\
             distinct answers: {}\n\
             the winner's new refresh token afterwards: {}",
            self.winners.join(", "),
            distinct(&self.answers),
            distinct(&self.afterwards),
        )
    }
}

async fn logout_revokes_the_family(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    // The same user on another device: no logout below may touch it.
    let other_device = api::login(&server, READER).await?;

    let first = api::login(&server, READER).await?;
    let current = api::pair(&api::refresh(&server, &first.refresh).await?)?;
    let logout_with_current = logout(&server, &current.refresh).await?;
    let after = api::refresh(&server, &current.refresh).await?;

    // A thief copied the login's token and refreshed before its owner did;
    // the owner, still holding the spent token, logs out with it. Only a
    // revoked family takes the thief's newer token down too.
    let stolen = api::login(&server, READER).await?;
    let thiefs = api::pair(&api::refresh(&server, &stolen.refresh).await?)?;
    let logout_with_spent = logout(&server, &stolen.refresh).await?;
    let thiefs_after = api::refresh(&server, &thiefs.refresh).await?;

    let missing = api::post(&server, "/logout", json!({})).await?;
    // A token the store does not know, or cannot even decode, is logged
    // out already: 204, not a 500 that blames the server.
    let unknown = logout(&server, &URL_SAFE_NO_PAD.encode([0x5a; 32])).await?;
    let malformed = logout(&server, "not a refresh token").await?;
    let other_after = api::refresh(&server, &other_device.refresh).await?;
    Ok(format!(
        "POST /logout with the current refresh token: {}\n\
         that refresh token afterwards: {}\n\
         POST /logout with a spent token of a family a thief refreshed ahead of its owner: {}\n\
         the thief's newer token afterwards: {}\n\
         POST /logout without a token: {}\n\
         POST /logout with an unknown (well-formed, never issued) token: {}\n\
         POST /logout with a malformed token: {}\n\
         the same user's login on another device afterwards: {}",
        api::short(&logout_with_current),
        api::short(&after),
        api::short(&logout_with_spent),
        api::short(&thiefs_after),
        api::short(&missing),
        api::short(&unknown),
        api::short(&malformed),
        api::short(&other_after),
    ))
}

/// `POST /logout {"refreshToken": token}`.
async fn logout(server: &RunningServer, token: &str) -> anyhow::Result<http::Reply> {
    api::post(server, "/logout", json!({ "refreshToken": token })).await
}

async fn restart_keeps_issued_tokens_and_revocations(lab: &LabBinary) -> anyhow::Result<String> {
    let (_dir, db) = database_file()?;
    let server = start_with_db(lab, &db).await?;
    let kept = api::login(&server, READER).await?;
    let revoked = api::login(&server, READER).await?;
    let rotated = api::pair(&api::refresh(&server, &revoked.refresh).await?)?;
    let reuse = api::refresh(&server, &revoked.refresh).await?;
    server.stop().await?;

    let server = start_with_db(lab, &db).await?;
    let after_kept = api::refresh(&server, &kept.refresh).await?;
    let after_revoked = api::refresh(&server, &rotated.refresh).await?;
    Ok(format!(
        "before the restart, a reuse revoked one family: {}\n\
         after the restart (same --db):\n\
         refresh token of the untouched login: {}\n\
         newest token of the revoked family: {}",
        api::short(&reuse),
        api::short(&after_kept),
        api::short(&after_revoked),
    ))
}

async fn client_refreshes_once_on_401_and_retries(lab: &LabBinary) -> anyhow::Result<String> {
    let mut out = client_against(lab, Refresh::Rotates).await?;
    // Only a 401 means "this token is no good": a refresh cannot add a
    // scope (403) or mend a server error (503), and would burn a pair.
    for refusal in [Refusal::InsufficientScope, Refusal::Unavailable] {
        let server = RefusingServer::start(refusal).await?;
        let run = api::run_client_as(lab, &server.base_url, READER).await?;
        let _ = write!(
            out,
            "\na server that answers every /mcp request with {}: client exit {}, POST /refresh requests {}",
            refusal.label(),
            if run.success { "success" } else { "failure" },
            server.refreshes(),
        );
    }
    Ok(out)
}

async fn client_gives_up_when_the_refresh_is_refused(lab: &LabBinary) -> anyhow::Result<String> {
    client_against(lab, Refresh::Refuses).await
}

async fn client_refreshes_at_most_once_per_request(lab: &LabBinary) -> anyhow::Result<String> {
    client_against(lab, Refresh::DoesNotHelp).await
}

/// Runs the lab's client against the reference [`RefreshServer`], where
/// each access token is good for at most one tool call, and shows both sides.
async fn client_against(lab: &LabBinary, mode: Refresh) -> anyhow::Result<String> {
    let server = RefreshServer::start(mode).await?;
    let (username, password) = READER;
    let args = [
        "client",
        "--url",
        &server.base_url,
        "--username",
        username,
        "--password",
        password,
    ];
    // Its most talkative, rmcp's logs included: a token must not show up
    // at any level.
    let run = lab.run(&args, &[("RUST_LOG", "trace")]).await?;
    // Only the client's own messages: log lines carry timestamps.
    let messages: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("error:") || line.starts_with("refresh"))
        .collect();
    let log = server.log();
    let printed = format!("{}{}", run.stdout, run.stderr);
    Ok(format!(
        "client exit: {}\nstdout:\n{}\nstderr (messages):\n{}\nthe server saw:\n{}\n\
         with RUST_LOG=trace, the client printed a token the server gave it: {}",
        if run.success { "success" } else { "failure" },
        run.stdout.trim_end(),
        messages.join("\n"),
        log.join("\n"),
        yes(printed_a_token(&printed, &log)),
    ))
}

/// Whether `printed` holds a token [`RefreshServer`] handed out: the pairs
/// `access-N` and `refresh-N` its log says it issued (`…: 200, pair N`).
fn printed_a_token(printed: &str, log: &[String]) -> bool {
    let issued = log
        .iter()
        .filter_map(|line| line.rsplit_once(", pair ")?.1.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    let words: Vec<&str> = printed
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    (1..=issued).any(|n| {
        let (access, refresh) = (format!("access-{n}"), format!("refresh-{n}"));
        words.iter().any(|word| *word == access || *word == refresh)
    })
}

/// How [`RefusingServer`] answers every request to `/mcp`.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// 403 `insufficient_scope`: the token is good, it lacks a permission.
    InsufficientScope,
    /// 503: the server is down for a moment; nothing to do with the token.
    Unavailable,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::InsufficientScope => "403 insufficient_scope",
            Refusal::Unavailable => "503",
        }
    }

    fn response(self) -> Response {
        match self {
            Refusal::InsufficientScope => (
                StatusCode::FORBIDDEN,
                [(
                    "www-authenticate",
                    "Bearer error=\"insufficient_scope\", scope=\"Orders.Delete\"",
                )],
            )
                .into_response(),
            Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
}

/// A server for the client checks whose `/mcp` refuses every request with
/// a [`Refusal`] that is not a 401, and which counts the refreshes it is
/// asked for (each answered with a new pair, as a real server would).
struct RefusingServer {
    base_url: String,
    refreshes: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl RefusingServer {
    async fn start(refusal: Refusal) -> anyhow::Result<RefusingServer> {
        let refreshes = Arc::new(AtomicUsize::new(0));
        let counted = refreshes.clone();
        let app = Router::new()
            .route(
                "/login",
                post(|| async {
                    Json(json!({ "accessToken": "access-1", "refreshToken": "refresh-1" }))
                }),
            )
            .route(
                "/refresh",
                post(move || {
                    let n = counted.fetch_add(1, Ordering::Relaxed) + 2;
                    async move {
                        Json(json!({
                            "accessToken": format!("access-{n}"),
                            "refreshToken": format!("refresh-{n}"),
                        }))
                    }
                }),
            )
            .route("/mcp", any(move || async move { refusal.response() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the refusing server")?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RefusingServer {
            base_url,
            refreshes,
            task,
        })
    }

    fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::Relaxed)
    }
}

impl Drop for RefusingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The lab's server with the checks' `JWT_SECRET` and a database in memory.
async fn start(lab: &LabBinary, args: &[&str]) -> anyhow::Result<RunningServer> {
    let mut all = vec!["--db", ":memory:"];
    all.extend_from_slice(args);
    lab.start_server_with(&all, tokens::JWT_ENV).await
}

/// The lab's server with the database file `db`.
async fn start_with_db(lab: &LabBinary, db: &Path) -> anyhow::Result<RunningServer> {
    let db = db.to_str().context("temporary path is not UTF-8")?;
    lab.start_server_with(&["--db", db], tokens::JWT_ENV).await
}

/// A path for a database file in a fresh temporary directory, which is
/// removed when the returned guard is dropped.
fn database_file() -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
    let db = dir.path().join("tokens.db");
    Ok((dir, db))
}

async fn login_reply(server: &RunningServer) -> anyhow::Result<http::Reply> {
    let (username, password) = READER;
    api::post(
        server,
        "/login",
        json!({ "username": username, "password": password }),
    )
    .await
}

/// Sends `n` refreshes with `token` at the same moment, spread evenly over
/// `servers`: each task waits at a barrier, then all send.
async fn race(
    servers: &[&RunningServer],
    token: &str,
    n: usize,
) -> anyhow::Result<Vec<http::Reply>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let url = servers[i % servers.len()].url("/refresh");
            let body = json!({ "refreshToken": token });
            tokio::spawn(async move {
                barrier.wait().await;
                http::send(reqwest::Method::POST, &url, &[], Some(body)).await
            })
        })
        .collect();
    let mut replies = Vec::with_capacity(n);
    for task in tasks {
        replies.push(task.await.context("a racing request panicked")??);
    }
    Ok(replies)
}

/// `exp - iat` of an access token, asserted to be a JWT first.
fn lifetime(token: &str) -> anyhow::Result<String> {
    let claims = tokens::claims(token)?;
    let time = |name: &str| claims.get(name).and_then(serde_json::Value::as_i64);
    match (time("iat"), time("exp")) {
        (Some(iat), Some(exp)) => Ok(format!("JWT living {} s (exp - iat)", exp - iat)),
        _ => Ok("JWT without numeric iat and exp".to_owned()),
    }
}

/// The database and its WAL/journal side files, concatenated.
fn database_bytes(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).context("cannot list the database directory")? {
        let path = entry?.path();
        if path.is_file() {
            bytes.extend(
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
            );
        }
    }
    Ok(bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
