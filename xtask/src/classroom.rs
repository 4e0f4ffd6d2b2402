//! `cargo xtask classroom`: writes `docs/github-classroom/classroom.yml`, the
//! GitHub Classroom workflow, from labs.toml: one graded step per lab, worth
//! the lab's points. `--check` only says whether the committed file is
//! still what labs.toml makes (the suite runs it), so a new lab or a change
//! of points cannot leave the workflow behind.

use std::{fmt::Write as _, fs, path::Path, process::ExitCode};

use anyhow::Context;
use labs_meta::{Catalog, Lab};

/// Where the workflow is kept, relative to the repository root.
pub const WORKFLOW: &str = "docs/github-classroom/classroom.yml";

#[derive(clap::Args)]
pub struct ClassroomArgs {
    /// Do not write: exit 1 if the committed workflow differs from the one
    /// labs.toml makes.
    #[arg(long)]
    pub check: bool,
}

pub fn run(root: &Path, catalog: &Catalog, args: &ClassroomArgs) -> anyhow::Result<ExitCode> {
    let path = root.join(WORKFLOW);
    let wanted = workflow(catalog);
    let committed = fs::read_to_string(&path).unwrap_or_default();
    if committed.replace('\r', "") == wanted {
        println!("{WORKFLOW} is up to date ({} labs)", catalog.labs.len());
        return Ok(ExitCode::SUCCESS);
    }
    if args.check {
        eprintln!(
            "{WORKFLOW} does not match labs.toml.\n    NOTE: run `cargo xtask classroom` and commit the updated file"
        );
        return Ok(ExitCode::FAILURE);
    }
    fs::write(&path, wanted).with_context(|| format!("cannot write `{}`", path.display()))?;
    println!(
        "wrote {WORKFLOW}: {} graded steps, {} points",
        catalog.labs.len(),
        catalog.labs.iter().map(Lab::total_points).sum::<u32>()
    );
    Ok(ExitCode::SUCCESS)
}

/// The workflow for every lab in `catalog`, in order.
pub fn workflow(catalog: &Catalog) -> String {
    let mut out = String::from(HEADER);
    for lab in &catalog.labs {
        let _ = write!(
            out,
            "      - name: {id}
        id: {id}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: {id} · {name}
          command: CARGO_INCREMENTAL=0 cargo xtask check {id}
          timeout: 10
          max-score: {points}
",
            id = lab.id,
            name = lab.slug.replace('-', " "),
            points = lab.total_points(),
        );
    }
    out.push_str(
        "      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
",
    );
    for lab in &catalog.labs {
        let _ = writeln!(
            out,
            "          {}_RESULTS: \"${{{{ steps.{}.outputs.result }}}}\"",
            lab.id
                .to_uppercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            lab.id
        );
    }
    let runners: Vec<&str> = catalog.labs.iter().map(|lab| lab.id.as_str()).collect();
    let _ = writeln!(
        out,
        "        with:\n          runners: {}",
        runners.join(",")
    );
    out
}

const HEADER: &str = "# GitHub Classroom autograding for mcp-auth-labs: copy this file to
# .github/workflows/classroom.yml in the assignment's template repository.
# One graded step per lab: `cargo xtask check labN` exits 0 only when every
# check of the lab passes, and the command grader gives full points for
# exit code 0 and none otherwise. See docs/grading.md.
#
# Generated from labs.toml by `cargo xtask classroom`: do not edit by hand.
name: Autograding Tests
on:
  - push
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    # rust-cache turns incremental compilation off for the steps after it,
    # but the command grader runs each command with an environment of its
    # own: every graded command sets it again, or its first `cargo` would
    # rebuild the runner and the checks for a different profile (~15 s).
    env:
      CARGO_INCREMENTAL: \"0\"
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
      # Compiled dependencies survive between pushes.
      - uses: Swatinem/rust-cache@v2
      # Not graded: compiles the runner, the checks and most of the labs'
      # dependencies once, so that each graded step below stays far from
      # its timeout. Only instructor code: a student's compile error must
      # not stop the graded steps.
      - name: Build the runner and the checks
        run: cargo build -p xtask -p checks
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_graded_step_per_lab_worth_its_points() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let catalog = Catalog::load(&root.join("labs.toml")).unwrap_or_else(|e| panic!("{e}"));
        let text = workflow(&catalog);
        for lab in &catalog.labs {
            let step = format!(
                "command: CARGO_INCREMENTAL=0 cargo xtask check {}\n          timeout: 10\n          max-score: {}\n",
                lab.id,
                lab.total_points()
            );
            assert!(text.contains(&step), "no step for {}:\n{text}", lab.id);
        }
        let runners: Vec<&str> = catalog.labs.iter().map(|lab| lab.id.as_str()).collect();
        assert!(text.ends_with(&format!("runners: {}\n", runners.join(","))));
    }
}
