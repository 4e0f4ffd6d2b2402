//! The kit's runner, following the cargo-xtask convention
//! (<https://github.com/matklad/cargo-xtask>): `cargo xtask <command>`.
//!
//! - no command: the progress list and the next step ([`status`], [`progress`]).
//! - `check`: build a lab, run its checks, print the checklist ([`check`];
//!   the stages in [`pipeline`], what they find in [`outcome`], rendered by
//!   [`report`]).
//! - `list`: every lab with its status from the last check ([`status`]).
//! - `watch`, `reset`, `diff`, `doctor`: a student's tools ([`watch`],
//!   [`reset`], [`diff`], [`doctor`]).
//! - `hint`: hints from vague to concrete.
//! - `grade`: a class against the instructor's checks ([`grade`]; the
//!   [`grader`] pipeline, [`overlay`] what is taken, [`workspace`] where it
//!   builds, [`grades`] the report writers).
//! - `gradescope`: one submission in Gradescope's autograder ([`gradescope`]).
//! - `classroom`: the GitHub Classroom workflow, from labs.toml ([`classroom`]).
//!
//! A student's failure is data (an [`outcome::Outcome`]); an `Err` means the
//! runner itself could not work. Modules are layered, each using only those
//! below it (`layers.rs` lists them and tests it).

mod build;
mod check;
mod classroom;
mod contain;
mod diff;
mod doctor;
mod grade;
mod grader;
mod grades;
mod gradescope;
#[cfg(test)]
mod layers;
mod outcome;
mod overlay;
mod pipeline;
mod process;
mod progress;
mod reach;
mod report;
mod reset;
mod status;
mod style;
mod unzip;
mod watch;
mod workspace;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use labs_meta::Catalog;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Run, check and grade the mcp-auth-labs",
    after_help = "Without a command: your progress, and the exact command for the next step."
)]
struct Cli {
    /// Without a command: your progress and the next step.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Build a lab, run its checks and print what is still wrong.
    Check(check::CheckArgs),
    /// List the labs with the result of their last check.
    List,
    /// Check a lab again each time one of its files is saved.
    Watch(watch::WatchArgs),
    /// Put a lab's files back to the starter (yours are saved first).
    Reset(reset::ResetArgs),
    /// Show your files beside the reference solution's (after a pass).
    Diff(diff::DiffArgs),
    /// Check that this machine has what the kit needs.
    Doctor,
    /// Show a hint for a lab; higher levels are more concrete.
    Hint {
        /// The lab, e.g. lab1.
        lab: String,
        /// 1 is a nudge, the last level nearly gives the answer.
        #[arg(long, default_value_t = 1)]
        level: usize,
    },
    /// Grade every student's submission in a folder (for instructors).
    Grade(grade::GradeArgs),
    /// Grade the submission in Gradescope's autograder layout.
    Gradescope(gradescope::GradescopeArgs),
    /// Write docs/github-classroom/classroom.yml from labs.toml (for instructors).
    Classroom(classroom::ClassroomArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let root = project_root();
    let catalog = Catalog::load(&root.join("labs.toml")).map_err(anyhow::Error::msg)?;
    let Some(command) = cli.command else {
        status::print_list(&root, &catalog);
        return Ok(ExitCode::SUCCESS);
    };
    match command {
        Command::Check(args) => check::run(&root, &catalog, &args),
        Command::List => {
            status::print_list(&root, &catalog);
            Ok(ExitCode::SUCCESS)
        }
        Command::Watch(args) => watch::run(&root, &catalog, &args),
        Command::Reset(args) => reset::run(&root, &catalog, &args),
        Command::Diff(args) => diff::run(&root, &catalog, &args),
        Command::Doctor => doctor::run(&root),
        Command::Hint { lab, level } => {
            let lab = catalog.find(&lab).map_err(anyhow::Error::msg)?;
            report::print_hint(lab, level);
            Ok(ExitCode::SUCCESS)
        }
        Command::Grade(args) => grade::run(&root, &catalog, &args),
        Command::Gradescope(args) => gradescope::run(&root, &catalog, &args),
        Command::Classroom(args) => classroom::run(&root, &catalog, &args),
    }
}

/// The repository root, wherever `cargo xtask` is run from. `XTASK_ROOT`
/// overrides it for the runner's own tests, which reset and diff labs in a
/// temporary copy of the kit.
fn project_root() -> PathBuf {
    if let Some(root) = std::env::var_os("XTASK_ROOT") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}
