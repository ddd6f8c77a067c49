//! The subcommands, one module each, all the same shape: an `Args` struct whose doc comment
//! is its help, and a `run` that reads top to bottom: args -> source -> table -> query ->
//! print. Shared steps live here.

pub mod report;
pub mod shell;
pub mod sql;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::CommandFactory;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use tempfile::TempPath;

use crate::cli::{ArgOrigins, Cli, Command, Shell};
use crate::config::{Config, ProgressMode};
use crate::diagnostics::Progress;
use crate::engine::{Engine, user_error};
use crate::output::{self, Printer};
use crate::source::{Location, Source};
use datafusion::logical_expr::LogicalPlan;
use futures::StreamExt;

/// Runs the parsed command line; the error, if any, is printed by `main`.
pub fn run(cli: Cli, origins: &ArgOrigins) -> Result<ExitCode> {
    match &cli.command {
        Command::Completions { shell } => return completions(*shell),
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout().lock())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let config =
        Arc::new(Config::from_cli(&cli, origins).map_err(|e| UsageError(format!("{e:#}")))?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        // The command runs in a task of its own, so Ctrl-C is heard even while a scan keeps
        // every worker busy.
        let task = tokio::spawn(run_command(cli.command, config));
        tokio::select! {
            joined = task => joined.map_err(|e| anyhow::anyhow!("the query task failed: {e}"))?,
            _ = tokio::signal::ctrl_c() => {
                remove_partial_outputs();
                Ok(ExitCode::from(crate::exit::INTERRUPTED))
            }
        }
    });
    // Do not wait for a scan that is still running after Ctrl-C.
    runtime.shutdown_background();
    result
}

/// `--output` temporary files not yet moved into place, removed on Ctrl-C (the task that
/// owns them may still be busy and would drop them too late).
static PARTIAL_OUTPUTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn remove_partial_outputs() {
    for path in PARTIAL_OUTPUTS
        .lock()
        .expect("partial outputs lock")
        .drain(..)
    {
        let _ = std::fs::remove_file(path);
    }
}

fn completions(shell: Shell) -> Result<ExitCode> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    // clap_complete panics when its writer fails (`seslog completions bash | head -1`):
    // generate into memory, then write, so a closed pipe is an ordinary error (exit 0).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "seslog", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

async fn run_command(command: Command, config: Arc<Config>) -> Result<ExitCode> {
    let config = config.as_ref();
    match command {
        Command::Sql(args)
            if args.query.is_none() && args.file.is_none() && config.stdin_is_terminal =>
        {
            shell::run(shell::Args {}, config).await
        }
        Command::Sql(args) => sql::run(args, config).await,
        Command::Shell(args) => shell::run(args, config).await,
        Command::Bounces(args) => report::bounces(args, config).await,
        Command::Complaints(args) => report::windowed("complaints", args, config).await,
        Command::Recipient(args) => report::recipient(args, config).await,
        Command::Message(args) => report::message(args, config).await,
        Command::Delays(args) => report::windowed("delays", args, config).await,
        Command::Rejects(args) => report::windowed("rejects", args, config).await,
        Command::Failures(args) => report::windowed("failures", args, config).await,
        Command::Summary(args) => report::windowed("summary", args, config).await,
        Command::Domains(args) => report::windowed("domains", args, config).await,
        Command::Suppression(args) => report::windowed("suppression", args, config).await,
        Command::Check(args) => report::check(args, config).await,
        Command::Reports(args) => report::list(args, config),
        Command::Run(args) => report::run(args, config).await,
        Command::Config => {
            let mut out = std::io::stdout().lock();
            output::print_settings(&config.settings, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::AthenaDdl(args) => athena_ddl(&args, config),
        Command::Completions { .. } | Command::Man => {
            unreachable!("completions and man are answered before the runtime starts")
        }
    }
}

fn athena_ddl(args: &crate::cli::AthenaDdlArgs, config: &Config) -> Result<ExitCode> {
    let location = match &args.bucket {
        Some(url) => Location::parse(url).map_err(|e| UsageError(format!("--bucket: {e}")))?,
        None => config.location.clone().ok_or_else(|| {
            UsageError("athena-ddl needs the S3 location: --bucket s3://bucket[/prefix]".into())
        })?,
    };
    if !matches!(location, Location::S3 { .. }) {
        return Err(UsageError(
            "athena-ddl needs an S3 location (Athena reads S3 only): --bucket s3://bucket[/prefix]"
                .into(),
        )
        .into());
    }
    // Location displays as s3://bucket[/prefix]; Athena's LOCATION is a folder.
    let url = format!("{location}/");
    let ddl = crate::ddl::create_table(&config.layout, &url, &args.table, &args.first_day)
        .map_err(UsageError)?;
    std::io::stdout().lock().write_all(ddl.as_bytes())?;
    Ok(ExitCode::SUCCESS)
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
    Ok(Engine::new(
        source,
        config.layout.clone(),
        config.tolerance,
        config.prefilter,
    )?)
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

/// The progress line on stderr while a scan runs: redrawn in place when stderr is a
/// terminal, a plain line a second with `-v` otherwise, nothing else.
pub struct Ticker {
    task: Option<tokio::task::JoinHandle<()>>,
    mode: ProgressMode,
    progress: Arc<Progress>,
    started: std::time::Instant,
}

impl Ticker {
    pub fn start(engine: &Engine, config: &Config) -> Ticker {
        let mode = config.progress;
        let progress = engine.progress.clone();
        let started = std::time::Instant::now();
        if mode == ProgressMode::Off {
            return Ticker {
                task: None,
                mode,
                progress,
                started,
            };
        }
        let period = match mode {
            ProgressMode::Terminal => Duration::from_millis(200),
            _ => Duration::from_secs(1),
        };
        let shared = progress.clone();
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.tick().await;
            loop {
                interval.tick().await;
                output::show_progress(mode, &shared.line(started.elapsed()));
            }
        });
        Ticker {
            task: Some(task),
            mode,
            progress,
            started,
        }
    }

    /// Stops the line (and clears it on a terminal) before the result is printed.
    pub fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // With -v the last figures stay, as a line of their own; a terminal's is cleared.
            if self.mode == ProgressMode::Lines {
                output::show_progress(self.mode, &self.progress.line(self.started.elapsed()));
            }
            output::end_progress(self.mode);
        }
    }
}

/// Where a result goes: stdout, or `--output FILE` through a temporary file beside it that
/// is renamed into place only when everything was written (a failed or interrupted run
/// leaves no file, not even a partial one). stdout is held back the same way up to
/// `HELD_STDOUT` bytes: a run that fails writes nothing to stdout (no CSV header before an
/// error), unless its result was already larger than that and streaming.
pub struct Sink {
    pub printer: Box<dyn Printer + Send>,
    stdout: Option<Arc<Mutex<HeldStdout>>>,
    target: Option<(TempPath, PathBuf)>,
}

/// stdout held back until the run ends well or the result outgrows this.
const HELD_STDOUT: usize = 16 << 20;

impl Sink {
    pub fn open(config: &Config) -> Result<Self> {
        let Some(path) = &config.output else {
            let held = Arc::new(Mutex::new(HeldStdout::default()));
            let out = SharedStdout(held.clone());
            return Ok(Sink {
                printer: config.format.printer(out, &config.print),
                stdout: Some(held),
                target: None,
            });
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".seslog-")
            .suffix(".partial")
            .tempfile_in(dir)
            .with_context(|| {
                format!(
                    "--output {}: cannot write in {}",
                    path.display(),
                    dir.display()
                )
            })?;
        let (file, temp_path) = temp.into_parts();
        PARTIAL_OUTPUTS
            .lock()
            .expect("partial outputs lock")
            .push(temp_path.to_path_buf());
        let out = std::io::BufWriter::new(file);
        Ok(Sink {
            printer: config.format.printer(out, &config.print),
            stdout: None,
            target: Some((temp_path, path.clone())),
        })
    }

    /// Ends the output: on success what was held is written (the file moved into place);
    /// on failure it is dropped (the file removed). The writers (arrow's CSV writer among
    /// them) turn I/O errors into text, so the reader going away (`seslog ... | head`) is
    /// told by the watch, not by the error.
    pub fn close<T>(mut self, result: Result<T>) -> Result<T> {
        let held = self.stdout.take();
        let closed = |held: &Option<Arc<Mutex<HeldStdout>>>| {
            held.as_ref()
                .is_some_and(|h| h.lock().expect("stdout lock").closed)
        };
        if closed(&held) {
            return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
        }
        let value = result?;
        if let Some(held) = &held {
            let released = held.lock().expect("stdout lock").release();
            if released.is_err() && closed(&Some(held.clone())) {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
            }
            released?;
        }
        if let Some((temp, path)) = self.target.take() {
            PARTIAL_OUTPUTS
                .lock()
                .expect("partial outputs lock")
                .retain(|p| p != &*temp);
            temp.persist(&path)
                .with_context(|| format!("--output {}", path.display()))?;
        }
        Ok(value)
    }
}

/// stdout, held back (see `Sink`), remembering whether the reader went away.
#[derive(Default)]
struct HeldStdout {
    held: Vec<u8>,
    /// Past `HELD_STDOUT`: bytes go straight out.
    streaming: Option<std::io::BufWriter<std::io::Stdout>>,
    closed: bool,
}

impl HeldStdout {
    fn watch<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.closed = true;
        }
        result
    }

    fn stream(&mut self) -> std::io::Result<&mut std::io::BufWriter<std::io::Stdout>> {
        if self.streaming.is_none() {
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let held = std::mem::take(&mut self.held);
            let written = out.write_all(&held);
            self.watch(written)?;
            self.streaming = Some(out);
        }
        Ok(self.streaming.as_mut().expect("set above"))
    }

    /// The run went well: everything out.
    fn release(&mut self) -> std::io::Result<()> {
        let result = self.stream().and_then(|out| out.flush());
        self.watch(result)
    }
}

/// The printer's handle on the held stdout.
struct SharedStdout(Arc<Mutex<HeldStdout>>);

impl Write for SharedStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut held = self.0.lock().expect("stdout lock");
        if held.streaming.is_none() && held.held.len() + buf.len() <= HELD_STDOUT {
            held.held.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let result = held.stream().and_then(|out| out.write(buf));
        held.watch(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut held = self.0.lock().expect("stdout lock");
        let result = match held.streaming.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        };
        held.watch(result)
    }
}

/// Runs a plan and streams its result to the sink batch by batch (the table view prints
/// at the end), with the progress line while rows are coming. Returns the row count.
pub async fn print_plan(engine: &Engine, plan: LogicalPlan, config: &Config) -> Result<u64> {
    let mut stream = engine.execute(plan).await.map_err(user_error)?;
    let mut sink = Sink::open(config)?;
    let ticker = Ticker::start(engine, config);
    let streamed = async {
        sink.printer.begin(&stream.schema())?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(user_error)?;
            rows += batch.num_rows() as u64;
            engine
                .progress
                .rows
                .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            sink.printer.batch(&batch)?;
        }
        Ok::<_, anyhow::Error>(rows)
    }
    .await;
    ticker.stop();
    let printed = streamed.and_then(|rows| {
        sink.printer.finish()?;
        Ok(rows)
    });
    sink.close(printed)
}

/// Prints whole batches (with their schema, so an empty result still has a header).
pub fn print_batches(config: &Config, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let mut sink = Sink::open(config)?;
    let printed = (|| {
        sink.printer.begin(schema)?;
        for batch in batches {
            sink.printer.batch(batch)?;
        }
        sink.printer.finish()?;
        Ok(())
    })();
    sink.close(printed)
}
