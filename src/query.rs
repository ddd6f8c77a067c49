//! Running a query and printing it: the one path `sql`, the reports and the shell take.
//! Open the engine on the configured source, run a plan with the progress line on stderr,
//! stream the batches to the sink, then name what could not be read and the stats.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::error::explain;
use anyhow::Result;
use datafusion::arrow::array::RecordBatch;
use datafusion::logical_expr::LogicalPlan;
use futures::StreamExt;
use seslog_engine::engine::Engine;
use seslog_engine::source::{Location, ObjectCache, Source};
use seslog_engine::table::diagnostics::Progress;
use seslog_engine::tier::Tier;
use std::io::Write;

use crate::config::{CachePlan, Config};
use crate::error::UsageError;
use crate::output::{self, ProgressMode, View};
use crate::sink::Sink;

/// Opens the source and registers `seslogs` on a fresh engine.
pub async fn open_engine(config: &Config) -> Result<Engine> {
    let source = open_source(config).await?;
    let tier = open_tier(config, &source, false).await?;
    let mut engine = Engine::new(
        source,
        config.layout.clone(),
        config.tolerance,
        config.prefilter,
        tier,
    )?;
    engine.with_error_layout(config.error_layout.clone())?;
    if let Some(workers) = &config.workers {
        engine
            .distribute(workers.clone(), &config.s3)
            .await
            .map_err(explain)?;
    }
    Ok(engine)
}

/// Opens the configured source, with the object cache for S3.
pub async fn open_source(config: &Config) -> Result<Source> {
    let location = config.location.clone().ok_or_else(|| {
        UsageError(
            "no source: pass --source DIR or --source s3://bucket[/prefix] (or set SESLOG_SOURCE)"
                .into(),
        )
    })?;
    let mut s3 = config.s3.clone();
    if matches!(location, Location::S3 { .. }) {
        s3.cache = open_cache(config)?;
    }
    s3.offline = config.offline;
    Ok(Source::open(location, &s3).await?)
}

/// The Parquet tier, when one is configured; `create`: make a local one that is not there
/// yet (compaction). Offline, a tier on S3 is not read (nothing is fetched): the answer
/// comes from the cached objects, and a note says so.
pub async fn open_tier(
    config: &Config,
    source: &Source,
    create: bool,
) -> Result<Option<Arc<Tier>>> {
    let Some(location) = &config.tier else {
        return Ok(None);
    };
    if config.offline && matches!(location, Location::S3 { .. }) {
        source.notice(format!(
            "offline: the Parquet tier {location} is not read; the answer comes from the cached objects"
        ));
        return Ok(None);
    }
    let tier = Tier::open(location.clone(), &config.s3, create)
        .await
        .map_err(explain)?;
    Ok(Some(Arc::new(tier)))
}

/// The object cache for an S3 source. One the user named must open; the default one that
/// cannot (a read-only home) is skipped with a warning, except offline, which needs it.
pub fn open_cache(config: &Config) -> Result<Option<Arc<ObjectCache>>> {
    let CachePlan::At { settings, named_by } = &config.cache else {
        if config.offline {
            return Err(UsageError(
                "--offline reads the cache: it cannot go with --no-cache".into(),
            )
            .into());
        }
        return Ok(None);
    };
    match ObjectCache::open(settings) {
        Ok(cache) => Ok(Some(Arc::new(cache))),
        Err(e) => {
            let dir = settings.dir.display();
            match named_by {
                Some(origin) => Err(anyhow::anyhow!(
                    "the cache directory {dir} (from {origin}) cannot be used: {e}"
                )),
                None if config.offline => Err(anyhow::anyhow!(
                    "--offline: the cache directory {dir} cannot be used: {e}"
                )),
                None => {
                    eprintln!(
                        "seslog: warning: the cache directory {dir} cannot be used ({e}); \
                         objects are fetched from S3 every time (set --cache-dir, or --no-cache)"
                    );
                    Ok(None)
                }
            }
        }
    }
}

/// After a query: names every skipped record and damaged object on stderr, then the
/// stats when asked.
pub fn report_after(engine: &Engine, config: &Config, rows: u64, elapsed: Duration) -> Result<()> {
    let stderr = &mut std::io::stderr().lock();
    for notice in engine.source.notices() {
        writeln!(stderr, "seslog: note: {notice}")?;
    }
    output::report_problems(&engine.diagnostics, stderr)?;
    if config.stats {
        output::report_stats(
            &engine.source.counters,
            engine.tier.as_deref(),
            rows,
            elapsed,
            stderr,
        )?;
        if let Some(totals) = engine.worker_totals() {
            for (worker, (objects, bytes)) in &totals.read {
                writeln!(
                    stderr,
                    "seslog: stats: worker={worker} objects_read={objects} bytes_read={bytes}"
                )?;
            }
            writeln!(
                stderr,
                "seslog: stats: workers={} bytes_shipped={}",
                totals.read.len(),
                totals.shipped
            )?;
        }
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
    pub fn start(progress: &Arc<Progress>, config: &Config) -> Ticker {
        let mode = config.progress;
        let progress = Arc::clone(progress);
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

/// A query dropped part-way (the shell's Ctrl-C) stops its line too, and clears it.
impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            output::end_progress(self.mode);
        }
    }
}

/// Runs a plan and prints it, the one way every command does: batches stream to the sink
/// as they come (the table view prints at the end) with the progress line while rows are
/// coming, and `watch` sees each batch (`check` looks for a crossed threshold). Returns
/// the row count.
pub async fn print_plan(
    engine: &Engine,
    plan: LogicalPlan,
    config: &Config,
    view: View,
    watch: &mut (dyn FnMut(&RecordBatch) + Send),
) -> Result<u64> {
    let notes = crate::hints::for_plan(&plan);
    let mut stream = engine.execute(plan).await.map_err(explain)?;
    let mut sink = Sink::open(config, view)?;
    let ticker = Ticker::start(&engine.progress, config);
    let streamed = async {
        let schema = match &config.tz {
            Some(zone) => output::zoned_schema(&stream.schema(), zone),
            None => stream.schema(),
        };
        sink.printer.begin(&schema)?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let mut batch = batch.map_err(explain)?;
            if let Some(zone) = &config.tz {
                batch = output::in_zone(&batch, zone)?;
            }
            rows += batch.num_rows() as u64;
            engine
                .progress
                .rows
                .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            watch(&batch);
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
    let rows = sink.close(printed)?;
    for note in notes {
        eprintln!("seslog: note: {note}");
    }
    if rows == 0
        && let Some(note) = engine.misplaced_source().await
    {
        eprintln!("seslog: note: {note}");
    }
    Ok(rows)
}
