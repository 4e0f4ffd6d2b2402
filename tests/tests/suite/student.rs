//! A student's commands through the real `cargo xtask` binary: progress
//! (`cargo xtask` alone), `reset` and its undo, `diff` before and after a
//! pass, `doctor` on a machine without Python, and `watch` driven by a file
//! change. Reset and diff work in a temporary copy of the kit
//! (`XTASK_ROOT`), progress in a temporary file (`XTASK_PROGRESS`), so a
//! test never touches a developer's own labs or progress.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use labs_meta::Lab;

use crate::common;

/// Runs `xtask <args>` headless with `env`; returns (exit code, stdout).
fn xtask(args: &[&str], env: &[(&str, &Path)]) -> (i32, String) {
    let output = Command::new(common::binary("xtask"))
        .args(args)
        .current_dir(checks::repo_root())
        .env("CI", "true")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run xtask: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (
        output.status.code().unwrap_or(-1),
        format!("{stdout}{stderr}"),
    )
}

fn lab(id: &str) -> Lab {
    common::catalog()
        .lab(id)
        .cloned()
        .unwrap_or_else(|| panic!("no {id} in labs.toml"))
}

/// A copy of the kit's catalogue, starters and solutions in a temporary
/// folder: enough for reset and diff, which only read and write files.
fn kit_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = checks::repo_root();
    copy(&root.join("labs.toml"), &tmp.path().join("labs.toml"));
    for dir in ["labs", "solutions"] {
        copy(&root.join(dir), &tmp.path().join(dir));
    }
    tmp
}

/// Copies a file or a folder (without `target/` folders).
fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
        for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{e}")) {
            let entry = entry.unwrap_or_else(|e| panic!("{e}"));
            if entry.file_name() != "target" {
                copy(&entry.path(), &to.join(entry.file_name()));
            }
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
    }
}

/// Every file under `dir` (but `.git/` and `.labs-backup/`) with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap_or_else(|e| panic!("{e}")) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if matches!(name.as_deref(), Some(".git" | ".labs-backup")) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
                files.insert(path.strip_prefix(dir).unwrap_or(&path).to_path_buf(), bytes);
            }
        }
    }
    files
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=Student",
            "-c",
            "user.email=student@example.com",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(status.success(), "git {args:?} failed");
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn progress_shows_the_last_check_and_the_next_command() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let progress = tmp.path().join("progress.toml");
    let env = [("XTASK_PROGRESS", progress.as_path())];

    let (code, before) = xtask(&[], &env);
    assert_eq!(code, 0, "{before}");
    assert!(
        before.contains("lab1  basic-secret  not checked yet"),
        "{before}"
    );
    assert!(
        before.contains("Next: `cargo xtask check lab1` (docs/lab1-basic-secret.md)"),
        "{before}"
    );

    // A real check of the starter records its result, whatever it is.
    let (code, checked) = xtask(&["check", "lab1"], &env);
    assert!(code == 0 || code == 1, "{checked}");
    let recorded = read(&progress);
    assert!(
        recorded.contains("[lab1]\nslug = \"basic-secret\""),
        "{recorded}"
    );

    let (code, after) = xtask(&[], &env);
    assert_eq!(code, 0, "{after}");
    let row = after
        .lines()
        .find(|line| line.starts_with("lab1 "))
        .unwrap_or_else(|| panic!("no lab1 row:\n{after}"));
    let total = lab("lab1").checks.len();
    assert!(
        row.contains(&format!("/{total}")) && !row.contains("not checked yet"),
        "{after}"
    );
    assert!(after.contains("Next: `cargo xtask check lab"), "{after}");
    // `list` and `check` without a lab print the same list.
    assert_eq!(xtask(&["list"], &env).1, after);
    assert_eq!(xtask(&["check"], &env), (2, after));
}

#[test]
fn progress_survives_a_renamed_and_a_renumbered_lab() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let progress = tmp.path().join("progress.toml");
    let (lab1, lab2) = (lab("lab1"), lab("lab2"));
    // lab1 passed under an older slug; lab2 was checked when it was lab9.
    write(
        &progress,
        &format!(
            "[lab1]\nslug = \"an-older-name\"\nresult = \"passed\"\npassed = {n}\ntotal = {n}\nchecked = \"2026-11-30 09:00 UTC\"\n\n\
             [lab9]\nslug = \"{slug}\"\nresult = \"failed\"\npassed = 1\ntotal = {m}\nchecked = \"2026-11-30 10:00 UTC\"\n",
            n = lab1.checks.len(),
            slug = lab2.slug,
            m = lab2.checks.len(),
        ),
    );
    let (code, out) = xtask(&[], &[("XTASK_PROGRESS", &progress)]);
    assert_eq!(code, 0, "{out}");
    let n = lab1.checks.len();
    assert!(
        out.contains(&format!("lab1  basic-secret  ✓ {n}/{n}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("lab2  jwt           ✗ 1/{}", lab2.checks.len())),
        "{out}"
    );
    assert!(out.contains("Next: `cargo xtask check lab2`"), "{out}");
}

#[test]
fn reset_restores_the_starter_and_undo_brings_the_work_back() {
    let kit = kit_copy();
    let root = kit.path();
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "the kit as shipped"]);

    let (lab1, lab2) = (lab("lab1"), lab("lab2"));
    let mine = root.join(lab1.starter_dir()).join(&lab1.student_files[0]);
    let starter = read(&mine);
    let other = root.join(lab2.starter_dir()).join(&lab2.student_files[0]);
    write(&mine, "// my work on lab 1\n");
    write(&other, "// my work on lab 2\n");
    let before = tree(root);

    let env = [("XTASK_ROOT", root)];
    let (code, out) = xtask(&["reset", "lab1"], &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(read(&mine), starter, "{out}");
    let backup = out
        .lines()
        .find_map(|line| line.strip_prefix("lab1: your files are saved in "))
        .unwrap_or_else(|| panic!("no backup path printed:\n{out}"));
    assert!(backup.starts_with(".labs-backup/lab1/"), "{out}");
    let saved = root
        .join(backup)
        .join(lab1.starter_dir())
        .join(&lab1.student_files[0]);
    assert_eq!(read(&saved), "// my work on lab 1\n");
    assert!(
        out.contains("Undo: `cargo xtask reset lab1 --undo`"),
        "{out}"
    );

    // Only lab 1's student files changed; lab 2's work is untouched.
    let after = tree(root);
    let changed: Vec<&PathBuf> = before
        .keys()
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    let lab1_files: Vec<PathBuf> = lab1
        .student_files
        .iter()
        .map(|file| Path::new(&lab1.starter_dir()).join(file))
        .collect();
    assert!(
        changed.iter().all(|path| lab1_files.contains(path)),
        "{changed:?}"
    );
    assert_eq!(before.len(), after.len());
    assert_eq!(read(&other), "// my work on lab 2\n");

    let (code, out) = xtask(&["reset", "lab1", "--undo"], &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(read(&mine), "// my work on lab 1\n", "{out}");
    assert_eq!(tree(root), before);
}

#[test]
fn diff_needs_a_pass_or_an_explicit_spoiler() {
    let kit = kit_copy();
    let root = kit.path();
    let progress = root.join("progress.toml");
    let env = [("XTASK_ROOT", root), ("XTASK_PROGRESS", progress.as_path())];
    let lab1 = lab("lab1");
    let file = format!("{}/{}", lab1.starter_dir(), lab1.student_files[0]);
    let reference = format!("{}/{}", lab1.solution_dir(), lab1.student_files[0]);

    let (code, refused) = xtask(&["diff", "lab1"], &env);
    assert_eq!(code, 1, "{refused}");
    assert!(
        refused.contains("`cargo xtask diff lab1 --spoil`") && refused.contains("spoils the lab"),
        "{refused}"
    );
    assert!(!refused.contains("+++"), "{refused}");

    let (code, spoiled) = xtask(&["diff", "lab1", "--spoil"], &env);
    assert_eq!(code, 0, "{spoiled}");
    assert!(
        spoiled.starts_with("Spoiler: lab1 does not pass yet"),
        "{spoiled}"
    );
    assert!(
        spoiled.contains(&format!("--- {file}\n+++ {reference}\n")),
        "{spoiled}"
    );

    // After a pass (as `cargo xtask check lab1` records it), no flag needed.
    let n = lab1.checks.len();
    write(
        &progress,
        &format!(
            "[lab1]\nslug = \"{}\"\nresult = \"passed\"\npassed = {n}\ntotal = {n}\nchecked = \"2026-12-01 10:00 UTC\"\n",
            lab1.slug
        ),
    );
    let (code, offered) = xtask(&["diff", "lab1"], &env);
    assert_eq!(code, 0, "{offered}");
    assert!(!offered.contains("Spoiler"), "{offered}");
    assert!(
        offered.contains(&format!("--- {file}\n+++ {reference}\n")),
        "{offered}"
    );

    // A student whose files are the reference's sees no difference.
    for student_file in &lab1.student_files {
        copy(
            &root.join(lab1.solution_dir()).join(student_file),
            &root.join(lab1.starter_dir()).join(student_file),
        );
    }
    let (code, same) = xtask(&["diff", "lab1"], &env);
    assert_eq!(code, 0, "{same}");
    assert!(
        same.contains(&format!("{file}: the same as the reference")),
        "{same}"
    );
    assert!(!same.contains("+++"), "{same}");
}

#[test]
fn doctor_without_python_or_git_warns_and_passes() {
    let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cargo = PathBuf::from(env!("CARGO"));
    let rustc = cargo.with_file_name(format!("rustc{}", std::env::consts::EXE_SUFFIX));
    let (code, out) = xtask(
        &["doctor"],
        &[
            ("PATH", empty.path()),
            ("CARGO", cargo.as_path()),
            ("RUSTC", rustc.as_path()),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("✓ Rust 1."), "{out}");
    assert!(out.contains("dependencies are downloaded"), "{out}");
    assert!(out.contains("free on the kit's disk"), "{out}");
    assert!(out.contains("! Python 3.11+ with venv not found"), "{out}");
    assert!(out.contains("! git not found"), "{out}");
    // Every warning comes with what fixes it.
    let warnings = out.lines().filter(|line| line.starts_with("  ! ")).count();
    let fixes = out
        .lines()
        .filter(|line| line.starts_with("      fix: "))
        .count();
    assert!(warnings >= 2 && fixes == warnings, "{out}");
}

/// Stops the watcher even when the test fails.
struct Watching(Child);

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn watch_checks_again_when_a_file_is_saved() {
    // A fixture lab in a temporary folder of a fixed name: its build goes to
    // target/outside/watched-lab, warm after the first run.
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("watched-lab");
    copy(
        &checks::repo_root().join("tests/fixtures/labs/wrong-answers"),
        &dir,
    );
    let mut child = Command::new(common::binary("xtask"))
        .args(["watch", "lab1", "--path"])
        .arg(&dir)
        .current_dir(checks::repo_root())
        .env("CI", "true")
        .env("XTASK_PROGRESS", tmp.path().join("progress.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run xtask: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    let mut watching = Watching(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    // Generous: the first run may build the checks crate.
    let mut wait_for = |what: &str| loop {
        match lines.recv_timeout(Duration::from_secs(600)) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(what) {
                    break;
                }
            }
            Err(e) => panic!("no line with `{what}` ({e}); the watcher printed:\n{seen}"),
        }
    };

    wait_for("checks passed");
    wait_for("Watching ");
    // A save that breaks the build: the next run must be of the new file.
    let main = dir.join("src/main.rs");
    let text = read(&main);
    write(
        &main,
        &format!("{text}\ncompile_error!(\"saved by the test\");\n"),
    );
    wait_for("saved by the test");
    wait_for("fix the compile error first");
    wait_for("Watching ");

    stdin
        .write_all(b"q\n")
        .unwrap_or_else(|e| panic!("cannot type q: {e}"));
    let status = watching.0.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status}");
}

/// Ctrl-C in the middle of a run (the checks' servers are up) ends the
/// watcher and leaves no process of the run behind: the terminal sends
/// SIGINT to the whole foreground process group, as this test does.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_during_a_watched_run_leaves_no_process_behind() {
    use std::os::unix::process::CommandExt;

    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // A name of its own: every process of the run has it in its command line
    // (the lab's binary is built into target/outside/interrupted-lab).
    let dir = tmp.path().join("interrupted-lab");
    copy(
        &checks::repo_root().join("tests/fixtures/labs/wrong-answers"),
        &dir,
    );
    let mut child = Command::new(common::binary("xtask"))
        .args(["watch", "lab1", "--path"])
        .arg(&dir)
        .current_dir(checks::repo_root())
        .env("CI", "true")
        .env("XTASK_PROGRESS", tmp.path().join("progress.toml"))
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run xtask: {e}"));
    let group = child.id();
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut watching = Watching(child);
    // Started under a parent that ignores SIGINT (a job put in the
    // background by a non-interactive shell), the watcher ignores it too:
    // no terminal could interrupt it either, so there is nothing to test.
    if sigint_is_ignored(group) {
        eprintln!("skipped: the watcher inherited SIGINT ignored (a background job)");
        return;
    }
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    // The checks are running, with their servers, from this line on.
    let started = lines.by_ref().any(|line| line.starts_with("RUN    ✓"));
    assert!(started, "the run never got to its checks");

    let group = nix::unistd::Pid::from_raw(i32::try_from(group).unwrap_or_else(|e| panic!("{e}")));
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGINT)
        .unwrap_or_else(|e| panic!("cannot send SIGINT: {e}"));
    // Generous: a loaded machine may take a while to deliver and exit.
    let status = (0..600)
        .find_map(|_| {
            let status = watching.0.try_wait().unwrap_or_else(|e| panic!("{e}"));
            if status.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            status
        })
        .unwrap_or_else(|| panic!("the watcher did not stop on SIGINT"));
    assert!(!status.success(), "{status}");

    // The checks binary stops its servers on SIGINT before it exits: wait
    // (generously) until nothing of the run is left.
    let left = || -> Vec<String> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
            .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
            .filter(|cmdline| cmdline.contains("interrupted-lab") && !cmdline.contains("suite-"))
            .collect()
    };
    for _ in 0..600 {
        if left().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("left behind after Ctrl-C: {:?}", left());
}

/// Whether process `pid` ignores SIGINT (signal 2: bit 1 of `SigIgn`).
#[cfg(target_os = "linux")]
fn sigint_is_ignored(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 1) != 0)
}
