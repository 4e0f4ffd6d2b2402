//! The server driven over HTTP, the way a client and a resource server use it.

use std::{collections::HashMap, time::Duration};

use base64::Engine;
use jsonwebtoken::{DecodingKey, Validation, jwk::JwkSet};
use reqwest::{StatusCode, Url, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Alg, Config, MintRequest, Running, start};

const RESOURCE: &str = "http://127.0.0.1:3000/mcp";
const REDIRECT: &str = "http://127.0.0.1:8765/callback";
const VERIFIER: &str = "a-verifier-of-at-least-43-characters-0123456789";

async fn server(config: Config) -> Running {
    start("127.0.0.1:0", config)
        .await
        .expect("the server starts")
}

async fn approving_server() -> Running {
    server(Config {
        approve_as: Some("jane.doe".to_owned()),
        ..Config::default()
    })
    .await
}

/// A client that shows redirects instead of following them.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The usual `/authorize` query; `changes` replace or (with "") remove fields.
fn authorize_url(issuer: &str, changes: &[(&str, &str)]) -> Url {
    let challenge = challenge(VERIFIER);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", "lab7-client"),
        ("redirect_uri", REDIRECT),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("resource", RESOURCE),
        ("state", "the-state"),
    ];
    for (name, value) in changes {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    Url::parse_with_params(&format!("{issuer}/authorize"), &params).expect("a URL")
}

/// The query of a redirect's `Location`.
fn redirected_to(response: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::FOUND, "a redirect");
    let location = response.headers()[header::LOCATION]
        .to_str()
        .expect("a readable Location");
    let url = Url::parse(location).expect("an absolute Location");
    url.query_pairs().into_owned().collect()
}

async fn code_for(running: &Running, changes: &[(&str, &str)]) -> String {
    let response = http()
        .get(authorize_url(running.issuer(), changes))
        .send()
        .await
        .expect("/authorize answers");
    let params = redirected_to(&response);
    assert_eq!(params["state"], "the-state");
    assert_eq!(params["iss"], running.issuer());
    params.get("code").cloned().expect("a code")
}

async fn post_token(running: &Running, form: &[(&str, &str)]) -> (StatusCode, Value) {
    post_token_with(http().post(format!("{}/token", running.issuer())), form).await
}

async fn post_token_with(
    request: reqwest::RequestBuilder,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = request
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).expect("a form"))
        .send()
        .await
        .expect("/token answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

fn code_form<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
        ("client_id", "lab7-client"),
        ("resource", RESOURCE),
    ]
}

/// Verifies `token` the way a resource server does: key by kid from /jwks.
async fn verify(running: &Running, token: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("a kid");
    let jwks: JwkSet = http()
        .get(format!("{}/jwks", running.issuer()))
        .send()
        .await
        .expect("/jwks answers")
        .json()
        .await
        .expect("a JWKS");
    let jwk = jwks.find(&kid).expect("the kid is published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[RESOURCE]);
    validation.set_issuer(&[running.issuer()]);
    let key = DecodingKey::from_jwk(jwk).expect("a usable JWK");
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("the token verifies")
        .claims
}

#[tokio::test]
async fn metadata_names_every_endpoint_at_both_paths() {
    let running = approving_server().await;
    let issuer = running.issuer();
    for path in ["oauth-authorization-server", "openid-configuration"] {
        let metadata: Value = http()
            .get(format!("{issuer}/.well-known/{path}"))
            .send()
            .await
            .expect("metadata answers")
            .json()
            .await
            .expect("JSON metadata");
        assert_eq!(metadata["issuer"], issuer);
        assert_eq!(
            metadata["authorization_endpoint"],
            format!("{issuer}/authorize")
        );
        assert_eq!(metadata["token_endpoint"], format!("{issuer}/token"));
        assert_eq!(metadata["jwks_uri"], format!("{issuer}/jwks"));
        assert_eq!(
            metadata["code_challenge_methods_supported"],
            json!(["S256"])
        );
        assert_eq!(metadata["response_types_supported"], json!(["code"]));
        assert_eq!(
            metadata["grant_types_supported"],
            json!(["authorization_code", "refresh_token", "client_credentials"])
        );
        assert_eq!(
            metadata["token_endpoint_auth_methods_supported"],
            json!(["none", "client_secret_basic", "client_secret_post"])
        );
        assert_eq!(
            metadata["scopes_supported"],
            json!(["User.Read", "Orders.Read", "Orders.Delete", "Orders.Refund"])
        );
        assert_eq!(metadata["client_id_metadata_document_supported"], true);
    }
}

#[tokio::test]
async fn jwks_publishes_an_rsa_and_an_ec_signing_key_and_counts_fetches() {
    let running = approving_server().await;
    let jwks: Value = http()
        .get(format!("{}/jwks", running.issuer()))
        .send()
        .await
        .expect("/jwks answers")
        .json()
        .await
        .expect("a JWKS");
    let keys = jwks["keys"].as_array().expect("a keys array");
    assert_eq!(keys.len(), 2);
    let shapes: Vec<(&str, &str)> = keys
        .iter()
        .map(|key| {
            assert_eq!(key["use"], "sig");
            assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
            assert!(key.get("d").is_none(), "no private part");
            (
                key["kty"].as_str().unwrap_or_default(),
                key["alg"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(shapes, [("RSA", "RS256"), ("EC", "ES256")]);
    assert_eq!(running.stats().jwks_fetches, 1);
}

#[tokio::test]
async fn code_with_pkce_gives_a_token_for_the_resource() {
    let running = approving_server().await;
    let code = code_for(
        &running,
        &[("scope", "User.Read Orders.Read Orders.Delete")],
    )
    .await;
    let (status, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    // jane.doe may not delete orders: the grant is what she may have.
    assert_eq!(body["scope"], "User.Read Orders.Read");
    assert!(body["refresh_token"].is_string());
    let claims = verify(&running, body["access_token"].as_str().unwrap_or_default()).await;
    assert_eq!(claims["sub"], "jane.doe");
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["scope"], "User.Read Orders.Read");
    assert_eq!(claims["client_id"], "lab7-client");
    assert!(claims["jti"].is_string() && claims["nbf"].is_u64() && claims["iat"].is_u64());

    let stats = running.stats();
    let seen = &stats.authorize[0];
    assert_eq!(seen.client_id, "lab7-client");
    assert_eq!(seen.code_challenge_method.as_deref(), Some("S256"));
    assert!(seen.has_code_challenge);
    assert_eq!(seen.resource.as_deref(), Some(RESOURCE));
    let seen = &stats.token[0];
    assert!(seen.ok && seen.pkce_verified);
    assert_eq!(seen.grant_type, "authorization_code");
    assert_eq!(seen.resource.as_deref(), Some(RESOURCE));

    // A code works once.
    let (status, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
}

#[tokio::test]
async fn a_code_presented_again_revokes_what_it_bought() {
    let running = approving_server().await;
    let code = code_for(&running, &[]).await;
    let (_, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    let refresh = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The code again: someone intercepted it. Refused, and the refresh
    // token the first redemption got is revoked with it.
    let (_, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    assert_eq!(body["error"], "invalid_grant");
    let (_, body) = post_token(&running, &refresh_form(&refresh)).await;
    assert_eq!(body["error"], "invalid_grant", "the family is revoked");
}

#[tokio::test]
async fn es256_signs_when_asked() {
    let running = server(Config {
        approve_as: Some("alex.admin".to_owned()),
        alg: Alg::ES256,
        ..Config::default()
    })
    .await;
    let code = code_for(&running, &[("scope", "Orders.Delete Orders.Refund")]).await;
    let (_, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    let token = body["access_token"].as_str().unwrap_or_default();
    assert_eq!(
        jsonwebtoken::decode_header(token).map(|h| h.alg).ok(),
        Some(jsonwebtoken::Algorithm::ES256)
    );
    assert_eq!(verify(&running, token).await["scope"], "Orders.Delete");
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_spends_the_code() {
    let running = approving_server().await;
    let code = code_for(&running, &[]).await;
    let wrong = "another-verifier-of-at-least-43-characters-0123";
    let (status, body) = post_token(&running, &code_form(&code, wrong)).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
    let (_, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(!running.stats().token[0].pkce_verified);
}

#[tokio::test]
async fn authorize_refuses_plain_and_missing_pkce_by_redirect() {
    let running = approving_server().await;
    for changes in [
        vec![
            ("code_challenge_method", "plain"),
            ("code_challenge", VERIFIER),
        ],
        vec![("code_challenge_method", "")],
        vec![("code_challenge", "")],
    ] {
        let response = http()
            .get(authorize_url(running.issuer(), &changes))
            .send()
            .await
            .expect("/authorize answers");
        let params = redirected_to(&response);
        assert_eq!(params["error"], "invalid_request", "{changes:?}");
        assert!(params["error_description"].contains("code_challenge"));
        assert_eq!(params["state"], "the-state");
        assert!(!params.contains_key("code"));
    }
}

#[tokio::test]
async fn a_bad_client_or_redirect_uri_gets_a_page_never_a_redirect() {
    let running = approving_server().await;
    for changes in [
        vec![("client_id", "nobody")],
        vec![("client_id", "")],
        vec![("redirect_uri", "https://evil.example/callback")],
        vec![("redirect_uri", "http://127.0.0.1:8765/elsewhere")],
        vec![("client_id", "shipping-bot")],
    ] {
        let response = http()
            .get(authorize_url(running.issuer(), &changes))
            .send()
            .await
            .expect("/authorize answers");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{changes:?}");
        assert!(response.headers().get(header::LOCATION).is_none());
    }
}

#[tokio::test]
async fn resource_is_required_and_must_match() {
    let running = approving_server().await;
    let response = http()
        .get(authorize_url(running.issuer(), &[("resource", "")]))
        .send()
        .await
        .expect("/authorize answers");
    assert_eq!(redirected_to(&response)["error"], "invalid_target");

    let code = code_for(&running, &[]).await;
    let mut form = code_form(&code, VERIFIER);
    form.retain(|(name, _)| *name != "resource");
    let (_, body) = post_token(&running, &form).await;
    assert_eq!(body["error"], "invalid_target");

    let code = code_for(&running, &[]).await;
    let mut form = code_form(&code, VERIFIER);
    form.retain(|(name, _)| *name != "resource");
    form.push(("resource", "http://127.0.0.1:3001/mcp"));
    let (_, body) = post_token(&running, &form).await;
    assert_eq!(body["error"], "invalid_target");

    // The same request for another resource gives a token for that one.
    let other = "http://127.0.0.1:3999/mcp";
    let code = code_for(&running, &[("resource", other)]).await;
    let mut form = code_form(&code, VERIFIER);
    form.retain(|(name, _)| *name != "resource");
    form.push(("resource", other));
    let (_, body) = post_token(&running, &form).await;
    let token = body["access_token"].as_str().unwrap_or_default();
    let claims: Value = jsonwebtoken::dangerous::insecure_decode(token)
        .expect("a JWT")
        .claims;
    assert_eq!(claims["aud"], other);
}

fn refresh_form(token: &str) -> [(&str, &str); 4] {
    [
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", "lab7-client"),
        ("resource", RESOURCE),
    ]
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let running = approving_server().await;
    let code = code_for(&running, &[]).await;
    let (_, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    let first = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, body) = post_token(&running, &refresh_form(&first)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(first, second, "a new refresh token each time");
    assert_eq!(
        verify(&running, body["access_token"].as_str().unwrap_or_default()).await["aud"],
        RESOURCE
    );

    // The first one again: a thief or a confused client. Both lose.
    let (status, body) = post_token(&running, &refresh_form(&first)).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
    let (_, body) = post_token(&running, &refresh_form(&second)).await;
    assert_eq!(body["error"], "invalid_grant", "the family is revoked");

    let stats = running.stats();
    let refreshes: Vec<(bool, bool)> = stats
        .token
        .iter()
        .filter(|seen| seen.grant_type == "refresh_token")
        .map(|seen| (seen.ok, seen.refresh_reused))
        .collect();
    assert_eq!(refreshes, [(true, false), (false, true), (false, false)]);
}

#[tokio::test]
async fn knows_the_codes_and_refresh_tokens_it_issued() {
    let running = approving_server().await;
    let code = code_for(&running, &[]).await;
    assert!(running.issued(&code), "a code not yet redeemed");
    let (_, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    let refresh = body["refresh_token"].as_str().unwrap_or_default();
    assert!(running.issued(&code), "a redeemed code");
    assert!(running.issued(refresh));
    let access = body["access_token"].as_str().unwrap_or_default();
    for other in [access, "", VERIFIER, &code[1..]] {
        assert!(
            !running.issued(other),
            "{other:?} is not a code or refresh token"
        );
    }
}

#[tokio::test]
async fn client_credentials_with_basic_or_post() {
    let running = approving_server().await;
    let token_url = format!("{}/token", running.issuer());
    let form = [("grant_type", "client_credentials"), ("resource", RESOURCE)];
    let basic = http()
        .post(&token_url)
        .basic_auth("shipping-bot", Some("shipping-bot-secret"));
    let (status, body) = post_token_with(basic, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "Orders.Read");
    assert!(body.get("refresh_token").is_none());
    let claims = verify(&running, body["access_token"].as_str().unwrap_or_default()).await;
    assert_eq!(
        (&claims["sub"], &claims["client_id"]),
        (&json!("shipping-bot"), &json!("shipping-bot"))
    );

    let mut posted = form.to_vec();
    posted.extend([
        ("client_id", "shipping-bot"),
        ("client_secret", "shipping-bot-secret"),
    ]);
    let (status, _) = post_token(&running, &posted).await;
    assert_eq!(status, StatusCode::OK);

    let wrong = http()
        .post(&token_url)
        .basic_auth("shipping-bot", Some("guess"));
    let (status, body) = post_token_with(wrong, &form).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
    );

    let mut public = form.to_vec();
    public.push(("client_id", "lab7-client"));
    let (_, body) = post_token(&running, &public).await;
    assert_eq!(body["error"], "unauthorized_client");

    let mut too_much = posted.clone();
    too_much.push(("scope", "Orders.Delete"));
    let (_, body) = post_token(&running, &too_much).await;
    assert_eq!(body["error"], "invalid_scope");
}

/// Serves one client metadata document at `/client.json`; `document`
/// gets the document's own URL.
async fn document_server(
    document: impl FnOnce(&str) -> Value,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!(
        "http://{}/client.json",
        listener.local_addr().expect("an address")
    );
    let body = document(&url);
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || async move { axum::Json(body) }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test]
async fn a_client_metadata_document_registers_its_client() {
    let running = approving_server().await;
    let (client_id, documents) = document_server(|url| {
        json!({ "client_id": url, "client_name": "CIMD test", "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "none" })
    })
    .await;
    let code = code_for(&running, &[("client_id", &client_id)]).await;
    let mut form = code_form(&code, VERIFIER);
    form.retain(|(name, _)| *name != "client_id");
    form.push(("client_id", &client_id));
    let (status, body) = post_token(&running, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = verify(&running, body["access_token"].as_str().unwrap_or_default()).await;
    assert_eq!(claims["client_id"], client_id.as_str());

    // A redirect URI the document does not list.
    let response = http()
        .get(authorize_url(
            running.issuer(),
            &[
                ("client_id", &client_id),
                ("redirect_uri", "http://127.0.0.1:9999/callback"),
            ],
        ))
        .send()
        .await
        .expect("/authorize answers");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    documents.abort();
}

#[tokio::test]
async fn a_client_metadata_document_must_name_itself() {
    let running = approving_server().await;
    let (client_id, documents) = document_server(|_| {
        json!({ "client_id": "http://127.0.0.1:1/someone-else.json", "redirect_uris": [REDIRECT] })
    })
    .await;
    let response = http()
        .get(authorize_url(
            running.issuer(),
            &[("client_id", &client_id)],
        ))
        .send()
        .await
        .expect("/authorize answers");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap_or_default()
            .contains("client_id")
    );
    documents.abort();

    // https would need TLS, which the kit's HTTP client does not have.
    let response = http()
        .get(authorize_url(
            running.issuer(),
            &[("client_id", "https://app.example/client.json")],
        ))
        .send()
        .await
        .expect("/authorize answers");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap_or_default().contains("TLS"));
}

async fn published_kids(running: &Running) -> Vec<String> {
    let jwks: JwkSet = http()
        .get(format!("{}/jwks", running.issuer()))
        .send()
        .await
        .expect("/jwks answers")
        .json()
        .await
        .expect("a JWKS");
    jwks.keys
        .into_iter()
        .filter_map(|jwk| jwk.common.key_id)
        .collect()
}

#[tokio::test]
async fn rotation_keeps_the_old_key_for_the_grace_period() {
    let running = approving_server().await;
    let old = running.signing_kid();
    let before = running
        .mint(MintRequest {
            aud: RESOURCE.to_owned(),
            ..MintRequest::default()
        })
        .expect("a token");
    let new = running.rotate();
    assert_ne!(old, new);
    let kids = published_kids(&running).await;
    assert!(kids.contains(&old) && kids.contains(&new), "{kids:?}");
    // Tokens from before and after verify, each with its own key.
    assert_eq!(verify(&running, &before).await["sub"], "jane.doe");
    let code = code_for(&running, &[]).await;
    let (_, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    let after = body["access_token"].as_str().unwrap_or_default();
    assert_eq!(
        jsonwebtoken::decode_header(after).ok().and_then(|h| h.kid),
        Some(new.clone())
    );

    running.retire_unused();
    assert_eq!(published_kids(&running).await, [new]);
}

#[tokio::test]
async fn without_grace_a_rotated_key_leaves_at_once() {
    let running = server(Config {
        grace: Duration::ZERO,
        ..Config::default()
    })
    .await;
    let old = running.signing_kid();
    let new = running.rotate();
    let kids = published_kids(&running).await;
    assert!(!kids.contains(&old) && kids.contains(&new), "{kids:?}");
}

#[tokio::test]
async fn minted_tokens_for_the_checks() {
    let running = approving_server().await;
    let expired = running
        .mint(MintRequest {
            aud: RESOURCE.to_owned(),
            expired_by: Some(Duration::from_secs(120)),
            ..MintRequest::default()
        })
        .expect("a token");
    let claims: Value = jsonwebtoken::dangerous::insecure_decode(&expired)
        .expect("a JWT")
        .claims;
    assert!(claims["exp"].as_u64().unwrap_or(u64::MAX) + 100 < crate::unix_now());

    let unknown = running
        .mint(MintRequest {
            kid: Some("nobody-published-this".to_owned()),
            ..MintRequest::default()
        })
        .expect("a token");
    let header = jsonwebtoken::decode_header(&unknown).expect("a header");
    assert_eq!(header.kid.as_deref(), Some("nobody-published-this"));

    let pem = running
        .public_key_pem(&running.signing_kid())
        .expect("a PEM");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    running.publish_extra_jwk(json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" }));
    assert!(published_kids(&running).await.contains(&"hmac".to_owned()));
}

#[tokio::test]
async fn admin_routes_only_with_admin() {
    let running = approving_server().await;
    let stats = http()
        .get(format!("{}/admin/stats", running.issuer()))
        .send()
        .await;
    assert_eq!(stats.map(|r| r.status()).ok(), Some(StatusCode::NOT_FOUND));
    let rotate = http()
        .post(format!("{}/admin/rotate", running.issuer()))
        .send()
        .await;
    assert_eq!(rotate.map(|r| r.status()).ok(), Some(StatusCode::NOT_FOUND));

    let running = server(Config {
        admin: true,
        ..Config::default()
    })
    .await;
    let old = running.signing_kid();
    let rotated: Value = http()
        .post(format!("{}/admin/rotate", running.issuer()))
        .send()
        .await
        .expect("/admin/rotate answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(rotated["kid"], running.signing_kid());
    assert_ne!(rotated["kid"], old);
    let stats: Value = http()
        .get(format!("{}/admin/stats", running.issuer()))
        .send()
        .await
        .expect("/admin/stats answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(stats["jwks_fetches"], 0);
}

#[tokio::test]
async fn without_approve_as_the_user_logs_in_with_a_form() {
    let running = server(Config::default()).await;
    let page = http()
        .get(authorize_url(running.issuer(), &[]))
        .send()
        .await
        .expect("/authorize answers");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("a page");
    let request_id = page
        .split("name=\"request_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form names its request");
    let log_in = |password: &str| {
        let form = [
            ("request_id", request_id),
            ("username", "alex.admin"),
            ("password", password),
        ];
        http()
            .post(format!("{}/authorize", running.issuer()))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("a form"))
            .send()
    };
    let wrong = log_in("guess").await.expect("/authorize answers");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = log_in("admin-pass-123").await.expect("/authorize answers");
    let code = redirected_to(&right)["code"].clone();
    let (_, body) = post_token(&running, &code_form(&code, VERIFIER)).await;
    let claims = verify(&running, body["access_token"].as_str().unwrap_or_default()).await;
    assert_eq!(claims["sub"], "alex.admin");
    // The form is spent with the login.
    let again = log_in("admin-pass-123").await.expect("/authorize answers");
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}
