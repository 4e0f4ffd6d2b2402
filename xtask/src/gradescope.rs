//! Gradescope: `results.json` in its autograder format, and
//! `cargo xtask gradescope`, which grades the one submission Gradescope
//! hands to `run_autograder` (see docs/gradescope/).
//!
//! Format: <https://gradescope-autograders.readthedocs.io/en/latest/specs/>:
//! `score`, and per check a test with `name`, `score`, `max_score`,
//! `status` (`passed`/`failed`), `output` and `visibility`.
//!
//! **Invariant:** `results.json` is always written, whatever happened to
//! the submission or the grader (Gradescope shows nothing otherwise).

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context;
use labs_meta::{Catalog, Lab};
use serde_json::json;

use crate::{
    contain,
    grade::{self, Grader, LabGrade, Limits},
    grades::{self, CheckScore},
    overlay,
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
                .any(|grade| matches!(grade.verdict, grade::Verdict::GraderError(_)));
            let code = if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
            (results(&parts), code)
        }
        Ok(Graded::Nothing(why)) => (nothing(why), ExitCode::SUCCESS),
        // The grader broke: the student still gets a result that says so,
        // and the non-zero exit marks the run as failed for the instructor.
        Err(e) => (
            nothing(&format!(
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
        Some(id) => vec![crate::find_lab(catalog, id)?],
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
    let student = grade::student(
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

/// Gradescope's `results.json` for one submission's grades. With several
/// labs, test names start with the lab's id.
pub fn results(parts: &[(&Lab, &LabGrade)]) -> serde_json::Value {
    let prefix = parts.len() > 1;
    let mut score = 0;
    let mut seconds = 0.0;
    let mut output = String::new();
    let mut tests = Vec::new();
    for (lab, grade) in parts {
        let scores = grades::scores(lab, grade);
        score += grades::total(&scores);
        seconds += grade.build_secs + grade.check_secs;
        output.push_str(&grades::feedback(lab, grade));
        for score in &scores {
            let name = if prefix {
                format!("{} · {}", lab.id, score.check.title)
            } else {
                score.check.title.clone()
            };
            tests.push(json!({
                "name": name,
                "score": score.points(),
                "max_score": score.check.points,
                "status": if score.passed { "passed" } else { "failed" },
                "output": test_output(lab, score),
                "visibility": "visible",
            }));
        }
    }
    json!({
        "score": score,
        // Whole seconds: the format's example is an integer.
        "execution_time": seconds.round() as u64,
        "output": output,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    })
}

/// Results for a submission with nothing to grade (or a broken grader).
fn nothing(why: &str) -> serde_json::Value {
    json!({
        "score": 0,
        "output": why,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    })
}

/// A failed test's output: why, the diff against the expected reply, and
/// where to read on.
fn test_output(lab: &Lab, score: &CheckScore<'_>) -> String {
    if score.passed {
        return String::new();
    }
    let mut out = score.reason.clone().unwrap_or_default();
    if let Some(diff) = score.result.and_then(|result| result.diff.as_deref()) {
        out.push_str("\n\nexpected (-) vs actual (+):\n");
        for line in diff
            .lines()
            .filter(|line| !line.starts_with("---") && !line.starts_with("+++"))
        {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = write!(
        out,
        "\nhint: {}\nread: {}#{}",
        score.check.hint,
        lab.docs_page(),
        score.check.docs
    );
    out
}
