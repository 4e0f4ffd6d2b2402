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
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        access_ttl: Duration,
        /// How long a rotated-out key stays in /jwks.
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
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
        starting_keys: None,
        jwks_delay: Duration::ZERO,
    };
    let running = authz::start(&addr, config).await?;
    // The kit's harness reads this line, first on stdout, to find the port.
    println!("listening on http://{}", running.local_addr());
    tokio::signal::ctrl_c().await?;
    running.stop().await;
    Ok(())
}

/// `90s`, `15m`, `1h`, `7d`, or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 15m, 1h or 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return Err(format!("unknown unit `{unit}`: use s, m, h or d")),
    };
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}
