//! Lab 2, "jwt": mint and verify HS256 tokens, and a server that accepts
//! only valid ones. Titles, order and points live in `labs.toml`.
//!
//! Every server and command runs with `JWT_SECRET` = [`tokens::JWT_SECRET`],
//! so the checks can mint the tokens a student's code did not (expired,
//! forged, other algorithms) with the same key.

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::{
    CheckFn, LabBinary, checks,
    harness::{ClientRun, NeverListened, RunningServer},
    http, mcp, redact,
    tokens::{self, JWT_ENV},
};

pub const CHECKS: &[(&str, CheckFn)] = checks![
    refuses_a_jwt_secret_shorter_than_32_bytes,
    mints_an_hs256_token,
    mints_the_admin_claim_and_the_ttl,
    mint_refuses_a_ttl_that_overflows,
    verifies_a_token_and_prints_its_claims,
    verify_says_why_a_token_is_refused,
    rejects_a_missing_token_with_401,
    rejects_a_malformed_header_with_401,
    rejects_a_bad_signature_with_401,
    rejects_a_token_expired_past_the_leeway_with_401,
    rejects_other_algorithms_and_missing_exp_with_401,
    accepts_a_valid_token_and_lists_tools,
    whoami_names_the_token_subject,
    client_uses_a_minted_token_end_to_end,
    client_reports_an_expired_token,
];

crate::security::cross_cutting!(
    Credentials::Jwt,
    [
        session_id_is_not_a_credential,
        survives_malformed_authorization_headers,
        never_logs_credentials,
    ]
);

/// The kit's leeway (docs/lab2-jwt.md): tokens this far past `exp` still pass.
const LEEWAY: i64 = 30;
/// A key the server was not started with.
const OTHER_SECRET: &str = "not-the-server-key-0123456789abcdefghij";
/// The lab's demo key (`DEMO_SECRET` in jwt.rs): public, so a server that
/// was given a `JWT_SECRET` must refuse what it signed.
const DEMO_SECRET: &str = "lab-demo-jwt-secret-change-me-0123456789";

/// Judged on `server` alone, since step 1 is all it needs to start or to
/// refuse: `mint` would also need step 2.
async fn refuses_a_jwt_secret_shorter_than_32_bytes(lab: &LabBinary) -> anyhow::Result<String> {
    let cases = [
        ("JWT_SECRET unset (the demo key)", None),
        ("JWT_SECRET set but empty", Some("")),
        (
            "JWT_SECRET of 31 bytes",
            Some("0123456789abcdef0123456789abcde"),
        ),
        (
            "JWT_SECRET of 32 bytes",
            Some("0123456789abcdef0123456789abcdef"),
        ),
    ];
    let mut out = String::new();
    for (case, secret) in cases {
        let env: Vec<(&str, &str)> = secret.map(|s| ("JWT_SECRET", s)).into_iter().collect();
        let server = match lab.start_server_with(&[], &env).await {
            Ok(_) => "starts".to_owned(),
            Err(e) => match e.downcast_ref::<NeverListened>() {
                Some(refused) => match own_error(&refused.output) {
                    error if error.contains("JWT_SECRET") => {
                        "refuses to start, with an error that names JWT_SECRET".to_owned()
                    }
                    error => format!("refuses to start: {error}"),
                },
                None => return Err(e),
            },
        };
        out.push_str(&format!("{case}: the server {server}\n"));
    }
    Ok(out)
}

async fn mints_an_hs256_token(lab: &LabBinary) -> anyhow::Result<String> {
    mint_and_describe(lab, &["--sub", "42", "--name", "Jane Doe"]).await
}

async fn mints_the_admin_claim_and_the_ttl(lab: &LabBinary) -> anyhow::Result<String> {
    mint_and_describe(
        lab,
        &["--sub", "1", "--name", "Ada", "--admin", "--ttl", "15m"],
    )
    .await
}

/// `iat + ttl` overflows for a TTL of `u64::MAX` seconds, which `--ttl`
/// accepts: a panic in a debug build, a token that expired in 1970 in a
/// release build, a token that never expires with `saturating_add`.
async fn mint_refuses_a_ttl_that_overflows(lab: &LabBinary) -> anyhow::Result<String> {
    let ttl = u64::MAX.to_string();
    let run = cli(
        lab,
        &["mint", "--sub", "42", "--name", "Jane", "--ttl", &ttl],
    )
    .await?;
    let said = if run.success {
        format!("prints {}", tokens::shape(run.stdout.trim()))
    } else {
        match own_error(&run.stderr) {
            error if error.starts_with("error:") && error.to_lowercase().contains("ttl") => {
                "an error that names the TTL".to_owned()
            }
            error => error,
        }
    };
    Ok(format!(
        "mint --ttl {ttl} (u64::MAX seconds):\nexit: {}\n{said}",
        exit(&run)
    ))
}

async fn verifies_a_token_and_prints_its_claims(lab: &LabBinary) -> anyhow::Result<String> {
    let mut claims = tokens::demo_claims(3600);
    claims.insert("admin".into(), json!(true));
    let run = cli(lab, &["verify", &tokens::hs256(&claims)?]).await?;
    let printed = match serde_json::from_str::<Map<String, Value>>(&run.stdout) {
        Ok(claims) => tokens::describe_claims(&claims),
        Err(_) if !run.success => own_error(&run.stderr),
        Err(_) => format!("stdout is not a JSON object: {}", run.stdout.trim()),
    };
    Ok(format!("exit: {}\n{printed}", exit(&run)))
}

async fn verify_says_why_a_token_is_refused(lab: &LabBinary) -> anyhow::Result<String> {
    let mut cases = vec![("expired 40 s ago", expired(40)?)];
    cases.extend(bad_signatures()?);
    cases.extend(bad_headers_and_claims()?);
    cases.push(("not a JWT at all", "not-a-jwt".to_owned()));
    let mut out = String::new();
    for (case, token) in cases {
        let run = cli(lab, &["verify", &token]).await?;
        let said: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("token refused"))
            .collect();
        let said = match said.join(" / ") {
            // Name the hole: a bare "exit success:" reads like a glitch.
            said if said.is_empty() && run.success => "accepted it".to_owned(),
            said if said.is_empty() => own_error(&run.stderr),
            said => said,
        };
        out.push_str(&format!("{case}: exit {}: {said}\n", exit(&run)));
    }
    Ok(out)
}

/// Every method of the endpoint, not only POST: GET opens a session's
/// event stream and DELETE ends a session, so neither is free.
async fn rejects_a_missing_token_with_401(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let url = server.url("/mcp");
    let reply = http::post_initialize(&url, None).await?;
    let mut out = reply.render(&["www-authenticate", "content-type"]);
    let accept = [("accept", "application/json, text/event-stream")];
    for method in [Method::GET, Method::DELETE] {
        let reply = http::send(method.clone(), &url, &accept, None).await?;
        out.push_str(&format!(
            "\n\n{method} /mcp without a token:\n{}",
            reply.render(&["www-authenticate"])
        ));
    }
    Ok(out)
}

async fn rejects_a_malformed_header_with_401(lab: &LabBinary) -> anyhow::Result<String> {
    let token = tokens::hs256(&tokens::demo_claims(3600))?;
    let cases = [
        ("a Basic credential", "Basic amFuZTpzZWNyZXQ=".to_owned()),
        ("a valid token without `Bearer `", token.clone()),
        ("`Bearer` and nothing else", "Bearer".to_owned()),
    ];
    let server = start(lab).await?;
    let mut out = refusals_on(&server, &cases).await?;
    // A token in the URL ends up in access logs, proxies and browser
    // history (RFC 6750 §2.3; MCP: tokens MUST NOT be in the query string):
    // only the Authorization header carries one.
    let url = format!("{}?access_token={token}", server.url("/mcp"));
    let reply = http::post_initialize(&url, None).await?;
    out.push_str(&format!(
        "a valid token in the URL (?access_token=), no Authorization:\n{}",
        reply.render(&["www-authenticate"])
    ));
    Ok(out)
}

/// A value that is not a JWT is judged here, not with the malformed
/// headers: telling it apart takes `verify` (step 5), not `bearer_token`.
async fn rejects_a_bad_signature_with_401(lab: &LabBinary) -> anyhow::Result<String> {
    let mut cases = bearer(bad_signatures()?);
    cases.push((
        "a Bearer value that is not a JWT",
        "Bearer not-a-jwt".to_owned(),
    ));
    refusals(lab, &cases).await
}

async fn rejects_a_token_expired_past_the_leeway_with_401(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let within = format!("Bearer {}", expired(10)?);
    let session = mcp::session(&server.url("/mcp"), Some(&within), &[]).await?;
    let past = format!("Bearer {}", expired(LEEWAY + 10)?);
    let reply = http::post_initialize(&server.url("/mcp"), Some(&past)).await?;
    Ok(format!(
        "expired 10 s ago (within the {LEEWAY} s leeway):\n{session}\n\nexpired {} s ago:\n{}",
        LEEWAY + 10,
        reply.render(&["www-authenticate"])
    ))
}

async fn rejects_other_algorithms_and_missing_exp_with_401(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    refusals(lab, &bearer(bad_headers_and_claims()?)).await
}

async fn accepts_a_valid_token_and_lists_tools(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let bearer = format!("Bearer {}", tokens::hs256(&tokens::demo_claims(3600))?);
    let calls = [("add", json!({ "a": 2, "b": 40 }))];
    mcp::session(&server.url("/mcp"), Some(&bearer), &calls).await
}

async fn whoami_names_the_token_subject(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let mut out = String::new();
    for (sub, name) in [("42", "Jane Doe"), ("7", "John Smith")] {
        let mut claims = tokens::demo_claims(3600);
        claims.insert("sub".into(), json!(sub));
        claims.insert("name".into(), json!(name));
        let bearer = format!("Bearer {}", tokens::hs256(&claims)?);
        let calls = [("whoami", json!({}))];
        let session = mcp::session(&server.url("/mcp"), Some(&bearer), &calls).await?;
        out.push_str(&format!("token for sub {sub}:\n{session}\n\n"));
    }
    Ok(out)
}

async fn client_uses_a_minted_token_end_to_end(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let mint = cli(lab, &["mint", "--sub", "7", "--name", "John Smith"]).await?;
    if !mint.success {
        return Ok(format!("mint: exit failure, {}", own_error(&mint.stderr)));
    }
    let token = mint.stdout.trim();
    let run = client(lab, &server, token).await?;
    Ok(format!(
        "mint: exit {}, prints {}\nclient exit: {}\nstdout:\n{}",
        exit(&mint),
        tokens::shape(token),
        exit(&run),
        redact::jwts(run.stdout.trim_end())
    ))
}

async fn client_reports_an_expired_token(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let run = client(lab, &server, &expired(LEEWAY + 10)?).await?;
    let message: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    Ok(format!(
        "client exit: {}\nstderr (error lines):\n{}",
        exit(&run),
        message.join("\n")
    ))
}

/// Runs `mint <args>` and describes the token it printed.
async fn mint_and_describe(lab: &LabBinary, args: &[&str]) -> anyhow::Result<String> {
    let mut full = vec!["mint"];
    full.extend_from_slice(args);
    let run = cli(lab, &full).await?;
    let printed = if run.success {
        tokens::describe(run.stdout.trim())
    } else {
        own_error(&run.stderr)
    };
    Ok(format!("exit: {}\n{printed}", exit(&run)))
}

/// POSTs an MCP `initialize` once per `(case, Authorization value)` and
/// renders each refusal.
async fn refusals(lab: &LabBinary, cases: &[(&str, String)]) -> anyhow::Result<String> {
    refusals_on(&start(lab).await?, cases).await
}

/// [`refusals`] on a server the caller started.
async fn refusals_on(server: &RunningServer, cases: &[(&str, String)]) -> anyhow::Result<String> {
    let mut out = String::new();
    for (case, value) in cases {
        let reply = http::post_initialize(&server.url("/mcp"), Some(value)).await?;
        out.push_str(&format!(
            "{case}:\n{}\n\n",
            reply.render(&["www-authenticate"])
        ));
    }
    Ok(out)
}

/// Tokens whose signature does not match their header and payload.
fn bad_signatures() -> anyhow::Result<Vec<(&'static str, String)>> {
    let claims = tokens::demo_claims(3600);
    let genuine = tokens::hs256(&claims)?;
    // The payload of a token for an admin, spliced onto a genuine signature.
    let mut admin = claims.clone();
    admin.insert("admin".into(), json!(true));
    let forged_payload = tokens::hs256(&admin)?;
    let mut parts: Vec<&str> = genuine.split('.').collect();
    parts[1] = forged_payload.split('.').nth(1).unwrap_or_default();
    Ok(vec![
        (
            "signed with another key",
            tokens::sign(&claims, Algorithm::HS256, OTHER_SECRET)?,
        ),
        (
            "signed with the public demo key",
            tokens::sign(&claims, Algorithm::HS256, DEMO_SECRET)?,
        ),
        ("payload changed after signing", parts.join(".")),
    ])
}

/// Tokens the server must refuse whatever their signature.
fn bad_headers_and_claims() -> anyhow::Result<Vec<(&'static str, String)>> {
    let claims = tokens::demo_claims(3600);
    let with = |name: &str, value: Value| {
        let mut claims = claims.clone();
        claims.insert(name.into(), value);
        claims
    };
    let mut no_exp = claims.clone();
    no_exp.remove("exp");
    Ok(vec![
        ("alg none, no signature", tokens::unsigned(&claims)),
        (
            "alg HS512 with the right key",
            tokens::sign(&claims, Algorithm::HS512, tokens::JWT_SECRET)?,
        ),
        ("no exp claim", tokens::hs256(&no_exp)?),
        (
            "exp as a string",
            tokens::hs256(&with("exp", json!("9999999999")))?,
        ),
        (
            "nbf an hour from now",
            tokens::hs256(&with("nbf", json!(tokens::now() + 3600)))?,
        ),
    ])
}

/// A token for the demo user that expired `ago` seconds ago (issued an hour before that).
fn expired(ago: i64) -> anyhow::Result<String> {
    let mut claims = tokens::demo_claims(3600);
    let exp = tokens::now() - ago;
    claims.insert("iat".into(), json!(exp - 3600));
    claims.insert("exp".into(), json!(exp));
    tokens::hs256(&claims)
}

fn bearer(cases: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    cases
        .into_iter()
        .map(|(case, token)| (case, format!("Bearer {token}")))
        .collect()
}

async fn start(lab: &LabBinary) -> anyhow::Result<RunningServer> {
    lab.start_server_with(&[], JWT_ENV).await
}

/// Runs a subcommand with the checks' `JWT_SECRET`.
async fn cli(lab: &LabBinary, args: &[&str]) -> anyhow::Result<ClientRun> {
    lab.run(args, JWT_ENV).await
}

async fn client(lab: &LabBinary, server: &RunningServer, token: &str) -> anyhow::Result<ClientRun> {
    lab.run(
        &["client", "--url", &server.url("/mcp"), "--token", token],
        JWT_ENV,
    )
    .await
}

/// The line in which a program said why it failed, so that a diff names the
/// real cause ("minting is not written yet", a panic) rather than only its
/// effect: a panic's message, else the last line that is not a log record.
fn own_error(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if let Some(at) = lines.iter().position(|line| line.contains("panicked at")) {
        // The location varies with the student's code; the message does not.
        let message = lines.get(at + 1).copied().unwrap_or("(no message)");
        return format!("panicked: {message}");
    }
    // tracing's records start with a timestamp; rustc's notes with `note:`.
    let said = lines
        .iter()
        .rev()
        .find(|line| !line.starts_with(|c: char| c.is_ascii_digit()) && !line.starts_with("note:"));
    said.map_or_else(
        || "(it printed no error)".to_owned(),
        |line| redact::jwts(&redact::ports(line)),
    )
}

fn exit(run: &ClientRun) -> &'static str {
    if run.success { "success" } else { "failure" }
}
