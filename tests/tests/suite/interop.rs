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
            // A venv keeps its interpreter in Scripts/ on Windows.
            let venv = root.join("target/interop-venv");
            if cfg!(windows) {
                venv.join("Scripts/python.exe")
            } else {
                venv.join("bin/python")
            }
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
        stdout.contains("tools: add, delete_order, get_order, list_orders, refund_order, whoami"),
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

/// A token minted by PyJWT (the course's Python code) with the same secret
/// is accepted by `lab2 verify` and by `lab2 server`, and an expired one is
/// refused by both.
#[tokio::test]
async fn lab2_accepts_a_token_minted_by_pyjwt() {
    let secret = checks::tokens::JWT_SECRET;
    let mint = |ttl: &'static str| async move {
        let args = [
            "mint",
            "--secret",
            secret,
            "--sub",
            "42",
            "--name",
            "Jane Doe",
            "--ttl-seconds",
            ttl,
        ];
        expect_exit(&script("jwt_tool.py", &args).await, 0)
            .trim()
            .to_owned()
    };
    let (token, expired) = (mint("3600").await, mint("-120").await);
    let lab = common::lab_binary("lab2-solution");

    let verified = lab
        .run(&["verify", &token], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    assert!(verified.success, "{}", verified.stderr);
    assert!(
        verified.stdout.contains(r#""sub": "42""#),
        "{}",
        verified.stdout
    );
    let refused = lab
        .run(&["verify", &expired], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("token refused: expired"),
        "{}",
        refused.stderr
    );

    let server = lab
        .start_server_with(&[], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    let url = server.url("/mcp");
    let output = script(
        "mcp_client.py",
        &["--url", &url, "--token", &token, "--call", "whoami"],
    )
    .await;
    let stdout = expect_exit(&output, 0);
    assert!(stdout.contains("result: you are 42 (Jane Doe)"), "{stdout}");
    let output = script("mcp_client.py", &["--url", &url, "--token", &expired]).await;
    expect_exit(&output, 3);
    assert!(
        stderr(&output).contains("refused: HTTP 401"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains(r#"error="invalid_token""#),
        "{}",
        stderr(&output)
    );
}

/// A token from `lab2 mint` verifies in PyJWT, with the claims it was given.
#[tokio::test]
async fn lab2_mint_makes_tokens_pyjwt_accepts() {
    let lab = common::lab_binary("lab2-solution");
    let args = [
        "mint",
        "--sub",
        "7",
        "--name",
        "John Smith",
        "--admin",
        "--ttl",
        "15m",
    ];
    let minted = lab.run(&args, checks::tokens::JWT_ENV).await.unwrap();
    assert!(minted.success, "{}", minted.stderr);
    let token = minted.stdout.trim();
    let decoded = script(
        "jwt_tool.py",
        &["decode", "--secret", checks::tokens::JWT_SECRET, token],
    )
    .await;
    let claims: serde_json::Value = serde_json::from_str(&expect_exit(&decoded, 0)).unwrap();
    assert_eq!(claims["sub"], "7");
    assert_eq!(claims["name"], "John Smith");
    assert_eq!(claims["admin"], true);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    // And PyJWT, too, refuses it under another key.
    let other = script(
        "jwt_tool.py",
        &[
            "decode",
            "--secret",
            "another-secret-of-at-least-32-bytes!",
            token,
        ],
    )
    .await;
    expect_exit(&other, 2);
    assert!(
        stderr(&other).contains("InvalidSignatureError"),
        "{}",
        stderr(&other)
    );
}

/// The course's Python client logs in through `/login` and uses the access
/// token for its MCP session; a wrong password stops it at the login.
#[tokio::test]
async fn lab3_python_client_logs_in_and_calls_whoami() {
    let lab = common::lab_binary("lab3-solution");
    let server = lab
        .start_server_with(&[], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    let base = server.base_url.as_str();
    let login = |password: &'static str| async move {
        let args = [
            "--base",
            base,
            "--username",
            "jane.doe",
            "--password",
            password,
        ];
        script("login_client.py", &args).await
    };

    let output = login("secure123").await;
    let stdout = expect_exit(&output, 0);
    assert!(stdout.contains("login: ok"), "{stdout}");
    assert!(
        stdout.contains("result: you are jane.doe (Jane Doe)"),
        "{stdout}"
    );

    let output = login("not-her-password").await;
    expect_exit(&output, 4);
    assert!(
        stderr(&output).contains(r#"login failed: HTTP 401 {"error":"Invalid credentials"}"#),
        "{}",
        stderr(&output)
    );
}

/// The course's Python client, logged in as a reader, sees no `delete_order`
/// and gets a tool error naming the missing permission when it calls it
/// anyway; the order is still there afterwards.
#[tokio::test]
async fn lab4_python_client_sees_a_permission_denial() {
    let server = common::lab_binary("lab4-solution")
        .start_server_with(&[], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    let base = server.base_url.clone();
    let login = |call: &'static str, args: &'static str| {
        let base = base.clone();
        async move {
            let flags = [
                "--base",
                &base,
                "--username",
                "jane.doe",
                "--password",
                "secure123",
                "--call",
                call,
                "--args",
                args,
            ];
            script("login_client.py", &flags).await
        }
    };
    let denied = expect_exit(&login("delete_order", r#"{"id": 1}"#).await, 0);
    assert!(
        denied.contains("tools: add, get_order, list_orders, whoami"),
        "{denied}"
    );
    assert!(
        denied.contains("error: permission denied: delete_order requires Orders.Delete"),
        "{denied}"
    );
    let still_there = expect_exit(&login("get_order", r#"{"id": 1}"#).await, 0);
    assert!(still_there.contains(r#""id":1"#), "{still_there}");
}

/// The course's Python client walks login → refresh → reuse against lab 5:
/// the refresh token rotates, and the reuse is refused with invalid_grant.
#[tokio::test]
async fn lab5_python_client_refreshes_and_is_refused_on_reuse() {
    let server = common::lab_binary("lab5-solution")
        .start_server_with(&["--db", ":memory:"], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    let flags = [
        "--base",
        &server.base_url,
        "--username",
        "jane.doe",
        "--password",
        "secure123",
    ];
    let stdout = expect_exit(&script("refresh_client.py", &flags).await, 0);
    assert!(
        stdout.contains("whoami: you are jane.doe (Jane Doe)"),
        "{stdout}"
    );
    assert!(stdout.contains("rotated: yes"), "{stdout}");
    assert!(
        stdout.contains(r#"reuse: HTTP 400 {"error":"invalid_grant"}"#),
        "{stdout}"
    );
    // The access token from the refresh is a JWT: revoking the family does
    // not recall it, it simply expires (--access-ttl).
    assert!(
        stdout.contains("after reuse: you are jane.doe (Jane Doe)"),
        "{stdout}"
    );
}

/// Lab 6's hardened server still serves the official Python SDK client
/// with a valid token (Origin, sizes, session binding, step-up and all),
/// and a call the reader may not make meets the 403 step-up challenge.
#[tokio::test]
async fn lab6_python_client_works_and_meets_the_step_up_challenge() {
    let server = common::lab_binary("lab6-solution")
        .start_server_with(&["--db", ":memory:"], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    let login = |extra: &'static [&'static str]| {
        let mut flags = vec![
            "--base",
            server.base_url.as_str(),
            "--username",
            "jane.doe",
            "--password",
            "secure123",
        ];
        flags.extend_from_slice(extra);
        async move { script("login_client.py", &flags).await }
    };

    let stdout = expect_exit(&login(&[]).await, 0);
    assert!(
        stdout.contains("result: you are jane.doe (Jane Doe)"),
        "{stdout}"
    );

    let output = login(&["--call", "delete_order", "--args", r#"{"id": 1}"#]).await;
    expect_exit(&output, 3);
    assert!(
        stderr(&output).contains(r#"error="insufficient_scope", scope="Orders.Delete""#),
        "{}",
        stderr(&output)
    );
}
