//! `seslog worker`: serve the parts of scans that `--workers` sends, until stopped.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::explain;

/// Run as a worker for `--workers`: read and decode the objects other seslog processes
/// deal out, and stream the rows back. Plain TCP, no authentication: listen on loopback
/// or a private network only. S3 is read with this machine's own credentials, and the
/// objects fetched are kept in the object cache (--cache-dir, --no-cache) as a query's are.
///
/// Example: seslog worker --listen 0.0.0.0:7070
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:7070", value_name = "HOST:PORT")]
    pub listen: String,
}

pub async fn run(args: Args, config: &Config) -> Result<ExitCode> {
    // The objects it fetches from S3 are kept as a query's are (--cache-dir, --no-cache).
    let cache = crate::query::open_cache(config)?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| anyhow!("--listen {}: {e}", args.listen))?;
    let address = listener.local_addr()?;
    // On stdout, so whoever started the worker (a script, a test) can read the port.
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "seslog worker listening on {address}")?;
        out.flush()?;
    }
    seslog_engine::cluster::worker::serve(listener, cache)
        .await
        .map_err(explain)?;
    Ok(ExitCode::from(crate::exit::SUCCESS))
}
