//! `cargo xtask grade`: every student's submission, every lab asked for,
//! graded by the [`grader`] and written by the report writers ([`grades`])
//! as each one finishes, then for the whole class.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use labs_meta::{Catalog, Lab};

use crate::{
    contain,
    grader::{self, Assessment, Grader, Limits},
    grades, overlay,
};

#[derive(clap::Args)]
pub struct GradeArgs {
    /// A folder with one sub-folder per student: a copy of the kit, or the
    /// contents of its labs/ folder.
    pub submissions: PathBuf,
    /// Grade this lab only, e.g. lab1.
    #[arg(long, conflicts_with = "all")]
    pub lab: Option<String>,
    /// Grade every lab in labs.toml (the default).
    #[arg(long)]
    pub all: bool,
    /// Where the reports go.
    #[arg(long, default_value = "grades", value_name = "DIR")]
    pub out: PathBuf,
    /// Submissions whose checks run at the same time (each also overlaps
    /// the next build).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub jobs: usize,
    #[command(flatten)]
    pub limits: Limits,
}

pub fn run(root: &Path, catalog: &Catalog, args: &GradeArgs) -> anyhow::Result<ExitCode> {
    let labs: Vec<&Lab> = match &args.lab {
        Some(id) => vec![catalog.find(id).map_err(anyhow::Error::msg)?],
        None => catalog.labs.iter().collect(),
    };
    let started = Instant::now();
    let mut class = grader::discover(root, &args.submissions, &labs)?;
    let students = &class.students;
    if students.is_empty() {
        anyhow::bail!(
            "`{}` has no sub-folders or zip files: put one folder (or .zip) per student in it",
            args.submissions.display()
        );
    }
    for (entry, why) in &class.skipped {
        eprintln!("note: not graded: `{entry}`: {why}");
    }
    println!(
        "Grading {} submission(s) of {} in `{}`",
        students.len(),
        labs.iter()
            .map(|lab| lab.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.submissions.display()
    );
    if labs.iter().any(|lab| overlay::has_reference(root, lab)) {
        eprintln!("{SOLUTIONS_PRESENT}");
    }
    let grader = Grader::new(root, args.limits.clone())?;
    let seal = grader.seal(&labs);
    let out = &args.out;
    let results = grader.grade(&labs, students, args.jobs.max(1), |grade| {
        println!("{}", grades::progress_line(catalog, grade));
        // Written as each one finishes: an interrupted run keeps them.
        if let Err(e) = grades::write_student(out, catalog, grade) {
            eprintln!("error: {e:#}");
        }
    });
    class.adopted = contain::kill_adopted();
    if !class.adopted.is_empty() {
        eprintln!(
            "warning: killed processes left running by students' code: {}",
            contain::describe(&class.adopted)
        );
    }
    let elapsed = started.elapsed();
    let kit_changed = grader.seal(&labs) != seal;
    grades::write_reports(out, &labs, &class, &results, elapsed, kit_changed)?;
    println!(
        "\nGraded in {:.0} s; reports in `{}` (summary.md, grades.csv, grades.json, students/)",
        elapsed.as_secs_f64(),
        out.display()
    );
    let failed = results
        .iter()
        .any(|grade| matches!(grade.verdict, Assessment::GraderError(_)));
    if failed {
        eprintln!("error: the grader could not grade some submissions; see summary.md");
    }
    if kit_changed {
        eprintln!("error: {}", grades::KIT_CHANGED);
    }
    Ok(if failed || kit_changed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

const SOLUTIONS_PRESENT: &str = "note: this checkout has solutions/, and a submission's code runs with your rights: it could read them. \
For marks that count, grade in a container from a copy without them (docs/grading.md#limits-this-is-not-a-sandbox).";
