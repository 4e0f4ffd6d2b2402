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
    http, mcp, redact, tokens,
};

pub const CHECKS: &[(&str, CheckFn)] = checks![
    login_puts_permissions_in_the_access_token,
    resource_refuses_a_token_without_user_read_with_403,
    resource_accepts_a_token_with_user_read,
    validity_is_checked_before_permission,
    reader_can_list_and_read_orders,
    delete_without_orders_delete_is_refused_before_the_tool_runs,
    a_refusal_is_a_tool_error_naming_the_permission,
    admin_can_delete_an_order,
    permissions_decide_not_who_the_user_is,
    unmapped_tools_are_denied_by_default,
    permission_names_are_case_sensitive,
    permissions_match_only_as_whole_names,
    tools_list_shows_only_the_callers_tools,
    ignores_permissions_the_client_claims_itself,
    client_shows_allowed_and_denied_calls,
];

crate::security::cross_cutting!(
    Credentials::Login,
    [
        session_id_is_not_a_credential,
        survives_malformed_authorization_headers,
        never_logs_credentials,
    ]
);

async fn login_puts_permissions_in_the_access_token(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let mut out = String::new();
    for user in [READER, ADMIN] {
        let pair = api::login(&server, user).await?;
        let permissions = tokens::permissions(&pair.access)?;
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
            (
                "expired, no permissions",
                tokens::expired(&reader.access, none.clone())?,
            ),
            (
                "forged, no permissions",
                tokens::forged(&reader.access, none)?,
            ),
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
    let resource =
        resource_replies(&server, &[("permissions in the wrong case", token.clone())]).await?;
    let calls = [
        ("get_order", json!({ "id": 1 })),
        ("delete_order", json!({ "id": 1 })),
    ];
    let session = session(&server, &token, &calls).await?;
    Ok(format!("{resource}\n\nMCP:\n{session}"))
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
        out.push_str(&format!(
            "{who}:\n{}\n\n",
            listed_tools(&server, token).await?
        ));
    }
    Ok(out)
}

async fn reader_can_list_and_read_orders(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let calls = [
        ("list_orders", json!({})),
        ("get_order", json!({ "id": 2 })),
    ];
    session(&server, &reader.access, &calls).await
}

/// Only the effect is observed (the admin reads the order back), not how the
/// refusal reads: a guard that answers with the wrong kind of error is the
/// next check's failure, an unguarded `call_tool` is this one's.
///
/// The last case sends jane.doe's token in a session alex.admin opened: a
/// guard that remembers the session's first caller lets it delete.
async fn delete_without_orders_delete_is_refused_before_the_tool_runs(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let admin = api::login(&server, ADMIN).await?;
    let nothing = tokens::with_permissions(&reader.access, json!([]))?;
    let mut out = Vec::new();
    for (who, token, id) in [
        ("jane.doe (reader)", &reader.access, 1),
        ("a token with no permissions", &nothing, 2),
    ] {
        let order = json!({ "id": id });
        session(&server, token, &[("delete_order", order.clone())]).await?;
        let after = session(&server, &admin.access, &[("get_order", order)]).await?;
        out.push(format!(
            "{who} calls delete_order {{\"id\":{id}}}, then alex.admin reads the order:\n{after}"
        ));
    }
    let order = json!({ "id": 3 });
    let opened = call_in_a_session_opened_by(
        &server,
        &admin.access,
        &reader.access,
        "delete_order",
        order.clone(),
    )
    .await?;
    let after = session(&server, &admin.access, &[("get_order", order)]).await?;
    out.push(format!(
        "in a session alex.admin opened (initialize, tools/list), jane.doe's token calls delete_order {{\"id\":3}}{opened}, then alex.admin reads the order:\n{after}"
    ));
    Ok(out.join("\n\n"))
}

/// Opens an MCP session with `opener`'s token, lists the tools in it (so a
/// server that remembers a session's caller has seen this one), then sends
/// one `tools/call` in that session with `token` instead. Returns what to
/// say when the opener's own steps failed (the call was then not sent),
/// else nothing.
async fn call_in_a_session_opened_by(
    server: &RunningServer,
    opener: &str,
    token: &str,
    tool: &str,
    arguments: Value,
) -> anyhow::Result<String> {
    let url = server.url("/mcp");
    let opener = format!("Bearer {opener}");
    let init = http::post_initialize(&url, Some(&opener)).await?;
    let Some(session) = init
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(format!(
            " (not sent: initialize answered {} without a session id)",
            init.status
        ));
    };
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let call = json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": { "name": tool, "arguments": arguments },
    });
    for (step, body) in [
        ("notifications/initialized", initialized),
        ("tools/list", list),
    ] {
        let reply = http::post_in_session(&url, session, Some(&opener), body).await?;
        if !reply.status.is_success() {
            return Ok(format!(" (not sent: {step} answered {})", reply.status));
        }
    }
    // Only the effect counts (the order read back), not how a refusal reads.
    http::post_in_session(&url, session, Some(&format!("Bearer {token}")), call).await?;
    Ok(String::new())
}

async fn a_refusal_is_a_tool_error_naming_the_permission(
    lab: &LabBinary,
) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let nothing = tokens::with_permissions(&reader.access, json!([]))?;
    labelled_sessions(
        &server,
        &[
            (
                "jane.doe (reader)",
                &reader.access,
                &[("delete_order", json!({ "id": 1 }))],
            ),
            (
                "a token with no permissions",
                &nothing,
                &[("list_orders", json!({}))],
            ),
        ],
    )
    .await
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

/// Both directions: a check on the user (`sub == "alex.admin"`) or on a role
/// lets the first token delete, or refuses the second.
async fn permissions_decide_not_who_the_user_is(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let admin = api::login(&server, ADMIN).await?;
    let demoted_admin =
        tokens::with_permissions(&admin.access, json!(["User.Read", "Orders.Read"]))?;
    let promoted_reader = tokens::with_permissions(
        &reader.access,
        json!(["User.Read", "Orders.Read", "Orders.Delete"]),
    )?;
    labelled_sessions(
        &server,
        &[
            (
                "alex.admin, permissions [\"User.Read\",\"Orders.Read\"]",
                &demoted_admin,
                &[("delete_order", json!({ "id": 3 }))],
            ),
            (
                "jane.doe, permissions [\"User.Read\",\"Orders.Read\",\"Orders.Delete\"]",
                &promoted_reader,
                &[("delete_order", json!({ "id": 2 }))],
            ),
        ],
    )
    .await
}

/// `refund_order` is a real shop tool that needs `Orders.Refund`, which no
/// role grants; `export_customers` is a name the shop does not have. Neither
/// may slip through a table that lets unknown names pass.
async fn unmapped_tools_are_denied_by_default(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let admin = api::login(&server, ADMIN).await?;
    let every_other = tokens::with_permissions(
        &reader.access,
        json!(["User.Read", "Orders.Read", "Orders.Delete"]),
    )?;
    let refund_only = tokens::with_permissions(&reader.access, json!(["Orders.Refund"]))?;
    let refund = || ("refund_order", json!({ "id": 1 }));
    let unmapped = || ("export_customers", json!({}));
    labelled_sessions(
        &server,
        &[
            ("jane.doe (reader)", &reader.access, &[refund()]),
            ("alex.admin (admin)", &admin.access, &[refund()]),
            (
                "every permission but Orders.Refund",
                &every_other,
                &[refund(), unmapped()],
            ),
            (
                "permissions [\"Orders.Refund\"] only",
                &refund_only,
                &[refund(), unmapped()],
            ),
        ],
    )
    .await
}

/// Tokens whose permissions contain `Orders.Delete` only as a part, and one
/// whose claim is a space-separated string (as an OAuth `scope` would be):
/// none may delete.
async fn permissions_match_only_as_whole_names(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let reader = api::login(&server, READER).await?;
    let mut runs = Vec::new();
    for permissions in [
        json!(["Orders.DeleteX"]),
        json!(["XOrders.Delete"]),
        json!(["Orders.Delete Orders.Read"]),
        json!(["Orders"]),
        json!(["*"]),
        json!(["Orders.*"]),
        json!("Orders.Delete Orders.Read"),
    ] {
        let shape = if permissions.is_string() {
            " (a string, not an array)"
        } else {
            ""
        };
        let token = tokens::with_permissions(&reader.access, permissions.clone())?;
        runs.push((format!("permissions {permissions}{shape}"), token));
    }
    let delete = [("delete_order", json!({ "id": 1 }))];
    let runs: Vec<_> = runs
        .iter()
        .map(|(label, token)| (label.as_str(), token, &delete[..]))
        .collect();
    labelled_sessions(&server, &runs).await
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
        "jane.doe, with `X-Role: admin`, `X-Permissions: Orders.Delete` and the same in the tool arguments:\n{}",
        without_tools_line(&session)
    ))
}

async fn client_shows_allowed_and_denied_calls(lab: &LabBinary) -> anyhow::Result<String> {
    let server = start(lab).await?;
    let mut out = String::new();
    // The reader first: the admin's run deletes an order.
    for user in [READER, ADMIN] {
        let run = api::run_client_as(lab, &server.base_url, user).await?;
        out.push_str(&format!(
            "{}: client exit {}\n{}\n\n",
            user.0,
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

/// The tool calls of an MCP session at `/mcp` with `token` as Bearer. The
/// `tools:` line is left out: listing is judged by its own check, so a
/// filtering bug does not fail every check that calls a tool.
async fn session(
    server: &RunningServer,
    token: &str,
    calls: &[(&str, Value)],
) -> anyhow::Result<String> {
    let bearer = format!("Bearer {token}");
    let session = mcp::session(&server.url("/mcp"), Some(&bearer), calls).await?;
    Ok(without_tools_line(&session))
}

/// A label, the token to send and the tool calls to make with it.
type Run<'a> = (&'a str, &'a String, &'a [(&'a str, Value)]);

/// One [`session`] per run, rendered one after another under its label.
async fn labelled_sessions(server: &RunningServer, runs: &[Run<'_>]) -> anyhow::Result<String> {
    let mut out = Vec::new();
    for (label, token, calls) in runs {
        out.push(format!(
            "{label}:\n{}",
            session(server, token, calls).await?
        ));
    }
    Ok(out.join("\n\n"))
}

/// The tools an MCP session at `/mcp` with `token` as Bearer lists.
async fn listed_tools(server: &RunningServer, token: &str) -> anyhow::Result<String> {
    let bearer = format!("Bearer {token}");
    mcp::session(&server.url("/mcp"), Some(&bearer), &[]).await
}

fn without_tools_line(session: &str) -> String {
    session
        .lines()
        .filter(|line| !line.starts_with("tools: "))
        .collect::<Vec<_>>()
        .join("\n")
}
