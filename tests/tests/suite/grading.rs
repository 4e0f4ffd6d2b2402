//! The grader (`cargo xtask grade`, `cargo xtask gradescope`) through its
//! real binary, on the fixture class in `tests/fixtures/class/` (its README
//! says what each student did): the points, the reports, and that no
//! student process outlives the grading; and on `tests/fixtures/build-hangs/`,
//! a build that never ends.

use std::{collections::BTreeMap, path::Path, sync::Mutex};

use assert_cmd::Command;
use serde_json::Value;

use crate::common;

/// Every grading test (here and in `mistakes`) builds in the one grading
/// workspace (`target/grade/`).
pub static GRADING: Mutex<()> = Mutex::new(());

const CLASS: &str = "tests/fixtures/class";

/// Small limits: the hanging and spinning handlers fail after 5 s per
/// check, the server that never starts after 5 s. (A healthy check takes
/// well under 0.5 s; 5 s leaves room for a loaded CI machine.)
const FAST: &[&str] = &[
    "--check-timeout",
    "5",
    "--start-timeout",
    "5",
    "--timeout",
    "60",
];

/// Runs `xtask <args>` headless from the repository root; returns (exit
/// code, stdout + stderr).
pub fn xtask(args: &[&str]) -> (i32, String) {
    // FAST's limits, unless the test sets one itself.
    let limits = FAST
        .chunks(2)
        .filter(|flag_value| !args.contains(&flag_value[0]))
        .flatten();
    let output = Command::new(common::binary("xtask"))
        .args(args)
        .args(limits)
        .current_dir(checks::repo_root())
        .env("CI", "true")
        .output()
        .unwrap_or_else(|e| panic!("cannot run xtask: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Times vary from run to run; everything else in the reports must not.
fn redacted() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"Graded in [0-9.]+ s \(builds [0-9.]+ s, checks [0-9.]+ s\)",
        "Graded in [time]",
    );
    settings.add_filter(
        r#""(execution_time|build_seconds|check_seconds|seconds)": [0-9.]+"#,
        r#""$1": "[time]""#,
    );
    settings
}

#[test]
fn grades_the_fixture_class_with_the_expected_points() {
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out_dir = out.path().display().to_string();
    let (code, output) = xtask(&["grade", CLASS, "--lab", "lab1", "--out", &out_dir]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(student_processes_left(), Vec::<String>::new(), "{output}");

    let grades = json(&out.path().join("grades.json"));
    let points: BTreeMap<String, (u64, String)> = grades["students"]
        .as_array()
        .unwrap_or_else(|| panic!("no students in {grades}"))
        .iter()
        .map(|student| {
            let lab = &student["labs"][0];
            let name = student["name"].as_str().unwrap_or_default().to_owned();
            let status = lab["status"].as_str().unwrap_or_default().to_owned();
            (name, (lab["points"].as_u64().unwrap_or(99), status))
        })
        .collect();
    let expected: BTreeMap<String, (u64, String)> = [
        ("compile-error", 0, "build_failed"),
        ("hanging-handler", 9, "checked"),
        ("never-starts", 0, "never_listened"),
        ("not-a-submission", 0, "missing"),
        ("panicking-server", 0, "never_listened"),
        ("partial", 14, "checked"),
        ("perfect", 18, "checked"),
        ("spinning-handler", 9, "checked"),
        ("tampered", 5, "checked"),
    ]
    .into_iter()
    .map(|(name, points, status)| (name.to_owned(), (points, status.to_owned())))
    .collect();
    assert_eq!(points, expected, "{output}");

    let student = |name: &str, file: &str| {
        out.path()
            .join("students")
            .join(name)
            .join("lab1")
            .join(file)
    };
    let _redacted = redacted().bind_to_scope();
    insta::assert_snapshot!("grading_summary", read(&out.path().join("summary.md")));
    insta::assert_snapshot!("grading_csv", read(&out.path().join("grades.csv")));
    insta::assert_snapshot!(
        "grading_feedback_tampered",
        read(&student("tampered", "feedback.txt"))
    );
    insta::assert_snapshot!(
        "grading_results_partial",
        read(&student("partial", "results.json"))
    );
    // The panic is the student's to see (its thread id varies: not snapshotted).
    let panicked = read(&student("panicking-server", "feedback.txt"));
    assert!(
        panicked.contains("the server exited (exit status: 101)"),
        "{panicked}"
    );
    assert!(panicked.contains("MCP_SECRET must be set"), "{panicked}");
}

#[test]
fn gradescope_writes_a_valid_results_json() {
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let results = out.path().join("results").join("results.json");
    let submission = format!("{CLASS}/hanging-handler");
    let (code, output) = xtask(&[
        "gradescope",
        "--submission",
        &submission,
        "--results",
        &results.display().to_string(),
    ]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(student_processes_left(), Vec::<String>::new(), "{output}");

    // Gradescope's schema: a numeric score that the tests add up to, and
    // per test a name, score, max_score, passed/failed status and output.
    let results = json(&results);
    let tests = results["tests"]
        .as_array()
        .unwrap_or_else(|| panic!("no tests: {results}"));
    let lab = common::catalog()
        .lab("lab1")
        .cloned()
        .unwrap_or_else(|| panic!("no lab1"));
    assert_eq!(tests.len(), lab.checks.len());
    let mut sum = 0;
    for (test, check) in tests.iter().zip(&lab.checks) {
        assert_eq!(test["name"], check.title.as_str());
        assert_eq!(test["max_score"], check.points);
        let score = test["score"].as_u64().unwrap_or_else(|| panic!("{test}"));
        let status = test["status"].as_str().unwrap_or_default();
        assert!(
            matches!((status, score), ("passed", s) if s == u64::from(check.points))
                || matches!((status, score), ("failed", 0)),
            "{test}"
        );
        assert!(
            test["output"].is_string() && test["visibility"] == "visible",
            "{test}"
        );
        sum += score;
    }
    assert_eq!(results["score"], sum);
    assert_eq!(sum, 9, "{results}");
    assert!(
        results["output"]
            .as_str()
            .is_some_and(|o| o.contains("is a handler stuck?")),
        "{results}"
    );
}

#[test]
fn stops_a_build_that_never_ends_and_everything_it_started() {
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out_dir = out.path().display().to_string();
    let (code, output) = xtask(&[
        "grade",
        "tests/fixtures/build-hangs",
        "--lab",
        "lab1",
        "--out",
        &out_dir,
        "--timeout",
        "5",
    ]);
    assert_eq!(code, 0, "{output}");
    let grades = json(&out.path().join("grades.json"));
    let lab = &grades["students"][0]["labs"][0];
    assert_eq!(lab["status"], "build_failed", "{grades}");
    assert_eq!(lab["points"], 0, "{grades}");
    let reason = lab["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("did not finish within 5 s"), "{reason}");

    // Neither the build script nor the child it started survived.
    let left: Vec<String> = processes()
        .filter(|(_, exe, cmdline)| {
            exe.contains("target/grade/target/") || cmdline == "sleep\086399\0"
        })
        .map(|(pid, exe, _)| format!("{pid} {exe}"))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "{output}");
}

/// `(pid, executable, NUL-separated command line)` of every process.
fn processes() -> impl Iterator<Item = (String, String, String)> {
    let pids = std::fs::read_dir("/proc")
        .map(|dir| dir.filter_map(Result::ok).collect::<Vec<_>>())
        .unwrap_or_default();
    pids.into_iter()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .map(|pid| {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
                .map(|path| path.display().to_string())
                .unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            (pid, exe, cmdline)
        })
}

/// Student binaries (kept under `target/grade/bin/` while checked) still
/// running once the grader is done: there must be none. A student process
/// whose parent is a live checks binary belongs to a grading run in
/// progress (another `cargo test` in this checkout), not to ours.
pub fn student_processes_left() -> Vec<String> {
    let exe = |pid: &str| {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    };
    let parent = |pid: &str| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // `pid (comm) state ppid …`; comm may hold spaces, so split after it.
        let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        after_comm
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .map(|pid| (exe(&pid), pid))
        .filter(|(exe, _)| exe.contains("target/grade/bin/") && !exe.ends_with("/checks"))
        .filter(|(_, pid)| !exe(&parent(pid)).contains("target/grade/bin/checks"))
        .map(|(exe, pid)| format!("{pid} {exe}"))
        .collect()
}
