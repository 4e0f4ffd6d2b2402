//! Lab 4, "rbac": the permissions in the verified access token decide what a
//! caller may do, on `/resource` and per MCP tool.
//! Titles, order and points live in `labs.toml`.
//!
//! Tokens with other permissions, expired or forged ones are variants of the
//! lab's own login token, re-signed here with the `JWT_SECRET` the checks
//! start the server with (see [`tokens::variant`]).

use serde_json::{Value, json};

use crate::{
    CheckFn, LabBinary,
    api::{self, ADMIN, READER},
    checks,
    harness::RunningServer,
    mcp, redact, tokens,
};

pub const CHECKS: &[(&str, CheckFn)] = checks![
    login_puts_permissions_in_the_access_token,
    resource_refuses_a_token_without_user_read_with_403,
    resource_accepts_a_token_with_user_read,
    validity_is_checked_before_permission,
    permission_names_are_case_sensitive,
    tools_list_shows_only_the_callers_tools,
    reader_can_list_and_read_orders,
    delete_without_orders_delete_is_denied_and_deletes_nothing,
    admin_can_delete_an_order,
    ignores_permissions_the_client_claims_itself,
    client_shows_allowed_and_denied_calls,
];

async fn login_puts_permissions_in_the_access_token(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let mut out = String::new();
    for user in [READER, ADMIN] {
        let pair = api::login(&server, user).await?;
        let claims = tokens::claims(&pair.access)?;
        let permissions = sorted(claims.get("permissions"));
        out.push_str(&format!("{}: permissions {permissions}\n", user.0));
    }
    Ok(out)
}

async fn resource_refuses_a_token_without_user_read_with_403(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let orders_only = tokens::with_permissions(&reader.access, json!(["Orders.Read"]))?;
    let no_claim = tokens::variant(&reader.access, tokens::JWT_SECRET, |claims| {
        claims.remove("permissions");
    })?;
    resource_replies(
        &server,
        &[
            ("permissions [\"Orders.Read\"]", orders_only),
            ("no permissions claim", no_claim),
        ],
    )
    .await
}

async fn resource_accepts_a_token_with_user_read(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let user_read_only = tokens::with_permissions(&reader.access, json!(["User.Read"]))?;
    resource_replies(
        &server,
        &[
            ("jane.doe's login token", reader.access),
            ("permissions [\"User.Read\"] only", user_read_only),
        ],
    )
    .await
}

async fn validity_is_checked_before_permission(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let none = json!([]);
    resource_replies(
        &server,
        &[
            ("expired, no permissions", tokens::expired(&reader.access, none.clone())?),
            ("forged, no permissions", tokens::forged(&reader.access, none)?),
            (
                "permissions as a string, not an array",
                tokens::with_permissions(&reader.access, json!("User.Read"))?,
            ),
        ],
    )
    .await
}

async fn permission_names_are_case_sensitive(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let lower = json!(["user.read", "orders.read", "ORDERS.DELETE"]);
    let token = tokens::with_permissions(&reader.access, lower)?;
    let resource = resource_replies(&server, &[("permissions in the wrong case", token.clone())]);
    let calls = [
        ("get_order", json!({ "id": 1 })),
        ("delete_order", json!({ "id": 1 })),
    ];
    let session = session(&server, &token, &calls).await?;
    Ok(format!("{}\n\nMCP:\n{session}", resource.await?))
}

async fn tools_list_shows_only_the_callers_tools(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let admin = api::login(&server, ADMIN).await?;
    let nothing = tokens::with_permissions(&reader.access, json!([]))?;
    let mut out = String::new();
    for (who, token) in [
        ("jane.doe (reader)", &reader.access),
        ("alex.admin (admin)", &admin.access),
        ("a token with no permissions", &nothing),
    ] {
        out.push_str(&format!("{who}:\n{}\n\n", session(&server, token, &[]).await?));
    }
    Ok(out)
}

async fn reader_can_list_and_read_orders(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let calls = [("list_orders", json!({})), ("get_order", json!({ "id": 2 }))];
    session(&server, &reader.access, &calls).await
}

async fn delete_without_orders_delete_is_denied_and_deletes_nothing(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let calls = [
        ("delete_order", json!({ "id": 1 })),
        ("get_order", json!({ "id": 1 })),
    ];
    session(&server, &reader.access, &calls).await
}

async fn admin_can_delete_an_order(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let admin = api::login(&server, ADMIN).await?;
    let calls = [
        ("delete_order", json!({ "id": 3 })),
        ("get_order", json!({ "id": 3 })),
    ];
    session(&server, &admin.access, &calls).await
}

async fn ignores_permissions_the_client_claims_itself(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let bearer = format!("Bearer {}", reader.access);
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-role", "admin"),
        ("x-permissions", "Orders.Delete"),
    ];
    let calls = [
        (
            "delete_order",
            json!({ "id": 1, "role": "admin", "permissions": ["Orders.Delete"] }),
        ),
        ("get_order", json!({ "id": 1 })),
    ];
    let session = mcp::session_with_headers(&server.url("/mcp"), &headers, &calls).await?;
    Ok(format!(
        "jane.doe, with `X-Role: admin`, `X-Permissions: Orders.Delete` and the same in the tool arguments:\n{session}"
    ))
}

async fn client_shows_allowed_and_denied_calls(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let mut out = String::new();
    // The reader first: the admin's run deletes an order.
    for (username, password) in [READER, ADMIN] {
        let run = lab
            .run_client(&[
                "--url",
                &server.base_url,
                "--username",
                username,
                "--password",
                password,
            ])
            .await?;
        out.push_str(&format!(
            "{username}: client exit {}\n{}\n\n",
            if run.success { "success" } else { "failure" },
            redact::ports(run.stdout.trim_end())
        ));
    }
    Ok(out)
}

/// The lab's server with the checks' `JWT_SECRET`.
async fn start(lab: &LabBinary) -> anyhow::Result<RunningServer> {
    lab.start_server_with(&[], tokens::JWT_ENV).await
}

/// `GET /resource` with each labelled token, rendered one after another.
async fn resource_replies(
    server: &RunningServer,
    tokens: &[(&str, String)],
) -> anyhow::Result<String> {
    let mut out = Vec::new();
    for (label, token) in tokens {
        let reply = api::get_with(server, "/resource", token).await?;
        out.push(format!(
            "GET /resource, {label}:\n{}",
            reply.render(&["www-authenticate"])
        ));
    }
    Ok(out.join("\n\n"))
}

/// An MCP session at `/mcp` with `token` as Bearer.
async fn session(
    server: &RunningServer,
    token: &str,
    calls: &[(&str, Value)],
) -> anyhow::Result<String> {
    let bearer = format!("Bearer {token}");
    mcp::session(&server.url("/mcp"), Some(&bearer), calls).await
}

/// A JSON array of strings, sorted; anything else as it is.
fn sorted(value: Option<&Value>) -> String {
    match value {
        None => "(no permissions claim)".to_owned(),
        Some(Value::Array(items)) => {
            let mut items = items.clone();
            items.sort_by_key(ToString::to_string);
            Value::Array(items).to_string()
        }
        Some(other) => other.to_string(),
    }
}
