//! `cargo xtask check`: the lab asked for (or the current one), the
//! [`pipeline`] with its steps shown live by [`report`], then the result
//! recorded in [`progress`].

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use labs_meta::Catalog;

use crate::{
    pipeline::{self, Options, Source},
    progress, report, status,
    style::Style,
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

pub fn run(root: &Path, catalog: &Catalog, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let lab = match (&args.lab, args.current) {
        (Some(lab), _) => catalog.find(lab).map_err(anyhow::Error::msg)?,
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
        colour: Style::terminal().colour(),
    };
    let mut live = report::Live::new(lab, Style::terminal());
    let outcome = pipeline::judge(root, lab, &source, &options, |step| live.step(step))?;
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
