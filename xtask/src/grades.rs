//! The grader's reports: `summary.md`, `grades.csv`, `grades.json`, and per
//! student and lab `students/<student>/<lab>/feedback.txt` (the checklist
//! `cargo xtask check` prints) with a Gradescope `results.json` beside it.
//!
//! **Invariant:** nothing here runs a process; every file is plain text
//! (colour codes stripped), so reports read the same wherever they go.

use std::{fmt::Write as _, fs, path::Path, time::Duration};

use anyhow::Context;
use labs_meta::{Catalog, Check, Lab, report::CheckResult};
use serde_json::json;

use crate::{
    check::Outcome,
    grade::{Class, LabGrade, Student, Verdict},
    gradescope,
    overlay::Layout,
    report, style,
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
        Verdict::Judged(Outcome::Checked(results)) => lab
            .checks
            .iter()
            .map(|check| {
                let result = results.iter().find(|result| result.id == check.id);
                CheckScore {
                    check,
                    passed: result.is_some_and(|result| result.passed),
                    reason: match result {
                        Some(result) if result.passed => None,
                        Some(result) => Some(reason(result)),
                        None => Some("not run".to_owned()),
                    },
                    result,
                }
            })
            .collect(),
        Verdict::Judged(Outcome::BuildFailed { .. }) => failed_all("does not compile".to_owned()),
        // "the server exited (…) before printing `listening on …`", …
        Verdict::Judged(Outcome::NeverListened { reason, .. }) => failed_all(reason.clone()),
        Verdict::Missing(reason) => failed_all(reason.clone()),
        Verdict::GraderError(error) => {
            failed_all(format!("not graded (grader error): {}", one_line(error)))
        }
    }
}

pub fn total(scores: &[CheckScore<'_>]) -> u32 {
    scores.iter().map(CheckScore::points).sum()
}

/// A failed check's cause on one line: the error, or the first lines that
/// differ from the snapshot.
fn reason(result: &CheckResult) -> String {
    if let Some(error) = &result.error {
        return one_line(error);
    }
    let Some(diff) = &result.diff else {
        return "failed".to_owned();
    };
    let first = |sign: char, header: &str| {
        diff.lines()
            .find(|line| line.starts_with(sign) && !line.starts_with(header))
            .map(|line| one_line(&line[1..]))
    };
    match (first('-', "---"), first('+', "+++")) {
        (Some(expected), Some(actual)) => format!("expected `{expected}`, got `{actual}`"),
        (Some(expected), None) => format!("missing `{expected}`"),
        (None, Some(actual)) => format!("unexpected `{actual}`"),
        (None, None) => "the output differs from the expected one".to_owned(),
    }
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

/// `checked`, `build_failed`, `never_listened`, `missing`, `grader_error`.
pub fn status(grade: &LabGrade) -> &'static str {
    match &grade.verdict {
        Verdict::Judged(Outcome::Checked(_)) => "checked",
        Verdict::Judged(Outcome::BuildFailed { .. }) => "build_failed",
        Verdict::Judged(Outcome::NeverListened { .. }) => "never_listened",
        Verdict::Missing(_) => "missing",
        Verdict::GraderError(_) => "grader_error",
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
        status(grade),
        grade.build_secs,
        grade.check_secs
    )
}

/// What the student reads: the checklist and first diff, as
/// `cargo xtask check` shows them, then the grader's notes.
pub fn feedback(lab: &Lab, grade: &LabGrade) -> String {
    let mut out = match &grade.verdict {
        // A graded student has no solutions/ to compare with (the line
        // `cargo xtask check` ends a passing lab with points there).
        Verdict::Judged(outcome) => report::render(lab, &lab.package(false), outcome)
            .lines()
            .map(|line| match line.strip_prefix("Well done. ") {
                Some(_) => format!(
                    "Well done. Read \"Going further\" in {}.\n",
                    lab.docs_page()
                ),
                None => format!("{line}\n"),
            })
            .collect(),
        Verdict::Missing(reason) | Verdict::GraderError(reason) => format!(
            "{} · {}\n\n{reason}\n\n0/{} checks passed\n",
            lab.id,
            lab.title,
            lab.checks.len()
        ),
    };
    let scores = scores(lab, grade);
    let _ = writeln!(out, "\nPoints: {}/{}", total(&scores), lab.total_points());
    if !grade.notes.is_empty() {
        out.push_str("\nNotes from the grader:\n");
        for note in &grade.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    style::plain(&out)
}

/// `students/<student>/<lab>/{feedback.txt,results.json}`.
pub fn write_student(out: &Path, catalog: &Catalog, grade: &LabGrade) -> anyhow::Result<()> {
    let Some(lab) = catalog.lab(&grade.lab) else {
        return Ok(());
    };
    let dir = out.join("students").join(&grade.student).join(&lab.id);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    write(&dir.join("feedback.txt"), &feedback(lab, grade))?;
    let results = gradescope::results(&[(lab, grade)]);
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

fn summary(
    labs: &[&Lab],
    class: &Class,
    grades: &[LabGrade],
    elapsed: Duration,
    find: &Find<'_>,
) -> String {
    let students = &class.students;
    let max: u32 = labs.iter().map(|lab| lab.total_points()).sum();
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
            crate::contain::describe(&class.adopted)
        );
    }
    if !class.skipped.is_empty() {
        out.push_str("Not graded, in the class folder:\n\n");
        for (entry, why) in &class.skipped {
            let _ = writeln!(out, "- `{entry}`: {why}");
        }
        out.push('\n');
    }

    out.push_str("| student |");
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
                    match status(grade) {
                        "checked" => points.to_string(),
                        "build_failed" => format!("{points} (build)"),
                        "never_listened" => format!("{points} (run)"),
                        other => format!("{points} ({other})"),
                    }
                }
                None => "–".to_owned(),
            };
            let _ = write!(out, " {cell} |");
        }
        let _ = writeln!(out, " {sum} |");
    }

    out.push_str("\n## Per student\n");
    for student in students {
        let _ = writeln!(out, "\n### {}\n", student.name);
        match student.layout {
            Some(layout) => {
                let _ = writeln!(out, "Submitted {}.", layout.describe());
                // Once per student, though the feedback of each lab has it.
                if !student.tampered.is_empty() {
                    let _ = writeln!(
                        out,
                        "- note: {}: {}",
                        crate::grade::TAMPER_NOTE,
                        crate::overlay::list(&student.tampered)
                    );
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "0 for every lab: {}.",
                    student
                        .unusable
                        .as_deref()
                        .unwrap_or(crate::overlay::NOT_A_SUBMISSION)
                );
                continue;
            }
        }
        // Labs not handed in, on one line: with `--all` early in a course,
        // that is most of them. One with a folder named almost right gets
        // a line of its own that names it.
        let mut missing: Vec<&str> = Vec::new();
        for lab in labs {
            let Some(grade) = find(student, lab) else {
                continue;
            };
            let (Verdict::Missing(reason), Some(layout)) = (&grade.verdict, student.layout) else {
                continue;
            };
            if *reason == crate::grade::missing_folder(layout, lab) {
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
            let Some(grade) = find(student, lab) else {
                continue;
            };
            if matches!(grade.verdict, Verdict::Missing(_)) {
                continue;
            }
            let scores = scores(lab, grade);
            let failed: Vec<&CheckScore<'_>> = scores.iter().filter(|s| !s.passed).collect();
            let feedback = format!("students/{}/{}/feedback.txt", student.name, lab.id);
            if grade.untouched && matches!(grade.verdict, Verdict::Judged(Outcome::Checked(_))) {
                // Early in a course most labs are the starter: one line each.
                let _ = writeln!(
                    out,
                    "- **{}**: the starter, unchanged: {}/{} (`{feedback}`)",
                    lab.id,
                    total(&scores),
                    lab.total_points()
                );
            } else {
                match (&grade.verdict, failed.as_slice()) {
                    (_, []) => {
                        let _ = writeln!(out, "- **{}**: every check passed.", lab.id);
                    }
                    (Verdict::Judged(Outcome::Checked(_)), failed) => {
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
                    (_, [first, ..]) => {
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
            for note in grade
                .notes
                .iter()
                .filter(|note| !note.starts_with(crate::grade::TAMPER_NOTE))
            {
                let _ = writeln!(out, "- **{}** note: {note}", lab.id);
            }
        }
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
                status(grade),
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
        Verdict::Judged(Outcome::Checked(_)) => None,
        Verdict::Judged(Outcome::BuildFailed { compiler }) => Some(compiler.clone()),
        Verdict::Judged(Outcome::NeverListened { reason, .. }) => Some(reason.clone()),
        Verdict::Missing(reason) | Verdict::GraderError(reason) => Some(reason.clone()),
    };
    json!({
        "lab": lab.id,
        "points": total(&scores),
        "max_points": lab.total_points(),
        "status": status(grade),
        "reason": reason,
        "notes": grade.notes,
        "build_seconds": round(grade.build_secs),
        "check_seconds": round(grade.check_secs),
        "checks": checks,
    })
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
