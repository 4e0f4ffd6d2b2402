//! `cargo xtask doctor`: whether this machine has what the kit needs, each
//! problem with the command that fixes it.
//!
//! ✗ is a problem that stops the labs (exit code 1); ! is worth knowing
//! but stops nothing (Python is only for the kit's interop tests).

use std::{
    net::TcpListener,
    path::Path,
    process::{Command, ExitCode},
};

use crate::style::Style;

/// The port a lab's server listens on when started by hand.
const PORT: u16 = 3000;
/// Below this much free disk, a first build of every lab may not fit.
const DISK_NEEDED_GB: f64 = 4.0;
/// Below this, even one lab's build is unlikely to fit.
const DISK_MINIMUM_GB: f64 = 1.0;
/// What the interop tests' pinned `mcp` SDK needs.
const PYTHON_MINIMUM: (u64, u64) = (3, 11);

enum Level {
    Ok,
    Warn,
    Problem,
}

struct Finding {
    level: Level,
    text: String,
    /// The command (or step) that fixes it.
    fix: Option<String>,
}

impl Finding {
    fn ok(text: String) -> Finding {
        Finding {
            level: Level::Ok,
            text,
            fix: None,
        }
    }

    fn warn(text: String, fix: &str) -> Finding {
        Finding {
            level: Level::Warn,
            text,
            fix: Some(fix.to_owned()),
        }
    }

    fn problem(text: String, fix: &str) -> Finding {
        Finding {
            level: Level::Problem,
            text,
            fix: Some(fix.to_owned()),
        }
    }
}

pub fn run(root: &Path) -> anyhow::Result<ExitCode> {
    println!("{}\n", Style::terminal().bold("mcp-auth-labs · doctor"));
    let (rust, host) = rust(root);
    let findings = [
        rust,
        dependencies(root, host.as_deref()),
        port(),
        disk(root),
        git(),
        python(),
    ];
    let mut problems = 0;
    for finding in &findings {
        let mark = match finding.level {
            Level::Ok => Style::terminal().green("✓"),
            Level::Warn => Style::terminal().bold("!"),
            Level::Problem => {
                problems += 1;
                Style::terminal().red("✗")
            }
        };
        println!("  {mark} {}", finding.text);
        if let Some(fix) = &finding.fix {
            println!("      fix: {fix}");
        }
    }
    println!();
    if problems == 0 {
        println!("Ready. Next: `cargo xtask` shows your progress and the next step.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{problems} problem(s) to fix first (✗ above), then run `cargo xtask doctor` again."
        );
        Ok(ExitCode::FAILURE)
    }
}

/// The toolchain against the workspace's `rust-version`; also returns the
/// host target (`cargo fetch` checks it).
fn rust(root: &Path) -> (Finding, Option<String>) {
    let minimum = minimum_rust(root).unwrap_or_else(|| "1.88".to_owned());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Some(verbose) = output(Command::new(rustc).arg("-vV")) else {
        return (
            Finding::problem(
                "Rust (rustc) not found".to_owned(),
                "install it from https://rustup.rs, then open a new terminal",
            ),
            None,
        );
    };
    let field = |name: &str| {
        verbose
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_owned())
    };
    let release = field("release:").unwrap_or_default();
    let host = field("host:");
    let finding = if version(&release) >= version(&minimum) {
        Finding::ok(format!("Rust {release} (the kit needs {minimum} or newer)"))
    } else {
        Finding::problem(
            format!("Rust {release} is older than the kit's minimum, {minimum}"),
            "`rustup update stable`",
        )
    };
    (finding, host)
}

fn minimum_rust(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).ok()?;
    let manifest: toml::Table = text.parse().ok()?;
    let version = manifest
        .get("workspace")?
        .get("package")?
        .get("rust-version")?;
    Some(version.as_str()?.to_owned())
}

/// `1.88`, `1.95.0` or `1.96.0-nightly` as numbers, for comparing.
fn version(text: &str) -> Vec<u64> {
    text.split(['.', '-', ' '])
        .map_while(|part| part.parse().ok())
        .collect()
}

/// Whether every crate the kit needs on this machine is downloaded, so that
/// building needs no network (a classroom prepares with `cargo fetch`).
fn dependencies(root: &Path, host: Option<&str>) -> Finding {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).args(["fetch", "--offline"]);
    // Only this machine's crates: `cargo fetch` alone also wants Windows'
    // on Linux and Linux's on Windows.
    if let Some(host) = host {
        command.args(["--target", host]);
    }
    match output(&mut command) {
        Some(_) => Finding::ok("dependencies are downloaded: the labs build offline".to_owned()),
        None => Finding::warn(
            "some dependencies are not downloaded yet: the first build needs the network"
                .to_owned(),
            "`cargo fetch` while online (a classroom can run it before the lesson)",
        ),
    }
}

fn port() -> Finding {
    match TcpListener::bind(("127.0.0.1", PORT)) {
        Ok(_) => Finding::ok(format!(
            "port {PORT} is free (a server you start by hand listens there)"
        )),
        Err(e) => Finding::warn(
            format!("port {PORT} is taken ({e}): a server you start by hand cannot listen there"),
            &format!(
                "stop what listens on {PORT} (a lab server left running?), or start yours with `--addr 127.0.0.1:3001`; the checks use free ports and are not affected"
            ),
        ),
    }
}

fn disk(root: &Path) -> Finding {
    let Ok(bytes) = fs4::available_space(root) else {
        return Finding::warn(
            "could not read the free disk space".to_owned(),
            &format!("make sure about {DISK_NEEDED_GB} GB are free for the build"),
        );
    };
    #[allow(clippy::cast_precision_loss)]
    let gb = bytes as f64 / 1e9;
    let text = format!(
        "{gb:.1} GB free on the kit's disk (the kit's builds take several GB; keep {DISK_NEEDED_GB} GB free)"
    );
    let fix = "free some space; `cargo clean` empties this kit's target/ (everything in it is rebuilt on demand)";
    if gb < DISK_MINIMUM_GB {
        Finding::problem(text, fix)
    } else if gb < DISK_NEEDED_GB {
        Finding::warn(text, fix)
    } else {
        Finding::ok(text)
    }
}

fn git() -> Finding {
    match output(Command::new("git").arg("--version")) {
        Some(version) => Finding::ok(format!(
            "{} (`cargo xtask reset` takes starters from it)",
            version.trim()
        )),
        None => Finding::warn(
            "git not found: `cargo xtask reset` needs it".to_owned(),
            "install git (https://git-scm.com/downloads)",
        ),
    }
}

/// Python 3.11+ with `venv`, for the optional interop tests only.
fn python() -> Finding {
    let probe = "import sys, venv; print('%d.%d.%d' % sys.version_info[:3])";
    let candidates: &[(&str, &[&str])] = &[("python3", &[]), ("python", &[]), ("py", &["-3"])];
    let mut found = None;
    for (program, args) in candidates {
        if let Some(text) = output(Command::new(program).args(*args).args(["-c", probe])) {
            let text = text.trim().to_owned();
            let numbers = version(&text);
            if numbers.len() >= 2 && (numbers[0], numbers[1]) >= PYTHON_MINIMUM {
                return Finding::ok(format!(
                    "Python {text} with venv (`{program}`), for the kit's optional interop tests"
                ));
            }
            found.get_or_insert(format!("Python {text} (`{program}`)"));
        }
    }
    let (major, minor) = PYTHON_MINIMUM;
    let text = match found {
        Some(old) => format!(
            "{old} is older than {major}.{minor}: only the kit's interop tests need Python, not the labs"
        ),
        None => format!(
            "Python {major}.{minor}+ with venv not found: only the kit's interop tests need it, not the labs"
        ),
    };
    Finding::warn(
        text,
        &format!(
            "install Python {major}.{minor} or newer with venv (https://www.python.org/downloads/; Debian/Ubuntu: `sudo apt install python3-venv`), then `bash interop/setup.sh`"
        ),
    )
}

/// The program's stdout when it ran and succeeded.
fn output(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
