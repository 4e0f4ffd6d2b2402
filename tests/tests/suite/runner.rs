//! The runner (`cargo xtask check`) through its real binary, on the lab-1
//! solution and on small fixture labs in `tests/fixtures/labs/`: a pass, a
//! check failure, a compile error and a server that never starts.

use std::path::Path;

use assert_cmd::Command;

use crate::common;

/// Runs `xtask <args>` headless (as in CI) and returns (exit code, stdout),
/// with machine-specific paths redacted.
fn xtask(args: &[&str]) -> (i32, String) {
    let root = checks::repo_root();
    let output = Command::new(common::binary("xtask"))
        .args(args)
        .current_dir(&root)
        .env("CI", "true")
        .env_remove("NO_COLOR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run xtask: {e}"));
    let stdout =
        String::from_utf8_lossy(&output.stdout).replace(&root.display().to_string(), "[root]");
    (output.status.code().unwrap_or(-1), stdout)
}

fn fixture(name: &str) -> String {
    Path::new("tests/fixtures/labs")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn reports_a_pass_and_exits_zero() {
    let (code, stdout) = xtask(&["check", "lab1", "--solution"]);
    assert_eq!(code, 0, "{stdout}");
    insta::assert_snapshot!("runner_pass", stdout);
}

#[test]
fn reports_failed_checks_and_explains_the_first() {
    let (code, stdout) = xtask(&["check", "lab1", "--path", &fixture("wrong-answers")]);
    assert_eq!(code, 1, "{stdout}");
    insta::assert_snapshot!("runner_check_failure", stdout);
}

#[test]
fn reports_a_compile_error_once_as_build() {
    let (code, stdout) = xtask(&["check", "lab1", "--path", &fixture("compile-error")]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(stdout.matches("error[E0308]").count(), 1, "{stdout}");
    insta::assert_snapshot!("runner_compile_error", stdout);
}

#[test]
fn reports_a_server_that_never_listens_as_run() {
    let (code, stdout) = xtask(&[
        "check",
        "lab1",
        "--path",
        &fixture("never-listens"),
        "--start-timeout",
        "1",
    ]);
    assert_eq!(code, 1, "{stdout}");
    insta::assert_snapshot!("runner_never_listens", stdout);
}

#[test]
fn names_the_known_labs_for_an_unknown_one() {
    let output = Command::new(common::binary("xtask"))
        .args(["check", "lab99"])
        .current_dir(checks::repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run xtask: {e}"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: there is no lab `lab99`; the labs are: lab1"),
        "{stderr}"
    );
}

#[test]
fn hints_go_from_vague_to_concrete() {
    let lab = common::catalog()
        .lab("lab1")
        .cloned()
        .unwrap_or_else(|| panic!("no lab1"));
    let (code, first) = xtask(&["hint", "lab1"]);
    assert_eq!(code, 0);
    assert!(
        first.contains(&lab.hints[0]) && first.contains("--level 2"),
        "{first}"
    );
    let (_, last) = xtask(&["hint", "lab1", "--level", "9"]);
    assert!(
        last.contains(lab.hints.last().map_or("", String::as_str)),
        "{last}"
    );
    assert!(last.contains("That was the last hint"), "{last}");
}
