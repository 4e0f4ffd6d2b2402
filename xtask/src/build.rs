//! Building a lab (or the checks) with cargo and finding the executable.

use std::{
    io::{BufRead, BufReader, IsTerminal, Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::Context;
use serde::Deserialize;

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
    message: Option<Diagnostic>,
    success: Option<bool>,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    rendered: Option<String>,
}

pub fn build(root: &Path, target: &Target<'_>, colour: bool) -> anyhow::Result<Built> {
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
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo")?;

    // Cargo's progress goes to stderr: show it live to a person (a cold build
    // takes a minute or two), keep it for the report when cargo itself fails.
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let progress = std::thread::spawn(move || relay_progress(stderr));

    let mut executable = None;
    let mut errors = Vec::new();
    let mut success = false;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("cannot read cargo's output")?;
        let Ok(message) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        match message.reason.as_str() {
            "compiler-artifact" if message.executable.is_some() => executable = message.executable,
            "compiler-message" => {
                if let Some(Diagnostic {
                    level,
                    rendered: Some(rendered),
                }) = message.message
                {
                    if level == "error" {
                        errors.push(rendered);
                    }
                }
            }
            "build-finished" => success = message.success.unwrap_or(false),
            _ => {}
        }
    }
    child.wait().context("cannot wait for cargo")?;
    let cargo_stderr = progress.join().unwrap_or_default();

    match executable {
        Some(path) if success => Ok(Built::Binary(path)),
        _ if !errors.is_empty() => Ok(Built::Failed {
            compiler: errors.concat(),
        }),
        // No compiler message: cargo itself refused (a broken Cargo.toml, …).
        _ => Ok(Built::Failed {
            compiler: cargo_stderr,
        }),
    }
}

/// Echoes cargo's stderr to ours when a person is watching; returns it all.
fn relay_progress(stderr: impl Read) -> String {
    let live = std::io::stderr().is_terminal();
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
