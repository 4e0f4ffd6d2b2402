//! Lab 3, "login": `POST /login` issues tokens, `GET /resource` and `/mcp`
//! need the access token. Titles, order and points live in `labs.toml`.
//!
//! Servers run with `JWT_SECRET` = [`tokens::JWT_SECRET`], so the checks can
//! verify the lab's tokens and mint their own for other users.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    CheckFn, LabBinary,
    api::{self, ADMIN, READER},
    checks,
    harness::{ClientRun, RunningServer},
    http::{self, Reply},
    mcp,
    recorder::Recorder,
    redact,
    tokens::{self, JWT_ENV},
};

pub const CHECKS: &[(&str, CheckFn)] = checks![
    login_returns_a_token_pair_for_jane_doe,
    login_refuses_a_wrong_password_and_an_unknown_user_alike,
    login_takes_as_long_for_an_unknown_user,
    login_answers_a_bad_body_with_400_and_get_with_405,
    refresh_token_is_not_an_access_token,
    resource_requires_a_valid_token,
    resource_returns_the_callers_data,
    mcp_requires_the_token_on_every_request,
    whoami_answers_with_the_logged_in_user,
    client_logs_in_and_calls_whoami,
    client_reports_a_failed_login,
];

// Lab 3 has its own session check (`mcp_requires_the_token_on_every_request`).
crate::security::cross_cutting!(
    Credentials::Login,
    [
        survives_malformed_authorization_headers,
        never_logs_credentials,
    ]
);

/// The access token the client checks' recorder hands out and expects.
const RECORDER_TOKEN: &str = "recorder-access-token";

/// The password in the bodies `/login` must refuse with 400; found in the
/// logs, it means the server logged a body it could not use.
const BAD_BODY_PASSWORD: &str = "checks-only-password-in-a-bad-body-9f3e";

/// Logins of each kind the timing check measures; odd, so that the median
/// is one of them.
const TIMING_SAMPLES: usize = 7;
/// How many times faster one kind of failed login may be answered before
/// its time gives it away. With a dummy hash both cost one argon2 (tens of
/// ms) and differ by noise; an early return for an unknown user answers in
/// ~1 ms. The gap is an order of magnitude, so the margin can be wide and
/// hold on a loaded machine.
const TIMING_RATIO: u32 = 4;

async fn login_returns_a_token_pair_for_jane_doe(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reply = log_in(&server, READER).await?;
    let Some(body) = reply.json().filter(|_| reply.status == StatusCode::OK) else {
        return Ok(reply.render(&["cache-control"]));
    };
    let keys: Vec<&str> = body
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    let access = body["accessToken"].as_str().unwrap_or_default();
    // The table's `admin` flag must reach the token too (jane.doe's has none).
    let admin_claim = match api::login(&server, ADMIN).await {
        Ok(admin) => match tokens::claims(&admin.access) {
            Ok(claims) => claims
                .get("admin")
                .map_or("no admin claim".to_owned(), |value| {
                    format!("admin: {value}")
                }),
            Err(_) => "not a JWT whose claims can be read".to_owned(),
        },
        // Fixed words: the error could carry the reply, a live token in it.
        Err(_) => "no token: the login did not answer 200 with a token pair".to_owned(),
    };
    Ok(format!(
        "status: {}\n{}\nbody keys: {}\naccessToken:\n{}\n\nalex.admin's accessToken: {admin_claim}",
        reply.status,
        headers(&reply, &["cache-control", "content-type"]),
        keys.join(", "),
        tokens::describe(access)
    ))
}

async fn login_refuses_a_wrong_password_and_an_unknown_user_alike(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let wrong_password = log_in(&server, (READER.0, "not-her-password")).await?;
    let unknown_user = log_in(&server, ("no.such.user", READER.1)).await?;
    // A real password, of the wrong account: only the named user's hash counts.
    let others_password = log_in(&server, (READER.0, ADMIN.1)).await?;
    let alike = [&unknown_user, &others_password]
        .iter()
        .all(|reply| reply.status == wrong_password.status && reply.body == wrong_password.body);
    Ok(format!(
        "wrong password:\n{}\n\nunknown user:\n{}\n\njane.doe with alex.admin's password:\n{}\n\nsame status and body: {}",
        api::render_redacted(&wrong_password, &[]),
        api::render_redacted(&unknown_user, &[]),
        api::render_redacted(&others_password, &[]),
        if alike { "yes" } else { "no" }
    ))
}

/// Interleaved samples after a warm-up, compared by their medians: a burst
/// of load elsewhere slows both kinds alike, and one slow sample moves no
/// median. The snapshot says "similar", never a number of milliseconds.
async fn login_takes_as_long_for_an_unknown_user(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let url = server.url("/login");
    let wrong_password = json!({ "username": READER.0, "password": "not-her-password" });
    let unknown_user = json!({ "username": "no.such.user", "password": "not-her-password" });
    // One client, so every sample reuses the connection the warm-up opened.
    let http = http::client()?;
    timed_post(&http, &url, &wrong_password).await?;
    timed_post(&http, &url, &unknown_user).await?;

    let (mut wrong_times, mut unknown_times) = (Vec::new(), Vec::new());
    let (mut wrong_statuses, mut unknown_statuses) = (BTreeSet::new(), BTreeSet::new());
    // A second round only when the first looks uneven: a loaded machine
    // can skew a few samples, a missing dummy hash skews every one of them.
    for _round in 0..2 {
        for _ in 0..TIMING_SAMPLES {
            let (status, took) = timed_post(&http, &url, &wrong_password).await?;
            wrong_statuses.insert(status);
            wrong_times.push(took);
            let (status, took) = timed_post(&http, &url, &unknown_user).await?;
            unknown_statuses.insert(status);
            unknown_times.push(took);
        }
        let (wrong, unknown) = (median(wrong_times.clone()), median(unknown_times.clone()));
        if unknown * TIMING_RATIO >= wrong && wrong * TIMING_RATIO >= unknown {
            break;
        }
    }
    let (wrong, unknown) = (median(wrong_times), median(unknown_times));
    let verdict = if unknown * TIMING_RATIO < wrong {
        format!(
            "an unknown user is answered more than {TIMING_RATIO} times faster than a wrong password: the time tells which usernames exist"
        )
    } else if wrong * TIMING_RATIO < unknown {
        format!(
            "a wrong password is answered more than {TIMING_RATIO} times faster than an unknown user: the time tells which usernames exist"
        )
    } else {
        "similar, so they do not tell which usernames exist".to_owned()
    };
    let statuses = |set: &BTreeSet<StatusCode>| {
        set.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" / ")
    };
    Ok(format!(
        "wrong password, every time: {}\nunknown user, every time: {}\nresponse times: {verdict}",
        statuses(&wrong_statuses),
        statuses(&unknown_statuses),
    ))
}

async fn login_answers_a_bad_body_with_400_and_get_with_405(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    // At trace level, to see whether a refused body reaches the logs.
    let env = [tokens::JWT_ENV, &[("RUST_LOG", "trace")]].concat();
    let server = lab.start_server_with(&[], &env).await?;
    let url = server.url("/login");
    let json = [("content-type", "application/json")];
    let truncated = format!(r#"{{"username":"jane.doe","password":"{BAD_BODY_PASSWORD}""#);
    let misnamed = format!(r#"{{"user":"jane.doe","password":"{BAD_BODY_PASSWORD}"}}"#);
    let cases = [
        ("not JSON", &json[..], truncated.as_str()),
        ("`user` instead of `username`", &json[..], misnamed.as_str()),
        ("no body", &[][..], ""),
        ("no password", &json[..], r#"{"username":"jane.doe"}"#),
        (
            "a number for a password",
            &json[..],
            r#"{"username":"jane.doe","password":123}"#,
        ),
    ];
    let mut out = String::new();
    for (case, headers, body) in cases {
        let reply = http::send_raw(Method::POST, &url, headers, body).await?;
        out.push_str(&format!("POST /login, {case}:\n{}\n\n", reply.render(&[])));
    }
    let get = http::send(Method::GET, &url, &[], None).await?;
    out.push_str(&format!("GET /login:\n{}\n\n", get.render(&["allow"])));
    let logged = server
        .stop_and_read_output()
        .await?
        .iter()
        .any(|line| line.contains(BAD_BODY_PASSWORD));
    out.push_str(&format!(
        "the password of a refused body, in the server's output (RUST_LOG=trace): {}",
        if logged {
            "found: a body the server could not use went to its logs"
        } else {
            "none"
        }
    ));
    Ok(out)
}

async fn refresh_token_is_not_an_access_token(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let first = api::login(&server, READER).await?;
    let second = api::login(&server, READER).await?;
    let refresh = first.refresh.as_str();
    let resource = api::get_with(&server, "/resource", refresh).await?;
    let mcp =
        http::post_initialize(&server.url("/mcp"), Some(&format!("Bearer {refresh}"))).await?;
    Ok(format!(
        "refreshToken: {}\nnew on every login: {}\n\nas a Bearer token on GET /resource:\n{}\n\nas a Bearer token on POST /mcp:\n{}",
        tokens::shape(refresh),
        yes(first.refresh != second.refresh),
        resource.render(&["www-authenticate"]),
        mcp.render(&["www-authenticate"])
    ))
}

async fn resource_requires_a_valid_token(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let url = server.url("/resource");
    let missing = http::send(Method::GET, &url, &[], None).await?;
    let mut expired = tokens::demo_claims(-120);
    expired.insert("iat".into(), json!(tokens::now() - 1000));
    let expired = api::get_with(&server, "/resource", &tokens::hs256(&expired)?).await?;
    Ok(format!(
        "no token:\n{}\n\nexpired token:\n{}",
        missing.render(&["www-authenticate"]),
        expired.render(&["www-authenticate"])
    ))
}

async fn resource_returns_the_callers_data(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let mut out = String::new();
    for (sub, name) in [("jane.doe", "Jane Doe"), ("john.smith", "John Smith")] {
        let mut claims = tokens::demo_claims(900);
        claims.insert("sub".into(), json!(sub));
        claims.insert("name".into(), json!(name));
        let reply = api::get_with(&server, "/resource", &tokens::hs256(&claims)?).await?;
        out.push_str(&format!(
            "token for {sub}:\n{}\n\n",
            reply.render(&["content-type"])
        ));
    }
    Ok(out)
}

async fn mcp_requires_the_token_on_every_request(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let bearer = format!("Bearer {}", tokens::hs256(&tokens::demo_claims(900))?);
    let url = server.url("/mcp");
    let init = http::post_initialize(&url, Some(&bearer)).await?;
    let session = init
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    http::post_in_session(&url, session, Some(&bearer), initialized).await?;
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let without = http::post_in_session(&url, session, None, list.clone()).await?;
    let with = http::post_in_session(&url, session, Some(&bearer), list).await?;
    Ok(format!(
        "initialize with the token: {} (session id: {})\n\ntools/list in that session without the token:\n{}\n\ntools/list in that session with the token: {} ({})",
        init.status,
        if session.is_empty() { "none" } else { "issued" },
        without.render(&["www-authenticate"]),
        with.status,
        if with.body.contains("\"whoami\"") {
            "lists whoami"
        } else {
            "no tool list"
        }
    ))
}

async fn whoami_answers_with_the_logged_in_user(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let pair = api::login(&server, READER).await?;
    let bearer = format!("Bearer {}", pair.access);
    mcp::session(&server.url("/mcp"), Some(&bearer), &[("whoami", json!({}))]).await
}

async fn client_logs_in_and_calls_whoami(lab: &LabBinary) -> anyhow::Result<String> {
    let recorder = Recorder::start_with_login(READER.0, READER.1, RECORDER_TOKEN).await?;
    // At trace level, as someone debugging it would run it: its output is
    // a log too, and the credentials must stay out of it.
    let run = client_with(lab, &recorder, READER.1, &[("RUST_LOG", "trace")]).await?;
    let printed = format!("{}{}", run.stdout, run.stderr);
    let leaked: Vec<&str> = [
        ("the access token", RECORDER_TOKEN),
        ("the password", READER.1),
    ]
    .into_iter()
    .filter(|(_, secret)| printed.contains(secret))
    .map(|(what, _)| what)
    .collect();
    let mut seen: Vec<String> = recorder
        .seen()
        .into_iter()
        .map(|v| {
            v.map_or("(none)".into(), |v| {
                v.replace(RECORDER_TOKEN, "<accessToken>")
            })
        })
        .collect();
    seen.sort();
    seen.dedup();
    Ok(format!(
        "client exit: {}\nlogins received: {}\nAuthorization values seen on /mcp: {}\ncredentials in the client's output (RUST_LOG=trace): {}\nstdout:\n{}",
        exit(&run),
        recorder.logins().join(", "),
        seen.join(" | "),
        if leaked.is_empty() {
            "none".to_owned()
        } else {
            leaked.join(", ")
        },
        run.stdout.trim_end()
    ))
}

async fn client_reports_a_failed_login(lab: &LabBinary) -> anyhow::Result<String> {
    let recorder = Recorder::start_with_login(READER.0, READER.1, RECORDER_TOKEN).await?;
    let run = client(lab, &recorder, "not-her-password").await?;
    let message: Vec<String> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(redact::ports)
        .collect();
    Ok(format!(
        "client exit: {}\nrequests to /mcp: {}\nstderr (error lines):\n{}",
        exit(&run),
        recorder.seen().len(),
        message.join("\n")
    ))
}

/// `POST /login` with `{"username", "password"}`, whatever the answer.
async fn log_in(
    server: &RunningServer,
    (username, password): (&str, &str),
) -> anyhow::Result<Reply> {
    api::post(
        server,
        "/login",
        json!({ "username": username, "password": password }),
    )
    .await
}

/// POSTs `body` to `url` and reads the whole answer; returns its status and
/// how long that took.
async fn timed_post(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
) -> anyhow::Result<(StatusCode, Duration)> {
    let started = Instant::now();
    let response = http
        .post(url)
        .json(body)
        .send()
        .await
        .context("POST /login failed")?;
    let status = response.status();
    // The time until the whole answer is in, as an attacker would measure.
    let _ = response.bytes().await;
    Ok((status, started.elapsed()))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// `name: value` lines for the named headers (`-` when absent).
fn headers(reply: &Reply, names: &[&str]) -> String {
    let value = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
    };
    names
        .iter()
        .map(|name| format!("{name}: {}", value(name)))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn start(lab: &LabBinary) -> anyhow::Result<RunningServer> {
    lab.start_server_with(&[], JWT_ENV).await
}

async fn client(lab: &LabBinary, recorder: &Recorder, password: &str) -> anyhow::Result<ClientRun> {
    client_with(lab, recorder, password, &[]).await
}

/// [`client`] with `env` set.
async fn client_with(
    lab: &LabBinary,
    recorder: &Recorder,
    password: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<ClientRun> {
    let args = [
        "client",
        "--url",
        &recorder.base_url,
        "--username",
        READER.0,
        "--password",
        password,
    ];
    lab.run(&args, env).await
}

fn exit(run: &ClientRun) -> &'static str {
    if run.success { "success" } else { "failure" }
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
