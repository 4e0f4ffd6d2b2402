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
    /// The crate target an artifact or a diagnostic belongs to.
    target: Option<CrateTarget>,
    executable: Option<PathBuf>,
    /// Whether cargo reused an earlier build instead of compiling.
    fresh: Option<bool>,
    message: Option<Diagnostic>,
    success: Option<bool>,
}

#[derive(Deserialize)]
struct CrateTarget {
    name: String,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    rendered: Option<String>,
}

/// What one cargo run left: the executables, or the errors that explain why not.
#[derive(Default)]
struct CargoRun {
    executables: Vec<Executable>,
    /// Each compiler error as rustc renders it, with the name of the crate
    /// target it is in.
    errors: Vec<(String, String)>,
    success: bool,
    stderr: String,
    timed_out: bool,
}

struct Executable {
    target: String,
    path: PathBuf,
    /// Whether cargo reused an earlier build instead of compiling.
    fresh: bool,
}

pub fn build(root: &Path, target: &Target<'_>, colour: bool) -> anyhow::Result<Built> {
    let run = run_cargo(root, target, &[], colour, None)?;
    Ok(verdict(run, None))
}

/// The workspace lab `package` and the kit's `checks` binary, built by one
/// cargo run: each cargo run costs ~0.25 s even when nothing changed, and a
/// student runs `cargo xtask check` dozens of times per lab.
///
/// The lab's compile error is the student's ([`Built::Failed`]); the checks'
/// is the kit's trouble, an `Err`.
pub fn build_with_checks(
    root: &Path,
    package: &str,
    colour: bool,
) -> anyhow::Result<(Built, Option<PathBuf>)> {
    let run = run_cargo(root, &Target::Package(package), &[CHECKS], colour, None)?;
    lab_and_checks(run, package)
}

/// Splits one cargo run of a lab and the checks into the lab's verdict and
/// the checks' executable.
fn lab_and_checks(mut run: CargoRun, package: &str) -> anyhow::Result<(Built, Option<PathBuf>)> {
    let (kit_errors, lab_errors) = std::mem::take(&mut run.errors)
        .into_iter()
        .partition::<Vec<_>, _>(|(target, _)| target == CHECKS);
    if !kit_errors.is_empty() {
        let rendered: String = kit_errors.into_iter().map(|(_, error)| error).collect();
        return Err(checks_do_not_build(&rendered));
    }
    run.errors = lab_errors;
    let checks = run.executable(CHECKS).map(Path::to_path_buf);
    Ok((verdict(run, Some(package)), checks))
}

/// The package (and binary) that runs the checks.
pub const CHECKS: &str = "checks";

/// The error for a checks crate that does not compile: the kit's trouble,
/// never a student's.
pub fn checks_do_not_build(compiler: &str) -> anyhow::Error {
    anyhow::anyhow!("the kit's checks crate does not build:\n{compiler}")
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
    let run = run_cargo(root, target, &[], false, Some((limit, mark)))?;
    if run.timed_out {
        return Ok(Built::Failed {
            compiler: format!(
                "the build did not finish within {} s and was stopped",
                limit.as_secs_f32()
            ),
        });
    }
    if run.executables.iter().any(|built| built.fresh) {
        anyhow::bail!(
            "BUG: cargo reused an earlier build of the grading workspace instead of compiling this submission"
        );
    }
    Ok(verdict(run, None))
}

/// `run`'s verdict on the binary `wanted` (the only one built when `None`):
/// every compiler error left in `run` explains its failure.
fn verdict(run: CargoRun, wanted: Option<&str>) -> Built {
    let executable = match wanted {
        Some(name) => run.executable(name),
        None => run.executables.last().map(|built| built.path.as_path()),
    };
    let errors: String = run
        .errors
        .iter()
        .map(|(_, rendered)| rendered.as_str())
        .collect();
    match executable {
        Some(path) if run.success => Built::Binary(path.to_path_buf()),
        _ if !errors.is_empty() => Built::Failed { compiler: errors },
        // No compiler message: cargo itself refused (a broken Cargo.toml, …).
        _ => Built::Failed {
            compiler: run.stderr,
        },
    }
}

/// Runs `cargo build` for `target` (and the workspace binaries `also`);
/// with a `limit`, in a process tree of its own with `mark` in its
/// environment, stopped at the limit.
fn run_cargo(
    root: &Path,
    target: &Target<'_>,
    also: &[&str],
    colour: bool,
    limit: Option<(Duration, &str)>,
) -> anyhow::Result<CargoRun> {
    let mut command = cargo_build(root, target, colour);
    for name in also {
        command.args(["--package", name, "--bin", name]);
    }
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
    /// The executable of the binary target `name`, when it was built.
    fn executable(&self, name: &str) -> Option<&Path> {
        self.executables
            .iter()
            .find(|built| built.target == name)
            .map(|built| built.path.as_path())
    }

    /// Takes in one line of cargo's output.
    fn read(&mut self, line: &str) {
        let Ok(message) = serde_json::from_str::<Message>(line) else {
            return;
        };
        match message.reason.as_str() {
            "compiler-artifact" => {
                if let (Some(path), Some(target)) = (message.executable, message.target) {
                    self.executables.push(Executable {
                        target: target.name,
                        path,
                        fresh: message.fresh.unwrap_or(false),
                    });
                }
            }
            "compiler-message" => {
                if let Some(Diagnostic {
                    level,
                    rendered: Some(rendered),
                }) = message.message
                    && level == "error"
                {
                    let target = message.target.map(|target| target.name).unwrap_or_default();
                    self.errors.push((target, rendered));
                }
            }
            "build-finished" => self.success = message.success.unwrap_or(false),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cargo run fed the JSON lines cargo prints.
    fn cargo_run(lines: &[String], success: bool) -> CargoRun {
        let mut run = CargoRun::default();
        for line in lines {
            run.read(line);
        }
        run.read(&format!(
            r#"{{"reason":"build-finished","success":{success}}}"#
        ));
        run
    }

    fn artifact(name: &str) -> String {
        format!(
            r#"{{"reason":"compiler-artifact","target":{{"name":"{name}","kind":["bin"]}},"executable":"/t/debug/{name}","fresh":true}}"#
        )
    }

    fn error(target: &str, text: &str) -> String {
        format!(
            r#"{{"reason":"compiler-message","target":{{"name":"{target}","kind":["bin"]}},"message":{{"level":"error","rendered":"{text}"}}}}"#
        )
    }

    #[test]
    fn one_run_finds_the_lab_and_the_checks_by_name() {
        let run = cargo_run(&[artifact("lab1"), artifact(CHECKS)], true);
        let (lab, checks) = lab_and_checks(run, "lab1").expect("both built");
        assert!(matches!(lab, Built::Binary(path) if path == Path::new("/t/debug/lab1")));
        assert_eq!(checks.as_deref(), Some(Path::new("/t/debug/checks")));
    }

    #[test]
    fn a_compile_error_in_the_lab_is_the_students() {
        let run = cargo_run(&[artifact(CHECKS), error("lab1", "error: in lab1")], false);
        let (lab, _) = lab_and_checks(run, "lab1").expect("a student's error is no Err");
        assert!(matches!(lab, Built::Failed { compiler } if compiler == "error: in lab1"));
    }

    #[test]
    fn a_compile_error_in_the_checks_is_the_kits() {
        let run = cargo_run(
            &[
                error(CHECKS, "error: in checks"),
                error("lab1", "error: in lab1"),
            ],
            false,
        );
        let Err(kit) = lab_and_checks(run, "lab1") else {
            panic!("the kit's error must be an Err");
        };
        let message = format!("{kit:#}");
        assert!(
            message.contains("the kit's checks crate does not build"),
            "{message}"
        );
        assert!(
            message.contains("error: in checks") && !message.contains("in lab1"),
            "{message}"
        );
    }
}
