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
    xtask_with(args, &[])
}

/// [`xtask`] with more environment variables.
fn xtask_with(args: &[&str], env: &[(&str, &Path)]) -> (i32, String) {
    // FAST's limits for the grading commands, unless the test sets one itself.
    let grading = matches!(args.first(), Some(&("grade" | "gradescope")));
    let limits = FAST
        .chunks(2)
        .filter(|flag_value| grading && !args.contains(&flag_value[0]))
        .flatten();
    let output = Command::new(common::binary("xtask"))
        .args(args)
        .args(limits)
        .current_dir(checks::repo_root())
        .env("CI", "true")
        .envs(env.iter().copied())
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

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
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
    // How many processes a fixture's server leaves behind depends on how
    // many checks start a server: not what the snapshots are about.
    settings.add_filter(r"[0-9]+ process\(es\)", "[n] process(es)");
    settings.add_filter(r"` ×[0-9]+", "` ×[n]");
    // The `forger` fixture's loop may be between two `sleep 0.1`s, or in one.
    settings.add_filter(r"(, )?`sleep 0\.1`( ×\[n\])?(, )?", "");
    settings
}

#[test]
fn grades_the_fixture_class_with_the_expected_points() {
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out_dir = out.path().display().to_string();
    // A temporary folder of its own, to see what the run leaves in it.
    let tmp = out.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap_or_else(|e| panic!("{e}"));
    let (code, output) = xtask_with(
        &["grade", CLASS, "--lab", "lab1", "--out", &out_dir],
        &[("TMPDIR", &tmp)],
    );
    assert_eq!(code, 0, "{output}");
    assert_eq!(student_processes_left(), Vec::<String>::new(), "{output}");
    // Every program's scratch directory went with it (issue 13, defect 4:
    // one leaked per graded submission).
    assert_eq!(entries(&tmp), Vec::<String>::new(), "{output}");

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
        ("adds-dependency", 0, "build_failed"),
        ("carol", 14, "checked"),
        ("compile-error", 0, "build_failed"),
        ("escapes", 18, "checked"),
        ("forger", 18, "checked"),
        ("hanging-handler", 9, "checked"),
        ("never-starts", 0, "never_listened"),
        ("not-a-submission", 0, "missing"),
        ("panicking-server", 0, "never_listened"),
        ("partial", 14, "checked"),
        ("perfect", 18, "checked"),
        ("reaches-reference", 5, "checked"),
        ("renamed", 0, "missing"),
        ("spinning-handler", 9, "checked"),
        ("tampered", 5, "checked"),
        ("untouched", 5, "checked"),
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
    // Issue 13, defect 6: nothing in the class folder goes unmentioned, and
    // a lab folder named almost right is named.
    let summary = read(&out.path().join("summary.md"));
    assert!(
        summary.contains("- `README.md`: a file, not a student's folder or .zip"),
        "{summary}"
    );
    assert!(
        summary
            .contains("but `labs/Lab1_Basic-Secret` looks like it: rename it `lab1-basic-secret`"),
        "{summary}"
    );
    // Defect 2: what escaped its process group is killed and named.
    assert_eq!(escaped_sleeps(), Vec::<String>::new(), "{output}");
    assert!(
        summary.contains("process(es) started by this submission's programs were still running after its checks and were killed: `sleep 601`"),
        "{summary}"
    );
    // Defect 5: a student file that compiles the reference is not used.
    assert!(
        summary.contains("- **lab1** note: `src/auth.rs` reaches outside the lab folder (`#[path = \"../../../../../../solutions/lab1-basic-secret/src/auth.rs\"]`): it was not used, the starter's was"),
        "{summary}"
    );
    assert!(
        summary.contains("- **lab1** note: `src/client.rs` reaches outside the lab folder (`include!(\"../../../../../../solutions/lab1-basic-secret/src/client.rs\")`)"),
        "{summary}"
    );
    // Defect 8: the reports speak to their reader.
    assert!(
        summary.contains("- **lab1** note: dependencies cannot be added (`regex`)"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "- **lab1**: the starter, unchanged: 5/18 (`students/untouched/lab1/feedback.txt`)"
        ),
        "{summary}"
    );
    let perfect = read(&student("perfect", "feedback.txt"));
    assert!(
        !perfect.contains("Compare with solutions/") && !perfect.contains("cargo xtask diff"),
        "{perfect}"
    );
    assert!(
        perfect.contains("Well done. Read \"Going further\" in docs/lab1-basic-secret.md."),
        "{perfect}"
    );
    let csv = read(&out.path().join("grades.csv"));
    for student in expected.keys() {
        assert!(
            csv.contains(&format!("\n{student},lab1,")),
            "{student}: {csv}"
        );
    }

    let _redacted = redacted().bind_to_scope();
    insta::assert_snapshot!("grading_summary", summary);
    insta::assert_snapshot!("grading_csv", read(&out.path().join("grades.csv")));
    insta::assert_snapshot!(
        "grading_wide_csv",
        read(&out.path().join("grades-wide.csv"))
    );
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

    // No compiler of that build survived.
    let left: Vec<String> = processes()
        .filter(|(_, _, cmdline)| cmdline.contains("rustc") && cmdline.contains("target/grade/"))
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

/// Runs `program args` in the repository root; panics unless it succeeds,
/// returns its stdout.
fn run_ok(program: &str, args: &[&str], dir: &Path) -> Vec<u8> {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Makes the Gradescope zip for lab 1 from the work tree as it is
/// (`make-zip.sh --worktree`: the suite tests what is there, committed or
/// not) and unpacks it into `into`.
fn gradescope_kit(into: &Path) {
    let root = checks::repo_root();
    let zip = into.with_extension("zip");
    let output = std::process::Command::new(root.join("docs/gradescope/make-zip.sh"))
        .args(["--worktree", "lab1"])
        .env("OUT", &zip)
        .output()
        .unwrap_or_else(|e| panic!("cannot run make-zip.sh: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (zip, into) = (zip.display().to_string(), into.display().to_string());
    run_ok("unzip", &["-q", "-o", &zip, "-d", &into], &root);
}

/// Issue 13, defect 1: Gradescope's copy of the kit has no answers, yet the
/// kit's own workspace manifest and lock file (so `setup.sh` builds
/// `--locked`, and a student's untouched clone matches it).
#[test]
fn the_gradescope_zip_has_the_kits_lock_file_and_no_answers() {
    let root = checks::repo_root();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kit = dir.path().join("kit");
    gradescope_kit(&kit);
    let ours = |rel: &str| std::fs::read(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let zipped = |rel: &str| std::fs::read(kit.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    for rel in ["Cargo.toml", "Cargo.lock"] {
        assert!(zipped(rel) == ours(rel), "{rel} differs from the kit's");
    }
    assert!(!kit.join("tests/fixtures").exists());
    for lab in &common::catalog().labs {
        for file in &lab.student_files {
            let rel = format!("{}/{file}", lab.solution_dir());
            let starter = format!("{}/{file}", lab.starter_dir());
            assert!(zipped(&rel) == ours(&starter), "{rel} is not the starter's");
        }
    }
    for script in ["setup.sh", "run_autograder"] {
        assert!(kit.join(script).is_file(), "no {script} at the zip's root");
    }
    // The lock file needs no change for the zip's workspace.
    run_ok(
        "cargo",
        &[
            "tree",
            "--locked",
            "--offline",
            "-p",
            "labs-meta",
            "--depth",
            "0",
        ],
        &kit,
    );
}

/// Issue 13, defect 1: a student's untouched clone of the kit, with files
/// the instructor's copy does not have (Gradescope's copy has no
/// `tests/fixtures/`), is graded with no note about changed kit files.
#[test]
fn an_untouched_clone_is_not_accused_of_tampering() {
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    let root = checks::repo_root();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let clone = dir.path().join("clone");
    let tracked = run_ok("git", &["ls-files", "-z"], &root);
    for rel in tracked.split(|&b| b == 0).filter(|rel| !rel.is_empty()) {
        let rel = String::from_utf8_lossy(rel).into_owned();
        let (from, to) = (root.join(&rel), clone.join(&rel));
        if from.is_file() {
            std::fs::create_dir_all(to.parent().unwrap_or(&clone))
                .unwrap_or_else(|e| panic!("{e}"));
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{rel}: {e}"));
        }
    }
    let extra = clone.join("tests/fixtures/only-in-the-students-copy/notes.txt");
    std::fs::create_dir_all(extra.parent().unwrap_or(&clone)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&extra, "not in the instructor's copy\n").unwrap_or_else(|e| panic!("{e}"));

    let results = dir.path().join("results.json");
    let (code, output) = xtask(&[
        "gradescope",
        "--lab",
        "lab1",
        "--submission",
        &clone.display().to_string(),
        "--results",
        &results.display().to_string(),
    ]);
    assert_eq!(code, 0, "{output}");
    let results = json(&results);
    let text = results["output"].as_str().unwrap_or_default();
    assert!(text.contains("Points: "), "{results}");
    assert!(
        !text.contains("differ from the instructor's copy"),
        "{text}"
    );
}

/// Issue 13, defect 3: the committed GitHub Classroom workflow has one
/// graded step per lab in labs.toml, worth the lab's points (it is made by
/// `cargo xtask classroom`; this fails when someone forgot to run it).
#[test]
fn the_classroom_workflow_grades_every_lab_in_the_catalogue() {
    let (code, output) = xtask(&["classroom", "--check"]);
    assert_eq!(code, 0, "{output}");
    let workflow = std::fs::read_to_string(checks::repo_root().join(CLASSROOM))
        .unwrap_or_else(|e| panic!("{CLASSROOM}: {e}"));
    for lab in &common::catalog().labs {
        let step = format!(
            "command: CARGO_INCREMENTAL=0 cargo xtask check {}\n          timeout: 10\n          max-score: {}\n",
            lab.id,
            lab.total_points()
        );
        assert!(
            workflow.contains(&step),
            "no step for {}:\n{workflow}",
            lab.id
        );
    }
}

const CLASSROOM: &str = "docs/github-classroom/classroom.yml";

/// `sleep 601` processes (what the `escapes` fixture leaves behind).
fn escaped_sleeps() -> Vec<String> {
    processes()
        .filter(|(_, _, cmdline)| cmdline == "sleep\x00601\x00")
        .map(|(pid, exe, _)| format!("{pid} {exe}"))
        .collect()
}

/// Issue 13, defect 2: in Gradescope's run too, a process that left its
/// process group is gone before `results.json` is written.
#[test]
fn gradescope_ends_every_student_process_before_writing_results() {
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let results = out.path().join("results.json");
    let submission = format!("{CLASS}/escapes");
    let (code, output) = xtask(&[
        "gradescope",
        "--lab",
        "lab1",
        "--submission",
        &submission,
        "--results",
        &results.display().to_string(),
    ]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(escaped_sleeps(), Vec::<String>::new(), "{output}");
    let results = json(&results);
    assert_eq!(results["score"], 18, "{results}");
    let text = results["output"].as_str().unwrap_or_default();
    assert!(text.contains("were killed: `sleep 601`"), "{text}");
}

/// Issue 13, defect 2: a submission whose server leaves a loop behind that
/// keeps writing `{"score": 999}` over Gradescope's results.json cannot
/// change its score: its programs run as an unprivileged user (when the
/// suite runs as root, as Gradescope does), the loop is killed, and the
/// results are written after that.
#[test]
fn a_forging_submission_cannot_change_its_gradescope_score() {
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    // Where the fixture's loop writes (it finds it from the grader's mark).
    let dir = checks::repo_root().join("target/grade/gradescope-forger");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let results = dir.join("results.json");
    let args = [
        "gradescope",
        "--lab",
        "lab1",
        "--submission",
        "tests/fixtures/class/forger",
        "--results",
        &results.display().to_string(),
    ];
    // `Uid:	real	effective	…` in /proc/self/status (Linux, like the rest
    // of this file).
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false);
    let nobody = Path::new("65534:65534");
    let env: &[(&str, &Path)] = if root {
        &[("MCP_AUTH_LABS_RUN_AS", nobody)]
    } else {
        &[]
    };
    let (code, output) = xtask_with(&args, env);
    assert_eq!(code, 0, "{output}");
    // Long enough for a surviving loop to write ten times.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let graded = json(&results);
    assert_eq!(graded["score"], 18, "{output}");
    let text = graded["output"].as_str().unwrap_or_default();
    assert!(
        text.contains("were still running after its checks and were killed: ")
            && text.contains("`sh -c a="),
        "{text}"
    );

    if root {
        // Only root may ask for another user.
        let (code, output) = xtask_with(&args, &[("MCP_AUTH_LABS_RUN_AS", Path::new("nobody"))]);
        assert_eq!(code, 2, "{output}");
        assert!(output.contains("is not UID:GID"), "{output}");
    } else {
        let (code, output) = xtask_with(&args, &[("MCP_AUTH_LABS_RUN_AS", nobody)]);
        assert_eq!(code, 2, "{output}");
        assert!(
            output.contains("only root can run programs as another user"),
            "{output}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 13, defect 7: a submission time limit too short for every check
/// to run out its own limit costs only the checks that ran out of time.
/// (With the whole run cut at `--timeout 8`, the hanging handler got 2/18:
/// checks that pass but wait their turn behind stuck ones failed too.)
#[test]
fn a_time_limit_costs_only_the_checks_that_ran_out_of_time() {
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let results = out.path().join("results.json");
    let (code, output) = xtask(&[
        "gradescope",
        "--lab",
        "lab1",
        "--submission",
        &format!("{CLASS}/hanging-handler"),
        "--results",
        &results.display().to_string(),
        "--timeout",
        "8",
    ]);
    assert_eq!(code, 0, "{output}");
    let results = json(&results);
    // As many as with no limit on the whole run (the fixture class's 9).
    assert_eq!(results["score"], 9, "{results}");
    let text = results["output"].as_str().unwrap_or_default();
    assert!(text.contains("no answer within 2.6 s"), "{text}");
    assert!(!text.contains("not finished"), "{text}");
}

/// Issue 13, defects 1 and 2, end to end: Gradescope's own scripts
/// (`setup.sh`, then `run_autograder` per submission) on the zip, in a
/// folder shaped like `/autograder` (`target/gradescope-sim/`, kept between
/// runs: the first one compiles the kit and lab 1's dependencies, minutes).
/// A student's untouched clone is graded with no tamper note; a submission
/// that leaves a loop writing `{"score": 999}` over results.json keeps the
/// score it earned.
#[test]
fn gradescope_scripts_grade_a_clone_and_a_forger_in_an_autograder_layout() {
    let _serial = GRADING.lock().unwrap_or_else(|p| p.into_inner());
    let root = checks::repo_root();
    let sim = root.join("target/gradescope-sim");
    let autograder = sim.join("autograder");
    let source = autograder.join("source");
    // A fresh kit, keeping what setup.sh compiled into it last time.
    let kept = sim.join("kept-target");
    let _ = std::fs::remove_dir_all(&kept);
    let _ = std::fs::rename(source.join("target"), &kept);
    let _ = std::fs::remove_dir_all(&autograder);
    std::fs::create_dir_all(autograder.join("results")).unwrap_or_else(|e| panic!("{e}"));
    gradescope_kit(&source);
    let _ = std::fs::rename(&kept, source.join("target"));

    let script = |name: &str| {
        let output = std::process::Command::new("bash")
            .arg(source.join(name))
            .current_dir(&autograder)
            .env("AUTOGRADER", &autograder)
            .env("STUDENT_USER", "nobody")
            .env("CARGO_TARGET_DIR", sim.join("cargo-target"))
            .env("CI", "true")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code().unwrap_or(-1), text)
    };
    let (code, output) = script("setup.sh");
    assert_eq!(code, 0, "{output}");

    let submit = |files: &[(String, std::path::PathBuf)]| {
        let submission = autograder.join("submission");
        let _ = std::fs::remove_dir_all(&submission);
        for (rel, from) in files {
            let to = submission.join(rel);
            std::fs::create_dir_all(to.parent().unwrap_or(&submission))
                .unwrap_or_else(|e| panic!("{e}"));
            std::fs::copy(from, &to).unwrap_or_else(|e| panic!("{rel}: {e}"));
        }
        let _ = std::fs::remove_file(autograder.join("results/results.json"));
        let (code, output) = script("run_autograder");
        assert_eq!(code, 0, "{output}");
        // Long enough for a loop left running to write ten times.
        std::thread::sleep(std::time::Duration::from_secs(1));
        (json(&autograder.join("results/results.json")), output)
    };

    // An untouched clone, as GitHub hands it to Gradescope.
    let tracked = run_ok(
        "git",
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        &root,
    );
    let clone: Vec<(String, std::path::PathBuf)> = tracked
        .split(|&b| b == 0)
        .map(|rel| String::from_utf8_lossy(rel).into_owned())
        .filter(|rel| !rel.is_empty() && root.join(rel).is_file())
        .map(|rel| (rel.clone(), root.join(&rel)))
        .collect();
    let (results, output) = submit(&clone);
    let text = results["output"].as_str().unwrap_or_default();
    assert!(text.contains("Points: "), "{output}");
    assert!(
        !text.contains("differ from the instructor's copy"),
        "{text}"
    );

    let forger = Path::new(CLASS).join("forger");
    let files: Vec<(String, std::path::PathBuf)> = ["src/auth.rs", "src/client.rs"]
        .iter()
        .map(|rel| {
            let from = root.join(&forger).join("lab1-basic-secret").join(rel);
            (format!("lab1-basic-secret/{rel}"), from)
        })
        .collect();
    let (results, output) = submit(&files);
    assert_eq!(results["score"], 18, "{output}");
    let text = results["output"].as_str().unwrap_or_default();
    assert!(text.contains("were killed: "), "{text}");
}
