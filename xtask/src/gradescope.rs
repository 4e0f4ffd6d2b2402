//! `cargo xtask gradescope`: grades the one submission Gradescope hands to
//! `run_autograder` (see docs/gradescope/) with the [`grader`], and writes
//! its `results.json` ([`grades::gradescope_results`]).
//!
//! **Invariant:** `results.json` is always written, whatever happened to
//! the submission or the grader (Gradescope shows nothing otherwise).

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context;
use labs_meta::{Catalog, Lab};

use crate::{
    contain,
    grader::{self, Assessment, Grader, LabGrade, Limits},
    grades, overlay,
};

#[derive(clap::Args)]
pub struct GradescopeArgs {
    /// The lab this assignment grades; without it, every lab the
    /// submission contains.
    #[arg(long)]
    pub lab: Option<String>,
    /// The student's submission.
    #[arg(
        long,
        env = "GRADESCOPE_SUBMISSION",
        default_value = "/autograder/submission",
        value_name = "DIR"
    )]
    pub submission: PathBuf,
    /// Where Gradescope reads the results.
    #[arg(
        long,
        env = "GRADESCOPE_RESULTS",
        default_value = "/autograder/results/results.json",
        value_name = "FILE"
    )]
    pub results: PathBuf,
    #[command(flatten)]
    pub limits: Limits,
}

pub fn run(root: &Path, catalog: &Catalog, args: &GradescopeArgs) -> anyhow::Result<ExitCode> {
    let graded = grade_submission(root, catalog, args);
    let (results, code) = match &graded {
        Ok(Graded::Labs(grades)) => {
            let parts: Vec<(&Lab, &LabGrade)> = grades
                .iter()
                .filter_map(|grade| catalog.lab(&grade.lab).map(|lab| (lab, grade)))
                .collect();
            let failed = grades
                .iter()
                .any(|grade| matches!(grade.verdict, Assessment::GraderError(_)));
            let code = if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
            (grades::gradescope_results(&parts), code)
        }
        Ok(Graded::Nothing(why)) => (grades::gradescope_nothing(why), ExitCode::SUCCESS),
        // The grader broke: the student still gets a result that says so,
        // and the non-zero exit marks the run as failed for the instructor.
        Err(e) => (
            grades::gradescope_nothing(&format!(
                "The autograder failed, not your submission; tell your instructor.\n\n{e:#}"
            )),
            ExitCode::from(2),
        ),
    };
    if let Some(parent) = args.results.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    grades::write(&args.results, &grades::pretty(&results))?;
    println!("wrote {}", args.results.display());
    if let Err(e) = graded {
        eprintln!("error: {e:#}");
    }
    Ok(code)
}

enum Graded {
    Labs(Vec<LabGrade>),
    /// Nothing gradable in the submission, and why.
    Nothing(String),
}

fn grade_submission(
    root: &Path,
    catalog: &Catalog,
    args: &GradescopeArgs,
) -> anyhow::Result<Graded> {
    let all: Vec<&Lab> = catalog.labs.iter().collect();
    let labs: Vec<&Lab> = match &args.lab {
        Some(id) => vec![catalog.find(id).map_err(anyhow::Error::msg)?],
        // Without --lab, the labs the submission has a folder for.
        None => match overlay::layout(&args.submission, &all) {
            Some(layout) => all
                .into_iter()
                .filter(|lab| overlay::lab_dir(&args.submission, layout, lab).is_some())
                .collect(),
            None => Vec::new(),
        },
    };
    if labs.is_empty() {
        return Ok(Graded::Nothing(format!(
            "No lab found in your submission. Submit your copy of the kit (with its labs/ folder) or your lab's folder.\n({})",
            overlay::NOT_A_SUBMISSION
        )));
    }
    let student = grader::student(
        root,
        "submission".to_owned(),
        args.submission.clone(),
        &labs,
    );
    let grader = Grader::new(root, args.limits.clone())?;
    let seal = grader.seal(&labs);
    let mut grades = grader.grade(&labs, &[student], 1, |grade| {
        println!("{}", grades::progress_line(catalog, grade));
    });
    // Everything the submission started is gone before results.json is
    // written: nothing of it can rewrite the score afterwards.
    let adopted = contain::kill_adopted();
    if let Some(first) = grades.first_mut()
        && !adopted.is_empty()
    {
        first.notes.push(format!(
            "{} process(es) started by your code were still running after grading and were killed: {}",
            adopted.len(),
            contain::describe(&adopted)
        ));
    }
    if grader.seal(&labs) != seal {
        anyhow::bail!("{}", grades::KIT_CHANGED);
    }
    Ok(Graded::Labs(grades))
}
