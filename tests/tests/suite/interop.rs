//! Interop with the official Python MCP SDK: 1.x written the way the course
//! writes its client, and 2.x (`interop/mcp2_client.py`) the way the SDK's
//! own documentation writes it. `interop/setup.sh` creates both pinned venvs
//! on first use (and is a no-op afterwards); the scripts are in `interop/`.

use std::{path::PathBuf, process::Output, sync::OnceLock};

use serde_json::Value;
use tokio::process::Command;

use crate::common;

/// The official Python SDK's major versions, each in its own pinned venv.
#[derive(Debug, Clone, Copy)]
pub enum Sdk {
    /// `target/interop-venv`: mcp 1.x, the course's client API.
    V1,
    /// `target/interop-venv-mcp2`: mcp 2.x.
    V2,
}

impl Sdk {
    fn venv(self) -> &'static str {
        match self {
            Sdk::V1 => "target/interop-venv",
            Sdk::V2 => "target/interop-venv-mcp2",
        }
    }
}

/// A venv's Python, after making sure both venvs are up to date.
fn python(sdk: Sdk) -> PathBuf {
    static SET_UP: OnceLock<()> = OnceLock::new();
    let root = checks::repo_root();
    SET_UP.get_or_init(|| {
        let status = std::process::Command::new("bash")
            .arg(root.join("interop/setup.sh"))
            .status()
            .unwrap_or_else(|e| panic!("cannot run interop/setup.sh: {e}"));
        assert!(
            status.success(),
            "interop/setup.sh failed ({status}); see its output above"
        );
    });
    // A venv keeps its interpreter in Scripts/ on Windows.
    let venv = root.join(sdk.venv());
    if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    }
}

/// Runs `interop/<script>` with the 1.x venv's Python.
pub async fn script(script: &str, args: &[&str]) -> Output {
    script_with(Sdk::V1, script, args).await
}

/// Runs `interop/<script>` with `sdk`'s venv's Python.
pub async fn script_with(sdk: Sdk, script: &str, args: &[&str]) -> Output {
    let python = tokio::task::spawn_blocking(move || python(sdk))
        .await
        .unwrap_or_else(|e| panic!("venv setup panicked: {e}"));
    Command::new(python)
        .arg(checks::repo_root().join("interop").join(script))
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"))
}

/// Runs `interop/mcp2_client.py` (the 2.x SDK's client).
pub async fn mcp2_client(args: &[&str]) -> Output {
    script_with(Sdk::V2, "mcp2_client.py", args).await
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
    let claims: Value = serde_json::from_str(&expect_exit(&decoded, 0)).unwrap();
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

/// The 2.x SDK's client, as its documentation writes it (an
/// `httpx2.AsyncClient` with the `Authorization` header, handed to
/// `streamable_http_client`, inside `Client`), lists and calls lab 6's tools
/// with an admin's token from `/login`: in the SDK's default mode, which
/// probes `server/discover` and speaks protocol 2026-07-28 with lab 6, and
/// in its legacy mode (the `initialize` handshake and a session).
#[tokio::test]
async fn lab6_python_sdk2_client_lists_and_calls_tools_with_a_token() {
    let server = common::lab_binary("lab6-solution")
        .start_server_with(&["--db", ":memory:"], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    let url = server.url("/mcp");
    let token = checks::api::login(&server, checks::api::ADMIN)
        .await
        .unwrap()
        .access;
    let all_tools = "tools: add, delete_order, get_order, list_orders, shipping_status, whoami";

    let args = ["--url", &url, "--token", &token, "--call", "whoami"];
    let stdout = expect_exit(&mcp2_client(&args).await, 0);
    assert!(stdout.contains("sdk: mcp 2."), "{stdout}");
    assert!(stdout.contains("(protocol 2026-07-28)"), "{stdout}");
    assert!(stdout.contains(all_tools), "{stdout}");
    assert!(
        stdout.contains("result: you are alex.admin (Alex Admin)"),
        "{stdout}"
    );

    let args = ["--url", &url, "--token", &token, "--mode", "legacy"];
    let stdout = expect_exit(&mcp2_client(&args).await, 0);
    assert!(stdout.contains("(protocol 2025-11-25)"), "{stdout}");
    assert!(stdout.contains(all_tools), "{stdout}");
    assert!(stdout.contains("result: 42"), "{stdout}");
}

/// The 2.x SDK's client is refused by lab 6 without a token (401, with the
/// resource metadata to start OAuth from) and with a broken one (401
/// `invalid_token`), in both modes; a reader's call of `delete_order` meets
/// the 403 step-up challenge.
#[tokio::test]
async fn lab6_python_sdk2_client_is_refused_without_a_valid_token() {
    let server = common::lab_binary("lab6-solution")
        .start_server_with(&["--db", ":memory:"], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    let url = server.url("/mcp");
    let metadata = format!(
        r#"resource_metadata="{}""#,
        server.url("/.well-known/oauth-protected-resource/mcp")
    );
    for mode in ["auto", "legacy"] {
        let missing = mcp2_client(&["--url", &url, "--mode", mode]).await;
        expect_exit(&missing, 3);
        let said = stderr(&missing);
        assert!(said.contains("refused: HTTP 401"), "{mode}: {said}");
        assert!(said.contains(&metadata), "{mode}: {said}");

        let broken = mcp2_client(&["--url", &url, "--mode", mode, "--token", "not-a-jwt"]).await;
        expect_exit(&broken, 3);
        let said = stderr(&broken);
        assert!(said.contains("refused: HTTP 401"), "{mode}: {said}");
        assert!(said.contains(r#"error="invalid_token""#), "{mode}: {said}");
    }

    let reader = checks::api::login(&server, checks::api::READER)
        .await
        .unwrap()
        .access;
    let args = [
        "--url",
        &url,
        "--token",
        &reader,
        "--call",
        "delete_order",
        "--args",
        r#"{"id": 1}"#,
    ];
    let output = mcp2_client(&args).await;
    let stdout = expect_exit(&output, 3);
    assert!(
        stdout.contains("tools: add, get_order, list_orders, shipping_status, whoami"),
        "{stdout}"
    );
    assert!(
        stderr(&output).contains(r#"error="insufficient_scope", scope="Orders.Delete""#),
        "{}",
        stderr(&output)
    );
}

/// Lab 7's server behind the kit's authorization server (the `authz`
/// binary, `server --approve-as <user> --admin`), and the authorization
/// server's record of what `/authorize` and `/token` saw.
struct Lab7 {
    authz: checks::harness::RunningServer,
    server: checks::harness::RunningServer,
}

impl Lab7 {
    async fn start(approve_as: &str) -> Lab7 {
        let authz = common::lab_binary("authz")
            .start_server_with(&["--approve-as", approve_as, "--admin"], &[])
            .await
            .unwrap();
        let server = common::lab_binary("lab7-solution")
            .start_server_with(&["--issuer", &authz.base_url], &[])
            .await
            .unwrap();
        Lab7 { authz, server }
    }

    fn mcp(&self) -> String {
        self.server.url("/mcp")
    }

    /// `mcp2_client.py --oauth-client-id lab7-client`, calling `tool`.
    async fn oauth_client(&self, tool: &str, args: &str) -> Output {
        let mcp = self.mcp();
        let flags = [
            "--url",
            &mcp,
            "--oauth-client-id",
            "lab7-client",
            "--call",
            tool,
            "--args",
            args,
        ];
        mcp2_client(&flags).await
    }

    async fn stats(&self) -> Value {
        let url = self.authz.url("/admin/stats");
        let reply = checks::http::send(reqwest::Method::GET, &url, &[], None)
            .await
            .unwrap();
        reply.json().expect("/admin/stats answers JSON")
    }

    /// The stdout line the client prints for each authorization request.
    fn authorize_line(&self, scope: &str) -> String {
        format!(
            r#"authorize: scope="{scope}" resource={} code_challenge_method=S256"#,
            self.mcp()
        )
    }
}

/// The 2.x SDK's `OAuthClientProvider`, headless, against lab 7: from the
/// 401 alone it finds the protected resource metadata, the authorization
/// server and the scopes, gets a reader's scopes with the authorization code
/// flow (PKCE S256, `resource`), lists the tools they allow, and when
/// `delete_order` meets the 403 step-up challenge, authorizes again for the
/// union of the scopes and retries the call, which succeeds.
#[tokio::test]
async fn lab7_python_sdk2_oauth_client_discovers_and_steps_up() {
    let lab = Lab7::start("alex.admin").await;
    let output = lab.oauth_client("delete_order", r#"{"id": 1}"#).await;
    let stdout = expect_exit(&output, 0);
    let first = lab.authorize_line("User.Read Orders.Read");
    let step_up = lab.authorize_line("User.Read Orders.Read Orders.Delete");
    let tools = "tools: add, get_order, list_orders, shipping_status, whoami";
    let order: Vec<usize> = [first.as_str(), tools, &step_up, "result: deleted order 1"]
        .iter()
        .map(|line| {
            stdout
                .find(line)
                .unwrap_or_else(|| panic!("no `{line}` in\n{stdout}"))
        })
        .collect();
    assert!(order.is_sorted(), "out of order:\n{stdout}");
    assert!(
        stdout.contains("granted: User.Read Orders.Read Orders.Delete"),
        "{stdout}"
    );

    // What the authorization server saw: two authorizations, each code
    // redeemed once with its PKCE verifier, for this server.
    let stats = lab.stats().await;
    let authorize = stats["authorize"].as_array().unwrap();
    assert_eq!(authorize.len(), 2, "{stats:#}");
    for seen in authorize {
        assert_eq!(seen["client_id"], "lab7-client", "{stats:#}");
        assert_eq!(seen["code_challenge_method"], "S256", "{stats:#}");
        assert_eq!(seen["resource"], lab.mcp().as_str(), "{stats:#}");
    }
    let token = stats["token"].as_array().unwrap();
    assert_eq!(token.len(), 2, "{stats:#}");
    for seen in token {
        assert_eq!(seen["grant_type"], "authorization_code", "{stats:#}");
        assert_eq!(seen["pkce_verified"], true, "{stats:#}");
        assert_eq!(seen["resource"], lab.mcp().as_str(), "{stats:#}");
        assert_eq!(seen["ok"], true, "{stats:#}");
    }
}

/// Lab 7 refuses the 2.x SDK's client without a token (401 with the scopes
/// to ask for and the resource metadata), and when the user may not delete,
/// the SDK's step-up gets a token without `Orders.Delete` and the retried
/// call is refused with 403 `insufficient_scope`; `whoami` works.
#[tokio::test]
async fn lab7_python_sdk2_client_is_refused_without_a_token_or_the_scope() {
    let lab = Lab7::start("jane.doe").await;
    let missing = mcp2_client(&["--url", &lab.mcp()]).await;
    expect_exit(&missing, 3);
    let said = stderr(&missing);
    assert!(said.contains("refused: HTTP 401"), "{said}");
    assert!(
        said.contains(&format!(
            r#"Bearer scope="User.Read Orders.Read", resource_metadata="{}""#,
            lab.server.url("/.well-known/oauth-protected-resource/mcp")
        )),
        "{said}"
    );

    let stdout = expect_exit(&lab.oauth_client("whoami", "{}").await, 0);
    assert!(
        stdout.contains("result: you are jane.doe (jane.doe)"),
        "{stdout}"
    );

    let output = lab.oauth_client("delete_order", r#"{"id": 1}"#).await;
    let stdout = expect_exit(&output, 3);
    let step_up = lab.authorize_line("User.Read Orders.Read Orders.Delete");
    assert!(stdout.contains(&step_up), "{stdout}");
    let said = stderr(&output);
    assert!(said.contains("refused: HTTP 403"), "{said}");
    assert!(
        said.contains(r#"error="insufficient_scope", scope="Orders.Delete""#),
        "{said}"
    );
}
