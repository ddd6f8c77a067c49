//! `seslog sql`: run any SQL over `seslogs`, from the command line, a file or stdin.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::cmd;
use crate::config::Config;
use crate::engine::Engine;

/// Run SQL over the `seslogs` table (Athena's columns: eventtype, mail, bounce, ...,
/// event_time, recipients, and the partition columns event_type and day).
///
/// Example: seslog sql "SELECT event_type, count(*) FROM seslogs WHERE day = '2024/11/05' GROUP BY 1"
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQL to run; `-` reads it from stdin. Several statements may be separated by `;`.
    #[arg(value_name = "QUERY", conflicts_with = "file")]
    pub query: Option<String>,

    /// Read the SQL from this file.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

pub async fn run(args: Args, config: &Config) -> Result<ExitCode> {
    let sql = match (&args.query, &args.file) {
        (_, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading --file {}", path.display()))?,
        (Some(q), None) if q == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the query from stdin")?;
            text
        }
        (Some(q), None) => q.clone(),
        (None, None) => {
            bail!("no query: give one as an argument, with -f FILE, or `-` to read stdin")
        }
    };
    let statements = Engine::statements(&sql).map_err(crate::engine::user_error)?;
    if statements.is_empty() {
        bail!("the query is empty");
    }
    let engine = cmd::open_engine(config).await?;
    cmd::run_statements(&engine, statements, config).await?;
    Ok(ExitCode::SUCCESS)
}
