//! The demo MCP server: a small orders shop.
//!
//! The data lives in [`Orders`], shared by every MCP session of one server
//! process, so a deletion in one session is visible in the next.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::request::Parts;
use rmcp::{
    ErrorData as McpError, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::Extension, wrapper::Parameters},
    model::{
        CallToolResult, ContentBlock as Content, Implementation, ServerCapabilities, ServerConfig,
    },
    schemars, tool, tool_handler, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::Caller;

/// One order in the shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    pub id: u32,
    pub customer: String,
    pub product: String,
    pub quantity: u32,
}

/// The shop's orders, in memory, shared by all sessions of a server.
#[derive(Debug, Clone)]
pub struct Orders(Arc<Mutex<Vec<Order>>>);

impl Orders {
    /// The three orders every lab starts with.
    pub fn demo() -> Orders {
        let order = |id, customer: &str, product: &str, quantity| Order {
            id,
            customer: customer.to_owned(),
            product: product.to_owned(),
            quantity,
        };
        Orders(Arc::new(Mutex::new(vec![
            order(1, "jane.doe", "keyboard", 1),
            order(2, "jane.doe", "usb-c cable", 3),
            order(3, "john.smith", "monitor", 2),
        ])))
    }

    pub fn list(&self) -> Vec<Order> {
        self.lock().clone()
    }

    pub fn get(&self, id: u32) -> Option<Order> {
        self.lock().iter().find(|order| order.id == id).cloned()
    }

    /// Removes the order; `false` when there was none with that id.
    pub fn delete(&self, id: u32) -> bool {
        let mut orders = self.lock();
        let before = orders.len();
        orders.retain(|order| order.id != id);
        orders.len() != before
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Order>> {
        // A panic while holding the lock cannot leave the Vec half-updated
        // (every update is a single call), so a poisoned lock is still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct OrderId {
    /// The order's id, e.g. 1.
    pub id: u32,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddRequest {
    pub a: i64,
    pub b: i64,
}

/// The MCP server every lab exposes at `/mcp`.
#[derive(Debug, Clone)]
pub struct Shop {
    orders: Orders,
    tool_router: ToolRouter<Self>,
}

impl Shop {
    pub fn new(orders: Orders) -> Shop {
        Shop {
            orders,
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router]
impl Shop {
    #[tool(description = "List every order in the shop")]
    fn list_orders(&self) -> Result<CallToolResult, McpError> {
        json_result(&self.orders.list())
    }

    #[tool(description = "Get one order by its id")]
    fn get_order(
        &self,
        Parameters(OrderId { id }): Parameters<OrderId>,
    ) -> Result<CallToolResult, McpError> {
        match self.orders.get(id) {
            Some(order) => json_result(&order),
            None => Ok(CallToolResult::error(vec![Content::text(format!(
                "no order with id {id}"
            ))])),
        }
    }

    #[tool(description = "Delete an order by its id")]
    fn delete_order(&self, Parameters(OrderId { id }): Parameters<OrderId>) -> CallToolResult {
        if self.orders.delete(id) {
            CallToolResult::success(vec![Content::text(format!("deleted order {id}"))])
        } else {
            CallToolResult::error(vec![Content::text(format!("no order with id {id}"))])
        }
    }

    /// The tool no lab's role table knows at first: deny-by-default RBAC
    /// (lab 4) must refuse it until someone grants it on purpose.
    #[tool(description = "Refund an order by its id")]
    fn refund_order(&self, Parameters(OrderId { id }): Parameters<OrderId>) -> CallToolResult {
        match self.orders.get(id) {
            Some(order) => CallToolResult::success(vec![Content::text(format!(
                "refunded order {id} to {}",
                order.customer
            ))]),
            None => CallToolResult::error(vec![Content::text(format!("no order with id {id}"))]),
        }
    }

    #[tool(description = "Add two integers")]
    fn add(&self, Parameters(AddRequest { a, b }): Parameters<AddRequest>) -> String {
        a.saturating_add(b).to_string()
    }

    #[tool(description = "Say who the server believes is calling")]
    fn whoami(&self, Extension(parts): Extension<Parts>) -> String {
        match parts.extensions.get::<Caller>() {
            Some(caller) => format!("you are {} ({})", caller.sub, caller.name),
            None => {
                "you are anonymous: this server checks a shared secret, not who you are".to_owned()
            }
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Shop {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "orders-shop",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("A demo shop: list, read, delete and refund orders.")
    }
}

fn json_result<T: Serialize>(value: &T) -> Result<CallToolResult, McpError> {
    let text = serde_json::to_string(value)
        .map_err(|e| McpError::internal_error(format!("cannot encode result: {e}"), None))?;
    Ok(CallToolResult::success(vec![Content::text(text)]))
}
