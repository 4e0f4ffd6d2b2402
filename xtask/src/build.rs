//! Building a lab (or the checks) with cargo and finding the executable.

use std::{
    io::{BufRead, BufReader, IsTerminal, Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc::{self, RecvTimeoutError},
    time::{Duration, Instant},
};

use anyhow::Context;
use process_wrap::std::CommandWrap;
use serde::Deserialize;

use crate::contain;

/// What to build.
pub enum Target<'a> {
    /// A binary package of this workspace, e.g. `lab1` or `checks`.
    Package(&'a str),
    /// A lab crate outside the workspace (a fixture or a submission), built
    /// into `target_dir` so it shares nothing with the workspace's lock file.
    Manifest {
        path: &'a Path,
        target_dir: &'a Path,
    },
}

/// A build's result: the student's compile error is data, not an `Err`.
pub enum Built {
    Binary(PathBuf),
    Failed {
        /// The compiler's errors, each once, as rustc renders them.
        compiler: String,
    },
}

/// One line of cargo's `--message-format=json` output (the parts we read).
#[derive(Deserialize)]
struct Message {
    reason: String,
    executable: Option<PathBuf>,
    /// Whether cargo reused an earlier build instead of compiling.
    fresh: Option<bool>,
    message: Option<Diagnostic>,
    success: Option<bool>,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    rendered: Option<String>,
}

/// What one cargo run left: the executable, or the errors that explain why not.
struct CargoRun {
    executable: Option<PathBuf>,
    fresh: bool,
    errors: Vec<String>,
    success: bool,
    stderr: String,
    timed_out: bool,
}

pub fn build(root: &Path, target: &Target<'_>, colour: bool) -> anyhow::Result<Built> {
    let run = run_cargo(root, target, colour, None)?;
    Ok(verdict(run))
}

/// Builds a submission within `limit`. A student's code runs at build time
/// too (proc macros, a build script named in its manifest), so a build that
/// never ends is a failed build, not a stuck grader.
///
/// Cargo and every compiler it started are killed together at the limit: as
/// one process group on Unix, one job object on Windows. The grader rewrites the lab's sources before each build, so a
/// build that cargo considers fresh means another submission's binary would
/// be graded: that is an `Err`, never a grade.
///
/// Cargo runs with `mark` as [`contain::MARK`] in its environment, which its
/// build scripts and compilers inherit, so that whatever they leave running
/// can be found and ended after the build.
pub fn build_submission(
    root: &Path,
    target: &Target<'_>,
    limit: Duration,
    mark: &str,
) -> anyhow::Result<Built> {
    let run = run_cargo(root, target, false, Some((limit, mark)))?;
    if run.timed_out {
        return Ok(Built::Failed {
            compiler: format!(
                "the build did not finish within {} s and was stopped",
                limit.as_secs_f32()
            ),
        });
    }
    if run.executable.is_some() && run.fresh {
        anyhow::bail!(
            "BUG: cargo reused an earlier build of the grading workspace instead of compiling this submission"
        );
    }
    Ok(verdict(run))
}

fn verdict(run: CargoRun) -> Built {
    match run.executable {
        Some(path) if run.success => Built::Binary(path),
        _ if !run.errors.is_empty() => Built::Failed {
            compiler: run.errors.concat(),
        },
        // No compiler message: cargo itself refused (a broken Cargo.toml, …).
        _ => Built::Failed {
            compiler: run.stderr,
        },
    }
}

fn run_cargo(
    root: &Path,
    target: &Target<'_>,
    colour: bool,
    limit: Option<(Duration, &str)>,
) -> anyhow::Result<CargoRun> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).arg("build").arg(if colour {
        "--message-format=json-diagnostic-rendered-ansi"
    } else {
        "--message-format=json"
    });
    match target {
        Target::Package(name) => command.args(["--package", name, "--bin", name]),
        Target::Manifest { path, target_dir } => command
            .arg("--manifest-path")
            .arg(path)
            .arg("--target-dir")
            .arg(target_dir),
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut command = CommandWrap::from(command);
    if let Some((_, mark)) = limit {
        command.command_mut().env(contain::MARK, mark);
        // Its own process group (job object on Windows), so that a timeout
        // can end cargo together with the rustc and build-script processes
        // it started.
        #[cfg(unix)]
        command.wrap(process_wrap::std::ProcessGroup::leader());
        #[cfg(windows)]
        command.wrap(process_wrap::std::JobObject);
    }
    let limit = limit.map(|(limit, _)| limit);
    let mut child = command.spawn().context("cannot run cargo")?;

    // Cargo's progress goes to stderr: show it live to a person (a cold build
    // takes a minute or two), keep it for the report when cargo itself fails.
    // A class's submission builds are quick and would only scroll by.
    let live = limit.is_none() && std::io::stderr().is_terminal();
    let stderr = child.stderr().take().context("no stderr pipe")?;
    let (stderr_tx, stderr_rx) = mpsc::channel();
    std::thread::spawn(move || stderr_tx.send(relay_progress(stderr, live)));
    let stdout = child.stdout().take().context("no stdout pipe")?;
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = limit.map(|limit| Instant::now() + limit);
    let mut run = CargoRun {
        executable: None,
        fresh: false,
        errors: Vec::new(),
        success: false,
        stderr: String::new(),
        timed_out: false,
    };
    loop {
        let line = match deadline {
            None => match lines.recv() {
                Ok(line) => line,
                Err(_) => break,
            },
            Some(deadline) => {
                match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(line) => line,
                    Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {
                        // The group or job; already gone is fine.
                        let _ = child.start_kill();
                        // Cargo itself, again, so that `wait` returns even
                        // if the group could not be signalled.
                        let cargo = child.inner_mut();
                        let _ = cargo.start_kill();
                        let _ = cargo.wait();
                        run.timed_out = true;
                        return Ok(run);
                    }
                }
            }
        };
        let Ok(message) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        match message.reason.as_str() {
            "compiler-artifact" if message.executable.is_some() => {
                run.executable = message.executable;
                run.fresh = message.fresh.unwrap_or(false);
            }
            "compiler-message" => {
                if let Some(Diagnostic {
                    level,
                    rendered: Some(rendered),
                }) = message.message
                    && level == "error"
                {
                    run.errors.push(rendered);
                }
            }
            "build-finished" => run.success = message.success.unwrap_or(false),
            _ => {}
        }
    }
    // Cargo itself, not its whole group or job as `child.wait()` would: a
    // process a build script left behind (adopted by the grader, a
    // subreaper) would hold the grader until it ended. contain.rs ends it.
    child.inner_mut().wait().context("cannot wait for cargo")?;
    // A build script that left a process holding the pipe must not hold the
    // grader too: wait a moment for the rest of stderr, then go on without it.
    run.stderr = stderr_rx
        .recv_timeout(Duration::from_secs(2))
        .unwrap_or_default();
    Ok(run)
}

/// Echoes cargo's stderr to ours when `live`; returns it all.
fn relay_progress(stderr: impl Read, live: bool) -> String {
    let mut all = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if live {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        all.push_str(&line);
        all.push('\n');
    }
    all
}
