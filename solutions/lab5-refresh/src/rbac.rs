//! The lab's idea: who may do what.
//!
//! A user has a role; a role grants permissions; `/login` writes the
//! permissions into the access token, and every decision below reads them
//! from the verified token only (`shop::Caller`, inserted by the auth
//! middleware). A header, a tool argument or anything else the client
//! sends is never consulted.

use axum::{
    Json,
    http::{StatusCode, header, request::Parts},
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
use serde_json::json;
use shop::{Caller, Shop};

/// Read the caller's own profile (`GET /resource`).
pub const USER_READ: &str = "User.Read";
/// List and read orders.
pub const ORDERS_READ: &str = "Orders.Read";
/// Delete orders.
pub const ORDERS_DELETE: &str = "Orders.Delete";
/// Refund orders. It moves money, so no role grants it yet: until someone
/// decides who may refund, only a token minted with it can (`mint --permission`).
pub const ORDERS_REFUND: &str = "Orders.Refund";

/// What a user is; the only thing the user list says about access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Reader,
    Admin,
}

/// The one place where roles turn into permissions. Tokens carry the
/// permissions, not the role, so a check never needs this table again and
/// a new role is one line here.
pub fn permissions_of(role: Role) -> Vec<String> {
    let permissions: &[&str] = match role {
        Role::Reader => &[USER_READ, ORDERS_READ],
        // Not `ORDERS_REFUND`: nobody refunds until someone decides who may.
        Role::Admin => &[USER_READ, ORDERS_READ, ORDERS_DELETE],
    };
    permissions.iter().map(|p| (*p).to_owned()).collect()
}

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
        _ => None,
    }
}

/// Whether the caller holds `permission`. Names compare exactly:
/// permissions are case-sensitive like OAuth scopes (RFC 6749 §3.3), so
/// `user.read` grants nothing.
pub fn holds(caller: &Caller, permission: &str) -> bool {
    caller.permissions.iter().any(|held| held == permission)
}

/// `Ok` when the caller holds `permission`, else the 403 to send.
pub fn require(caller: &Caller, permission: &'static str) -> Result<(), Denied> {
    if holds(caller, permission) {
        Ok(())
    } else {
        tracing::debug!(sub = %caller.sub, needed = permission, "refused: missing permission");
        Err(Denied { needed: permission })
    }
}

/// A valid token without the needed permission.
#[derive(Debug)]
pub struct Denied {
    pub needed: &'static str,
}

impl IntoResponse for Denied {
    /// 403, not 401: the token is fine, logging in again would not help.
    /// `insufficient_scope` with `scope=` tells a client what it would need
    /// (RFC 6750 §3.1), and the rmcp client reads exactly that.
    fn into_response(self) -> Response {
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\"",
            self.needed
        );
        (
            StatusCode::FORBIDDEN,
            [(header::WWW_AUTHENTICATE, challenge)],
            Json(json!({ "error": "Permission denied" })),
        )
            .into_response()
    }
}

/// The shop with every tool guarded by [`needed_for_tool`].
///
/// It wraps [`Shop`] instead of changing it: the tools stay the same in
/// every lab, and authorization sits in front of them like the middleware
/// sits in front of `/mcp`.
#[derive(Debug, Clone)]
pub struct Guarded {
    shop: Shop,
}

impl Guarded {
    pub fn new(shop: Shop) -> Guarded {
        Guarded { shop }
    }
}

impl ServerHandler for Guarded {
    fn get_info(&self) -> ServerConfig {
        self.shop.get_info()
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
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
        result
            .tools
            .retain(|tool| may_call(caller.as_ref(), &tool.name));
        Ok(result)
    }

    /// Refuses before the tool runs, so a denied call has no side effect.
    /// The refusal is a tool error (`isError: true`), not a JSON-RPC error:
    /// MCP clients show a tool error's text to the user and the model, and
    /// the text names what is missing.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if !may_call(caller(&context).as_ref(), &request.name) {
            let text = refusal(&request.name);
            return Ok(CallToolResult::error(vec![ContentBlock::text(text)]).into());
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
