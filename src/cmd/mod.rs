//! The subcommands, one module each, all the same shape: an `Args` struct whose doc comment
//! is its help, and a `run` that reads top to bottom: args -> source -> table -> query ->
//! print. Shared steps live here.

pub mod sql;

use std::cell::Cell;
use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use anyhow::Result;
use datafusion::sql::parser::Statement;
use futures::StreamExt;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::engine::Engine;
use crate::output::{self, Format};
use crate::source::Source;

/// Runs the parsed command line; the error, if any, is printed by `main`.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::from_cli(&cli).map_err(|e| UsageError(format!("{e:#}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Sql(args) => sql::run(args, &config).await,
        }
    })
}

/// A bad flag value or a missing setting: exit code 2, like clap's own usage errors.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Opens the source and registers `seslogs` on a fresh engine.
pub async fn open_engine(config: &Config) -> Result<Engine> {
    let source = Source::open(config.location.clone(), &config.s3).await?;
    Ok(Engine::new(source, config.layout.clone(), config.strict)?)
}

/// Runs each statement in order and prints its result to stdout in `format`; then names
/// every skipped record and damaged object on stderr, and the stats when asked.
pub async fn run_statements(
    engine: &Engine,
    statements: Vec<Statement>,
    config: &Config,
) -> Result<()> {
    let started = Instant::now();
    let mut rows = 0u64;
    let result = async {
        for statement in statements {
            rows += print_statement(engine, statement, config.format).await?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let stderr = &mut std::io::stderr().lock();
    output::report_problems(&engine.diagnostics, stderr)?;
    if config.stats {
        output::report_stats(&engine.source.counters, rows, started.elapsed(), stderr)?;
    }
    result
}

async fn print_statement(engine: &Engine, statement: Statement, format: Format) -> Result<u64> {
    let plan = engine
        .plan(statement)
        .await
        .map_err(crate::engine::user_error)?;
    let mut stream = engine
        .execute(plan)
        .await
        .map_err(crate::engine::user_error)?;
    let closed = Rc::new(Cell::new(false));
    let stdout = WatchedStdout {
        inner: std::io::BufWriter::new(std::io::stdout().lock()),
        closed: closed.clone(),
    };
    let printed = async {
        let mut printer = format.printer(stdout);
        printer.begin(&stream.schema())?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(crate::engine::user_error)?;
            rows += batch.num_rows() as u64;
            printer.batch(&batch)?;
        }
        printer.finish()?;
        Ok::<_, anyhow::Error>(rows)
    }
    .await;
    // The writers (arrow's CSV writer among them) turn I/O errors into text; the reader
    // going away is told by the watch, not by the error.
    if closed.get() {
        return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
    }
    printed
}

/// stdout that remembers whether the reader went away (`seslog ... | head`).
struct WatchedStdout<W: Write> {
    inner: W,
    closed: Rc<Cell<bool>>,
}

impl<W: Write> WatchedStdout<W> {
    fn watch<T>(&self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.closed.set(true);
        }
        result
    }
}

impl<W: Write> Write for WatchedStdout<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.inner.write(buf);
        self.watch(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.inner.flush();
        self.watch(result)
    }
}
