//! What every lab shares and no lab teaches.
//!
//! # Layout
//! - [`tools`]: the demo MCP server, an orders shop with `list_orders`,
//!   `get_order`, `delete_order`, `refund_order`, `add` and `whoami`.
//! - [`Caller`]: who the auth middleware says is calling; tools read it.
//! - [`serve`]: bind, print `listening on http://…`, `TCP_NODELAY`, clean
//!   shutdown on SIGINT/SIGTERM.
//! - [`client`]: the demo client session every lab's `client` prints.
//! - [`url`]: what every client's `--url` accepts.
//! - [`duration`]: what every `--ttl`-like flag accepts.
//!
//! The labs add authentication and authorization around these pieces; the
//! pieces themselves stay the same from lab 1 to lab 5.

pub mod client;
pub mod duration;
pub mod serve;
pub mod tools;
pub mod url;

pub use serve::{init_tracing, mcp_service, serve};
pub use tools::{Orders, Shop};

/// The authenticated caller, as established by a lab's auth middleware.
///
/// The middleware inserts it into the HTTP request's extensions; rmcp hands
/// each tool the `http::request::Parts` of its own request, so a tool sees
/// exactly what the middleware verified for that request and nothing a
/// client could set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Stable user id (the JWT `sub` claim).
    pub sub: String,
    /// Display name (the JWT `name` claim).
    pub name: String,
    /// What the caller may do, e.g. `Orders.Read` (lab 4).
    pub permissions: Vec<String>,
}
