//! The subcommands, one module each, all the same shape: an `Args` struct whose doc comment
//! is its help, and a `run` that reads top to bottom: args -> source -> table -> query ->
//! print. Shared steps live here.

pub mod report;
pub mod sql;

use std::cell::Cell;
use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Result;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::engine::Engine;
use crate::output::{self, Format, Printer};
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
            Command::Bounces(args) => report::bounces(args, &config).await,
            Command::Complaints(args) => report::windowed("complaints", args, &config).await,
            Command::Recipient(args) => report::recipient(args, &config).await,
            Command::Message(args) => report::message(args, &config).await,
            Command::Delays(args) => report::windowed("delays", args, &config).await,
            Command::Rejects(args) => report::windowed("rejects", args, &config).await,
            Command::Failures(args) => report::windowed("failures", args, &config).await,
            Command::Summary(args) => report::windowed("summary", args, &config).await,
            Command::Domains(args) => report::windowed("domains", args, &config).await,
            Command::Suppression(args) => report::windowed("suppression", args, &config).await,
            Command::Check(args) => report::check(args, &config).await,
            Command::Reports(args) => report::list(args, &config),
            Command::Run(args) => report::run(args, &config).await,
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
    let location = config.location.clone().ok_or_else(|| {
        UsageError(
            "no source: pass --source DIR or --source s3://bucket[/prefix] (or set SESLOG_SOURCE)"
                .into(),
        )
    })?;
    let source = Source::open(location, &config.s3).await?;
    Ok(Engine::new(source, config.layout.clone(), config.strict)?)
}

/// After a query: names every skipped record and damaged object on stderr, then the
/// stats when asked.
pub fn report_after(engine: &Engine, config: &Config, rows: u64, elapsed: Duration) -> Result<()> {
    let stderr = &mut std::io::stderr().lock();
    output::report_problems(&engine.diagnostics, stderr)?;
    if config.stats {
        output::report_stats(&engine.source.counters, rows, elapsed, stderr)?;
    }
    Ok(())
}

/// A printer on stdout that can tell a closed pipe from a real error.
pub struct StdoutSink {
    pub printer: Box<dyn Printer>,
    closed: Rc<Cell<bool>>,
}

impl StdoutSink {
    pub fn new(format: Format) -> Self {
        let closed = Rc::new(Cell::new(false));
        let out = WatchedStdout {
            inner: std::io::BufWriter::new(std::io::stdout()),
            closed: closed.clone(),
        };
        StdoutSink {
            printer: format.printer(out),
            closed,
        }
    }

    /// The writers (arrow's CSV writer among them) turn I/O errors into text; the reader
    /// going away (`seslog ... | head`) is told by the watch, not by the error.
    pub fn outcome<T>(&self, result: Result<T>) -> Result<T> {
        if self.closed.get() {
            return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
        }
        result
    }
}

/// Prints whole batches (with their schema, so an empty result still has a header).
pub fn print_batches(schema: &SchemaRef, batches: &[RecordBatch], format: Format) -> Result<()> {
    let mut sink = StdoutSink::new(format);
    let printed = (|| {
        sink.printer.begin(schema)?;
        for batch in batches {
            sink.printer.batch(batch)?;
        }
        sink.printer.finish()?;
        Ok(())
    })();
    sink.outcome(printed)
}

/// stdout that remembers whether the reader went away.
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
