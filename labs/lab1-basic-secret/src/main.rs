//! Lab 1: a static secret in the `Authorization` header.
//!
//! Server: `cargo run -p lab1 -- server` (MCP at `http://127.0.0.1:3000/mcp`).
//! Client: `cargo run -p lab1 -- client --url http://127.0.0.1:3000/mcp --token secret-token`.
//!
//! Your work is in `auth.rs` and `client.rs`, at each `TODO(lab1)`.
//! `cargo xtask check lab1` says what is still missing, and
//! `docs/lab1-basic-secret.md` explains why.

mod auth;
mod client;
mod server;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shop::url::ServerUrl;

#[derive(Parser)]
#[command(about = "Lab 1: protect an MCP server with a static Bearer secret")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the demo MCP shop at /mcp, behind the secret in MCP_SECRET.
    Server {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: String,
    },
    /// Connect to an MCP server, list its tools and call two of them.
    Client {
        /// The server, e.g. http://127.0.0.1:3000 (its MCP endpoint, …/mcp, works too).
        #[arg(long, value_parser = ServerUrl::parse)]
        url: ServerUrl,
        /// The secret to send as `Authorization: Bearer <token>`.
        #[arg(long)]
        token: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    shop::init_tracing();
    match run(Cli::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, like every lab: "address in use" is not a crash.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Server { addr } => server::run(&addr, auth::Secret::from_env()).await,
        Command::Client { url, token } => Ok(client::run(&url.mcp(), token.as_deref()).await?),
    }
}
