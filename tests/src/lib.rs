//! The labs' checks: named, ordered scenarios run against a lab's binary
//! over HTTP and stdout, each judged by an insta snapshot.
//!
//! # Layout
//! - [`harness`]: start a lab's server (free port, wait for `listening on`,
//!   killed afterwards) or run its client.
//! - [`http`]: raw requests and how a reply is rendered for a snapshot.
//! - [`mcp`]: a reference MCP client for the "this should work" paths.
//! - [`recorder`]: a reference server that records what a lab's client sends.
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
pub mod mcp;
pub mod recorder;
pub mod redact;
pub mod refresh_server;
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
        "lab1" => (lab1::CHECKS, security::lab1::CHECKS),
        "lab2" => (lab2::CHECKS, security::lab2::CHECKS),
        "lab3" => (lab3::CHECKS, security::lab3::CHECKS),
        "lab4" => (lab4::CHECKS, security::lab4::CHECKS),
        "lab5" => (lab5::CHECKS, security::lab5::CHECKS),
        "lab6" => (lab6::CHECKS, security::lab6::CHECKS),
        _ => return None,
    };
    Some(own.iter().chain(shared).copied().collect())
}

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}
