//! Replacing values that change from run to run before a snapshot compares.

use std::sync::LazyLock;

use regex::Regex;

static PORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(127\.0\.0\.1|localhost):\d+").unwrap_or_else(|e| panic!("BUG: bad regex: {e}"))
});

/// `127.0.0.1:41234` → `127.0.0.1:[port]`.
pub fn ports(text: &str) -> String {
    PORT.replace_all(text, "$1:[port]").into_owned()
}
