//! Lab 5: short-lived access tokens, long-lived refresh tokens that rotate,
//! and a client that refreshes when its access token expires.
//!
//! Server: `cargo run -p lab5 -- server [--access-ttl 5m] [--refresh-ttl 14d] [--db refresh-tokens.db]`
//! (`POST /login`, `/refresh`, `/logout`, `GET /resource`, MCP at `/mcp`).
//! Client: `cargo run -p lab5 -- client --url http://127.0.0.1:3000 --username jane.doe --password secure123`.
//! `mint` and `verify` are lab 2's, for inspecting tokens.
//!
//! The server, `mint` and `verify` read the signing key from `JWT_SECRET`.
//! Your work is in `store.rs` and `client.rs`, at each `TODO(lab5)`.
//! `cargo xtask check lab5` says what is still missing, and
//! `docs/lab5-refresh.md` explains why.

mod auth;
mod client;
mod jwt;
mod login;
mod rbac;
mod refresh;
mod resource;
mod server;
mod store;
mod users;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use shop::url::ServerUrl;

#[derive(Parser)]
#[command(about = "Lab 5: refresh tokens with rotation and reuse detection")]
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
    },
    /// Check a token; print its claims, or why it is refused.
    Verify {
        /// The token, as `mint` printed it.
        token: String,
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
            access_ttl,
            refresh_ttl,
            db,
        } => {
            let refresh_tokens = store::RefreshStore::open(&db, refresh_ttl)?;
            let keys = jwt::Keys::from_env()?;
            server::run(
                &addr,
                keys,
                users::Users::demo(),
                refresh_tokens,
                access_ttl,
            )
            .await?;
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
        } => {
            let token = jwt::Keys::from_env()?.mint(&sub, &name, &permissions, ttl)?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { token } => match jwt::Keys::from_env()?.verify(token.trim()) {
            Ok(claims) => {
                println!("{}", serde_json::to_string_pretty(&claims)?);
                Ok(ExitCode::SUCCESS)
            }
            Err(reason) => {
                eprintln!("token refused: {reason}");
                Ok(ExitCode::FAILURE)
            }
        },
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
