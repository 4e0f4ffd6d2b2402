//! Lab 2, "jwt": mint and verify HS256 tokens, and a server that accepts
//! only valid ones. Titles, order and points live in `labs.toml`.
//!
//! Every server and command runs with `JWT_SECRET` = [`tokens::JWT_SECRET`],
//! so the checks can mint the tokens a student's code did not (expired,
//! forged, other algorithms) with the same key.

use jsonwebtoken::Algorithm;
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

/// The kit's leeway (docs/lab2-jwt.md): tokens this far past `exp` still pass.
const LEEWAY: i64 = 30;
/// A key the server was not started with.
const OTHER_SECRET: &str = "not-the-server-key-0123456789abcdefghij";

async fn refuses_a_jwt_secret_shorter_than_32_bytes(lab: &LabBinary) -> anyhow::Result<String> {
    let mut out = String::new();
    for secret in [
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef",
    ] {
        let env = [("JWT_SECRET", secret)];
        let server = match lab.start_server_with(&[], &env).await {
            Ok(_) => "started".to_owned(),
            Err(e) if e.is::<NeverListened>() => "refused to start".to_owned(),
            Err(e) => return Err(e),
        };
        let mint = lab
            .run(&["mint", "--sub", "42", "--name", "Jane"], &env)
            .await?;
        let mut said = format!("prints {}", tokens::shape(mint.stdout.trim()));
        if !mint.success {
            said = format!(
                "stderr names JWT_SECRET: {}",
                yes(mint.stderr.contains("JWT_SECRET"))
            );
        }
        out.push_str(&format!(
            "JWT_SECRET of {} bytes:\nserver: {server}\nmint: exit {}, {said}\n\n",
            secret.len(),
            exit(&mint),
        ));
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

async fn verifies_a_token_and_prints_its_claims(lab: &LabBinary) -> anyhow::Result<String> {
    let mut claims = tokens::demo_claims(3600);
    claims.insert("admin".into(), json!(true));
    let run = cli(lab, &["verify", &tokens::hs256(&claims)?]).await?;
    let printed = serde_json::from_str::<Map<String, Value>>(&run.stdout).map_or_else(
        |_| format!("stdout is not a JSON object: {}", run.stdout.trim()),
        |c| tokens::describe_claims(&c),
    );
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
        out.push_str(&format!(
            "{case}: exit {}: {}\n",
            exit(&run),
            said.join(" / ")
        ));
    }
    Ok(out)
}

async fn rejects_a_missing_token_with_401(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reply = http::post_initialize(&server.url("/mcp"), None).await?;
    Ok(reply.render(&["www-authenticate", "content-type"]))
}

async fn rejects_a_malformed_header_with_401(lab: &LabBinary) -> anyhow::Result<String> {
    let token = tokens::hs256(&tokens::demo_claims(3600))?;
    let cases = [
        ("a Basic credential", "Basic amFuZTpzZWNyZXQ=".to_owned()),
        ("a valid token without `Bearer `", token),
        ("`Bearer` and nothing else", "Bearer".to_owned()),
        (
            "a Bearer value that is not a JWT",
            "Bearer not-a-jwt".to_owned(),
        ),
    ];
    refusals(lab, &cases).await
}

async fn rejects_a_bad_signature_with_401(lab: &LabBinary) -> anyhow::Result<String> {
    refusals(lab, &bearer(bad_signatures()?)).await
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
    Ok(format!(
        "exit: {}\n{}",
        exit(&run),
        tokens::describe(run.stdout.trim())
    ))
}

/// POSTs an MCP `initialize` once per `(case, Authorization value)` and
/// renders each refusal.
async fn refusals(lab: &LabBinary, cases: &[(&str, String)]) -> anyhow::Result<String> {
    let server = start(lab).await?;
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

fn exit(run: &ClientRun) -> &'static str {
    if run.success { "success" } else { "failure" }
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
