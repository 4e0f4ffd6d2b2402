//! Lab 1, "basic secret": a static secret in `Authorization: Bearer …`.
//! Titles, order and points live in `labs.toml`.

use anyhow::Context;
use serde_json::json;

use crate::{CheckFn, LabBinary, checks, http, mcp, recorder::Recorder};

pub const CHECKS: &[(&str, CheckFn)] = checks![
    rejects_missing_authorization_with_401,
    rejects_a_wrong_secret_with_403,
    rejects_other_schemes_with_403,
    accepts_the_secret_and_lists_tools,
    accepts_the_scheme_in_any_case,
    reads_the_secret_from_mcp_secret,
    client_sends_the_bearer_header,
    client_prints_the_tool_result,
    client_reports_a_refused_secret,
];

crate::security::cross_cutting!(
    Credentials::Secret,
    [
        session_id_is_not_a_credential,
        survives_malformed_authorization_headers,
        never_logs_credentials,
    ]
);

/// The course's demo secret, used when `MCP_SECRET` is unset.
const DEMO_SECRET: &str = "secret-token";
/// What the client checks' recorder accepts.
const CLIENT_TOKEN: &str = "client-check-token";

async fn rejects_missing_authorization_with_401(lab: &LabBinary) -> anyhow::Result<String> {
    let server = lab.start_server().await?;
    let reply = http::post_initialize(&server.url("/mcp"), None).await?;
    Ok(reply.render(&["www-authenticate"]))
}

async fn rejects_a_wrong_secret_with_403(lab: &LabBinary) -> anyhow::Result<String> {
    let server = lab.start_server().await?;
    let reply = http::post_initialize(&server.url("/mcp"), Some("Bearer not-the-secret")).await?;
    let mut out = reply.render(&[]);
    // Near misses: what a comparison other than exact equality lets in
    // (lower-casing the whole header, starts_with, ends_with, contains).
    out.push_str("\n\nnear misses of the secret:\n");
    let near_misses = [
        ("in upper case", DEMO_SECRET.to_uppercase()),
        ("with more after it", format!("{DEMO_SECRET}-and-more")),
        ("with more before it", format!("x{DEMO_SECRET}")),
        ("cut short by one character", {
            let mut short = DEMO_SECRET.to_owned();
            short.pop();
            short
        }),
    ];
    for (label, token) in near_misses {
        let reply =
            http::post_initialize(&server.url("/mcp"), Some(&format!("Bearer {token}"))).await?;
        out.push_str(&format!("  {label}: {}\n", reply.status));
    }
    Ok(out)
}

async fn rejects_other_schemes_with_403(lab: &LabBinary) -> anyhow::Result<String> {
    let server = lab.start_server().await?;
    let mut out = String::new();
    // The right secret under the wrong scheme, and with no scheme at all.
    for value in ["Basic c2VjcmV0LXRva2Vu", DEMO_SECRET, "Bearer"] {
        let reply = http::post_initialize(&server.url("/mcp"), Some(value)).await?;
        out.push_str(&format!(
            "Authorization: {value}\n{}\n\n",
            reply.render(&[])
        ));
    }
    Ok(out)
}

async fn accepts_the_secret_and_lists_tools(lab: &LabBinary) -> anyhow::Result<String> {
    let server = lab.start_server().await?;
    let calls = [("add", json!({ "a": 2, "b": 40 }))];
    let bearer = format!("Bearer {DEMO_SECRET}");
    mcp::session(&server.url("/mcp"), Some(&bearer), &calls).await
}

async fn accepts_the_scheme_in_any_case(lab: &LabBinary) -> anyhow::Result<String> {
    let server = lab.start_server().await?;
    let mut out = String::new();
    for scheme in ["bearer", "BEARER"] {
        let value = format!("{scheme} {DEMO_SECRET}");
        let session = mcp::session(&server.url("/mcp"), Some(&value), &[]).await?;
        out.push_str(&format!("Authorization: {scheme} <secret>\n{session}\n\n"));
    }
    Ok(out)
}

async fn reads_the_secret_from_mcp_secret(lab: &LabBinary) -> anyhow::Result<String> {
    let secret = "a-secret-from-the-environment";
    let server = lab
        .start_server_with(&[], &[("MCP_SECRET", secret)])
        .await?;
    let url = server.url("/mcp");
    let demo = http::post_initialize(&url, Some(&format!("Bearer {DEMO_SECRET}"))).await?;
    let configured = mcp::session(&url, Some(&format!("Bearer {secret}")), &[]).await?;
    Ok(format!(
        "with the demo secret:\n{}\n\nwith MCP_SECRET's value:\n{configured}",
        demo.render(&[])
    ))
}

async fn client_sends_the_bearer_header(lab: &LabBinary) -> anyhow::Result<String> {
    let recorder = Recorder::start(CLIENT_TOKEN).await?;
    let run = lab
        .run_client(&["--url", &recorder.url, "--token", CLIENT_TOKEN])
        .await?;
    let seen = recorder.seen();
    let mut values: Vec<String> = seen
        .iter()
        .map(|v| match v {
            None => "(none)".to_owned(),
            Some(v) => v.replace(CLIENT_TOKEN, "<token>"),
        })
        .collect();
    values.sort();
    values.dedup();
    Ok(format!(
        "client exit: {}\nrequests received: {}\nAuthorization values seen: {}",
        exit(run.success),
        if seen.is_empty() { "none" } else { "some" },
        values.join(" | ")
    ))
}

async fn client_prints_the_tool_result(lab: &LabBinary) -> anyhow::Result<String> {
    let recorder = Recorder::start(CLIENT_TOKEN).await?;
    let run = lab
        .run_client(&["--url", &recorder.url, "--token", CLIENT_TOKEN])
        .await
        .context("running the client")?;
    Ok(format!(
        "client exit: {}\nstdout:\n{}",
        exit(run.success),
        run.stdout.trim_end()
    ))
}

async fn client_reports_a_refused_secret(lab: &LabBinary) -> anyhow::Result<String> {
    let recorder = Recorder::start(CLIENT_TOKEN).await?;
    let run = lab
        .run_client(&["--url", &recorder.url, "--token", "a-wrong-token"])
        .await?;
    // Only the client's own message: log lines carry timestamps.
    let message: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    Ok(format!(
        "client exit: {}\nstderr (error lines):\n{}",
        exit(run.success),
        message.join("\n")
    ))
}

fn exit(success: bool) -> &'static str {
    if success { "success" } else { "failure" }
}
