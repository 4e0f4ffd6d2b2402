//! Lab 7, "oauth": tokens come from a real authorization server now. The
//! server validates them against the issuer's JWKS (discovery, keys by
//! `kid`, bounded refetch, pinned algorithms, `iss`, `aud`, `exp`), and the
//! client gets them with OAuth 2.1 (PKCE S256, `resource`, step-up,
//! refresh-token rotation). Titles, order and points live in `labs.toml`.
//!
//! Every check starts its own authorization server in-process
//! ([`authz::start`], headless approval), then the lab's server with
//! `--issuer`. Token variants are signed with a key the checks hold and
//! the issuer publishes ([`CHECKS_KID`]), so that each differs from a valid
//! token in exactly one way; the issuer's own keys sign the rest.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use anyhow::Context;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, jwk::Jwk};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::{
    CheckFn, LabBinary, api, checks,
    harness::RunningServer,
    http::{self, Reply},
    mcp, redact,
    resource_server::{Expiry, ResourceServer},
    tokens,
};

pub const CHECKS: &[(&str, CheckFn)] = checks![
    discovers_the_issuer_at_startup,
    metadata_names_the_authorization_server,
    accepts_valid_tokens_from_the_issuer,
    refuses_expired_tokens,
    refuses_tokens_for_another_audience_or_of_another_type,
    refuses_tokens_from_another_issuer,
    refuses_alg_none,
    refuses_hs256_signed_with_the_public_key,
    refuses_symmetric_and_non_signing_keys_in_the_jwks,
    an_unknown_kid_flood_costs_at_most_one_fetch_per_interval,
    survives_key_rotation_without_a_failed_call,
    client_uses_pkce_s256,
    client_refuses_a_redirect_from_another_issuer,
    client_names_the_resource_it_wants_a_token_for,
    client_steps_up_once_to_the_union_of_scopes,
    client_rotates_the_refresh_token_when_the_access_token_expires,
];

crate::security::cross_cutting!(
    Credentials::IssuerToken,
    [
        session_id_is_not_a_credential,
        survives_malformed_authorization_headers,
        never_logs_credentials,
    ]
);

/// The well-known path of `/mcp`'s metadata (RFC 9728 §3.1).
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

/// The scopes of a reader's token (what jane.doe may get).
const READER_SCOPE: &str = "User.Read Orders.Read";

/// A P-256 key the checks hold. Published by the issuer under [`CHECKS_KID`]
/// it is one of the issuer's keys; unpublished it is anyone's.
const CHECKS_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDI3Xzt2FvHE8egI9
Aj1CsHfxYnsOrr0jO9s5duyKAVmhRANCAAT8Zsuc7UyQ7DpS85w5EGjf3bg5jFAL
c1pnCAaNFKcMYNB4BirCdUb43M1FEsQQWfCpNIr1XYGbSBdpboHQeRIg
-----END PRIVATE KEY-----
";

/// The `kid` under which the issuer publishes the checks' key.
const CHECKS_KID: &str = "checks-es256";

/// The attacker's own P-256 key, which no issuer ever publishes.
const ATTACKER_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOFDLtUfvu5akQPkE
gIy3pyOffpfPOFmw1rcJu/Tidk2hRANCAAT8v+WtoYsviA6gHTl1katOPc1+dcZr
Tj5DHNzue/5bQ+L0CFnw7zc9nK9GA2jY+wxIxWn78Jr1NsEEqEJfzDO1
-----END PRIVATE KEY-----
";

/// The `kid` the attacker's tokens name.
const ATTACKER_KID: &str = "attackers-key";

/// A secret for the `oct` key an attacker slipped into the JWKS.
const OCT_SECRET: &str = "an-oct-key-in-the-jwks-0123456789abcdef";

async fn discovers_the_issuer_at_startup(lab: &LabBinary) -> anyhow::Result<String> {
    let issuer = crate::start_issuer(authz::Config::default()).await?;
    let url = issuer.issuer().to_owned();
    let before = issuer.stats().jwks_fetches;
    let started = start_server(lab, &url, &[]).await;
    let mut out = format!(
        "--issuer the authorization server ({}): {}\n",
        redact::ports(&url),
        match &started {
            Ok(_) => "listens".to_owned(),
            Err(e) => format!("does not listen: {}", redact::ports(&format!("{e:#}"))),
        }
    );
    let _ = writeln!(
        out,
        "  JWKS fetched at the authorization server before the first request: {}",
        yes(issuer.stats().jwks_fetches > before)
    );
    drop(started);

    // A port nobody listens on: bound, then released.
    let nobody = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("http://{}", listener.local_addr()?)
    };
    let _ = writeln!(
        out,
        "--issuer a URL where nothing answers: {}",
        refused_to_start(start_server(lab, &nobody, &[]).await)
    );
    // The same server under another name: its metadata says `127.0.0.1`,
    // not `localhost` (a mix-up an exact comparison catches).
    let renamed = url.replace("127.0.0.1", "localhost");
    let _ = writeln!(
        out,
        "--issuer the same server as http://localhost:[port] (its metadata says issuer http://127.0.0.1:[port]): {}",
        refused_to_start(start_server(lab, &renamed, &[]).await)
    );
    // RFC 8414 §3.3: identical, so no trailing-slash tolerance and no case
    // folding either.
    let slashed = format!("{url}/");
    let _ = writeln!(
        out,
        "--issuer the same server as http://127.0.0.1:[port]/ (with a trailing slash): {}",
        refused_to_start(start_server(lab, &slashed, &[]).await)
    );
    let shouted = url.replace("http://", "HTTP://");
    let _ = write!(
        out,
        "--issuer the same server as HTTP://127.0.0.1:[port] (its scheme in upper case): {}",
        refused_to_start(start_server(lab, &shouted, &[]).await)
    );
    Ok(out)
}

async fn metadata_names_the_authorization_server(lab: &LabBinary) -> anyhow::Result<String> {
    let setup = Setup::start(lab, authz::Config::default(), &[]).await?;
    let reply = get(&setup.server, METADATA_PATH).await?;
    let doc = reply.json().unwrap_or(Value::Null);
    let challenge = header(&get(&setup.server, "/resource").await?, "www-authenticate");
    let init = http::post_initialize(&setup.mcp(), None).await?;
    Ok(format!(
        "GET {METADATA_PATH}: {}\n  resource: {}\n  authorization_servers: {}\n  \
         authorization_servers is exactly [--issuer]: {}\n  scopes_supported: {}\n\n\
         GET /resource without a token:\n  www-authenticate: {}\n\
         POST /mcp initialize without a token: {}\n  www-authenticate: {}",
        reply.status,
        redact::ports(&doc["resource"].to_string()),
        redact::ports(&doc["authorization_servers"].to_string()),
        yes(doc["authorization_servers"] == json!([setup.issuer.issuer()])),
        doc["scopes_supported"],
        redact::ports(&challenge),
        init.status,
        redact::ports(&header(&init, "www-authenticate")),
    ))
}

async fn accepts_valid_tokens_from_the_issuer(lab: &LabBinary) -> anyhow::Result<String> {
    let setup = Setup::start(lab, authz::Config::default(), &[]).await?;
    let mut out = String::from("tokens signed by the issuer's RS256 key:\n");
    for (label, scope) in [
        ("jane.doe, scope User.Read Orders.Read", READER_SCOPE),
        ("jane.doe, scope User.Read", "User.Read"),
        (
            "jane.doe, scope user.read orders.read (wrong case)",
            "user.read orders.read",
        ),
    ] {
        let token = setup.mint("jane.doe", scope, |_| {})?;
        let _ = writeln!(
            out,
            "  {label}:\n    GET /resource: {}\n{}",
            outcome(&setup.resource(&token).await?),
            indent(&setup.session(&token).await?, 4),
        );
    }
    let bot = client_credentials(&setup).await?;
    let _ = writeln!(
        out,
        "shipping-bot, client_credentials at POST /token with resource = the server's /mcp:\n{}",
        indent(&setup.session(&bot).await?, 4),
    );
    drop(setup);

    let config = authz::Config {
        alg: authz::Alg::ES256,
        ..authz::Config::default()
    };
    let setup = Setup::start(lab, config, &[]).await?;
    let token = setup.mint("jane.doe", READER_SCOPE, |_| {})?;
    let _ = write!(
        out,
        "a token signed by the issuer's ES256 key (authorization server started with ES256):\n{}",
        indent(&setup.session(&token).await?, 4),
    );
    Ok(out)
}

async fn refuses_expired_tokens(lab: &LabBinary) -> anyhow::Result<String> {
    let setup = Setup::start(
        lab,
        authz::Config::default(),
        &[checks_jwk(CHECKS_KID, "sig")?],
    )
    .await?;
    let mut out = String::from("GET /resource with a token signed by the issuer's key:\n");
    for (label, expired_by) in [
        ("valid for 5 more minutes", None),
        ("expired 5 s ago (within a 30 s leeway)", Some(5)),
        // Within jsonwebtoken's default leeway (60 s), not the lab's.
        ("expired 45 s ago (past a 30 s leeway)", Some(45)),
        ("expired 120 s ago", Some(120)),
        ("expired an hour ago", Some(3600)),
    ] {
        let token = setup.mint("jane.doe", READER_SCOPE, |request| {
            request.expired_by = expired_by.map(Duration::from_secs);
        })?;
        let _ = writeln!(
            out,
            "  {label}: {}",
            outcome(&setup.resource(&token).await?)
        );
    }
    // Without `exp`, jsonwebtoken checks no expiry at all unless `exp` is
    // required: such a token would be good forever.
    let forever = setup.forge(remove_claim("exp"))?;
    let _ = writeln!(
        out,
        "  without exp (it would never expire): {}",
        outcome(&setup.resource(&forever).await?)
    );
    let now = tokens::now();
    let not_yet = setup.forge(set_claim("nbf", json!(now + 3600)))?;
    let _ = write!(
        out,
        "  not valid before an hour from now (nbf): {}",
        outcome(&setup.resource(&not_yet).await?)
    );
    Ok(out)
}

async fn refuses_tokens_for_another_audience_or_of_another_type(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let setup = Setup::start(
        lab,
        authz::Config::default(),
        &[checks_jwk(CHECKS_KID, "sig")?],
    )
    .await?;
    let ours = setup.mcp();
    let other = "https://other-mcp.example.com/mcp";
    let root = setup.server.base_url.clone();
    let issuer = setup.issuer.issuer().to_owned();
    let cases: Vec<(&str, Edit)> = vec![
        (
            "valid (aud this server's /mcp, typ at+jwt)",
            edit(|_, _| {}),
        ),
        ("aud missing", remove_claim("aud")),
        ("aud another MCP server", set_claim("aud", json!(other))),
        (
            "aud this server's root instead of its /mcp",
            set_claim("aud", json!(root)),
        ),
        (
            "aud the authorization server",
            set_claim("aud", json!(issuer)),
        ),
        (
            "aud lab7-client (an ID token for the client)",
            set_claim("aud", json!("lab7-client")),
        ),
        (
            "aud a list with this server's /mcp in it",
            set_claim("aud", json!([other, ours])),
        ),
        (
            "typ JWT (an ID-token-shaped JWT)",
            edit(|header, _| {
                header.insert("typ".into(), json!("JWT"));
            }),
        ),
        (
            "no typ",
            edit(|header, _| {
                header.remove("typ");
            }),
        ),
    ];
    let mut out = String::from(
        "GET /resource with a token signed by a key the issuer publishes, changed in one way each:\n",
    );
    for (label, change) in cases {
        let token = setup.forge(change)?;
        let _ = writeln!(
            out,
            "  {label}: {}",
            outcome(&setup.resource(&token).await?)
        );
    }
    Ok(out)
}

async fn refuses_tokens_from_another_issuer(lab: &LabBinary) -> anyhow::Result<String> {
    let setup = Setup::start(
        lab,
        authz::Config::default(),
        &[checks_jwk(CHECKS_KID, "sig")?],
    )
    .await?;
    let issuer = setup.issuer.issuer().to_owned();
    let cases: Vec<(&str, Edit)> = vec![
        ("valid (iss --issuer)", edit(|_, _| {})),
        ("iss missing", remove_claim("iss")),
        (
            "iss another issuer",
            set_claim("iss", json!("https://login.example.com")),
        ),
        (
            "iss --issuer with a trailing slash",
            set_claim("iss", json!(format!("{issuer}/"))),
        ),
        (
            "iss --issuer in upper case",
            set_claim("iss", json!(issuer.to_uppercase())),
        ),
    ];
    let mut out = String::from(
        "GET /resource with a token signed by a key the issuer publishes, its iss changed:\n",
    );
    for (label, change) in cases {
        let token = setup.forge(change)?;
        let _ = writeln!(
            out,
            "  {label}: {}",
            outcome(&setup.resource(&token).await?)
        );
    }
    // Another authorization server, with its own keys (`authz::start`, not
    // the checks' shared ones), minting for this server's audience.
    let elsewhere = authz::start("127.0.0.1:0", authz::Config::default()).await?;
    let foreign = elsewhere.mint(mint_request(&setup.mcp(), "jane.doe", READER_SCOPE))?;
    let _ = writeln!(
        out,
        "a token of another authorization server (its own key and iss, aud this server's /mcp): {}",
        outcome(&setup.resource(&foreign).await?),
    );
    // The attacker's own key, which the issuer never published, and a
    // header that says where to find it. Keys come from --issuer's JWKS
    // only, never from the token.
    let attackers_jwk = public_jwk(ATTACKER_KEY_PEM, ATTACKER_KID, "sig")?;
    let jku = AttackerJwks::start(&attackers_jwk).await?;
    let attacker_key =
        EncodingKey::from_ec_pem(ATTACKER_KEY_PEM.as_bytes()).context("BUG: bad attacker key")?;
    out.push_str(
        "a token with iss --issuer, signed by a key the issuer never published, its header naming that key:\n",
    );
    for (label, name, value) in [
        (
            "jwk (the key itself, embedded)",
            "jwk",
            attackers_jwk.clone(),
        ),
        (
            "jku (a JWK Set URL the attacker serves, with that key)",
            "jku",
            json!(jku.url),
        ),
    ] {
        let (mut header, claims) = setup.valid_parts();
        header.insert("kid".into(), json!(ATTACKER_KID));
        header.insert(name.into(), value);
        let token = sign(&header, &claims, &attacker_key, Algorithm::ES256)?;
        let _ = writeln!(
            out,
            "  {label}: {}",
            outcome(&setup.resource(&token).await?)
        );
    }
    // Time for a fetch the server might have started in the background.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = write!(
        out,
        "the server fetched that other server's JWKS: {}\n\
         the server fetched the attacker's jku URL: {}",
        yes(elsewhere.stats().jwks_fetches > 0),
        yes(jku.hits() > 0)
    );
    Ok(out)
}

async fn refuses_alg_none(lab: &LabBinary) -> anyhow::Result<String> {
    let setup = Setup::start(
        lab,
        authz::Config::default(),
        &[checks_jwk(CHECKS_KID, "sig")?],
    )
    .await?;
    let valid = setup.forge(edit(|_, _| {}))?;
    let mut out = format!(
        "GET /resource:\n  the valid token: {}\n",
        outcome(&setup.resource(&valid).await?)
    );
    let (header, claims) = (part(&valid, 0)?, part(&valid, 1)?);
    for alg in ["none", "None", "NONE"] {
        let mut header = header.clone();
        header.insert("alg".into(), json!(alg));
        let unsigned = format!("{}.", encode_parts(&header, &claims));
        let _ = writeln!(
            out,
            "  alg {alg}, no signature: {}",
            outcome(&setup.resource(&unsigned).await?)
        );
    }
    let mut none = header.clone();
    none.insert("alg".into(), json!("none"));
    let signature = valid.rsplit('.').next().unwrap_or_default();
    let kept = format!("{}.{signature}", encode_parts(&none, &claims));
    let _ = write!(
        out,
        "  alg none, the valid token's signature kept: {}",
        outcome(&setup.resource(&kept).await?)
    );
    Ok(out)
}

async fn refuses_hs256_signed_with_the_public_key(lab: &LabBinary) -> anyhow::Result<String> {
    let setup = Setup::start(lab, authz::Config::default(), &[]).await?;
    let keys = published_keys(setup.issuer.issuer()).await?;
    let mut out = String::from(
        "GET /resource with a token whose header says HS256, signed with HMAC and the issuer's public key as the secret:\n",
    );
    for kty in ["RSA", "EC"] {
        let Some(kid) = keys
            .iter()
            .find(|key| key["kty"] == kty)
            .and_then(|key| key["kid"].as_str())
        else {
            let _ = writeln!(out, "  (the issuer publishes no {kty} key)");
            continue;
        };
        let pem = setup
            .issuer
            .public_key_pem(kid)
            .with_context(|| format!("no public key PEM for the {kty} key"))?;
        for (label, secret) in [
            ("its PEM", pem.clone()),
            (
                "its PEM without the final newline",
                pem.trim_end().to_owned(),
            ),
        ] {
            let token = setup.sign_hs256(kid, secret.as_bytes())?;
            let _ = writeln!(
                out,
                "  the {kty} key's kid, {label}: {}",
                outcome(&setup.resource(&token).await?)
            );
        }
    }
    Ok(out)
}

async fn refuses_symmetric_and_non_signing_keys_in_the_jwks(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let oct = json!({
        "kty": "oct",
        "kid": "oct-key",
        "use": "sig",
        "alg": "HS256",
        "k": URL_SAFE_NO_PAD.encode(OCT_SECRET),
    });
    let extra = [
        oct,
        checks_jwk("checks-enc", "enc")?,
        checks_jwk(CHECKS_KID, "sig")?,
    ];
    let setup = Setup::start(lab, authz::Config::default(), &extra).await?;
    let published = published_keys(setup.issuer.issuer()).await?;
    let mut out = String::from("the issuer's JWKS also publishes:\n");
    for key in &published {
        if matches!(
            key["kid"].as_str(),
            Some("oct-key" | "checks-enc" | CHECKS_KID)
        ) {
            let _ = writeln!(
                out,
                "  kid {}: kty {}, use {}, alg {}",
                key["kid"], key["kty"], key["use"], key["alg"]
            );
        }
    }
    let oct_token = setup.sign_hs256("oct-key", OCT_SECRET.as_bytes())?;
    let enc_token = setup.forge(edit(|header, _| {
        header.insert("kid".into(), json!("checks-enc"));
    }))?;
    let sig_token = setup.forge(edit(|_, _| {}))?;
    let _ = write!(
        out,
        "GET /resource with:\n  HS256 signed with the oct key, its kid: {}\n  \
         ES256 signed with the use-enc key, its kid: {}\n  \
         ES256 signed with the same key published for use sig, that kid: {}",
        outcome(&setup.resource(&oct_token).await?),
        outcome(&setup.resource(&enc_token).await?),
        outcome(&setup.resource(&sig_token).await?),
    );
    Ok(out)
}

/// How many tokens with unknown `kid`s the flood sends, and how many of
/// them at once (the rest one after another).
const FLOOD: usize = 35;
const AT_ONCE: usize = 30;

async fn an_unknown_kid_flood_costs_at_most_one_fetch_per_interval(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    // A slow JWKS, so that a fetch is still under way when the next
    // requests arrive.
    let config = authz::Config {
        jwks_delay: Duration::from_millis(50),
        ..authz::Config::default()
    };
    let setup = Setup::start(lab, config, &[]).await?;
    let before = setup.issuer.stats().jwks_fetches;
    let unknown = |i: usize| {
        setup.forge(edit(move |header, _| {
            header.insert("kid".into(), json!(format!("unknown-kid-{i}")));
        }))
    };
    let mut answers = Vec::new();
    // Most of the flood at once: requests that arrive during a fetch wait
    // for it rather than start their own...
    let at_once = (1..=AT_ONCE)
        .map(unknown)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let replies =
        futures::future::try_join_all(at_once.iter().map(|token| setup.resource(token))).await?;
    answers.extend(replies.iter().map(outcome));
    // ...and the rest one after another: within the interval, none
    // of them fetches again.
    for i in AT_ONCE + 1..=FLOOD {
        answers.push(outcome(&setup.resource(&unknown(i)?).await?));
    }
    // Time for fetches the server might have started in the background.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fetched = setup.issuer.stats().jwks_fetches.saturating_sub(before);
    answers.sort();
    answers.dedup();
    let valid = setup.mint("jane.doe", READER_SCOPE, |_| {})?;
    Ok(format!(
        "{FLOOD} requests to GET /resource, each a token with another kid the issuer never published\n\
         (signed by a key it does not publish), {} at once, then {} one after another,\n\
         with the default --jwks-refetch-interval (10 s) and an authorization server that takes 0.05 s\n\
         to serve its JWKS:\n  \
         answers: {}\n  JWKS fetches the authorization server counted during the flood: at most 2: {}\n\
         then a valid token of the issuer: {}",
        AT_ONCE,
        FLOOD - AT_ONCE,
        answers.join(" | "),
        yes(fetched <= 2),
        outcome(&setup.resource(&valid).await?),
    ))
}

/// How long the rotation check waits for its server's
/// `--jwks-refetch-interval 100ms` to run out: more than the interval is
/// enough however loaded the machine, since the server's last fetch ended
/// before the wait began.
const PAST_THE_INTERVAL: Duration = Duration::from_millis(150);

async fn survives_key_rotation_without_a_failed_call(lab: &LabBinary) -> anyhow::Result<String> {
    let setup = Setup::start_with(
        lab,
        authz::Config::default(),
        &[],
        &["--jwks-refetch-interval", "100ms"],
    )
    .await?;
    let before = setup.issuer.stats().jwks_fetches;
    let old = setup.mint("jane.doe", READER_SCOPE, |_| {})?;
    let old_kid = kid(&old)?;
    let mut out = format!(
        "--jwks-refetch-interval 100ms\nbefore the rotation, a token of the current key:\n{}\n",
        indent(&setup.session(&old).await?, 2)
    );
    // Past the refetch interval of the start-up fetch: an unknown kid may
    // now be looked up at once.
    tokio::time::sleep(PAST_THE_INTERVAL).await;
    let new_kid = setup.issuer.rotate();
    let new = setup.mint("jane.doe", READER_SCOPE, |_| {})?;
    let _ = writeln!(
        out,
        "the authorization server rotates: a new signing kid ({}), the old one still published\n\
         the first request with a token of the new key:\n  GET /resource: {}\n{}",
        if kid(&new)? == new_kid && new_kid != old_kid {
            "tokens now carry it"
        } else {
            "BUG: tokens do not carry it"
        },
        outcome(&setup.resource(&new).await?),
        indent(&setup.session(&new).await?, 2),
    );
    let _ = write!(
        out,
        "the token of the old key, after the rotation:\n  GET /resource: {}\n{}\n\
         JWKS fetches after the start-up one: at most 2: {}",
        outcome(&setup.resource(&old).await?),
        indent(&setup.session(&old).await?, 2),
        yes(setup.issuer.stats().jwks_fetches.saturating_sub(before) <= 2),
    );
    // A key the issuer no longer publishes (past its grace period, or
    // compromised) must stop working once the server has seen that.
    setup.issuer.retire_unused();
    tokio::time::sleep(PAST_THE_INTERVAL).await;
    let unknown = setup.forge(edit(|header, _| {
        header.insert("kid".into(), json!("a-kid-nobody-published"));
    }))?;
    let _ = setup.resource(&unknown).await?;
    let _ = write!(
        out,
        "\nthe authorization server retires the old key (it leaves the JWKS), and a token with an unknown kid\n\
         makes the server fetch the JWKS again; then the old key's token:\n  GET /resource: {}",
        outcome(&setup.resource(&old).await?),
    );
    // The issuer goes down. A refetch that fails (an attacker's made-up
    // kid is enough to cause one) must keep the keys the server has.
    let current = setup.mint("jane.doe", READER_SCOPE, |_| {})?;
    let made_up = setup.forge(edit(|header, _| {
        header.insert("kid".into(), json!("another-kid-nobody-published"));
    }))?;
    let Setup { issuer, server } = setup;
    issuer.stop().await;
    tokio::time::sleep(PAST_THE_INTERVAL).await;
    let during = api::get_with(&server, "/resource", &made_up).await?;
    let after = api::get_with(&server, "/resource", &current).await?;
    let _ = write!(
        out,
        "\nthe authorization server stops; past the interval, a token with an unknown kid makes the server\n\
         try to fetch the JWKS, which fails:\n  GET /resource: {}\n\
         then a token of the current key, which the server had fetched before:\n  GET /resource: {}",
        outcome(&during),
        outcome(&after),
    );
    Ok(out)
}

async fn client_uses_pkce_s256(lab: &LabBinary) -> anyhow::Result<String> {
    let run = ClientRun::start(lab, "jane.doe", Expiry::AtExp, &[]).await?;
    let stats = run.issuer.stats();
    let mut out = run.summary();
    out.push_str("the authorization server saw:\n");
    for seen in &stats.authorize {
        let _ = writeln!(
            out,
            "  GET /authorize: client_id {}, code_challenge sent: {}, code_challenge_method: {}",
            seen.client_id,
            yes(seen.has_code_challenge),
            seen.code_challenge_method.as_deref().unwrap_or("(none)"),
        );
    }
    for seen in &stats.token {
        let _ = writeln!(
            out,
            "  POST /token {}: {}{}",
            seen.grant_type,
            if seen.ok { "granted" } else { "refused" },
            if seen.grant_type == "authorization_code" {
                format!(
                    ", code_verifier matches the challenge: {}",
                    yes(seen.pkce_verified)
                )
            } else {
                String::new()
            },
        );
    }
    Ok(out)
}

/// A mix-up attack (RFC 9207): the authorization response names another
/// issuer than the one the client sent the user to, as when a malicious
/// authorization server's response reaches it. The client must stop before
/// the token request: which token endpoint the code belongs at is what it
/// can no longer tell, and the wrong one would be handed the code.
async fn client_refuses_a_redirect_from_another_issuer(lab: &LabBinary) -> anyhow::Result<String> {
    let mut out = String::new();
    // First with the right `iss`: a client that never gets a token would
    // refuse the mix-up too, and prove nothing.
    for (label, redirect_issuer) in [
        ("the authorization redirect names its own issuer", None),
        (
            "the authorization redirect says iss=http://attacker.example, not the issuer the client authorized at",
            Some(MIX_UP_ISSUER.to_owned()),
        ),
    ] {
        let config = authz::Config {
            redirect_issuer,
            ..approving_as("jane.doe")
        };
        let run = ClientRun::start_with(lab, config, Expiry::AtExp, &[], &[]).await?;
        let exchanged = run
            .issuer
            .stats()
            .token
            .iter()
            .filter(|seen| seen.grant_type == "authorization_code")
            .count();
        let _ = writeln!(
            out,
            "{label}:\n  client exit: {}\n  codes it exchanged at the token endpoint: {exchanged}\n  \
             access tokens it presented to the MCP server: {}",
            if run.client.success {
                "success"
            } else {
                "failure"
            },
            run.resource.tokens().len(),
        );
    }
    Ok(out)
}

/// The `iss` of the mix-up check's authorization redirect.
const MIX_UP_ISSUER: &str = "http://attacker.example";

async fn client_names_the_resource_it_wants_a_token_for(lab: &LabBinary) -> anyhow::Result<String> {
    let run = ClientRun::start(lab, "jane.doe", Expiry::AtExp, &[]).await?;
    let stats = run.issuer.stats();
    let ours = run.resource.mcp_url.clone();
    let resource = |value: &Option<String>| match value.as_deref() {
        None => "(none)".to_owned(),
        Some(value) if value == ours => "the server's /mcp, exactly".to_owned(),
        Some(value) => format!("{} (not the server's /mcp)", redact::ports(value)),
    };
    let mut out = run.summary();
    out.push_str("the authorization server saw:\n");
    for seen in &stats.authorize {
        let _ = writeln!(
            out,
            "  GET /authorize: resource {}",
            resource(&seen.resource)
        );
    }
    for seen in &stats.token {
        let _ = writeln!(
            out,
            "  POST /token {}: resource {}",
            seen.grant_type,
            resource(&seen.resource)
        );
    }
    Ok(out)
}

async fn client_steps_up_once_to_the_union_of_scopes(lab: &LabBinary) -> anyhow::Result<String> {
    let mut out = String::new();
    for (label, call) in [
        (
            "alex.admin calls delete_order (Orders.Delete, which he may get)",
            r#"delete_order={"id":1}"#,
        ),
        (
            "alex.admin calls refund_order (Orders.Refund, which nobody gets)",
            r#"refund_order={"id":1}"#,
        ),
    ] {
        let run = ClientRun::start(lab, "alex.admin", Expiry::AtExp, &["--call", call]).await?;
        let stats = run.issuer.stats();
        let _ = writeln!(out, "{label}:\n{}", indent(&run.summary(), 2));
        out.push_str("  scopes asked for at GET /authorize, in order:\n");
        for seen in &stats.authorize {
            let _ = writeln!(out, "    {}", seen.scope.as_deref().unwrap_or("(no scope)"));
        }
        out.push('\n');
    }
    Ok(out.trim_end().to_owned())
}

async fn client_rotates_the_refresh_token_when_the_access_token_expires(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let calls = [
        "--call",
        "list_orders={}",
        "--call",
        "whoami={}",
        "--call",
        "list_orders={}",
    ];
    // Its most talkative, rmcp's logs included: a credential must not
    // show up at any level.
    let run = ClientRun::start_with(
        lab,
        approving_as("jane.doe"),
        Expiry::AfterOneCall,
        &calls,
        &[("RUST_LOG", "trace")],
    )
    .await?;
    let stats = run.issuer.stats();
    let mut out = format!(
        "each access token serves one tools/call, then the server answers 401 invalid_token as if it had expired\n{}",
        run.summary()
    );
    out.push_str("POST /token at the authorization server, in order:\n");
    for seen in &stats.token {
        let _ = writeln!(
            out,
            "  {}: {}{}",
            seen.grant_type,
            if seen.ok { "granted" } else { "refused" },
            if seen.refresh_reused {
                " (a spent refresh token again: the family is revoked)"
            } else {
                ""
            },
        );
    }
    let printed = format!("{}{}", run.client.stdout, run.client.stderr);
    let sent = run
        .resource
        .tokens()
        .iter()
        .any(|token| printed.contains(token.as_str()));
    // Codes and refresh tokens are opaque: any base64url word of the
    // output that the authorization server says it issued.
    let got = printed
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .any(|word| word.len() >= 20 && run.issuer.issued(word));
    let _ = write!(
        out,
        "with RUST_LOG=trace, the client printed an access token it sent: {}\n\
         an authorization code or a refresh token it got: {}",
        yes(sent),
        yes(got)
    );
    Ok(out)
}

/// The checks' authorization server and the lab's server trusting it.
struct Setup {
    issuer: authz::Running,
    server: RunningServer,
}

impl Setup {
    /// An authorization server (approving as jane.doe) with `extra_keys`
    /// in its JWKS, and the lab's server with `--issuer` it.
    async fn start(
        lab: &LabBinary,
        config: authz::Config,
        extra_keys: &[Value],
    ) -> anyhow::Result<Setup> {
        Setup::start_with(lab, config, extra_keys, &[]).await
    }

    async fn start_with(
        lab: &LabBinary,
        config: authz::Config,
        extra_keys: &[Value],
        args: &[&str],
    ) -> anyhow::Result<Setup> {
        let config = authz::Config {
            approve_as: Some("jane.doe".to_owned()),
            ..config
        };
        let issuer = crate::start_issuer(config).await?;
        // Published before the server starts: its first fetch sees them.
        for key in extra_keys {
            issuer.publish_extra_jwk(key.clone());
        }
        let server = start_server(lab, issuer.issuer(), args).await?;
        Ok(Setup { issuer, server })
    }

    /// The canonical MCP URL: what tokens for this server name in `aud`.
    fn mcp(&self) -> String {
        self.server.url("/mcp")
    }

    /// A token of the issuer's signing key for this server, changed by `change`.
    fn mint(
        &self,
        sub: &str,
        scope: &str,
        change: impl FnOnce(&mut authz::MintRequest),
    ) -> anyhow::Result<String> {
        let mut request = mint_request(&self.mcp(), sub, scope);
        change(&mut request);
        self.issuer.mint(request)
    }

    /// A valid reader's token for this server, as the issuer would mint it,
    /// changed by `change` and signed with the checks' key ([`CHECKS_KID`]).
    fn forge(&self, change: Edit) -> anyhow::Result<String> {
        let (mut header, mut claims) = self.valid_parts();
        change(&mut header, &mut claims);
        let key =
            EncodingKey::from_ec_pem(CHECKS_KEY_PEM.as_bytes()).context("BUG: bad checks key")?;
        sign(&header, &claims, &key, Algorithm::ES256)
    }

    /// A valid reader's token for this server, but HS256 with `secret`.
    fn sign_hs256(&self, kid: &str, secret: &[u8]) -> anyhow::Result<String> {
        let (mut header, claims) = self.valid_parts();
        header.insert("alg".into(), json!("HS256"));
        header.insert("kid".into(), json!(kid));
        let key = EncodingKey::from_secret(secret).context("cannot make an HMAC key")?;
        sign(&header, &claims, &key, Algorithm::HS256)
    }

    fn valid_parts(&self) -> (Map<String, Value>, Map<String, Value>) {
        static JTI: AtomicU64 = AtomicU64::new(1);
        let now = tokens::now();
        let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": CHECKS_KID });
        let claims = json!({
            "iss": self.issuer.issuer(),
            "sub": "jane.doe",
            "aud": self.mcp(),
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": format!("checks-{}", JTI.fetch_add(1, Ordering::Relaxed)),
            "scope": READER_SCOPE,
            "client_id": "lab7-client",
        });
        (object(header), object(claims))
    }

    /// `GET /resource` with `token`.
    async fn resource(&self, token: &str) -> anyhow::Result<Reply> {
        api::get_with(&self.server, "/resource", token).await
    }

    /// An MCP session with `token`: the tools it lists and `whoami`.
    async fn session(&self, token: &str) -> anyhow::Result<String> {
        let bearer = format!("Bearer {token}");
        mcp::session(&self.mcp(), Some(&bearer), &[("whoami", json!({}))]).await
    }
}

/// The lab's client run against the reference resource server, which
/// trusts an in-process authorization server approving as `user`.
struct ClientRun {
    issuer: authz::Running,
    resource: ResourceServer,
    client: crate::harness::ClientRun,
}

impl ClientRun {
    /// `client --headless <args> <the server's /mcp>`.
    async fn start(
        lab: &LabBinary,
        user: &str,
        expiry: Expiry,
        args: &[&str],
    ) -> anyhow::Result<ClientRun> {
        ClientRun::start_with(lab, approving_as(user), expiry, args, &[]).await
    }

    /// [`ClientRun::start`] against an authorization server started with
    /// `config`, the client with exactly `env`.
    async fn start_with(
        lab: &LabBinary,
        config: authz::Config,
        expiry: Expiry,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<ClientRun> {
        let issuer = crate::start_issuer(config).await?;
        let resource = ResourceServer::start(issuer.issuer(), expiry).await?;
        let mut all = vec!["client", "--headless"];
        all.extend_from_slice(args);
        all.push(&resource.mcp_url);
        let client = lab.run(&all, env).await?;
        Ok(ClientRun {
            issuer,
            resource,
            client,
        })
    }

    /// The client's exit and its session transcript (the lines the
    /// given `shop::client::run_session` prints; the lab's own progress
    /// messages are its to word), then what the resource server decided.
    fn summary(&self) -> String {
        let transcript: Vec<&str> = self
            .client
            .stdout
            .lines()
            .filter(|line| {
                ["connected to ", "tools: ", "call ", "  -> "]
                    .iter()
                    .any(|start| line.starts_with(start))
            })
            .collect();
        let transcript = redact::jwts(&redact::ports(&transcript.join("\n")));
        format!(
            "client exit: {}\nthe session it printed:\n{}\nthe server decided:\n{}\n",
            if self.client.success {
                "success"
            } else {
                "failure"
            },
            indent(&transcript, 2),
            indent(&self.resource.log().join("\n"), 2),
        )
    }
}

/// A JWK Set the attacker serves at the URL a token's `jku` names; it
/// counts the requests it gets, which must be none.
struct AttackerJwks {
    url: String,
    hits: std::sync::Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl AttackerJwks {
    async fn start(jwk: &Value) -> anyhow::Result<AttackerJwks> {
        let hits = std::sync::Arc::new(AtomicU64::new(0));
        let counted = hits.clone();
        let jwks = json!({ "keys": [jwk] });
        let app = axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the attacker's JWKS server")?;
        let url = format!("http://{}/jwks.json", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(AttackerJwks { url, hits, task })
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for AttackerJwks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An authorization server that approves every request as `user`.
fn approving_as(user: &str) -> authz::Config {
    authz::Config {
        approve_as: Some(user.to_owned()),
        ..authz::Config::default()
    }
}

/// A change to a token's header and claims.
type Edit = Box<dyn FnOnce(&mut Map<String, Value>, &mut Map<String, Value>) + Send>;

fn edit(
    change: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>) + Send + 'static,
) -> Edit {
    Box::new(change)
}

fn set_claim(name: &'static str, value: Value) -> Edit {
    edit(move |_, claims| {
        claims.insert(name.into(), value);
    })
}

fn remove_claim(name: &'static str) -> Edit {
    edit(move |_, claims| {
        claims.remove(name);
    })
}

/// What the checks ask the issuer to mint: `sub`'s token for `aud`.
fn mint_request(aud: &str, sub: &str, scope: &str) -> authz::MintRequest {
    authz::MintRequest {
        sub: sub.to_owned(),
        scope: scope.to_owned(),
        aud: aud.to_owned(),
        ..authz::MintRequest::default()
    }
}

/// The checks' key as a JWK the issuer can publish, under `kid` for `use_`.
fn checks_jwk(kid: &str, use_: &str) -> anyhow::Result<Value> {
    public_jwk(CHECKS_KEY_PEM, kid, use_)
}

/// The public half of the P-256 key `pem` as a JWK, under `kid` for `use_`.
fn public_jwk(pem: &str, kid: &str, use_: &str) -> anyhow::Result<Value> {
    let key = EncodingKey::from_ec_pem(pem.as_bytes()).context("BUG: bad key")?;
    let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).context("BUG: no JWK")?;
    let mut jwk = serde_json::to_value(jwk).context("BUG: JWK not serializable")?;
    jwk["kid"] = json!(kid);
    jwk["use"] = json!(use_);
    Ok(jwk)
}

/// The keys the issuer's JWKS publishes now.
async fn published_keys(issuer: &str) -> anyhow::Result<Vec<Value>> {
    let metadata = http::send(
        Method::GET,
        &format!("{issuer}/.well-known/oauth-authorization-server"),
        &[],
        None,
    )
    .await?
    .json()
    .context("the authorization server's metadata is not JSON")?;
    let jwks_uri = metadata["jwks_uri"]
        .as_str()
        .context("the authorization server's metadata has no jwks_uri")?;
    let jwks = http::send(Method::GET, jwks_uri, &[], None)
        .await?
        .json()
        .context("the JWKS is not JSON")?;
    Ok(jwks["keys"].as_array().cloned().unwrap_or_default())
}

/// A token from `POST /token` with `client_credentials` for shipping-bot.
async fn client_credentials(setup: &Setup) -> anyhow::Result<String> {
    let token_url = format!("{}/token", setup.issuer.issuer());
    let response = http::client()?
        .post(&token_url)
        .basic_auth("shipping-bot", Some("shipping-bot-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("grant_type", "client_credentials"),
                ("scope", "Orders.Read"),
                ("resource", setup.mcp().as_str()),
            ])
            .context("BUG: cannot encode the form")?,
        )
        .send()
        .await
        .context("POST /token failed")?;
    let body: Value = response
        .json()
        .await
        .context("POST /token did not answer JSON")?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no access_token from client_credentials: {body}"))
}

/// `server --issuer <issuer> <args>`.
async fn start_server(
    lab: &LabBinary,
    issuer: &str,
    args: &[&str],
) -> anyhow::Result<RunningServer> {
    let mut all = vec!["--issuer", issuer];
    all.extend_from_slice(args);
    lab.start_server_with(&all, &[]).await
}

fn refused_to_start(started: anyhow::Result<RunningServer>) -> &'static str {
    match started {
        Ok(_) => "listens anyway",
        Err(_) => "exits before listening",
    }
}

/// A `GET /resource` answer: `200`, `401 invalid_token` when the challenge
/// is the one the contract asks for, else the status and challenge.
fn outcome(reply: &Reply) -> String {
    if reply.status.is_success() {
        return reply.status.as_u16().to_string();
    }
    let challenge = header(reply, "www-authenticate");
    let as_asked = reply.status == StatusCode::UNAUTHORIZED
        && challenge.contains("error=\"invalid_token\"")
        && challenge.contains("resource_metadata=\"");
    if as_asked {
        "401 invalid_token".to_owned()
    } else {
        format!(
            "{} (www-authenticate: {})",
            reply.status.as_u16(),
            redact::ports(&challenge)
        )
    }
}

/// The `kid` in a token's header.
fn kid(token: &str) -> anyhow::Result<String> {
    Ok(part(token, 0)?
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

/// The `i`-th part of a compact JWT, decoded as a JSON object.
fn part(token: &str, i: usize) -> anyhow::Result<Map<String, Value>> {
    let text = token.split('.').nth(i).context("the token is not a JWT")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .context("a part of the token is not base64url")?;
    serde_json::from_slice(&bytes).context("a part of the token is not a JSON object")
}

fn encode_parts(header: &Map<String, Value>, claims: &Map<String, Value>) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header.clone()).to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string()),
    )
}

/// `header` and `claims` exactly as given, signed: unlike
/// `jsonwebtoken::encode`, the header keeps what a check put in it.
fn sign(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    key: &EncodingKey,
    alg: Algorithm,
) -> anyhow::Result<String> {
    let signing_input = encode_parts(header, claims);
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, alg).context("cannot sign")?;
    Ok(format!("{signing_input}.{signature}"))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

async fn get(server: &RunningServer, path: &str) -> anyhow::Result<Reply> {
    http::send(Method::GET, &server.url(path), &[], None).await
}

fn header(reply: &Reply, name: &str) -> String {
    reply.headers.get(name).map_or("-".into(), |value| {
        String::from_utf8_lossy(value.as_bytes()).into_owned()
    })
}

fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines()
        .map(|line| format!("{pad}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
