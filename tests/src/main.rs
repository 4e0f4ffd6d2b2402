//! `checks`: runs one lab's checks against a lab binary and prints one JSON
//! event per line (see `labs_meta::report`). `cargo xtask check` and
//! `cargo xtask grade` drive it; it is rarely run by hand.

use std::{io::Write, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use checks::{LabBinary, runner};
use clap::Parser;
use labs_meta::{
    Catalog,
    report::{CheckResult, Event},
};

#[derive(Parser)]
#[command(about = "Run a lab's checks against a lab binary; prints JSON lines")]
struct Args {
    /// Lab id from labs.toml, e.g. lab1.
    #[arg(long)]
    lab: String,
    /// The lab binary to judge (a student's labN or labN-solution).
    #[arg(long)]
    bin: PathBuf,
    /// Seconds the server gets to print `listening on`.
    #[arg(long, default_value_t = 10.0)]
    start_timeout: f64,
    /// Seconds one check may take before it fails.
    #[arg(long, default_value_t = runner::CHECK_TIMEOUT.as_secs_f64())]
    check_timeout: f64,
    /// Seconds the whole run may take; checks not finished by then fail.
    #[arg(long)]
    deadline: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let catalog =
        Catalog::load(&checks::repo_root().join("labs.toml")).map_err(anyhow::Error::msg)?;
    let lab = catalog
        .lab(&args.lab)
        .with_context(|| format!("no lab `{}` in labs.toml", args.lab))?;
    let ids: Vec<String> = lab.checks.iter().map(|c| c.id.clone()).collect();
    let start_timeout = seconds(args.start_timeout, "--start-timeout")?;
    let check_timeout = seconds(args.check_timeout, "--check-timeout")?;
    let deadline = args
        .deadline
        .map(|s| seconds(s, "--deadline"))
        .transpose()?;
    // Servers run in a scratch directory, so the path must not be relative.
    let path = std::fs::canonicalize(&args.bin)
        .with_context(|| format!("no lab binary at `{}`", args.bin.display()))?;
    let bin = LabBinary {
        path,
        start_timeout,
    };

    let mut out = Printer::default();
    // Each branch that wins drops the run, and with it every server it
    // started (`RunningServer` kills its process group on drop). Dying on
    // the default signal action instead would leave those servers behind.
    let stopped = tokio::select! {
        () = runner::run_with(&args.lab, &bin, &ids, check_timeout, |e| out.print(&e)) => None,
        () = sleep_or_forever(deadline) => Some(Stop::Deadline),
        () = interrupted() => Some(Stop::Signal),
    };
    match stopped {
        None => {}
        Some(Stop::Signal) => return Ok(ExitCode::from(130)),
        Some(Stop::Deadline) if !out.never_listened => {
            // Every check still owed fails, so the report stays complete.
            let seconds = deadline.map_or(0.0, |d| d.as_secs_f32());
            for id in ids.iter().skip(out.checks) {
                out.print(&Event::Check(CheckResult::not_judged(
                    id.clone(),
                    format!("not finished: all checks together may take {seconds} s"),
                )));
            }
        }
        Some(Stop::Deadline) => {}
    }
    Ok(if out.failed || out.never_listened {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints events and remembers what it printed.
#[derive(Default)]
struct Printer {
    checks: usize,
    failed: bool,
    never_listened: bool,
}

impl Printer {
    fn print(&mut self, event: &Event) {
        match event {
            Event::Check(result) => {
                self.checks += 1;
                self.failed |= !result.passed();
            }
            Event::NeverListened { .. } => self.never_listened = true,
        }
        let mut stdout = std::io::stdout().lock();
        // The runner reads these lines as they come; a closed pipe means it
        // is gone, and there is no one left to tell.
        let _ = writeln!(stdout, "{}", event.to_line());
        let _ = stdout.flush();
    }
}

enum Stop {
    Deadline,
    Signal,
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a positive number of seconds"))
}

async fn sleep_or_forever(limit: Option<Duration>) {
    match limit {
        Some(limit) => tokio::time::sleep(limit).await,
        None => std::future::pending().await,
    }
}

/// Ctrl-C, or SIGTERM from a grader or CI runner that gives up on us.
async fn interrupted() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    // Windows has no SIGTERM: a runner that gives up ends the job instead.
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
