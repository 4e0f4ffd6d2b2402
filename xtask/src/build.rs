//! Building a lab (or the checks) with cargo and finding the executable.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use serde::Deserialize;

use crate::{
    contain,
    process::{Child, Stdout, Tree},
};

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
#[derive(Default)]
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

/// Runs `cargo build` for `target`; with a `limit`, in a process tree of
/// its own with `mark` in its environment, stopped at the limit.
fn run_cargo(
    root: &Path,
    target: &Target<'_>,
    colour: bool,
    limit: Option<(Duration, &str)>,
) -> anyhow::Result<CargoRun> {
    let mut command = cargo_build(root, target, colour);
    if let Some((_, mark)) = limit {
        command.env(contain::MARK, mark);
    }
    // Cargo's progress goes to stderr: show it live to a person (a cold build
    // takes a minute or two), keep it for the report when cargo itself fails.
    // A class's submission builds are quick and would only scroll by.
    let live = limit.is_none() && std::io::stderr().is_terminal();
    let tree = if limit.is_some() {
        Tree::Own
    } else {
        Tree::Shared
    };
    let mut cargo = Child::spawn(command, tree, live)?;
    let deadline = limit.map(|(limit, _)| Instant::now() + limit);
    let mut run = CargoRun::default();
    loop {
        match cargo.next_line(deadline) {
            Stdout::Line(line) => run.read(&line),
            Stdout::End => break,
            Stdout::Deadline => {
                cargo.stop();
                run.timed_out = true;
                return Ok(run);
            }
        }
    }
    cargo.wait()?;
    run.stderr = cargo.stderr(Duration::from_secs(2));
    Ok(run)
}

/// `cargo build` for `target`, its messages as JSON lines.
fn cargo_build(root: &Path, target: &Target<'_>, colour: bool) -> Command {
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
}

impl CargoRun {
    /// Takes in one line of cargo's output.
    fn read(&mut self, line: &str) {
        let Ok(message) = serde_json::from_str::<Message>(line) else {
            return;
        };
        match message.reason.as_str() {
            "compiler-artifact" if message.executable.is_some() => {
                self.executable = message.executable;
                self.fresh = message.fresh.unwrap_or(false);
            }
            "compiler-message" => {
                if let Some(Diagnostic {
                    level,
                    rendered: Some(rendered),
                }) = message.message
                    && level == "error"
                {
                    self.errors.push(rendered);
                }
            }
            "build-finished" => self.success = message.success.unwrap_or(false),
            _ => {}
        }
    }
}
