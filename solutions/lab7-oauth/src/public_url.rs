//! The server's own name: the URL clients reach it at, from `--public-url`
//! (or the bound address). Tokens are for its MCP endpoint, and the
//! metadata documents say so.

use std::net::SocketAddr;

use shop::url::ServerUrl;

/// `https://mcp.example.com`: a scheme and an authority, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// `--public-url` when given, else `http://<bound address>`, so that
    /// port 0 still yields a URL that works.
    pub fn new(configured: Option<&ServerUrl>, bound: SocketAddr) -> PublicUrl {
        match configured {
            Some(url) => PublicUrl::of(url),
            None => PublicUrl(format!("http://{bound}")),
        }
    }

    pub fn of(url: &ServerUrl) -> PublicUrl {
        PublicUrl(url.root().to_owned())
    }

    /// `scheme://host[:port]`: the server's own origin, the one browser
    /// origin always allowed. (Lab 6 also issued tokens under this name;
    /// since lab 7 the issuer is the authorization server's `--issuer`.)
    pub fn origin(&self) -> &str {
        &self.0
    }

    /// The canonical URL of the MCP endpoint (RFC 8707 §2): the resource
    /// that access tokens are for (`aud`), and the metadata's `resource`.
    pub fn mcp(&self) -> String {
        format!("{}/mcp", self.0)
    }

    /// The host clients name in `Host`, without the port: the MCP
    /// endpoint's Host allow-list admits it next to the loopback names.
    pub fn host(&self) -> &str {
        let authority = self
            .0
            .split_once("://")
            .map_or(self.0.as_str(), |(_, rest)| rest);
        match authority.rsplit_once(':') {
            // `[::1]:3000`, `example.com:443`; not the colons of a bare IPv6.
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        }
    }

    /// Where the protected resource metadata of `/mcp` lives (RFC 9728
    /// §3.1: the well-known name inserted before the resource's path).
    pub fn metadata(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.0)
    }
}
