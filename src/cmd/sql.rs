//! `seslog sql`: run any SQL over `seslogs`, from the command line, a file or stdin.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use datafusion::sql::parser::Statement;

use crate::config::Config;
use crate::error::explain;
use crate::output::View;
use crate::query;
use seslog_engine::engine::Engine;

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
    let statements = Engine::statements(&sql).map_err(explain)?;
    if statements.is_empty() {
        bail!("the query is empty");
    }
    if config.output.is_some() && statements.len() > 1 {
        bail!(
            "--output takes the result of one statement; this script has {}",
            statements.len()
        );
    }
    let engine = query::open_engine(config).await?;
    let started = Instant::now();
    let mut rows = 0u64;
    let mut result = Ok(());
    for statement in statements {
        match print_statement(&engine, statement, config).await {
            Ok(n) => rows += n,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    query::report_after(&engine, config, rows, started.elapsed())?;
    result.map(|()| ExitCode::from(crate::exit::SUCCESS))
}

/// Plans one statement and streams its result out.
async fn print_statement(engine: &Engine, statement: Statement, config: &Config) -> Result<u64> {
    let plan = engine.plan(statement).await.map_err(explain)?;
    query::print_plan(engine, plan, config, View::Rows, &mut |_| {}).await
}
