//! Lab 6: lab 5's server, made into a resource server the way the MCP
//! authorization specification asks: find each gap with an exploit, then
//! close it.
//!
//! Server: `cargo run -p lab6 -- server [--public-url https://mcp.example.com] [--access-ttl 5m] [--db refresh-tokens.db]`
//! (`POST /login`, `/refresh`, `/logout`, `GET /resource`, MCP at `/mcp`,
//! metadata at `/.well-known/oauth-protected-resource/mcp`).
//! Client: `cargo run -p lab6 -- client --url http://127.0.0.1:3000 --username jane.doe --password secure123`.
//! `mint` and `verify` are lab 2's, for inspecting tokens.
//!
//! The server, `mint` and `verify` read the signing key from `JWT_SECRET`.
//! Your work is in `metadata.rs`, `jwt.rs`, `auth.rs`, `rbac.rs`,
//! `guards.rs` and `upstream.rs`, at each `TODO(lab6)`. `cargo xtask check
//! lab6` says what is still open, and `docs/lab6-posture.md` shows the
//! exploit for each gap and why it matters.

mod auth;
mod client;
mod guards;
mod jwt;
mod login;
mod metadata;
mod public_url;
mod rbac;
mod refresh;
mod resource;
mod server;
mod store;
mod upstream;
mod users;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use shop::url::ServerUrl;

use crate::public_url::PublicUrl;

#[derive(Parser)]
#[command(about = "Lab 6: a resource server with a security posture")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve /login, /refresh and /logout, and /resource and the MCP shop at /mcp behind a token.
    Server {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: String,
        /// The URL clients reach this server at, e.g. https://mcp.example.com,
        /// when it is not the bound address (a proxy, a port mapping). Tokens
        /// are issued by it and for its /mcp; default: http://<bound address>.
        #[arg(long, value_parser = ServerUrl::parse)]
        public_url: Option<ServerUrl>,
        /// A browser origin allowed to call, e.g. https://app.example.com,
        /// next to the server's own; repeat for more. Requests with any
        /// other `Origin` get 403 (DNS rebinding, cross-site pages).
        #[arg(long = "allowed-origin", value_parser = ServerUrl::parse)]
        allowed_origins: Vec<ServerUrl>,
        /// A reverse proxy of yours sets `X-Forwarded-For`: rate-limit by the
        /// address it saw (the header's last entry), not the proxy's. Without
        /// it the header is ignored, since any client can write it.
        #[arg(long)]
        trust_proxy: bool,
        /// Live MCP sessions one user may hold; one more `initialize` gets 429
        /// until a session ends (DELETE) or idles out (5 minutes).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
        max_sessions_per_user: u16,
        /// The shipping service the `shipping_status` tool asks, called with
        /// the server's own token from `UPSTREAM_TOKEN`, never the user's.
        #[arg(long, value_parser = ServerUrl::parse)]
        upstream_url: Option<ServerUrl>,
        /// How long an access token lives: `90s`, `5m`, `1h`… Short, because
        /// it cannot be revoked; the refresh token replaces it.
        #[arg(long, default_value = "5m", value_parser = shop::duration::parse)]
        access_ttl: Duration,
        /// How long a refresh token lives, if it is not used or revoked first.
        #[arg(long, default_value = "14d", value_parser = shop::duration::parse)]
        refresh_ttl: Duration,
        /// The SQLite file for refresh tokens; `:memory:` keeps them in
        /// memory, gone when the server stops.
        #[arg(long, default_value = "refresh-tokens.db")]
        db: PathBuf,
    },
    /// Log in, then call the shop's tools, refreshing the access token when it expires.
    Client {
        /// The server, e.g. http://127.0.0.1:3000 (its MCP endpoint, …/mcp, works too).
        #[arg(long, value_parser = ServerUrl::parse)]
        url: ServerUrl,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        /// Wait this long after logging in, before connecting. With a
        /// short `--access-ttl` on the server, wait past it plus the
        /// server's 30 s leeway to watch the client refresh.
        #[arg(long, value_parser = shop::duration::parse)]
        wait: Option<Duration>,
    },
    /// Print a signed token for a user.
    Mint {
        /// The user's id (the `sub` claim).
        #[arg(long)]
        sub: String,
        /// The user's display name (the `name` claim).
        #[arg(long)]
        name: String,
        /// A permission for the `permissions` claim, e.g. `Orders.Read`;
        /// repeat the option or separate them with commas.
        #[arg(long = "permission", value_delimiter = ',')]
        permissions: Vec<String>,
        /// How long the token is valid: `90s`, `15m`, `1h`, `7d` or seconds.
        #[arg(long, default_value = "1h", value_parser = shop::duration::parse)]
        ttl: Duration,
        /// The server the token is for (its `iss` and `aud`).
        #[arg(long, default_value = "http://127.0.0.1:3000", value_parser = ServerUrl::parse)]
        public_url: ServerUrl,
    },
    /// Check a token; print its claims, or why it is refused.
    Verify {
        /// The token, as `mint` printed it.
        token: String,
        /// The server the token must be for.
        #[arg(long, default_value = "http://127.0.0.1:3000", value_parser = ServerUrl::parse)]
        public_url: ServerUrl,
    },
    /// Read a password from stdin and print its argon2 hash, for a new row in users.rs.
    HashPassword,
}

#[tokio::main]
async fn main() -> ExitCode {
    shop::init_tracing();
    match run(Cli::parse().command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Server {
            addr,
            public_url,
            allowed_origins,
            trust_proxy,
            max_sessions_per_user,
            upstream_url,
            access_ttl,
            refresh_ttl,
            db,
        } => {
            let refresh_tokens = store::RefreshStore::open(&db, refresh_ttl)?;
            let settings = server::Settings {
                public_url,
                allowed_origins,
                trust_proxy,
                max_sessions_per_user: max_sessions_per_user.into(),
                upstream_url,
                access_ttl,
            };
            server::run(&addr, settings, users::Users::demo(), refresh_tokens).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Client {
            url,
            username,
            password,
            wait,
        } => {
            client::run(url.root(), &username, &password, wait.unwrap_or_default()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mint {
            sub,
            name,
            permissions,
            ttl,
            public_url,
        } => {
            let keys = jwt::Keys::from_env(&PublicUrl::of(&public_url))?;
            let token = keys.mint(&sub, &name, &permissions, ttl)?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { token, public_url } => {
            match jwt::Keys::from_env(&PublicUrl::of(&public_url))?.verify(token.trim()) {
                Ok(claims) => {
                    println!("{}", serde_json::to_string_pretty(&claims)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(reason) => {
                    eprintln!("token refused: {reason}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::HashPassword => {
            // From stdin, not an argument: arguments end up in shell history
            // and in every process listing.
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                anyhow::bail!("no password on stdin");
            }
            println!("{}", users::hash_password(password)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
