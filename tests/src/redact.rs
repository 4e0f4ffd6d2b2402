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

static JWT_CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    // A JWT's header is a JSON object, so its base64url starts with `eyJ`.
    Regex::new(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
        .unwrap_or_else(|e| panic!("BUG: bad regex: {e}"))
});

/// Every `header.payload.signature` token in `text` → `[jwt]`. A match is
/// replaced only when it really is three base64url parts whose header
/// decodes to JSON, so a dotted version number or host survives.
pub fn jwts(text: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    JWT_CANDIDATE
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let candidate = &caps[0];
            let parts: Vec<&str> = candidate.split('.').collect();
            let header_is_json = URL_SAFE_NO_PAD
                .decode(parts[0])
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .is_some_and(|header| header.is_object());
            if parts.len() == 3 && header_is_json {
                "[jwt]".to_owned()
            } else {
                candidate.to_owned()
            }
        })
        .into_owned()
}
