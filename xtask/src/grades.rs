//! The grader's reports: `summary.md`, `grades.csv`, `grades.json`, and per
//! student and lab `students/<student>/<lab>/feedback.txt` (the checklist
//! `cargo xtask check` prints) with a Gradescope `results.json` beside it.
//!
//! These are the grader's report writers: each takes finished grades
//! ([`LabGrade`]) and renders them.
//!
//! **Invariant:** nothing here runs a process; every file is rendered with
//! [`Style::Plain`], so reports read the same wherever they go.

use std::{fmt::Write as _, fs, path::Path, time::Duration};

use anyhow::Context;
use labs_meta::{
    Catalog, Check, Lab,
    report::{CheckResult, Verdict},
};
use serde_json::json;

use crate::{
    contain,
    grader::{self, Assessment, Class, LabGrade, Student},
    outcome::Outcome,
    overlay::{self, Layout},
    report::{self, Reader},
    style::Style,
};

/// One check's score in one grade.
pub struct CheckScore<'a> {
    pub check: &'a Check,
    pub passed: bool,
    /// Why it failed, on one line.
    pub reason: Option<String>,
    /// The check's full result, when it ran.
    pub result: Option<&'a CheckResult>,
}

impl CheckScore<'_> {
    pub fn points(&self) -> u32 {
        if self.passed { self.check.points } else { 0 }
    }
}

/// Every check of `lab` with its score in `grade`, in catalogue order.
pub fn scores<'a>(lab: &'a Lab, grade: &'a LabGrade) -> Vec<CheckScore<'a>> {
    let failed_all = |reason: String| {
        lab.checks
            .iter()
            .map(|check| CheckScore {
                check,
                passed: false,
                reason: Some(reason.clone()),
                result: None,
            })
            .collect()
    };
    match &grade.verdict {
        Assessment::Judged(Outcome::Checked(results)) => lab
            .checks
            .iter()
            .map(|check| {
                let result = results.iter().find(|result| result.id == check.id);
                CheckScore {
                    check,
                    passed: result.is_some_and(CheckResult::passed),
                    reason: match result {
                        Some(result) => reason(&result.verdict),
                        None => Some("not run".to_owned()),
                    },
                    result,
                }
            })
            .collect(),
        Assessment::Judged(Outcome::BuildFailed { .. }) => {
            failed_all("does not compile".to_owned())
        }
        // "the server exited (…) before printing `listening on …`", …
        Assessment::Judged(Outcome::NeverListened { reason, .. }) => failed_all(reason.clone()),
        Assessment::Missing(reason) => failed_all(reason.clone()),
        Assessment::GraderError(error) => {
            failed_all(format!("not graded (grader error): {}", one_line(error)))
        }
    }
}

pub fn total(scores: &[CheckScore<'_>]) -> u32 {
    scores.iter().map(CheckScore::points).sum()
}

/// A failed check's cause on one line: why it was not judged, or the first
/// lines that differ from the snapshot; `None` for a pass.
fn reason(verdict: &Verdict) -> Option<String> {
    let mismatch = match verdict {
        Verdict::Passed => return None,
        Verdict::NotJudged { why, .. } | Verdict::RunnerBroke { why } => {
            return Some(one_line(why));
        }
        Verdict::Failed(mismatch) => mismatch,
    };
    let first = |line: &Option<String>| line.as_deref().map(one_line);
    Some(match (first(&mismatch.expected), first(&mismatch.actual)) {
        (Some(expected), Some(actual)) => format!("expected `{expected}`, got `{actual}`"),
        (Some(expected), None) => format!("missing `{expected}`"),
        (None, Some(actual)) => format!("unexpected `{actual}`"),
        (None, None) => "the output differs from the expected one".to_owned(),
    })
}

fn one_line(text: &str) -> String {
    const MAX: usize = 160;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > MAX {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line
    }
}

/// How far a submission of a lab got: the `status` of the CSV and JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Checked,
    BuildFailed,
    NeverListened,
    Missing,
    GraderError,
}

impl Status {
    pub fn of(grade: &LabGrade) -> Status {
        match &grade.verdict {
            Assessment::Judged(Outcome::Checked(_)) => Status::Checked,
            Assessment::Judged(Outcome::BuildFailed { .. }) => Status::BuildFailed,
            Assessment::Judged(Outcome::NeverListened { .. }) => Status::NeverListened,
            Assessment::Missing(_) => Status::Missing,
            Assessment::GraderError(_) => Status::GraderError,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Checked => "checked",
            Status::BuildFailed => "build_failed",
            Status::NeverListened => "never_listened",
            Status::Missing => "missing",
            Status::GraderError => "grader_error",
        }
    }
}

/// The line printed as each grade finishes.
pub fn progress_line(catalog: &Catalog, grade: &LabGrade) -> String {
    let Some(lab) = catalog.lab(&grade.lab) else {
        return format!("{} {}", grade.lab, grade.student);
    };
    let scores = scores(lab, grade);
    format!(
        "  {:<6} {:<24} {:>3}/{:<3} {:<14} build {:.1} s, checks {:.1} s",
        grade.lab,
        grade.student,
        total(&scores),
        lab.total_points(),
        Status::of(grade).as_str(),
        grade.build_secs,
        grade.check_secs
    )
}

/// What the student reads: the checklist and first diff, as
/// `cargo xtask check` shows them, then the grader's notes.
pub fn feedback(lab: &Lab, grade: &LabGrade) -> String {
    let mut out = match &grade.verdict {
        Assessment::Judged(outcome) => report::render(
            lab,
            &lab.package(false),
            outcome,
            Style::Plain,
            Reader::Graded,
        ),
        Assessment::Missing(reason) | Assessment::GraderError(reason) => format!(
            "{} · {}\n\n{reason}\n\n0/{} checks passed\n",
            lab.id,
            lab.title,
            lab.checks.len()
        ),
    };
    let scores = scores(lab, grade);
    let _ = writeln!(out, "\nPoints: {}/{}", total(&scores), lab.total_points());
    let notes = notes(grade);
    if !notes.is_empty() {
        out.push_str("\nNotes from the grader:\n");
        for note in &notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    out
}

/// Every note on one lab's grade, the ignored kit files first.
fn notes(grade: &LabGrade) -> Vec<String> {
    let ignored = (!grade.ignored_kit_files.is_empty()).then(|| {
        format!(
            "{}: {}",
            grader::TAMPER_NOTE,
            overlay::list(&grade.ignored_kit_files)
        )
    });
    ignored
        .into_iter()
        .chain(grade.notes.iter().cloned())
        .collect()
}

/// `students/<student>/<lab>/{feedback.txt,results.json}`.
pub fn write_student(out: &Path, catalog: &Catalog, grade: &LabGrade) -> anyhow::Result<()> {
    let Some(lab) = catalog.lab(&grade.lab) else {
        return Ok(());
    };
    let dir = out.join("students").join(&grade.student).join(&lab.id);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    write(&dir.join("feedback.txt"), &feedback(lab, grade))?;
    let results = gradescope_results(&[(lab, grade)]);
    write(&dir.join("results.json"), &pretty(&results))
}

/// `summary.md`, `grades.csv` and `grades.json` for the whole class.
pub fn write_reports(
    out: &Path,
    labs: &[&Lab],
    class: &Class,
    grades: &[LabGrade],
    elapsed: Duration,
    kit_changed: bool,
) -> anyhow::Result<()> {
    let students = &class.students;
    fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let find = |student: &Student, lab: &Lab| {
        grades
            .iter()
            .find(|grade| grade.student == student.name && grade.lab == lab.id)
    };
    let mut summary = summary(labs, class, grades, elapsed, &find);
    if kit_changed {
        summary.insert_str(0, &format!("> **Warning:** {KIT_CHANGED}\n\n"));
    }
    write(&out.join("summary.md"), &summary)?;
    write(&out.join("grades.csv"), &csv(labs, students, &find))?;
    write(
        &out.join("grades-wide.csv"),
        &wide_csv(labs, students, &find),
    )?;
    let json = class_json(labs, class, elapsed, &find);
    write(&out.join("grades.json"), &pretty(&json))
}

type Find<'a> = dyn Fn(&Student, &Lab) -> Option<&'a LabGrade> + 'a;

/// `summary.md`: the time taken, what was not graded, the points table,
/// then each student's failed checks and notes.
fn summary(
    labs: &[&Lab],
    class: &Class,
    grades: &[LabGrade],
    elapsed: Duration,
    find: &Find<'_>,
) -> String {
    let students = &class.students;
    let mut out = String::from("# Grades\n\n");
    let build: f64 = grades.iter().map(|grade| grade.build_secs).sum();
    let checks: f64 = grades.iter().map(|grade| grade.check_secs).sum();
    let _ = writeln!(
        out,
        "{} submissions. Graded in {:.1} s (builds {build:.1} s, checks {checks:.1} s).\n",
        students.len(),
        elapsed.as_secs_f64()
    );
    if !class.adopted.is_empty() {
        let _ = writeln!(
            out,
            "> **Warning:** {} process(es) started by students' code were still running after every submission was graded, and were killed: {}. No submission could be tied to them.\n",
            class.adopted.len(),
            contain::describe(&class.adopted)
        );
    }
    if !class.skipped.is_empty() {
        out.push_str("Not graded, in the class folder:\n\n");
        for (entry, why) in &class.skipped {
            let _ = writeln!(out, "- `{entry}`: {why}");
        }
        out.push('\n');
    }
    out.push_str(&points_table(labs, students, find));
    out.push_str("\n## Per student\n");
    for student in students {
        out.push_str(&student_section(labs, student, find));
    }
    out
}

/// One row per student, one column per lab and the total; a cell says why
/// when the checks did not run.
fn points_table(labs: &[&Lab], students: &[Student], find: &Find<'_>) -> String {
    let max: u32 = labs.iter().map(|lab| lab.total_points()).sum();
    let mut out = String::from("| student |");
    for lab in labs {
        let _ = write!(out, " {} (/{}) |", lab.id, lab.total_points());
    }
    let _ = writeln!(out, " total (/{max}) |");
    out.push_str("|---|");
    out.push_str(&"---:|".repeat(labs.len() + 1));
    out.push('\n');
    for student in students {
        let _ = write!(out, "| {} |", student.name.replace('|', "\\|"));
        let mut sum = 0;
        for lab in labs {
            let cell = match find(student, lab) {
                Some(grade) => {
                    let points = total(&scores(lab, grade));
                    sum += points;
                    match Status::of(grade) {
                        Status::Checked => points.to_string(),
                        Status::BuildFailed => format!("{points} (build)"),
                        Status::NeverListened => format!("{points} (run)"),
                        other @ (Status::Missing | Status::GraderError) => {
                            format!("{points} ({})", other.as_str())
                        }
                    }
                }
                None => "–".to_owned(),
            };
            let _ = write!(out, " {cell} |");
        }
        let _ = writeln!(out, " {sum} |");
    }
    out
}

/// A student's section: what they submitted, the labs missing from it,
/// then each graded lab's failures and notes.
fn student_section(labs: &[&Lab], student: &Student, find: &Find<'_>) -> String {
    let mut out = format!("\n### {}\n\n", student.name);
    let Some(layout) = student.layout else {
        let _ = writeln!(
            out,
            "0 for every lab: {}.",
            student
                .unusable
                .as_deref()
                .unwrap_or(overlay::NOT_A_SUBMISSION)
        );
        return out;
    };
    let _ = writeln!(out, "Submitted {}.", layout.describe());
    // Once per student, though the feedback of each lab has it.
    if !student.tampered.is_empty() {
        let _ = writeln!(
            out,
            "- note: {}: {}",
            grader::TAMPER_NOTE,
            overlay::list(&student.tampered)
        );
    }
    // Labs not handed in, on one line: with `--all` early in a course,
    // that is most of them. One with a folder named almost right gets a
    // line of its own that names it.
    let mut missing: Vec<&str> = Vec::new();
    for lab in labs {
        let Some(grade) = find(student, lab) else {
            continue;
        };
        let Assessment::Missing(reason) = &grade.verdict else {
            continue;
        };
        if *reason == grader::missing_folder(layout, lab) {
            missing.push(&lab.id);
        } else {
            let _ = writeln!(out, "- **{}**: 0/{}, {reason}", lab.id, lab.total_points());
        }
    }
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "- not in the submission (0 points): {}",
            missing.join(", ")
        );
    }
    for lab in labs {
        match find(student, lab) {
            Some(grade) if !matches!(grade.verdict, Assessment::Missing(_)) => {
                out.push_str(&lab_lines(lab, student, grade));
            }
            _ => {}
        }
    }
    out
}

/// A graded lab in a student's section: one line for an untouched starter,
/// a pass or a lab whose checks did not run, else one per failed check;
/// then the grader's notes.
fn lab_lines(lab: &Lab, student: &Student, grade: &LabGrade) -> String {
    let mut out = String::new();
    let scores = scores(lab, grade);
    let failed: Vec<&CheckScore<'_>> = scores.iter().filter(|s| !s.passed).collect();
    let feedback = format!("students/{}/{}/feedback.txt", student.name, lab.id);
    let checked = Status::of(grade) == Status::Checked;
    if grade.untouched && checked {
        // Early in a course most labs are the starter: one line each.
        let _ = writeln!(
            out,
            "- **{}**: the starter, unchanged: {}/{} (`{feedback}`)",
            lab.id,
            total(&scores),
            lab.total_points()
        );
    } else {
        match failed.as_slice() {
            [] => {
                let _ = writeln!(out, "- **{}**: every check passed.", lab.id);
            }
            failed if checked => {
                for score in failed {
                    let _ = writeln!(
                        out,
                        "- **{}** · {} (0/{}): {}",
                        lab.id,
                        score.check.title,
                        score.check.points,
                        score.reason.as_deref().unwrap_or("failed")
                    );
                }
            }
            [first, ..] => {
                let _ = writeln!(
                    out,
                    "- **{}**: 0/{}, {} (`{feedback}`)",
                    lab.id,
                    lab.total_points(),
                    first.reason.as_deref().unwrap_or("failed")
                );
            }
        }
    }
    // The ignored kit files are in the student's section, once.
    for note in &grade.notes {
        let _ = writeln!(out, "- **{}** note: {note}", lab.id);
    }
    out
}

fn csv(labs: &[&Lab], students: &[Student], find: &Find<'_>) -> String {
    let mut out = String::from("student,lab,points,max_points,status,failed_checks\n");
    for student in students {
        for lab in labs {
            let Some(grade) = find(student, lab) else {
                continue;
            };
            let scores = scores(lab, grade);
            let failed: Vec<&str> = scores
                .iter()
                .filter(|s| !s.passed)
                .map(|s| s.check.id.as_str())
                .collect();
            let _ = writeln!(
                out,
                "{},{},{},{},{},{}",
                csv_field(&student.name),
                lab.id,
                total(&scores),
                lab.total_points(),
                Status::of(grade).as_str(),
                csv_field(&failed.join(";"))
            );
        }
    }
    out
}

/// One row per student, one column per lab, then the total: the shape an
/// LMS gradebook imports. Every student is there, with 0 for a lab they
/// did not hand in.
fn wide_csv(labs: &[&Lab], students: &[Student], find: &Find<'_>) -> String {
    let mut out = String::from("student");
    for lab in labs {
        let _ = write!(out, ",{}", lab.id);
    }
    out.push_str(",total\n");
    for student in students {
        out.push_str(&csv_field(&student.name));
        let mut sum = 0;
        for lab in labs {
            let points = find(student, lab).map_or(0, |grade| total(&scores(lab, grade)));
            sum += points;
            let _ = write!(out, ",{points}");
        }
        let _ = writeln!(out, ",{sum}");
    }
    out
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn class_json(
    labs: &[&Lab],
    class: &Class,
    elapsed: Duration,
    find: &Find<'_>,
) -> serde_json::Value {
    let students = &class.students;
    let labs_json: Vec<_> = labs
        .iter()
        .map(|lab| json!({ "id": lab.id, "title": lab.title, "max_points": lab.total_points() }))
        .collect();
    let students_json: Vec<_> = students
        .iter()
        .map(|student| {
            let graded: Vec<_> = labs
                .iter()
                .filter_map(|lab| find(student, lab).map(|grade| lab_json(lab, grade)))
                .collect();
            json!({
                "name": student.name,
                "layout": student.layout.map(Layout::describe),
                "ignored_kit_files": student.tampered,
                "labs": graded,
            })
        })
        .collect();
    let skipped: Vec<_> = class
        .skipped
        .iter()
        .map(|(entry, why)| json!({ "entry": entry, "reason": why }))
        .collect();
    json!({
        "labs": labs_json,
        "students": students_json,
        "skipped": skipped,
        "killed_unclaimed_processes": class.adopted,
        "seconds": round(elapsed.as_secs_f64()),
    })
}

fn lab_json(lab: &Lab, grade: &LabGrade) -> serde_json::Value {
    let scores = scores(lab, grade);
    let checks: Vec<_> = scores
        .iter()
        .map(|score| {
            json!({
                "id": score.check.id,
                "title": score.check.title,
                "points": score.points(),
                "max_points": score.check.points,
                "passed": score.passed,
                "reason": score.reason,
            })
        })
        .collect();
    let reason = match &grade.verdict {
        Assessment::Judged(Outcome::Checked(_)) => None,
        Assessment::Judged(Outcome::BuildFailed { compiler }) => Some(compiler.clone()),
        Assessment::Judged(Outcome::NeverListened { reason, .. }) => Some(reason.clone()),
        Assessment::Missing(reason) | Assessment::GraderError(reason) => Some(reason.clone()),
    };
    json!({
        "lab": lab.id,
        "points": total(&scores),
        "max_points": lab.total_points(),
        "status": Status::of(grade).as_str(),
        "reason": reason,
        "notes": notes(grade),
        "build_seconds": round(grade.build_secs),
        "check_seconds": round(grade.check_secs),
        "checks": checks,
    })
}

/// Gradescope's `results.json` for one submission's grades, in its
/// autograder format (<https://gradescope-autograders.readthedocs.io/en/latest/specs/>):
/// `score`, and per check a test with `name`, `score`, `max_score`,
/// `status` (`passed`/`failed`), `output` and `visibility`. With several
/// labs, test names start with the lab's id.
pub fn gradescope_results(parts: &[(&Lab, &LabGrade)]) -> serde_json::Value {
    let prefix = parts.len() > 1;
    let mut score = 0;
    let mut seconds = 0.0;
    let mut output = String::new();
    let mut tests = Vec::new();
    for (lab, grade) in parts {
        let scores = scores(lab, grade);
        score += total(&scores);
        seconds += grade.build_secs + grade.check_secs;
        output.push_str(&feedback(lab, grade));
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
pub fn gradescope_nothing(why: &str) -> serde_json::Value {
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
    if let Some(Verdict::Failed(mismatch)) = score.result.map(|result| &result.verdict) {
        out.push_str("\n\nexpected (-) vs actual (+):\n");
        for line in &mismatch.diff {
            let _ = writeln!(out, "  {}", line.unified());
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

fn round(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

pub fn pretty(value: &serde_json::Value) -> String {
    // A `Value` always serializes.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

pub fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

/// Said when the instructor's files changed while students' code ran.
pub const KIT_CHANGED: &str = "the kit's snapshots, labs.toml or checks binary changed while submissions were graded: a submission's code may have rewritten them, so these grades cannot be trusted. Restore the kit (git status) and grade again in a container (docs/grading.md#limits-this-is-not-a-sandbox)";
