//! Lab 3: log in for a token; `/resource` and `/mcp` behind it.
//!
//! Server: `cargo run -p lab3 -- server` (`POST /login`, `GET /resource`, MCP at `/mcp`).
//! Client: `cargo run -p lab3 -- client --url http://127.0.0.1:3000 --username jane.doe --password secure123`.
//! New user: `cargo run -p lab3 -- hash-password` (reads the password from stdin).
//! `mint` and `verify` are lab 2's, for inspecting tokens.
//!
//! The server, `mint` and `verify` read the signing key from `JWT_SECRET`.
//! Your work is in `users.rs`, `login.rs`, `resource.rs` and `client.rs`, at
//! each `TODO(lab3)`. `cargo xtask check lab3` says what is still missing,
//! and `docs/lab3-login.md` explains why.

mod auth;
mod client;
mod jwt;
mod login;
mod resource;
mod server;
mod users;

use std::{process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use shop::url::ServerUrl;

#[derive(Parser)]
#[command(about = "Lab 3: a login endpoint that issues tokens, and resources that need them")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve /login, and /resource and the MCP shop at /mcp behind a token.
    Server {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: String,
    },
    /// Log in, then list the MCP server's tools and call `whoami`.
    Client {
        /// The server, e.g. http://127.0.0.1:3000 (its MCP endpoint, …/mcp, works too).
        #[arg(long, value_parser = ServerUrl::parse)]
        url: ServerUrl,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
    },
    /// Print a signed token for a user.
    Mint {
        /// The user's id (the `sub` claim).
        #[arg(long)]
        sub: String,
        /// The user's display name (the `name` claim).
        #[arg(long)]
        name: String,
        /// Add the claim `"admin": true`.
        #[arg(long)]
        admin: bool,
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
        Command::Server { addr } => {
            server::run(&addr, jwt::Keys::from_env()?, users::Users::demo()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Client {
            url,
            username,
            password,
        } => {
            client::run(url.root(), &username, &password).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mint {
            sub,
            name,
            admin,
            ttl,
        } => {
            let token = jwt::Keys::from_env()?.mint(&sub, &name, admin, ttl)?;
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
