//! Planted mistakes (`tests/fixtures/mistakes/`, its README says how): a
//! plausible wrong solution, planted in a copy of the reference's student
//! files, must make the lab's named check the first to fail. Graded through
//! the real grader, so the student's view (build, start, first failure) is
//! what is asserted.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::Value;

use crate::{
    common,
    grading::{self, GRADING},
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    mistakes: Vec<Mistake>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mistake {
    name: String,
    why: String,
    first_failure: String,
    edits: Vec<Edit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    file: String,
    find: String,
    replace: String,
}

fn fixtures_dir() -> PathBuf {
    checks::repo_root().join("tests/fixtures/mistakes")
}

/// Every mistake planted for `lab`: `<lab>.toml` and `<lab>-*.toml`.
fn mistakes_of(lab: &str) -> Vec<Mistake> {
    let dir = fixtures_dir();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            path.extension().is_some_and(|ext| ext == "toml")
                && (stem == lab || stem.starts_with(&format!("{lab}-")))
        })
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let text =
                fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            toml::from_str::<Fixture>(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .mistakes
        })
        .collect()
}

/// Writes one student per mistake into `class`: the solution's student
/// files of `lab`, with the mistake's edits applied.
fn plant(lab: &str, mistakes: &[Mistake], class: &Path) {
    let catalog = common::catalog();
    let meta = catalog
        .lab(lab)
        .unwrap_or_else(|| panic!("no {lab} in labs.toml"));
    let solution = checks::repo_root().join(meta.solution_dir());
    let starter_dir = Path::new(&meta.starter_dir())
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_default();
    for mistake in mistakes {
        assert!(
            meta.checks.iter().any(|c| c.id == mistake.first_failure),
            "{lab}/{}: `{}` is not a check of {lab}",
            mistake.name,
            mistake.first_failure
        );
        let student = class
            .join(format!("{lab}-{}", mistake.name))
            .join(&starter_dir);
        for file in &meta.student_files {
            let mut text = fs::read_to_string(solution.join(file))
                .unwrap_or_else(|e| panic!("{}/{file}: {e}", solution.display()));
            for edit in mistake.edits.iter().filter(|edit| &edit.file == file) {
                let found = text.matches(edit.find.as_str()).count();
                assert_eq!(
                    found,
                    1,
                    "{lab}/{}: `find` must occur exactly once in {}/{file}, found {found} times; update the fixture with the solution:\n{}",
                    mistake.name,
                    meta.solution_dir(),
                    edit.find
                );
                text = text.replacen(edit.find.as_str(), &edit.replace, 1);
            }
            let path = student.join(file);
            fs::create_dir_all(path.parent().unwrap_or(&student))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        for edit in &mistake.edits {
            assert!(
                meta.student_files.contains(&edit.file),
                "{lab}/{}: `{}` is not a student file of {lab}",
                mistake.name,
                edit.file
            );
        }
    }
}

/// Grades every planted mistake of `lab` and asserts that each one's first
/// failing check is the one it names. Also writes what a student sees per
/// mistake to `target/mistakes/<lab>.md`, for review.
fn assert_planted_mistakes_fail_first(lab: &str) {
    let mistakes = mistakes_of(lab);
    assert!(!mistakes.is_empty(), "no planted mistakes for {lab}");
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    let class = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    plant(lab, &mistakes, class.path());
    let (class_dir, out_dir) = (
        class.path().display().to_string(),
        out.path().display().to_string(),
    );
    // Generous limits: these grades run beside the suite's other labs on two
    // cores, and a check or start that runs out of time first would hide the
    // planted mistake. They only bound a hang.
    let (code, output) = grading::xtask(&[
        "grade",
        &class_dir,
        "--lab",
        lab,
        "--out",
        &out_dir,
        "--timeout",
        "300",
        "--check-timeout",
        "60",
        "--start-timeout",
        "30",
    ]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(
        grading::student_processes_left(),
        Vec::<String>::new(),
        "{output}"
    );

    let grades = grading::json(&out.path().join("grades.json"));
    let mut wrong = String::new();
    let mut review = format!("# {lab}: planted mistakes and what a student sees\n\n");
    for mistake in &mistakes {
        let student = format!("{lab}-{}", mistake.name);
        let graded = grades["students"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == student.as_str())
            .map(|s| s["labs"][0].clone())
            .unwrap_or(Value::Null);
        let first_failed = graded["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|check| check["passed"] == false)
            .and_then(|check| check["id"].as_str())
            .unwrap_or("(none: every check passed)");
        let status = graded["status"].as_str().unwrap_or("(not graded)");
        if status != "checked" || first_failed != mistake.first_failure {
            let _ = writeln!(
                wrong,
                "- {student} ({}): status {status}, first failure `{first_failed}`, expected `{}`",
                mistake.why, mistake.first_failure
            );
        }
        let feedback = out
            .path()
            .join("students")
            .join(&student)
            .join(lab)
            .join("feedback.txt");
        let feedback = fs::read_to_string(&feedback).unwrap_or_default();
        let first = feedback
            .find("First failure:")
            .map_or("(no failure)", |at| &feedback[at..]);
        let _ = writeln!(
            review,
            "## {}\n\n{}\n\n```text\n{}\n```\n",
            mistake.name,
            mistake.why,
            first.trim_end()
        );
    }
    let target = checks::repo_root().join("target/mistakes");
    if fs::create_dir_all(&target).is_ok() {
        let _ = fs::write(target.join(format!("{lab}.md")), &review);
    }
    assert!(
        wrong.is_empty(),
        "planted mistakes that are not caught first by their check:\n{wrong}\n{output}"
    );
}

#[test]
fn lab1() {
    assert_planted_mistakes_fail_first("lab1");
}

#[test]
fn lab2() {
    assert_planted_mistakes_fail_first("lab2");
}

#[test]
fn lab3() {
    assert_planted_mistakes_fail_first("lab3");
}

#[test]
fn lab4() {
    assert_planted_mistakes_fail_first("lab4");
}

#[test]
fn lab5() {
    assert_planted_mistakes_fail_first("lab5");
}

#[test]
fn lab6() {
    assert_planted_mistakes_fail_first("lab6");
}

#[test]
fn lab7() {
    assert_planted_mistakes_fail_first("lab7");
}
