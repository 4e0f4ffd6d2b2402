//! The lab's idea: who may do what.
//!
//! A user has a role; a role grants permissions; `/login` writes the
//! permissions into the access token, and every decision below reads them
//! from the verified token only (`shop::Caller`, inserted by the auth
//! middleware). A header, a tool argument or anything else the client
//! sends is never consulted.
//!
//! Read docs/lab4-rbac.md, then fill in each `TODO(lab4)`.
//! `cargo xtask check lab4` tells you which behaviour is still missing.

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

/// The one place where roles turn into permissions.
pub fn permissions_of(role: Role) -> Vec<String> {
    // TODO(lab4): step 1 — a reader gets `User.Read` and `Orders.Read`; an
    // admin gets those and `Orders.Delete`. Use the constants above. Nobody
    // gets `Orders.Refund`.
    // (docs/lab4-rbac.md#step-1-roles-grant-permissions)
    Vec::new()
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

/// Who may call each tool; `None` for a tool nobody mapped.
pub fn needed_for_tool(tool: &str) -> Option<Needs> {
    // TODO(lab4): step 4 — the shop also has `refund_order`: it needs
    // `Orders.Refund` (ORDERS_REFUND).
    // (docs/lab4-rbac.md#deny-by-default)
    match tool {
        "add" | "whoami" => Some(Needs::ValidToken),
        "list_orders" | "get_order" => Some(Needs::Permission(ORDERS_READ)),
        "delete_order" => Some(Needs::Permission(ORDERS_DELETE)),
        _ => None,
    }
}

/// Whether the caller holds `permission`.
pub fn holds(caller: &Caller, permission: &str) -> bool {
    // TODO(lab4): step 2 — true only when `caller.permissions` contains
    // exactly `permission` (case-sensitive: `user.read` is not `User.Read`).
    // (docs/lab4-rbac.md#step-2-compare-permissions-exactly)
    true
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
    fn into_response(self) -> Response {
        // TODO(lab4): step 3 — answer 403 with the JSON body
        // `{"error":"Permission denied"}` and the header
        // `WWW-Authenticate: Bearer error="insufficient_scope", scope="<needed>"`.
        // (docs/lab4-rbac.md#step-3-403-for-a-valid-token-without-the-permission)
        StatusCode::FORBIDDEN.into_response()
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

    /// Lists the tools.
    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        // TODO(lab4): step 5 — keep only the tools the caller may call:
        // read `caller(&context)` first (the context moves into the shop),
        // then `result.tools.retain(…)` with `may_call`.
        // (docs/lab4-rbac.md#step-5-list-only-the-tools-the-caller-may-call)
        self.shop.list_tools(request, context).await
    }

    /// Runs the tool.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        // TODO(lab4): step 4 — before the tool runs, refuse a caller who may
        // not call it (`may_call`) with a tool error whose text is
        // `refusal(&request.name)`: `CallToolResult::error(…)` builds it, and
        // `.into()` turns it into the `CallToolResponse` returned here.
        // (docs/lab4-rbac.md#step-4-guard-every-tool-call)
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
        // TODO(lab4): step 4 — deny by default: a tool nobody mapped in
        // `needed_for_tool` is refused to everyone.
        // (docs/lab4-rbac.md#deny-by-default)
        None => true,
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
