//! `checks`: runs one lab's checks against a lab binary and prints one JSON
//! event per line (see `labs_meta::report`). `cargo xtask check` drives it;
//! it is rarely run by hand.

use std::{io::Write, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context, bail};
use checks::{LabBinary, runner};
use clap::Parser;
use labs_meta::Catalog;

#[derive(Parser)]
#[command(about = "Run a lab's checks against a lab binary; prints JSON lines")]
struct Args {
    /// Lab id from labs.toml, e.g. lab1.
    #[arg(long)]
    lab: String,
    /// The lab binary to judge (a student's labN or labN-solution).
    #[arg(long)]
    bin: PathBuf,
    /// Run only this check.
    #[arg(long)]
    only: Option<String>,
    /// Seconds the server gets to print `listening on`.
    #[arg(long, default_value_t = 10.0)]
    start_timeout: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let catalog =
        Catalog::load(&checks::repo_root().join("labs.toml")).map_err(anyhow::Error::msg)?;
    let lab = catalog
        .lab(&args.lab)
        .with_context(|| format!("no lab `{}` in labs.toml", args.lab))?;
    let mut ids: Vec<String> = lab.checks.iter().map(|c| c.id.clone()).collect();
    if let Some(only) = &args.only {
        if !ids.contains(only) {
            bail!("{} has no check `{only}`", args.lab);
        }
        ids.retain(|id| id == only);
    }
    let start_timeout = Duration::try_from_secs_f64(args.start_timeout)
        .context("--start-timeout must be a positive number of seconds")?;
    // Servers run in a scratch directory, so the path must not be relative.
    let path = std::fs::canonicalize(&args.bin)
        .with_context(|| format!("no lab binary at `{}`", args.bin.display()))?;
    let bin = LabBinary {
        path,
        start_timeout,
    };

    let mut all_passed = true;
    runner::run(&args.lab, &bin, &ids, |event| {
        all_passed &= matches!(&event, labs_meta::report::Event::Check(c) if c.passed);
        let mut stdout = std::io::stdout().lock();
        // The runner reads these lines as they come; a closed pipe means it
        // is gone, and there is no one left to tell.
        let _ = writeln!(stdout, "{}", event.to_line());
        let _ = stdout.flush();
    })
    .await;
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
