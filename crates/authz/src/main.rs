//! `authz server`: the kit's teaching authorization server on a port.
//! See the library's documentation for what it does and does not do.

use std::{process::ExitCode, time::Duration};

use authz::{Alg, Config};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    about = "The kit's teaching OAuth 2.1 authorization server (lab 7): a teaching stand-in, not a product",
    long_about = "The kit's teaching OAuth 2.1 authorization server (lab 7).\n\n\
        A TEACHING STAND-IN, NOT A PRODUCT: it keeps everything in memory and \
        serves plain HTTP. A real authorization server adds persistent storage, \
        a consent screen, real user accounts with MFA and lockout, TLS, private \
        keys in an HSM or KMS with scheduled rotation, client registration, \
        token revocation and introspection, CSRF protection, rate limits, \
        audit logs, and SSRF defences for client metadata documents.\n\n\
        Demo users: jane.doe / secure123 (User.Read Orders.Read), alex.admin / \
        admin-pass-123 (User.Read Orders.Read Orders.Delete). Clients: \
        lab7-client (public, PKCE, loopback redirects), shipping-bot / \
        shipping-bot-secret (client_credentials, Orders.Read), and any client \
        whose client_id is the URL of its metadata document."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve metadata, /jwks, /authorize and /token (a teaching stand-in, not a product).
    Server {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:4000")]
        addr: String,
        /// The issuer URL in metadata and tokens; default http://<bound address>.
        #[arg(long)]
        issuer: Option<String>,
        /// Approve every request at once as this demo user, without a login
        /// form (for scripts and CI, never for people).
        #[arg(long)]
        approve_as: Option<String>,
        /// Signing algorithm for new tokens: RS256 or ES256. Both keys are
        /// published either way.
        #[arg(long, default_value = "RS256")]
        alg: Alg,
        /// How long an access token lives: `90s`, `5m`, `1h`, `7d` or seconds.
        #[arg(long, default_value = "5m", value_parser = shop::duration::parse)]
        access_ttl: Duration,
        /// How long a rotated-out key stays in /jwks.
        #[arg(long, default_value = "10m", value_parser = shop::duration::parse)]
        grace: Duration,
        /// Also serve the teaching and test hooks POST /admin/rotate (new
        /// signing key) and GET /admin/stats (what the server has seen).
        #[arg(long)]
        admin: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    shop::init_tracing();
    match run(Cli::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    let Command::Server {
        addr,
        issuer,
        approve_as,
        alg,
        access_ttl,
        grace,
        admin,
    } = command;
    let config = Config {
        issuer,
        approve_as,
        alg,
        access_ttl,
        grace,
        admin,
        ..Config::default()
    };
    let running = authz::start(&addr, config).await?;
    // The kit's harness reads this line, first on stdout, to find the port.
    println!("listening on http://{}", running.local_addr());
    tokio::signal::ctrl_c().await?;
    running.stop().await;
    Ok(())
}
