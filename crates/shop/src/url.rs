//! `--url` for every lab's client: the server's address. Labs 1-2 talk only
//! to the MCP endpoint, labs 3-5 also to `/login` and `/refresh`; one flag
//! meaning one thing in every lab, with the endpoint accepted too, saves a
//! student from guessing which of the two a lab wants.

use axum::http::Uri;

/// Where the MCP endpoint is mounted in every lab.
const MCP_PATH: &str = "/mcp";

/// A server's root URL, from `http://HOST:PORT` or `http://HOST:PORT/mcp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    root: String,
}

impl ServerUrl {
    /// Parses `--url`: an `http(s)` URL whose path is empty, `/` or `/mcp`.
    pub fn parse(text: &str) -> Result<ServerUrl, String> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("`{text}` is not a URL ({e}); {EXAMPLE}"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(format!("`{text}` has no http:// and host; {EXAMPLE}"));
        };
        if scheme != "http" && scheme != "https" {
            return Err(format!("`{text}` is not an http(s) URL; {EXAMPLE}"));
        }
        match uri.path().trim_end_matches('/') {
            "" | MCP_PATH if uri.query().is_none() => Ok(ServerUrl {
                root: format!("{scheme}://{authority}"),
            }),
            _ => Err(format!(
                "`{text}` points somewhere else than the server or its MCP endpoint; {EXAMPLE}"
            )),
        }
    }

    /// `http://HOST:PORT`, without a trailing slash: append `/login` etc.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `http://HOST:PORT/mcp`.
    pub fn mcp(&self) -> String {
        format!("{}{MCP_PATH}", self.root)
    }
}

const EXAMPLE: &str = "pass the server's address, e.g. http://127.0.0.1:3000 (its MCP endpoint, http://127.0.0.1:3000/mcp, works too)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_root_or_the_mcp_endpoint() {
        for text in [
            "http://127.0.0.1:3000",
            "http://127.0.0.1:3000/",
            "http://127.0.0.1:3000/mcp",
            "http://127.0.0.1:3000/mcp/",
        ] {
            let url = ServerUrl::parse(text).unwrap();
            assert_eq!(url.root(), "http://127.0.0.1:3000", "{text}");
            assert_eq!(url.mcp(), "http://127.0.0.1:3000/mcp", "{text}");
        }
    }

    #[test]
    fn refuses_anything_else_and_says_what_to_pass() {
        for text in [
            "127.0.0.1:3000",
            "ftp://127.0.0.1:3000",
            "http://127.0.0.1:3000/login",
            "http://127.0.0.1:3000/mcp?x=1",
            "not a url",
        ] {
            let error = ServerUrl::parse(text).unwrap_err();
            assert!(error.contains("http://127.0.0.1:3000"), "{text}: {error}");
        }
    }
}
