//! `cargo xtask diff labN`: the student's files beside the reference
//! solution's, as a unified diff (coloured on a terminal).
//!
//! Once the lab passes it is a second opinion; before that it is the answer,
//! so it takes `--spoil`, a flag that says what it does.

use std::{path::Path, process::ExitCode};

use labs_meta::{Catalog, Lab};
use similar::TextDiff;

use crate::{progress::Progress, style::Style};

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The lab, e.g. lab1.
    pub lab: String,
    /// Show the reference's files before your lab passes: this spoils the lab.
    #[arg(long)]
    pub spoil: bool,
}

pub fn run(root: &Path, catalog: &Catalog, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let lab = catalog.find(&args.lab).map_err(anyhow::Error::msg)?;
    let progress = Progress::load(root, catalog);
    let entry = progress.get(lab);
    let passes = entry.is_some_and(|entry| entry.passes(lab));
    if !passes {
        let last = entry.map_or("never checked".to_owned(), |entry| {
            format!("{}, {}/{}", entry.result, entry.passed, entry.total)
        });
        if !args.spoil {
            println!(
                "{} does not pass yet (last check: {last}), so the reference's files would give the answers away.",
                lab.id
            );
            println!(
                "Finish it first: `cargo xtask check {}`; stuck? `cargo xtask hint {}`.",
                lab.id, lab.id
            );
            println!(
                "To see them anyway, which spoils the lab: `cargo xtask diff {} --spoil`",
                lab.id
            );
            return Ok(ExitCode::FAILURE);
        }
        println!(
            "{}",
            Style::terminal().red(&format!(
                "Spoiler: {} does not pass yet (last check: {last}); the + lines below are the reference's answer.",
                lab.id
            ))
        );
        println!();
    }
    print!("{}", render(root, lab));
    Ok(ExitCode::SUCCESS)
}

/// Every student file of `lab`, yours (-) against the reference's (+).
fn render(root: &Path, lab: &Lab) -> String {
    let mut out = format!(
        "{} · your files (-) beside {}/ (+)\n\n",
        Style::terminal().bold(&lab.id),
        lab.solution_dir()
    );
    for file in &lab.student_files {
        let yours_path = format!("{}/{file}", lab.starter_dir());
        let reference_path = format!("{}/{file}", lab.solution_dir());
        let yours = read(root, &yours_path);
        let reference = read(root, &reference_path);
        if yours == reference {
            out.push_str(&format!("{yours_path}: the same as the reference\n\n"));
            continue;
        }
        let diff = TextDiff::from_lines(&yours, &reference);
        let unified = diff
            .unified_diff()
            .context_radius(3)
            .header(&yours_path, &reference_path)
            .to_string();
        for line in unified.lines() {
            let line = if line.starts_with("---") || line.starts_with("+++") {
                Style::terminal().bold(line)
            } else if line.starts_with("@@") {
                Style::terminal().dim(line)
            } else if line.starts_with('-') {
                Style::terminal().red(line)
            } else if line.starts_with('+') {
                Style::terminal().green(line)
            } else {
                line.to_owned()
            };
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "The reference is one way to do it, not the only one; {} explains its choices.\n",
        lab.docs_page()
    ));
    out
}

/// A file's text with `\n` line ends (a Windows checkout has `\r\n`), or
/// nothing when it does not exist.
fn read(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join(file))
        .unwrap_or_default()
        .replace("\r\n", "\n")
}
