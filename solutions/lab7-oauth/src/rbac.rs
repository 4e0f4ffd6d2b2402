//! The lab's idea: who may do what.
//!
//! The permissions are the scopes of the access token: the authorization
//! server decides which a user may get (lab 7; labs 4-6 had a role table
//! here), and every decision below reads them from the verified token only
//! (`shop::Caller`, inserted by the auth middleware). A header, a tool
//! argument or anything else the client sends is never consulted.
//!
//! Lab 6: a call the caller may not make is refused at the HTTP layer with
//! a 403 `insufficient_scope` challenge that names the permission it needs
//! (MCP authorization, "Scope Challenge Handling"), so that a client can ask
//! for a token that has it (step-up), instead of lab 4's tool error.

use std::borrow::Cow;

use axum::{
    Json,
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
        PaginatedRequestParams, ServerConfig, Tool,
    },
    service::RequestContext,
};
use serde::Deserialize;
use serde_json::json;
use shop::{Caller, Shop};

use crate::{
    auth::audit, guards::MAX_MCP_BODY_BYTES, metadata::bearer_challenge, public_url::PublicUrl,
    upstream::Upstream,
};

/// Read the caller's own profile (`GET /resource`).
pub const USER_READ: &str = "User.Read";
/// List and read orders.
pub const ORDERS_READ: &str = "Orders.Read";
/// Delete orders.
pub const ORDERS_DELETE: &str = "Orders.Delete";
/// Refund orders. It moves money, so the authorization server grants it to
/// nobody yet: until someone decides who may refund, nobody can.
pub const ORDERS_REFUND: &str = "Orders.Refund";

/// Every permission a token can carry, for the metadata's
/// `scopes_supported`: no wildcard, no `offline_access`.
pub const SCOPES_SUPPORTED: &[&str] = &[USER_READ, ORDERS_READ, ORDERS_DELETE, ORDERS_REFUND];

/// What a client should ask for first (the 401's `scope`): reading the
/// profile and the orders. Deleting asks for more when it is needed (403,
/// step-up), so that a token that leaks can do less.
pub const FIRST_SCOPES: &str = "User.Read Orders.Read";

/// What a tool asks of its caller, beyond the valid token the middleware
/// has already checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Any caller with a valid token.
    ValidToken,
    /// A valid token whose `permissions` hold this name.
    Permission(&'static str),
}

/// Who may call each tool. Deny by default: a tool missing here (one the
/// shop gains later, a typo, a name the shop does not have) is `None`, and
/// `None` is refused to everyone until someone decides who may call it.
pub fn needed_for_tool(tool: &str) -> Option<Needs> {
    match tool {
        "add" | "whoami" => Some(Needs::ValidToken),
        "list_orders" | "get_order" => Some(Needs::Permission(ORDERS_READ)),
        "delete_order" => Some(Needs::Permission(ORDERS_DELETE)),
        "refund_order" => Some(Needs::Permission(ORDERS_REFUND)),
        "shipping_status" => Some(Needs::Permission(ORDERS_READ)),
        _ => None,
    }
}

/// Whether the caller holds `permission`. Names compare exactly:
/// permissions are case-sensitive like OAuth scopes (RFC 6749 §3.3), so
/// `user.read` grants nothing.
pub fn holds(caller: &Caller, permission: &str) -> bool {
    caller.permissions.iter().any(|held| held == permission)
}

/// `Ok` when the caller holds `permission`, else why not.
pub fn require(caller: &Caller, permission: &'static str) -> Result<(), Denied> {
    if holds(caller, permission) {
        Ok(())
    } else {
        audit(
            &caller.sub,
            "/resource",
            "refused",
            &format!("needs {permission}"),
        );
        Err(Denied {
            what: "this resource".to_owned(),
            needed: Some(permission),
        })
    }
}

/// A valid token without the needed permission.
#[derive(Debug)]
pub struct Denied {
    /// What was refused: a tool's name, or "this resource".
    pub what: String,
    /// The permission that would allow it; `None` when no permission does
    /// (a tool nobody mapped).
    pub needed: Option<&'static str>,
}

impl Denied {
    /// 403, not 401: the token is fine, logging in again would not help.
    /// `insufficient_scope` with `scope=` names everything the operation
    /// needs (RFC 6750 §3.1; MCP: all of it in one challenge), and
    /// `resource_metadata` where to read how to get it. A client that
    /// cannot get it shows the description.
    pub fn response(&self, public: &PublicUrl) -> Response {
        let description = match self.needed {
            Some(needed) => format!("{} requires {needed}", self.what),
            None => format!("no permission grants {}", self.what),
        };
        let mut params = vec![("error", "insufficient_scope")];
        params.extend(self.needed.map(|needed| ("scope", needed)));
        let challenge = bearer_challenge(public, &params);
        (
            StatusCode::FORBIDDEN,
            [(header::WWW_AUTHENTICATE, challenge)],
            Json(json!({
                "error": "insufficient_scope",
                "error_description": description,
            })),
        )
            .into_response()
    }
}

/// Runs after the token check on `/mcp`: a `tools/call` the caller may not
/// make is answered with a 403 challenge before the MCP server sees it.
/// The call never reaches the tool, and the client learns which permission
/// to ask for. Everything else passes unchanged.
pub async fn step_up(State(public): State<PublicUrl>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let caller = request.extensions().get::<Caller>().cloned();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_MCP_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    // A body this check cannot read is refused, not waved through: what
    // it cannot read, it cannot vouch for.
    let Ok(tools) = called_tools(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "Not a JSON-RPC message" })),
        )
            .into_response();
    };
    let sub = caller.as_ref().map_or("-", |caller| caller.sub.as_str());
    for tool in tools {
        let what = format!("tools/call {tool}");
        if may_call(caller.as_ref(), &tool) {
            audit(sub, &what, "allowed", "permission held");
            continue;
        }
        let needed = needed_for_tool(&tool).and_then(|needs| match needs {
            Needs::Permission(permission) => Some(permission),
            Needs::ValidToken => None,
        });
        let reason = needed.map_or("no permission grants it".to_owned(), |needed| {
            format!("needs {needed}")
        });
        audit(sub, &what, "refused", &reason);
        return Denied { what: tool, needed }.response(&public);
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// The names of the tools a JSON-RPC body calls: one message, or each
/// message of a batch. Only `method` and `params.name` are read (the rest is
/// skipped, not built into a tree), and a duplicated key is an error, as it
/// would be for the SDK's own types.
fn called_tools(body: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    let batch = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    let messages = if batch {
        serde_json::from_slice::<Vec<Message<'_>>>(body)?
    } else {
        vec![serde_json::from_slice::<Message<'_>>(body)?]
    };
    Ok(messages
        .into_iter()
        .filter(|message| message.method.as_deref() == Some("tools/call"))
        .map(|message| {
            message
                .params
                .and_then(|params| params.name)
                .unwrap_or_default()
                .into_owned()
        })
        .collect())
}

/// What [`step_up`] reads of a JSON-RPC message.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<CallParams<'a>>,
}

/// What [`step_up`] reads of a `tools/call`'s params. Other methods'
/// params (an object without `name`) read as `name: None`.
#[derive(Deserialize)]
struct CallParams<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

/// The shop with every tool guarded by [`needed_for_tool`].
///
/// It wraps [`Shop`] instead of changing it: the tools stay the same in
/// every lab, and authorization sits in front of them like the middleware
/// sits in front of `/mcp`.
#[derive(Debug, Clone)]
pub struct Guarded {
    shop: Shop,
    /// Lab 6's `shipping_status` tool, which asks another service.
    upstream: Upstream,
}

impl Guarded {
    pub fn new(shop: Shop, upstream: Upstream) -> Guarded {
        Guarded { shop, upstream }
    }
}

/// The tool that calls the shipping service (lab 6, item 10).
const SHIPPING_STATUS: &str = "shipping_status";

fn shipping_status_tool() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": { "id": { "type": "integer", "minimum": 0 } },
        "required": ["id"],
    });
    let schema = schema.as_object().cloned().unwrap_or_default();
    Tool::new(
        SHIPPING_STATUS,
        "Ask the shipping service where an order is",
        schema,
    )
}

impl ServerHandler for Guarded {
    fn get_info(&self) -> ServerConfig {
        self.shop.get_info()
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        if name == SHIPPING_STATUS {
            return Some(shipping_status_tool());
        }
        self.shop.get_tool(name)
    }

    /// Lists only what the caller may call, so a client does not offer its
    /// user (or its model) tools that would be refused anyway. This is a
    /// convenience: the check in `call_tool` is what protects the data.
    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = caller(&context);
        let mut result = self.shop.list_tools(request, context).await?;
        result.tools.push(shipping_status_tool());
        result
            .tools
            .retain(|tool| may_call(caller.as_ref(), &tool.name));
        Ok(result)
    }

    /// Refuses before the tool runs, so a denied call has no side effect.
    /// [`step_up`] has already answered such a call with a 403; this tool
    /// error (lab 4's answer) is the second line, for a server wired
    /// without it.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if !may_call(caller(&context).as_ref(), &request.name) {
            let text = refusal(&request.name);
            return Ok(CallToolResult::error(vec![ContentBlock::text(text)]).into());
        }
        if request.name == SHIPPING_STATUS {
            let order = request
                .arguments
                .as_ref()
                .and_then(|arguments| arguments.get("id")?.as_u64())
                .and_then(|id| u32::try_from(id).ok());
            let (Some(order), Some(parts)) = (order, context.extensions.get::<Parts>()) else {
                return Err(McpError::invalid_params(
                    "`id` must be an order number",
                    None,
                ));
            };
            let result = match self.upstream.shipping_status(order, parts).await {
                Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
                Err(text) => CallToolResult::error(vec![ContentBlock::text(text)]),
            };
            return Ok(result.into());
        }
        self.shop.call_tool(request, context).await
    }
}

fn may_call(caller: Option<&Caller>, tool: &str) -> bool {
    let Some(caller) = caller else {
        return false;
    };
    match needed_for_tool(tool) {
        Some(Needs::ValidToken) => true,
        Some(Needs::Permission(needed)) => holds(caller, needed),
        None => false,
    }
}

/// The text of a refused call: what the caller lacks, so the user (or the
/// model) knows what to ask for. A name nobody mapped gets one answer
/// whether or not the shop has such a tool, so it does not reveal which do.
fn refusal(tool: &str) -> String {
    match needed_for_tool(tool) {
        Some(Needs::Permission(needed)) => format!("permission denied: {tool} requires {needed}"),
        Some(Needs::ValidToken) => format!("permission denied: {tool} requires a valid token"),
        None => format!("permission denied: no permission grants {tool}"),
    }
}

/// The caller the auth middleware verified for this very request. rmcp puts
/// the request's HTTP `Parts` into the context; a missing caller means no
/// permissions at all.
fn caller(context: &RequestContext<RoleServer>) -> Option<Caller> {
    context
        .extensions
        .get::<Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
}
