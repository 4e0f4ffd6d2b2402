//! Interop with the official Python MCP SDK, written the way the course
//! writes its client. `interop/setup.sh` creates the pinned venv on first use
//! (and is a no-op afterwards); the scripts are in `interop/`.

use std::{path::PathBuf, process::Output, sync::OnceLock};

use tokio::process::Command;

use crate::common;

/// The venv's Python, after making sure the venv is up to date.
fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = checks::repo_root();
            let status = std::process::Command::new("bash")
                .arg(root.join("interop/setup.sh"))
                .status()
                .unwrap_or_else(|e| panic!("cannot run interop/setup.sh: {e}"));
            assert!(
                status.success(),
                "interop/setup.sh failed ({status}); see its output above"
            );
            root.join("target/interop-venv/bin/python")
        })
        .clone()
}

/// Runs `interop/<script>` with the venv's Python.
pub async fn script(script: &str, args: &[&str]) -> Output {
    let python = tokio::task::spawn_blocking(python)
        .await
        .unwrap_or_else(|e| panic!("venv setup panicked: {e}"));
    Command::new(python)
        .arg(checks::repo_root().join("interop").join(script))
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"))
}

/// Asserts the exit code and returns stdout, showing everything on failure.
#[track_caller]
pub fn expect_exit(output: &Output, code: i32) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "unexpected exit\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn lab1_python_client_lists_and_calls_tools_with_the_secret() {
    let server = common::lab_binary("lab1-solution")
        .start_server()
        .await
        .unwrap();
    let url = server.url("/mcp");
    let output = script("mcp_client.py", &["--url", &url, "--token", "secret-token"]).await;
    let stdout = expect_exit(&output, 0);
    assert!(
        stdout.contains("tools: add, delete_order, get_order, list_orders, whoami"),
        "{stdout}"
    );
    assert!(stdout.contains("result: 42"), "{stdout}");
}

#[tokio::test]
async fn lab1_python_client_is_refused_without_or_with_a_wrong_secret() {
    let server = common::lab_binary("lab1-solution")
        .start_server()
        .await
        .unwrap();
    let url = server.url("/mcp");
    let missing = script("mcp_client.py", &["--url", &url]).await;
    expect_exit(&missing, 3);
    assert!(
        stderr(&missing).contains("refused: HTTP 401"),
        "{}",
        stderr(&missing)
    );
    let wrong = script(
        "mcp_client.py",
        &["--url", &url, "--token", "not-the-secret"],
    )
    .await;
    expect_exit(&wrong, 3);
    assert!(
        stderr(&wrong).contains("refused: HTTP 403"),
        "{}",
        stderr(&wrong)
    );
}
