//! The pipeline under `cargo xtask check` and the grader: discover the lab
//! crate → build it (and the checks) → run the checks binary against it →
//! judge its events into an [`Outcome`].
//!
//! **Invariant:** this module never prints; the caller renders what it
//! returns (and each [`Step`] as it happens). Nothing is written into the
//! lab's folder.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::Context;
use labs_meta::{
    Lab,
    report::{CheckResult, Event},
};

use crate::{
    build::{self, Built},
    outcome::{Outcome, Step},
    process::{Child, Stdout, Tree},
};

/// Which crate is judged.
pub enum Source {
    Starter,
    Solution,
    /// A lab crate outside the workspace (a runner fixture, a submission).
    Dir(PathBuf),
}

pub struct Options {
    /// Seconds the server gets to print `listening on`.
    pub start_timeout: f64,
    /// Seconds one check may take; `None` keeps the checks' own default.
    pub check_timeout: Option<f64>,
    /// Seconds all checks together may take (grading); `None` for no limit.
    pub deadline: Option<f64>,
    pub colour: bool,
}

/// How long the checks binary gets past its own `--deadline` before it is
/// killed. It stops itself at the deadline (ending its servers on the way);
/// the kill is for a checks binary that is itself broken.
const DEADLINE_GRACE: Duration = Duration::from_secs(10);

/// How long the rest of the checks binary's stderr is waited for once it
/// has exited (a server it failed to stop could hold the pipe).
const STDERR_PATIENCE: Duration = Duration::from_secs(2);

/// Builds `source` and runs `lab`'s checks against it, handing each event to
/// `on_event` as it happens (the live checklist).
pub fn judge(
    root: &Path,
    lab: &Lab,
    source: &Source,
    options: &Options,
    mut on_event: impl FnMut(Step<'_>),
) -> anyhow::Result<Outcome> {
    let found = discover(root, lab, source);
    on_event(Step::Building(&found.package));
    let (lab_built, checks_bin) = match found.outside {
        // One cargo run for both, when both are in the workspace.
        None => build::build_with_checks(root, &found.package, options.colour)?,
        Some(_) => {
            let checks_bin = build_checks(root)?;
            let built = build::build(root, &found.target(), options.colour)?;
            (built, Some(checks_bin))
        }
    };
    let lab_bin = match lab_built {
        Built::Binary(path) => path,
        Built::Failed { compiler } => return Ok(Outcome::BuildFailed { compiler }),
    };
    let checks_bin = checks_bin.context("cargo built the lab but named no `checks` binary")?;
    on_event(Step::Built);

    run_checks(&checks_bin, &lab_bin, lab, options, on_event)
}

/// The kit's checks binary, built; its failing to build is the kit's
/// trouble, never a student's.
pub fn build_checks(root: &Path) -> anyhow::Result<PathBuf> {
    match build::build(root, &build::Target::Package(build::CHECKS), false)? {
        Built::Binary(path) => Ok(path),
        Built::Failed { compiler } => Err(build::checks_do_not_build(&compiler)),
    }
}

/// Where the lab crate to judge is, and how cargo builds it.
struct Found {
    package: String,
    /// A crate outside the workspace: its manifest and its target dir.
    outside: Option<(PathBuf, PathBuf)>,
}

impl Found {
    fn target(&self) -> build::Target<'_> {
        match &self.outside {
            Some((path, target_dir)) => build::Target::Manifest { path, target_dir },
            None => build::Target::Package(&self.package),
        }
    }
}

/// The discover stage: the package `source` names, and where it is.
fn discover(root: &Path, lab: &Lab, source: &Source) -> Found {
    let package = lab.package(matches!(source, Source::Solution));
    let outside = match source {
        Source::Dir(dir) => {
            // One target dir per folder: cargo identifies a path package by
            // its path relative to its workspace, so two outside labs named
            // `lab1` would otherwise overwrite each other's build.
            let name = dir
                .file_name()
                .map_or("lab".into(), |n| n.to_string_lossy());
            let target_dir = root.join("target").join("outside").join(name.as_ref());
            Some((dir.join("Cargo.toml"), target_dir))
        }
        Source::Starter | Source::Solution => None,
    };
    Found { package, outside }
}

/// Runs the checks binary against `lab_bin` (already built) and collects
/// its verdicts.
pub fn run_checks(
    checks_bin: &Path,
    lab_bin: &Path,
    lab: &Lab,
    options: &Options,
    mut on_event: impl FnMut(Step<'_>),
) -> anyhow::Result<Outcome> {
    let mut command = Command::new(checks_bin);
    command
        .arg("--lab")
        .arg(&lab.id)
        .arg("--bin")
        .arg(lab_bin)
        .arg("--start-timeout")
        .arg(options.start_timeout.to_string());
    if let Some(seconds) = options.check_timeout {
        command.arg("--check-timeout").arg(seconds.to_string());
    }
    if let Some(seconds) = options.deadline {
        command.arg("--deadline").arg(seconds.to_string());
    }
    let mut checks = Child::spawn(command, Tree::Shared, false)?;
    let kill_at = options
        .deadline
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .map(|deadline| Instant::now() + deadline + DEADLINE_GRACE);
    let mut results = Vec::new();
    loop {
        let line = match checks.next_line(kill_at) {
            Stdout::Line(line) => line,
            Stdout::End => break,
            Stdout::Deadline => {
                checks.stop();
                break;
            }
        };
        let Some(event) = Event::parse(&line) else {
            continue;
        };
        on_event(Step::Event(&event));
        match event {
            Event::NeverListened { reason, output } => {
                let _ = checks.wait();
                return Ok(Outcome::NeverListened { reason, output });
            }
            Event::Check(result) => results.push(result),
        }
    }
    let status = checks.wait()?;
    let stderr = checks.stderr(STDERR_PATIENCE);

    // A check binary that died mid-run leaves the rest unjudged: they fail.
    for check in &lab.checks[results.len().min(lab.checks.len())..] {
        let result = CheckResult::runner_broke(
            check.id.clone(),
            format!(
                "the checks stopped before this one ({status}): {}",
                stderr.trim()
            ),
        );
        on_event(Step::Event(&Event::Check(result.clone())));
        results.push(result);
    }
    Ok(Outcome::Checked(results))
}
