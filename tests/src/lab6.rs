//! Lab 6, "posture": lab 5's server made into a resource server as the MCP
//! authorization specification asks. Each check is an exploit that must now
//! fail, or a request the specification makes that must now succeed.
//! Titles, order and points live in `labs.toml`.
//!
//! Tokens for the exploits are made from a real access token of the lab
//! (its header and claims, edited, signed again with the checks'
//! `JWT_SECRET`), so that each variant differs from a valid token in
//! exactly one way.

use std::{
    fmt::Write as _,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use regex::Regex;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::{
    CheckFn, LabBinary,
    api::{self, ADMIN, READER},
    checks,
    harness::RunningServer,
    http::{self, Reply},
    redact, tokens,
};

pub const CHECKS: &[(&str, CheckFn)] = checks![
    serves_protected_resource_metadata,
    every_401_points_to_the_metadata,
    access_tokens_name_issuer_audience_and_type,
    refuses_tokens_for_another_audience_issuer_or_type,
    refuses_malformed_tokens_and_never_fetches_header_keys,
    sessions_belong_to_the_user_who_opened_them,
    a_forbidden_tool_call_is_a_403_step_up_challenge,
    tools_nobody_may_call_are_refused_with_403,
    refuses_foreign_origins_and_hosts,
    refuses_oversized_requests_before_any_crypto,
    logout_revokes_the_access_token_presented_with_it,
    rate_limits_token_endpoints_per_client_and_username,
    caps_live_sessions_per_user,
    calls_upstream_with_its_own_credential,
    logs_one_audit_line_per_decision,
];

crate::security::cross_cutting!(
    Credentials::LoginAndRefresh,
    [
        session_id_is_not_a_credential,
        survives_malformed_authorization_headers,
        never_logs_credentials,
    ]
);

/// The well-known path of `/mcp`'s metadata (RFC 9728 §3.1).
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

/// A key the server has never seen: the attacker's.
const ATTACKER_SECRET: &str = "an-attackers-own-hmac-key-0123456789abcd";

async fn serves_protected_resource_metadata(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let path_inserted = get(&server, METADATA_PATH).await?;
    let root = get(&server, "/.well-known/oauth-protected-resource").await?;
    let resource = path_inserted
        .json()
        .and_then(|doc| doc["resource"].as_str().map(str::to_owned));
    let mut out = format!(
        "GET {METADATA_PATH}:\n{}\n\n\
         `resource` is this server's /mcp, byte for byte: {}\n\
         GET /.well-known/oauth-protected-resource (root): {}, same document: {}\n",
        redact::ports(&path_inserted.render(&["content-type"])),
        yes(resource.as_deref() == Some(server.url("/mcp").as_str())),
        root.status,
        yes(root.status.is_success() && root.json() == path_inserted.json()),
    );
    server.stop().await?;

    let behind_proxy = start(lab, &["--public-url", "https://mcp.example.com"]).await?;
    let reply = get(&behind_proxy, METADATA_PATH).await?;
    let doc = reply.json().unwrap_or(Value::Null);
    let _ = write!(
        out,
        "\nwith --public-url https://mcp.example.com:\n  status: {}\n  resource: {}\n  authorization_servers: {}",
        reply.status, doc["resource"], doc["authorization_servers"],
    );
    Ok(out)
}

async fn every_401_points_to_the_metadata(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let access = api::login(&server, READER).await?.access;
    let expired = resign(&access, JWT, |_, claims| {
        let now = tokens::now();
        claims.insert("iat".into(), (now - 600).into());
        claims.insert("exp".into(), (now - 120).into());
    })?;
    let forged = resign(&access, ATTACKER_SECRET, |_, _| {})?;
    let cases = [
        ("POST /mcp without Authorization", "/mcp", None),
        (
            "POST /mcp with a forged token",
            "/mcp",
            Some(forged.as_str()),
        ),
        (
            "POST /mcp with an expired token",
            "/mcp",
            Some(expired.as_str()),
        ),
        ("GET /resource without Authorization", "/resource", None),
    ];
    let mut out = String::new();
    let mut metadata_urls = Vec::new();
    for (label, path, token) in cases {
        let reply = match path {
            "/mcp" => {
                let bearer = token.map(|token| format!("Bearer {token}"));
                http::post_initialize(&server.url(path), bearer.as_deref()).await?
            }
            _ => match token {
                Some(token) => api::get_with(&server, path, token).await?,
                None => get(&server, path).await?,
            },
        };
        let challenge = header(&reply, "www-authenticate");
        metadata_urls.extend(param(&challenge, "resource_metadata"));
        let _ = writeln!(
            out,
            "{label}:\n  status: {}\n  www-authenticate: {}",
            reply.status,
            redact::ports(&challenge)
        );
    }
    metadata_urls.dedup();
    let serves = match metadata_urls.as_slice() {
        [url] => {
            let reply = http::send(Method::GET, url, &[], None).await?;
            let resource = reply.json().map(|doc| doc["resource"].clone());
            yes(reply.status == StatusCode::OK && resource == Some(json!(server.url("/mcp"))))
        }
        _ => "no (not one resource_metadata URL in every challenge)",
    };
    let _ = write!(
        out,
        "\nthe challenges' resource_metadata URL serves this server's metadata: {serves}"
    );
    Ok(out)
}

async fn access_tokens_name_issuer_audience_and_type(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let first = api::login(&server, READER).await?.access;
    let second = api::login(&server, READER).await?.access;
    let jti = |token: &str| tokens::claims(token).map(|claims| claims.get("jti").cloned());
    let distinct = match (jti(&first)?, jti(&second)?) {
        (Some(a), Some(b)) => yes(a != b),
        _ => "no jti",
    };
    let claims = tokens::claims(&first)?;
    let claim = |name: &str| claims.get(name).cloned().unwrap_or(Value::Null);
    Ok(format!(
        "{}\n\naud is this server's /mcp: {}\niss is this server: {}\ntwo logins, two different jti: {distinct}",
        redact::ports(&tokens::describe(&first)),
        yes(claim("aud") == json!(server.url("/mcp"))),
        yes(claim("iss") == json!(server.base_url)),
    ))
}

async fn refuses_tokens_for_another_audience_issuer_or_type(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let access = api::login(&server, READER).await?.access;
    let ours = server.url("/mcp");
    let other = "https://other-mcp.example.com/mcp";
    type Edit = Box<dyn FnOnce(&mut Map<String, Value>, &mut Map<String, Value>) + Send>;
    let claim = |name: &'static str, value: Value| -> Edit {
        Box::new(move |_, claims| {
            claims.insert(name.into(), value);
        })
    };
    let now = tokens::now();
    let cases: Vec<(&str, Edit)> = vec![
        (
            "the login's token, signed again unchanged",
            Box::new(|_, _| {}),
        ),
        (
            "aud missing",
            Box::new(|_, claims| {
                claims.remove("aud");
            }),
        ),
        ("aud of another MCP server", claim("aud", json!(other))),
        (
            "aud the server's root instead of its /mcp",
            claim("aud", json!(server.base_url)),
        ),
        (
            "aud a list with this server's /mcp in it",
            claim("aud", json!([other, ours])),
        ),
        (
            "iss missing",
            Box::new(|_, claims| {
                claims.remove("iss");
            }),
        ),
        (
            "iss another issuer",
            claim("iss", json!("https://login.example.com")),
        ),
        (
            "typ JWT (an ID-token-shaped JWT, same key)",
            Box::new(|header, _| {
                header.insert("typ".into(), json!("JWT"));
            }),
        ),
        (
            "no typ",
            Box::new(|header, _| {
                header.remove("typ");
            }),
        ),
        ("nbf one hour from now", claim("nbf", json!(now + 3600))),
        (
            "exp 90 s ago (past any leeway)",
            claim("exp", json!(now - 90)),
        ),
    ];
    let mut out = String::from("GET /resource with a reader's token, changed in one way each:\n");
    for (label, edit) in cases {
        let token = resign(&access, JWT, edit)?;
        let reply = api::get_with(&server, "/resource", &token).await?;
        let _ = writeln!(out, "{label}: {}", api::short(&reply));
    }
    Ok(out)
}

async fn refuses_malformed_tokens_and_never_fetches_header_keys(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let canary = Canary::start().await?;
    let access = api::login(&server, READER).await?.access;
    let attacker_jwk = json!({
        "kty": "oct",
        "k": URL_SAFE_NO_PAD.encode(ATTACKER_SECRET),
        "alg": "HS256",
    });
    let header_keys: [(&str, &str, Value); 4] = [
        (
            "jku",
            "jku (a JWK Set URL the attacker serves)",
            json!(canary.url("/jwks.json")),
        ),
        (
            "x5u",
            "x5u (a certificate URL the attacker serves)",
            json!(canary.url("/cert.pem")),
        ),
        (
            "jwk",
            "jwk (the attacker's own key, embedded)",
            attacker_jwk,
        ),
        (
            "kid",
            "kid `../../../../dev/null`",
            json!("../../../../dev/null"),
        ),
    ];
    let mut out =
        String::from("signed with the attacker's key, the header naming where to find it:\n");
    for (name, label, value) in header_keys {
        let token = resign(&access, ATTACKER_SECRET, |header, _| {
            header.insert(name.into(), value);
        })?;
        let reply = api::get_with(&server, "/resource", &token).await?;
        let _ = writeln!(out, "  {label}: {}", api::short(&reply));
    }
    let valid = resign(&access, JWT, |_, _| {})?;
    let parts: Vec<&str> = valid.split('.').collect();
    let json_serialization = json!({
        "protected": parts.first(),
        "payload": parts.get(1),
        "signature": parts.get(2),
    })
    .to_string();
    let shapes = [
        (
            "the JWS JSON serialization of a valid token",
            json_serialization,
        ),
        (
            "a valid token with a fourth part",
            format!("{valid}.{}", parts.get(2).unwrap_or(&"")),
        ),
        ("a valid token in quotes", format!("\"{valid}\"")),
        ("a valid token with `=` padding", format!("{valid}==")),
    ];
    out.push_str("not three base64url parts:\n");
    for (label, token) in shapes {
        let reply = api::get_with(&server, "/resource", &token).await?;
        let _ = writeln!(out, "  {label}: {}", api::short(&reply));
    }
    // Time for a fetch the server might have started in the background.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = write!(
        out,
        "connections the server opened to the attacker's URLs: {}",
        canary.hits()
    );
    Ok(out)
}

async fn sessions_belong_to_the_user_who_opened_them(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let jane = bearer(&api::login(&server, READER).await?.access);
    let alex = bearer(&api::login(&server, ADMIN).await?.access);
    let janes = open_session(&server, &jane).await?;
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let whoami = call("whoami", json!({}));
    let mut out = String::from(
        "jane.doe opens a session; alex.admin, with his own valid token, uses its id:\n",
    );
    for (label, body) in [
        ("tools/list", list.clone()),
        ("tools/call whoami", whoami.clone()),
    ] {
        let reply = in_session(&server, Method::POST, &janes, &alex, Some(body)).await?;
        let _ = writeln!(out, "  {label}: {}", foreign(&reply));
    }
    // GET opens the stream where the server sends the session's messages:
    // as much hers as the POSTs.
    let stream = match open_stream(&server, &janes, &alex).await? {
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => "refused (404 or 403)".to_owned(),
        status if status.is_success() => format!("{status} (let through: her stream opened)"),
        status => status.to_string(),
    };
    let _ = writeln!(out, "  GET (the session's event stream): {stream}");
    let reply = in_session(&server, Method::DELETE, &janes, &alex, None).await?;
    let _ = writeln!(out, "  DELETE (end the session): {}", foreign(&reply));
    let own = in_session(&server, Method::POST, &janes, &jane, Some(whoami)).await?;
    let unknown = in_session(&server, Method::POST, "no-such-session", &alex, Some(list)).await?;
    let _ = write!(
        out,
        "jane.doe in her own session afterwards, whoami: {} {}\n\
         alex.admin with a session id nobody opened: {}",
        own.status,
        tool_text(&own),
        foreign(&unknown),
    );
    Ok(out)
}

async fn a_forbidden_tool_call_is_a_403_step_up_challenge(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let jane = bearer(&api::login(&server, READER).await?.access);
    let alex = bearer(&api::login(&server, ADMIN).await?.access);
    let janes = open_session(&server, &jane).await?;
    let delete = call("delete_order", json!({ "id": 1 }));
    let refused = in_session(&server, Method::POST, &janes, &jane, Some(delete.clone())).await?;
    let still_there = in_session(
        &server,
        Method::POST,
        &janes,
        &jane,
        Some(call("get_order", json!({ "id": 1 }))),
    )
    .await?;
    let listed = tool_names(&in_session(&server, Method::POST, &janes, &jane, Some(list())).await?);

    // A token without User.Read, at the plain HTTP resource.
    let no_user_read = resign(
        &api::login(&server, READER).await?.access,
        JWT,
        |_, claims| {
            claims.insert("permissions".into(), json!(["Orders.Read"]));
        },
    )?;
    let resource = api::get_with(&server, "/resource", &no_user_read).await?;

    let alexs = open_session(&server, &alex).await?;
    let allowed = in_session(&server, Method::POST, &alexs, &alex, Some(delete)).await?;
    Ok(format!(
        "jane.doe (Orders.Read, no Orders.Delete) calls delete_order 1:\n{}\n\n\
         order 1 afterwards (get_order): {}\n\
         jane.doe's tools/list: {listed}\n\n\
         GET /resource with a token without User.Read:\n{}\n\n\
         alex.admin (Orders.Delete) calls delete_order 1: {} {}",
        step_up(&refused),
        tool_text(&still_there),
        redact::ports(&resource.render(&["www-authenticate"])),
        allowed.status,
        tool_text(&allowed),
    ))
}

async fn tools_nobody_may_call_are_refused_with_403(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let alex = bearer(&api::login(&server, ADMIN).await?.access);
    let session = open_session(&server, &alex).await?;
    let mut out = String::from("alex.admin (every role's permission, no Orders.Refund):\n");
    for (tool, arguments) in [
        ("refund_order", json!({ "id": 1 })),
        ("drop_all_orders", json!({})),
    ] {
        let reply = in_session(
            &server,
            Method::POST,
            &session,
            &alex,
            Some(call(tool, arguments)),
        )
        .await?;
        let _ = writeln!(out, "calls {tool}:\n{}\n", step_up(&reply));
    }
    let listed =
        tool_names(&in_session(&server, Method::POST, &session, &alex, Some(list())).await?);
    let _ = write!(out, "alex.admin's tools/list: {listed}");
    Ok(out)
}

async fn refuses_foreign_origins_and_hosts(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let jane = bearer(&api::login(&server, READER).await?.access);
    let own = server.base_url.clone();
    let lookalike = format!("{own}.evil.example");
    // The same host is not the same origin: scheme and port count too.
    let host = own.rsplit_once(':').map_or(own.as_str(), |(host, _)| host);
    let other_port = format!("{host}:1");
    let other_scheme = own.replacen("http://", "https://", 1);
    let mut out = String::from(
        "POST /mcp initialize with jane.doe's valid token and
",
    );
    for (label, origin) in [
        ("no Origin (not a browser)", None),
        ("Origin: the server's own", Some(own.as_str())),
        ("Origin: http://evil.example", Some("http://evil.example")),
        ("Origin: null", Some("null")),
        (
            "Origin: the server's own followed by .evil.example",
            Some(lookalike.as_str()),
        ),
        (
            "Origin: the server's host on another port (another local app)",
            Some(other_port.as_str()),
        ),
        (
            "Origin: the server's host and port over https",
            Some(other_scheme.as_str()),
        ),
    ] {
        let mut headers = vec![
            ("accept", "application/json, text/event-stream"),
            ("authorization", jane.as_str()),
        ];
        headers.extend(origin.map(|origin| ("origin", origin)));
        let reply = initialize_with(&server, &headers).await?;
        let _ = writeln!(out, "  {label}: {}", short_status(&reply));
    }
    let login = http::send(
        Method::POST,
        &server.url("/login"),
        &[("origin", "http://evil.example")],
        Some(json!({ "username": READER.0, "password": READER.1 })),
    )
    .await?;
    let metadata = http::send(
        Method::GET,
        &server.url(METADATA_PATH),
        &[("origin", "http://evil.example")],
        None,
    )
    .await?;
    let port = server.base_url.rsplit(':').next().unwrap_or_default();
    let evil_host = format!("evil.example:{port}");
    let host = initialize_with(
        &server,
        &[
            ("accept", "application/json, text/event-stream"),
            ("authorization", jane.as_str()),
            ("host", evil_host.as_str()),
        ],
    )
    .await?;
    let _ = write!(
        out,
        "POST /login with Origin: http://evil.example: {}\n\
         GET the metadata with Origin: http://evil.example: {} (public, readable from anywhere)\n\
         POST /mcp with Host: evil.example (DNS rebinding): {}\n",
        short_status(&login),
        metadata.status,
        match host.status.as_u16() {
            403 | 421 => "refused (403 or 421)".to_owned(),
            _ => short_status(&host),
        },
    );
    server.stop().await?;

    let server = start(lab, &["--allowed-origin", "https://app.example.com"]).await?;
    let jane = bearer(&api::login(&server, READER).await?.access);
    out.push_str(
        "
with --allowed-origin https://app.example.com:
",
    );
    for origin in ["https://app.example.com", "https://other.example.com"] {
        let headers = [
            ("accept", "application/json, text/event-stream"),
            ("authorization", jane.as_str()),
            ("origin", origin),
        ];
        let reply = initialize_with(&server, &headers).await?;
        let _ = writeln!(out, "  Origin: {origin}: {}", short_status(&reply));
    }
    Ok(out)
}

async fn refuses_oversized_requests_before_any_crypto(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let mcp = server.url("/mcp");
    let mut out = String::new();
    for (label, size) in [("9 KB", 9 * 1024), ("7 KB", 7 * 1024)] {
        let value = format!("Bearer {}", "A".repeat(size));
        let reply = http::post_initialize(&mcp, Some(&value)).await?;
        let _ = writeln!(
            out,
            "POST /mcp with a {label} Authorization: {}",
            short_status(&reply)
        );
    }
    // Valid JSON-RPC, padded: only its size is wrong.
    let mut big_initialize = http::initialize_request();
    big_initialize["params"]["clientInfo"]["padding"] = json!("x".repeat(300 * 1024));
    let reply = http::send(
        Method::POST,
        &mcp,
        &[("accept", "application/json, text/event-stream")],
        Some(big_initialize),
    )
    .await?;
    let _ = writeln!(
        out,
        "POST /mcp with a 300 KB body and no Authorization: {}",
        short_status(&reply)
    );
    for (label, size) in [("5 KB", 5 * 1024), ("3 KB", 3 * 1024)] {
        let body = json!({ "username": READER.0, "password": "p".repeat(size) });
        let reply = api::post(&server, "/login", body).await?;
        let _ = writeln!(
            out,
            "POST /login with a {label} password: {}",
            api::short(&reply)
        );
    }
    let reply = api::post(
        &server,
        "/refresh",
        json!({ "refreshToken": "r".repeat(5 * 1024) }),
    )
    .await?;
    let _ = writeln!(
        out,
        "POST /refresh with a 5 KB body: {}",
        api::short(&reply)
    );
    let body = json!({ "refreshToken": "r".repeat(5 * 1024) }).to_string();
    let _ = writeln!(
        out,
        "POST /refresh with a 5 KB chunked body (no Content-Length): {}",
        post_chunked(&server, "/refresh", &body).await?
    );
    let after = api::login(&server, READER).await.is_ok();
    let _ = write!(out, "then a normal login works: {}", yes(after));
    Ok(out)
}

async fn logout_revokes_the_access_token_presented_with_it(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab, &[]).await?;
    let other_device = api::login(&server, READER).await?;
    let pair = api::login(&server, READER).await?;
    let before = api::get_with(&server, "/resource", &pair.access).await?;
    let bearer = bearer(&pair.access);
    let logout = http::send(
        Method::POST,
        &server.url("/logout"),
        &[("authorization", bearer.as_str())],
        Some(json!({ "refreshToken": pair.refresh })),
    )
    .await?;
    let after = api::get_with(&server, "/resource", &pair.access).await?;
    let mcp = http::post_initialize(&server.url("/mcp"), Some(&bearer)).await?;
    // The same claims, serialized and signed again: another text, the same
    // token as far as `(iss, jti)` is concerned.
    let re_encoded = resign(&pair.access, JWT, |_, _| {})?;
    let re_encoded_reply = api::get_with(&server, "/resource", &re_encoded).await?;
    let other = api::get_with(&server, "/resource", &other_device.access).await?;
    let refresh = api::refresh(&server, &pair.refresh).await?;
    // Another logout, and the first token again: a denylist that drops
    // live entries while it cleans up brings it back to life.
    let next = api::login(&server, READER).await?;
    let next_bearer = format!("Bearer {}", next.access);
    http::send(
        Method::POST,
        &server.url("/logout"),
        &[("authorization", next_bearer.as_str())],
        Some(json!({ "refreshToken": next.refresh })),
    )
    .await?;
    let first_again = api::get_with(&server, "/resource", &pair.access).await?;
    let next_after = api::get_with(&server, "/resource", &next.access).await?;
    Ok(format!(
        "GET /resource with the access token before logout: {}\n\
         POST /logout with its refresh token, and the access token in Authorization: {}\n\
         afterwards, that access token:\n  GET /resource: {}\n  POST /mcp initialize: {}\n  \
         the same claims encoded and signed again: {}\n\
         the refresh token: {}\n\
         the same user's access token on another device: {}\n\
         after a second login and logout, GET /resource:\n  \
         with the first logged-out access token: {}\n  with the second: {}",
        before.status,
        api::short(&logout),
        api::short(&after),
        short_status(&mcp),
        api::short(&re_encoded_reply),
        api::short(&refresh),
        other.status,
        api::short(&first_again),
        api::short(&next_after),
    ))
}

async fn rate_limits_token_endpoints_per_client_and_username(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    // Refreshes with a made-up token cost the server nothing (no argon2),
    // so they probe the limit per address; logins probe the one per user.
    let server = start(lab, &[]).await?;
    let mut out = String::from("without --trust-proxy:\n");
    let burst = token_burst(&server, "/refresh", |i| {
        (format!("10.0.0.{i}"), String::new())
    })
    .await?;
    let _ = writeln!(
        out,
        "  12 POST /refresh, each with another X-Forwarded-For:\n{}",
        burst.describe()
    );
    let login = http::send(
        Method::POST,
        &server.url("/login"),
        &[],
        Some(json!({ "username": READER.0, "password": READER.1 })),
    )
    .await?;
    let _ = writeln!(
        out,
        "  then POST /login from the same address, right password: {}",
        login.status
    );
    server.stop().await?;

    let server = start(lab, &["--trust-proxy"]).await?;
    out.push_str("\nwith --trust-proxy (a proxy appends the address it saw to X-Forwarded-For):\n");
    let burst = token_burst(&server, "/refresh", |i| {
        (format!("10.0.1.{i}"), String::new())
    })
    .await?;
    let _ = writeln!(
        out,
        "  12 POST /refresh from 12 addresses:\n{}",
        burst.describe()
    );
    let burst = token_burst(&server, "/refresh", |i| {
        (format!("10.0.2.{i}, 10.9.9.9"), String::new())
    })
    .await?;
    let _ = writeln!(
        out,
        "  12 POST /refresh, the client writing X-Forwarded-For: 10.0.2.<n> and the proxy appending 10.9.9.9:\n{}",
        burst.describe()
    );
    let burst = token_burst(&server, "/login", |i| {
        (format!("10.0.3.{i}"), READER.0.to_owned())
    })
    .await?;
    let _ = write!(
        out,
        "  12 wrong logins for jane.doe from 12 addresses (a distributed guesser):\n{}",
        burst.describe()
    );
    Ok(out)
}

async fn caps_live_sessions_per_user(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab, &["--max-sessions-per-user", "3"]).await?;
    let janes_token = api::login(&server, READER).await?.access;
    let jane = bearer(&janes_token);
    let alex = bearer(&api::login(&server, ADMIN).await?.access);
    let mut out =
        String::from("--max-sessions-per-user 3; jane.doe sends 5 initialize requests:\n");
    let mut opened = Vec::new();
    for i in 1..=5 {
        let reply = http::post_initialize(&server.url("/mcp"), Some(&jane)).await?;
        let _ = writeln!(out, "  {i}: {}", session_answer(&reply));
        if reply.status.is_success() {
            opened.push(header(&reply, "mcp-session-id"));
        }
    }
    // The budget is on sessions: a request that opens none is not counted.
    let resource = api::get_with(&server, "/resource", &janes_token).await?;
    let _ = writeln!(
        out,
        "jane.doe at her cap, GET /resource (opens no session): {}",
        resource.status
    );
    let others = http::post_initialize(&server.url("/mcp"), Some(&alex)).await?;
    let _ = writeln!(
        out,
        "alex.admin's first initialize: {}",
        session_answer(&others)
    );
    let ended = match opened.first() {
        Some(first) => in_session(&server, Method::DELETE, first, &jane, None)
            .await?
            .status
            .is_success(),
        None => false,
    };
    let again = http::post_initialize(&server.url("/mcp"), Some(&jane)).await?;
    let _ = writeln!(
        out,
        "jane.doe ends one session (DELETE): {}\njane.doe's next initialize: {}",
        if ended { "done" } else { "not done" },
        session_answer(&again)
    );
    server.stop().await?;

    let server = start(lab, &[]).await?;
    let jane = bearer(&api::login(&server, READER).await?.access);
    let mut answers = Vec::new();
    for _ in 0..11 {
        let reply = http::post_initialize(&server.url("/mcp"), Some(&jane)).await?;
        answers.push(reply.status.as_u16().to_string());
    }
    let _ = write!(
        out,
        "\nby default, 11 initialize requests from jane.doe: {}",
        answers.join(" ")
    );
    Ok(out)
}

/// The user's token must not leave: not in `Authorization`, not in another
/// header or the URL, not as a fallback when the server has no credential
/// of its own; and the server's own credential must not reach its logs.
async fn calls_upstream_with_its_own_credential(lab: &LabBinary) -> anyhow::Result<String> {
    let upstream = Upstream::start().await?;
    let args = ["--db", ":memory:", "--upstream-url", upstream.url.as_str()];
    let mut env = tokens::JWT_ENV.to_vec();
    env.push(("UPSTREAM_TOKEN", UPSTREAM_TOKEN));
    // At trace, so that the credential in any log line shows.
    env.push(("RUST_LOG", "trace"));
    let server = lab.start_server_with(&args, &env).await?;
    let (reply, access) = shipping_status_as_jane(&server).await?;
    let received = upstream.take();
    let logged = server
        .stop_and_read_output()
        .await?
        .iter()
        .any(|line| line.contains(UPSTREAM_TOKEN));
    let mut out = format!(
        "jane.doe calls shipping_status 1: {} {}\n\
         the shipping service received, per request: {}\n\
         UPSTREAM_TOKEN in the server's output (RUST_LOG=trace): {}\n",
        reply.status,
        tool_text(&reply),
        describe_upstream_requests(&received, &access),
        yes(logged),
    );

    // No credential of its own: refuse, never fall back to the caller's.
    let server = lab.start_server_with(&args, tokens::JWT_ENV).await?;
    let (reply, access) = shipping_status_as_jane(&server).await?;
    let received = upstream.take();
    let _ = write!(
        out,
        "\nwithout UPSTREAM_TOKEN, jane.doe calls shipping_status 1: {} ({})\n\
         the shipping service received, per request: {}",
        reply.status,
        tool_outcome(&reply),
        describe_upstream_requests(&received, &access),
    );
    Ok(out)
}

/// jane.doe logs in, opens a session and calls `shipping_status` for
/// order 1: the reply, and her access token.
async fn shipping_status_as_jane(server: &RunningServer) -> anyhow::Result<(Reply, String)> {
    let access = api::login(server, READER).await?.access;
    let jane = bearer(&access);
    let session = open_session(server, &jane).await?;
    let reply = in_session(
        server,
        Method::POST,
        &session,
        &jane,
        Some(call("shipping_status", json!({ "id": 1 }))),
    )
    .await?;
    Ok((reply, access))
}

/// What the stand-in shipping service received, one entry per request:
/// its `Authorization`, and where else the caller's token was (another
/// header, the URL), found by its signature.
fn describe_upstream_requests(received: &[Received], access: &str) -> String {
    if received.is_empty() {
        return "no request".to_owned();
    }
    let signature = access.rsplit('.').next().unwrap_or(access);
    let described: Vec<String> = received
        .iter()
        .map(|request| {
            let authorization = match request.authorization.as_deref() {
                None => "no Authorization".to_owned(),
                Some(value) if value.contains(signature) => "jane.doe's access token".to_owned(),
                Some(value) if value == format!("Bearer {UPSTREAM_TOKEN}") => {
                    "Bearer <the server's own UPSTREAM_TOKEN>".to_owned()
                }
                Some(_) => "another credential".to_owned(),
            };
            let elsewhere: Vec<&str> = request
                .elsewhere
                .iter()
                .filter(|(_, value)| value.contains(signature))
                .map(|(place, _)| place.as_str())
                .collect();
            if elsewhere.is_empty() {
                authorization
            } else {
                format!(
                    "{authorization}, and jane.doe's access token in {}",
                    elsewhere.join(", ")
                )
            }
        })
        .collect();
    described.join(", ")
}

/// What a `tools/call` reply is, without the tool's own words: a result, a
/// tool error or a JSON-RPC error.
fn tool_outcome(reply: &Reply) -> String {
    match message(reply) {
        None => format!("no JSON-RPC message: {}", api::short(reply)),
        Some(message) if message.get("error").is_some() => "a JSON-RPC error".to_owned(),
        Some(message) if message["result"]["isError"] == true => "a tool error".to_owned(),
        Some(_) => tool_text(reply),
    }
}

async fn logs_one_audit_line_per_decision(lab: &LabBinary) -> anyhow::Result<String> {
    let mut env = tokens::JWT_ENV.to_vec();
    env.push(("RUST_LOG", "warn,audit=info"));
    let args = ["--db", ":memory:", "--max-sessions-per-user", "1"];
    let server = lab.start_server_with(&args, &env).await?;
    let pair = api::login(&server, READER).await?;
    let access = pair.access.clone();
    let jane = bearer(&access);
    let forged = bearer(&resign(&access, ATTACKER_SECRET, |_, _| {})?);
    get(&server, "/resource").await?;
    api::get_with(&server, "/resource", &access).await?;
    http::post_initialize(&server.url("/mcp"), Some(&forged)).await?;
    let session = open_session(&server, &jane).await?;
    for tool in ["add", "delete_order"] {
        let arguments = json!({ "a": 1, "b": 2, "id": 1 });
        in_session(
            &server,
            Method::POST,
            &session,
            &jane,
            Some(call(tool, arguments)),
        )
        .await?;
    }
    http::send(
        Method::POST,
        &server.url("/mcp"),
        &[
            ("origin", "http://evil.example"),
            ("authorization", jane.as_str()),
        ],
        Some(http::initialize_request()),
    )
    .await?;
    // The refusals of items 3, 6, 7 and 9 are decisions too: a hijacked
    // session or a revoked token that nobody logged is invisible later.
    http::post_initialize(&server.url("/mcp"), Some(&jane)).await?;
    let alex = bearer(&api::login(&server, ADMIN).await?.access);
    in_session(&server, Method::POST, &session, &alex, Some(list())).await?;
    let oversized = format!("Bearer {}", "A".repeat(9 * 1024));
    http::post_initialize(&server.url("/mcp"), Some(&oversized)).await?;
    http::send(
        Method::POST,
        &server.url("/logout"),
        &[("authorization", jane.as_str())],
        Some(json!({ "refreshToken": pair.refresh })),
    )
    .await?;
    api::get_with(&server, "/resource", &access).await?;
    let lines = server.stop_and_read_output().await?;
    let decisions: Vec<String> = lines
        .iter()
        .filter_map(|line| line.find("auth decision").map(|at| audit_line(&line[at..])))
        .collect();
    Ok(format!(
        "--max-sessions-per-user 1; GET /resource without a token, GET /resource, \
         POST /mcp with a forged token, initialize + initialized, tools/call add and \
         delete_order as jane.doe, initialize from Origin http://evil.example, a second \
         initialize (over the budget), tools/list by alex.admin in jane.doe's session, \
         initialize with a 9 KB Authorization, GET /resource with jane.doe's token after \
         her logout; the lines at RUST_LOG=audit=info (the reason in the server's own words):\n{}",
        if decisions.is_empty() {
            "  (none)".to_owned()
        } else {
            decisions
                .iter()
                .map(|line| format!("  {line}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    ))
}

static AUDIT_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(\w+)=("(?:[^"\\]|\\.)*"|\S+)"#).unwrap_or_else(|e| panic!("BUG: bad regex: {e}"))
});

/// An audit line as the check compares it: `sub`, `what` and `decision`
/// as written, in this order, and whether it gives a reason, whose words
/// are the server's own.
fn audit_line(line: &str) -> String {
    let fields: Vec<(&str, &str)> = AUDIT_FIELD
        .captures_iter(line)
        .filter_map(|field| Some((field.get(1)?.as_str(), field.get(2)?.as_str())))
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
    };
    let reason = match field("reason") {
        Some(reason) if !reason.is_empty() && reason != "\"\"" => "with a reason",
        _ => "no reason",
    };
    format!(
        "auth decision sub={} what={} decision={} ({reason})",
        field("sub").unwrap_or("(none)"),
        redact::ports(field("what").unwrap_or("(none)")),
        field("decision").unwrap_or("(none)"),
    )
}

/// The server's own credential for the shipping service, in the checks.
const UPSTREAM_TOKEN: &str = "checks-only-upstream-token-7d1f";

/// One request the stand-in shipping service received: its
/// `Authorization`, and every other place a credential could travel in
/// (`the URL`, `header <name>`) with its value.
#[derive(Debug, Clone)]
struct Received {
    authorization: Option<String>,
    elsewhere: Vec<(String, String)>,
}

/// A stand-in shipping service: `GET /shipping/{id}` answers
/// `{"status":"shipped"}` and records what it was sent.
struct Upstream {
    url: String,
    seen: Arc<std::sync::Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    async fn start() -> anyhow::Result<Upstream> {
        use axum::{
            extract::State,
            http::{HeaderMap, Uri},
            routing::get,
        };
        type Seen = Arc<std::sync::Mutex<Vec<Received>>>;
        async fn shipping(
            State(seen): State<Seen>,
            uri: Uri,
            headers: HeaderMap,
        ) -> axum::Json<Value> {
            let text = |value: &axum::http::HeaderValue| {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            let mut elsewhere = vec![("the URL".to_owned(), uri.to_string())];
            elsewhere.extend(
                headers
                    .iter()
                    .filter(|(name, _)| *name != "authorization")
                    .map(|(name, value)| (format!("header {name}"), text(value))),
            );
            let received = Received {
                authorization: headers.get("authorization").map(text),
                elsewhere,
            };
            if let Ok(mut seen) = seen.lock() {
                seen.push(received);
            }
            axum::Json(json!({ "status": "shipped" }))
        }
        let seen = Seen::default();
        let app = axum::Router::new()
            .route("/shipping/{id}", get(shipping))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the stand-in shipping service")?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Upstream { url, seen, task })
    }

    /// What it received since the last call, forgotten here.
    fn take(&self) -> Vec<Received> {
        self.seen
            .lock()
            .map(|mut seen| std::mem::take(&mut *seen))
            .unwrap_or_default()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An `initialize` answer: a session opened, or the refusal with whether
/// it says when to retry.
fn session_answer(reply: &Reply) -> String {
    if reply.status.is_success() {
        return format!(
            "{} (session {})",
            reply.status,
            if header(reply, "mcp-session-id") == "-" {
                "none"
            } else {
                "opened"
            }
        );
    }
    let retry_after = header(reply, "retry-after").parse::<u64>();
    let retry = match retry_after {
        Ok(seconds) if (1..=300).contains(&seconds) => "Retry-After within 5 minutes",
        Ok(_) => "Retry-After out of range",
        Err(_) => "no Retry-After",
    };
    format!("{} ({retry})", api::short(reply))
}

/// What a burst of requests got back.
struct Burst(Vec<Reply>);

impl Burst {
    /// Whether the limit held, in terms that do not depend on timing: an
    /// allowance may come back during the burst on a slow machine.
    fn describe(&self) -> String {
        let first_limited = self
            .0
            .iter()
            .position(|reply| reply.status == StatusCode::TOO_MANY_REQUESTS);
        let unlimited_first_five = self
            .0
            .iter()
            .take(5)
            .all(|reply| reply.status != StatusCode::TOO_MANY_REQUESTS);
        let Some(at) = first_limited else {
            return format!(
                "    the first 5 answered without 429: {}\n    a 429 within 12 attempts: no",
                yes(unlimited_first_five)
            );
        };
        let limited = &self.0[at];
        let retry_after = header(limited, "retry-after")
            .parse::<u64>()
            .is_ok_and(|seconds| seconds >= 1);
        format!(
            "    the first 5 answered without 429: {}\n    a 429 within 12 attempts: yes\n    \
             with Retry-After in whole seconds: {}\n    body: {}",
            yes(unlimited_first_five),
            yes(retry_after),
            api::short(limited)
        )
    }
}

/// Twelve requests to `path` (`/login` with a wrong password for the
/// given username, or `/refresh` with a made-up token), one after the
/// other, the `i`-th with the `X-Forwarded-For` and username `each(i)` gives.
async fn token_burst(
    server: &RunningServer,
    path: &str,
    each: impl Fn(usize) -> (String, String),
) -> anyhow::Result<Burst> {
    let mut replies = Vec::new();
    for i in 1..=12 {
        let (forwarded_for, username) = each(i);
        let body = match path {
            "/login" => json!({ "username": username, "password": "checks-only-wrong-password" }),
            _ => json!({ "refreshToken": "checks-only-made-up-refresh-token" }),
        };
        let reply = http::send(
            Method::POST,
            &server.url(path),
            &[("x-forwarded-for", forwarded_for.as_str())],
            Some(body),
        )
        .await?;
        replies.push(reply);
    }
    Ok(Burst(replies))
}

/// The signing secret of valid variants: the one the server was started with.
const JWT: &str = tokens::JWT_SECRET;

/// The lab's server with the checks' `JWT_SECRET` and a database in memory.
async fn start(lab: &LabBinary, args: &[&str]) -> anyhow::Result<RunningServer> {
    let mut all = vec!["--db", ":memory:"];
    all.extend_from_slice(args);
    lab.start_server_with(&all, tokens::JWT_ENV).await
}

async fn get(server: &RunningServer, path: &str) -> anyhow::Result<Reply> {
    http::send(Method::GET, &server.url(path), &[], None).await
}

/// `token`'s header and claims, changed by `edit`, signed with HS256 and
/// `secret` exactly as edited: the header keeps its `typ` (or loses it),
/// unlike a token made by `jsonwebtoken::encode`.
fn resign(
    token: &str,
    secret: &str,
    edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>),
) -> anyhow::Result<String> {
    let part = |i: usize| -> anyhow::Result<Map<String, Value>> {
        let text = token.split('.').nth(i).context("the token is not a JWT")?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .context("a part of the token is not base64url")?;
        serde_json::from_slice(&bytes).context("a part of the token is not a JSON object")
    };
    let (mut header, mut claims) = (part(0)?, part(1)?);
    edit(&mut header, &mut claims);
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string()),
    );
    let key = EncodingKey::from_secret(secret.as_bytes()).context("bad secret")?;
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::HS256)
        .context("cannot sign")?;
    Ok(format!("{signing_input}.{signature}"))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Initializes an MCP session with `authorization` and returns its id.
async fn open_session(server: &RunningServer, authorization: &str) -> anyhow::Result<String> {
    let init = http::post_initialize(&server.url("/mcp"), Some(authorization)).await?;
    let session = header(&init, "mcp-session-id");
    anyhow::ensure!(
        init.status == StatusCode::OK && session != "-",
        "initialize with a valid token did not open a session: {}",
        init.render(&[])
    );
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    in_session(
        server,
        Method::POST,
        &session,
        authorization,
        Some(initialized),
    )
    .await?;
    Ok(session)
}

/// POSTs `body` to `path` with `Transfer-Encoding: chunked`, so that no
/// `Content-Length` announces its size, and returns the status line. Raw
/// HTTP/1.1: the checks' client always sends a length.
async fn post_chunked(server: &RunningServer, path: &str, body: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = server
        .base_url
        .strip_prefix("http://")
        .context("the server's URL is not http://")?;
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .context("cannot connect to the server")?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    // One write: the server has the whole request before it answers, so a
    // refusal cannot race the rest of the body.
    stream
        .write_all(request.as_bytes())
        .await
        .context("cannot send the request")?;
    let mut reply = Vec::new();
    tokio::time::timeout(http::REQUEST_TIMEOUT, stream.read_to_end(&mut reply))
        .await
        .with_context(|| format!("no answer within {} s", http::REQUEST_TIMEOUT.as_secs()))?
        .context("cannot read the answer")?;
    let reply = String::from_utf8_lossy(&reply);
    let status = reply.lines().next().unwrap_or("(no answer)");
    Ok(status.trim_start_matches("HTTP/1.1 ").to_owned())
}

/// An MCP `initialize` to `/mcp` with exactly `headers`.
async fn initialize_with(
    server: &RunningServer,
    headers: &[(&str, &str)],
) -> anyhow::Result<Reply> {
    http::send(
        Method::POST,
        &server.url("/mcp"),
        headers,
        Some(http::initialize_request()),
    )
    .await
}

/// The status, and the body when it is a refusal (an MCP stream is not
/// shown: it varies).
fn short_status(reply: &Reply) -> String {
    if reply.status.is_success() {
        reply.status.to_string()
    } else {
        api::short(reply)
    }
}

/// A GET to `/mcp` within `session` (its event stream), answered with its
/// status alone: a stream that opens does not end, so its body is not read.
async fn open_stream(
    server: &RunningServer,
    session: &str,
    authorization: &str,
) -> anyhow::Result<StatusCode> {
    let response = http::client()?
        .get(server.url("/mcp"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .header("authorization", authorization)
        .send()
        .await
        .context("GET /mcp failed")?;
    Ok(response.status())
}

/// One request to `/mcp` within `session`.
async fn in_session(
    server: &RunningServer,
    method: Method,
    session: &str,
    authorization: &str,
    body: Option<Value>,
) -> anyhow::Result<Reply> {
    let headers = [
        ("accept", "application/json, text/event-stream"),
        ("mcp-session-id", session),
        ("mcp-protocol-version", "2025-11-25"),
        ("authorization", authorization),
    ];
    http::send(method, &server.url("/mcp"), &headers, body).await
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": { "name": tool, "arguments": arguments },
    })
}

fn list() -> Value {
    json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/list" })
}

/// The JSON-RPC message in a reply: the body itself, or the last `data:`
/// line of an SSE stream that holds one.
fn message(reply: &Reply) -> Option<Value> {
    reply.json().or_else(|| {
        reply
            .body
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .next_back()
    })
}

/// What a `tools/call` reply says: the tool's text, a tool error, or a
/// JSON-RPC error.
fn tool_text(reply: &Reply) -> String {
    let Some(message) = message(reply) else {
        return format!("(no JSON-RPC message: {})", api::short(reply));
    };
    if let Some(error) = message.get("error") {
        return format!("JSON-RPC error: {}", error["message"]);
    }
    let result = &message["result"];
    let text = result["content"][0]["text"].as_str().unwrap_or("(no text)");
    if result["isError"] == true {
        format!("tool error: {text}")
    } else {
        format!("result: {text}")
    }
}

/// The tool names of a `tools/list` reply, sorted.
fn tool_names(reply: &Reply) -> String {
    let mut names: Vec<String> = message(reply)
        .and_then(|message| message["result"]["tools"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    if names.is_empty() {
        format!("(no tool list: {})", api::short(reply))
    } else {
        names.join(", ")
    }
}

/// A reply that should be a step-up challenge: in full when it is a
/// refusal, else what got through.
fn step_up(reply: &Reply) -> String {
    if reply.status.is_success() {
        format!(
            "status: {} (let through: {})",
            reply.status,
            tool_text(reply)
        )
    } else {
        redact::ports(&reply.render(&["www-authenticate"]))
    }
}

/// A request in someone else's session: 403 and 404 are both right (the
/// Python SDK answers 404, as for a session that does not exist; Go 403).
fn foreign(reply: &Reply) -> String {
    match reply.status {
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => "refused (404 or 403)".to_owned(),
        status if status.is_success() => {
            format!("{status} (let through: {})", tool_text(reply))
        }
        _ => api::short(reply),
    }
}

fn header(reply: &Reply, name: &str) -> String {
    reply.headers.get(name).map_or("-".into(), |value| {
        String::from_utf8_lossy(value.as_bytes()).into_owned()
    })
}

/// The value of `name="…"` in a challenge.
fn param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let end = challenge[start..].find('"')?;
    Some(challenge[start..start + end].to_owned())
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// A listener standing in for the attacker's server: it counts the
/// connections it accepts, which must stay zero.
struct Canary {
    port: u16,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Canary {
    async fn start() -> anyhow::Result<Canary> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the canary")?;
        let port = listener.local_addr()?.port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(Canary { port, hits, task })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.task.abort();
    }
}
