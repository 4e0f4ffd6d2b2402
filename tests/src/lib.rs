//! The labs' checks: named, ordered scenarios run against a lab's binary
//! over HTTP and stdout, each judged by an insta snapshot.
//!
//! # Layout
//! - [`harness`]: start a lab's server (free port, wait for `listening on`,
//!   killed afterwards) or run its client.
//! - [`http`]: raw requests and how a reply is rendered for a snapshot.
//! - [`mcp`]: a reference MCP client for the "this should work" paths.
//! - [`recorder`]: a reference server that records what a lab's client sends.
//! - [`resource_server`]: a reference resource server trusting an in-process
//!   authorization server, for lab 7's OAuth client checks.
//! - [`redact`]: replace values that vary between runs (ports, tokens).
//! - [`runner`]: run a lab's checks in order and judge each against its
//!   snapshot; the `checks` binary prints the verdicts as JSON lines.
//! - `lab1`, …: one module per lab, one `async fn` per check.
//! - [`security`]: the checks every lab shares (sessions, malformed headers,
//!   credentials in logs), bound to each lab's credentials.
//!
//! **Invariant:** checks talk to a lab only through its binary (HTTP, stdout,
//! exit code); nothing here links a lab crate, so the same checks judge a
//! student's starter and the reference solution.
//! **Invariant:** snapshots are keyed by lab and check id
//! (`snapshots/<lab>/<check>.snap`), never by crate name.

pub mod api;
pub mod harness;
pub mod http;
pub mod lab1;
pub mod lab2;
pub mod lab3;
pub mod lab4;
pub mod lab5;
pub mod lab6;
pub mod lab7;
pub mod mcp;
pub mod recorder;
pub mod redact;
pub mod refresh_server;
pub mod resource_server;
pub mod runner;
pub mod security;
pub mod tokens;

use std::{future::Future, pin::Pin};

pub use harness::LabBinary;

/// What a check produces: the observation to compare with its snapshot.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<String>> + Send + 'a>>;

/// A check: runs a scenario against the lab and renders what it saw.
pub type CheckFn = for<'a> fn(&'a LabBinary) -> CheckFuture<'a>;

/// Lists a lab's checks as `(id, fn)` pairs; the id is the function's name.
macro_rules! checks {
    ($($check:ident),* $(,)?) => {
        &[$((stringify!($check), |lab| Box::pin($check(lab)))),*]
    };
}
pub(crate) use checks;

/// Every lab's checks, by lab id: its own, then the ones every lab shares.
/// `labs.toml` gives their order and titles; a test asserts both list the
/// same ids.
pub fn checks_of(lab: &str) -> Option<Vec<(&'static str, CheckFn)>> {
    let (own, shared) = match lab {
        "lab1" => (lab1::CHECKS, lab1::shared::CHECKS),
        "lab2" => (lab2::CHECKS, lab2::shared::CHECKS),
        "lab3" => (lab3::CHECKS, lab3::shared::CHECKS),
        "lab4" => (lab4::CHECKS, lab4::shared::CHECKS),
        "lab5" => (lab5::CHECKS, lab5::shared::CHECKS),
        "lab6" => (lab6::CHECKS, lab6::shared::CHECKS),
        "lab7" => (lab7::CHECKS, lab7::shared::CHECKS),
        _ => return None,
    };
    Some(own.iter().chain(shared).copied().collect())
}

/// The checks of `lab` that spend most of their time waiting on purpose (a
/// refresh token or a refetch interval running out, a timing comparison,
/// a rate limit's window): the runner starts them first, in this order, so
/// that their waits overlap the other checks instead of ending the run.
pub fn started_first(lab: &str) -> &'static [&'static str] {
    match lab {
        "lab3" => &["login_takes_as_long_for_an_unknown_user"],
        "lab5" => &[
            "refuses_unknown_expired_or_malformed_refresh_tokens_with_invalid_grant",
            "rotation_is_atomic_across_processes",
            "concurrent_refreshes_have_at_most_one_winner",
        ],
        "lab6" => &[
            "rate_limits_token_endpoints_per_client_and_username",
            "refuses_malformed_tokens_and_never_fetches_header_keys",
            "caps_live_sessions_per_user",
        ],
        "lab7" => &[
            "survives_key_rotation_without_a_failed_call",
            "an_unknown_kid_flood_costs_at_most_one_fetch_per_interval",
            "refuses_tokens_from_another_issuer",
        ],
        _ => &[],
    }
}

/// What a lab's server needs on its command line besides `--addr`, and
/// what must stay alive while it runs: lab 7's server trusts an
/// authorization server (`--issuer`), which the checks run in-process.
/// For the RUN stage and the suite's binary-contract tests; each check
/// starts its own.
#[derive(Default)]
pub struct Prerequisites {
    pub args: Vec<String>,
    _issuer: Option<authz::Running>,
}

/// How the checks start the kit's authorization server: the given
/// `config`, with one set of keys for the whole run unless it brings its
/// own. Making an RSA key takes ~50 ms of CPU, and lab 7's checks start
/// two dozen servers four at a time, on machines with two cores.
pub async fn start_issuer(config: authz::Config) -> anyhow::Result<authz::Running> {
    static KEYS: std::sync::OnceLock<authz::StartingKeys> = std::sync::OnceLock::new();
    let keys = match KEYS.get() {
        Some(keys) => keys.clone(),
        None => {
            let made = tokio::task::spawn_blocking(authz::StartingKeys::generate).await??;
            KEYS.get_or_init(|| made).clone()
        }
    };
    let config = authz::Config {
        starting_keys: config.starting_keys.or(Some(keys)),
        ..config
    };
    authz::start("127.0.0.1:0", config).await
}

/// The [`Prerequisites`] of `lab`'s server (none for most labs).
pub async fn prerequisites(lab: &str) -> anyhow::Result<Prerequisites> {
    Ok(match lab {
        "lab7" => {
            let issuer = start_issuer(authz::Config::default()).await?;
            Prerequisites {
                args: vec!["--issuer".to_owned(), issuer.issuer().to_owned()],
                _issuer: Some(issuer),
            }
        }
        _ => Prerequisites::default(),
    })
}

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}
