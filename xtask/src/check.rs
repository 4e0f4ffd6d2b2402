//! `cargo xtask check`: locate → build → run the checks → verdict.
//!
//! **Invariant:** this module never prints; `report` renders what it
//! returns. Nothing is written into the lab's folder.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    sync::mpsc::{self, RecvTimeoutError},
    time::{Duration, Instant},
};

use anyhow::Context;
use labs_meta::{
    Catalog, Lab,
    report::{CheckResult, Event},
};

use crate::{
    build::{self, Built},
    progress, report, status, style,
};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The lab to check, e.g. lab1; without it, the labs and the next one to do.
    pub lab: Option<String>,
    /// Check the current lab: the first that does not pass yet.
    #[arg(long, conflicts_with_all = ["lab", "solution", "path"])]
    pub current: bool,
    /// Check the reference solution instead of your starter.
    #[arg(long)]
    pub solution: bool,
    /// Check the lab crate in DIR instead of labs/<lab>-<slug>.
    #[arg(long, value_name = "DIR", conflicts_with = "solution")]
    pub path: Option<PathBuf>,
    /// Seconds the server gets to print `listening on`.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub start_timeout: f64,
}

/// Which crate is judged.
pub enum Source {
    Starter,
    Solution,
    /// A lab crate outside the workspace (a runner fixture, a submission).
    Dir(PathBuf),
}

/// The verdict of one `check` run.
pub enum Outcome {
    /// BUILD: the lab does not compile.
    BuildFailed { compiler: String },
    /// RUN: the server never announced `listening on`.
    NeverListened { reason: String, output: String },
    /// CHECK: one result per check, in catalogue order.
    Checked(Vec<CheckResult>),
}

impl Outcome {
    pub fn passed(&self) -> usize {
        match self {
            Outcome::Checked(results) => results.iter().filter(|r| r.passed).count(),
            _ => 0,
        }
    }
}

pub fn run(root: &Path, catalog: &Catalog, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let lab = match (&args.lab, args.current) {
        (Some(lab), _) => crate::find_lab(catalog, lab)?,
        (None, true) => match progress::Progress::load(root, catalog).current(catalog) {
            Some(lab) => lab,
            None => {
                status::print_list(root, catalog);
                return Ok(ExitCode::SUCCESS);
            }
        },
        (None, false) => {
            status::print_list(root, catalog);
            // Not a pass: a CI step that forgot the lab must not go green.
            return Ok(ExitCode::from(2));
        }
    };
    let source = match (&args.path, args.solution) {
        (Some(dir), _) => Source::Dir(dir.clone()),
        (None, true) => Source::Solution,
        (None, false) => Source::Starter,
    };
    let options = Options {
        start_timeout: args.start_timeout,
        check_timeout: None,
        deadline: None,
        colour: style::compiler_colour(),
    };
    let mut live = report::Live::new(lab);
    let outcome = judge(root, lab, &source, &options, |event| live.event(event))?;
    live.finish(&outcome);
    if matches!(source, Source::Starter) {
        progress::record(root, catalog, lab, &outcome);
    }
    let all = outcome.passed() == lab.checks.len();
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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

/// Builds `source` and runs `lab`'s checks against it, handing each event to
/// `on_event` as it happens (the live checklist).
pub fn judge(
    root: &Path,
    lab: &Lab,
    source: &Source,
    options: &Options,
    mut on_event: impl FnMut(Progress<'_>),
) -> anyhow::Result<Outcome> {
    let checks_bin = match build::build(root, &build::Target::Package("checks"), false)? {
        Built::Binary(path) => path,
        Built::Failed { compiler } => {
            anyhow::bail!("the kit's checks crate does not build:\n{compiler}")
        }
    };

    let package = lab.package(matches!(source, Source::Solution));
    on_event(Progress::Building(&package));
    let manifest;
    let outside_target;
    let target = match source {
        Source::Dir(dir) => {
            manifest = dir.join("Cargo.toml");
            // One target dir per folder: cargo identifies a path package by
            // its path relative to its workspace, so two outside labs named
            // `lab1` would otherwise overwrite each other's build.
            let name = dir
                .file_name()
                .map_or("lab".into(), |n| n.to_string_lossy());
            outside_target = root.join("target").join("outside").join(name.as_ref());
            build::Target::Manifest {
                path: &manifest,
                target_dir: &outside_target,
            }
        }
        _ => build::Target::Package(&package),
    };
    let lab_bin = match build::build(root, &target, options.colour)? {
        Built::Binary(path) => path,
        Built::Failed { compiler } => return Ok(Outcome::BuildFailed { compiler }),
    };
    on_event(Progress::Built);

    run_checks(&checks_bin, &lab_bin, lab, options, on_event)
}

/// Steps of a run, for the live checklist.
pub enum Progress<'a> {
    Building(&'a str),
    Built,
    Event(&'a Event),
}

/// Runs the checks binary against `lab_bin` (already built) and collects
/// its verdicts.
pub fn run_checks(
    checks_bin: &Path,
    lab_bin: &Path,
    lab: &Lab,
    options: &Options,
    mut on_event: impl FnMut(Progress<'_>),
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
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{}`", checks_bin.display()))?;
    let mut stderr = child.stderr.take().context("no stderr pipe")?;
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let stdout = child.stdout.take().context("no stdout pipe")?;
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let kill_at = options
        .deadline
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .map(|deadline| Instant::now() + deadline + DEADLINE_GRACE);

    let mut results = Vec::new();
    loop {
        let line = match kill_at {
            None => match lines.recv() {
                Ok(line) => line,
                Err(_) => break,
            },
            Some(at) => match lines.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(line) => line,
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    break;
                }
            },
        };
        let Some(event) = Event::parse(&line) else {
            continue;
        };
        on_event(Progress::Event(&event));
        match event {
            Event::NeverListened { reason, output } => {
                let _ = child.wait();
                return Ok(Outcome::NeverListened { reason, output });
            }
            Event::Check(result) => results.push(result),
        }
    }
    let status = child.wait().context("cannot wait for the checks")?;
    let stderr = stderr_reader.join().unwrap_or_default();

    // A check binary that died mid-run leaves the rest unjudged: they fail.
    for check in &lab.checks[results.len().min(lab.checks.len())..] {
        let result = CheckResult::not_observed(
            check.id.clone(),
            format!(
                "the checks stopped before this one ({status}): {}",
                stderr.trim()
            ),
        );
        on_event(Progress::Event(&Event::Check(result.clone())));
        results.push(result);
    }
    Ok(Outcome::Checked(results))
}
