//! `seslog compact`: closed days of the source into the Parquet tier (`--parquet`).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use chrono::{Duration, NaiveDate};
use seslog_engine::table::diagnostics::{Diagnostics, Progress};
use seslog_engine::tier::compact::{self, CompactOptions, CompactReport};

use crate::config::Config;
use crate::error::{UsageError, explain};
use crate::output;
use crate::query::{Ticker, open_source, open_tier};

/// How long after a day ends Firehose may still deliver into its folder (it retries for
/// 24 hours): days are compacted by default once this has passed.
const SETTLED: Duration = Duration::hours(26);

/// Write closed days into the Parquet tier (--parquet), so queries read them without
/// decoding JSON. Every query with --parquet then reads a day's folder from the tier while
/// the tier holds exactly what the folder's objects hold, and the objects themselves
/// otherwise: the answer is always the raw objects' answer. Run it again to add what
/// arrived since (only what changed is written); it can be stopped and run again at any
/// point. Objects that cannot be read cleanly are named and left raw.
///
/// Example: seslog --source s3://my-ses-logs --parquet ~/ses-parquet compact --to 2024-11-20
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The first day to compact (default: the first there is).
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,

    /// Compact the days before this one (default: the days that ended more than 26 hours
    /// ago, since Firehose still delivers into a day's folder for a while after it ends).
    #[arg(long, value_name = "DATE")]
    pub to: Option<NaiveDate>,
}

pub async fn run(args: Args, config: &Config) -> Result<ExitCode> {
    if config.tier.is_none() {
        return Err(UsageError(
            "compact writes the Parquet tier: give --parquet DIR|s3://bucket[/prefix] (or set \
             SESLOG_PARQUET)"
                .into(),
        )
        .into());
    }
    let until = match args.to {
        Some(day) => day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc(),
        None => config.now - SETTLED,
    };
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        return Err(UsageError(format!(
            "--from {from} is not before --to {to}: nothing to compact"
        ))
        .into());
    }
    let source = open_source(config).await?;
    let tier = open_tier(config, &source, true)
        .await?
        .ok_or_else(|| anyhow!("--offline: a Parquet tier on S3 cannot be written offline"))?;
    let diagnostics = Diagnostics::new();
    let progress = Arc::new(Progress::default());
    let ticker = Ticker::start(&progress, config);
    let started = std::time::Instant::now();
    let options = CompactOptions {
        from: args.from,
        until,
    };
    let done = compact::compact(
        &source,
        &config.layout,
        &tier,
        &options,
        &diagnostics,
        &progress,
    )
    .await;
    ticker.stop();
    let report = done.map_err(explain)?;
    let stderr = &mut std::io::stderr().lock();
    output::report_problems(&diagnostics, stderr)?;
    writeln!(stderr, "seslog: {}", summary(&report, &tier.location))?;
    if config.stats {
        writeln!(
            stderr,
            "seslog: stats: folders={} made={} appended={} unchanged={} objects_read={} \
             objects_left_raw={} rows={} bytes_read={} parquet_bytes_written={} files_written={} \
             files_removed={} list_requests={} get_requests={} elapsed={:.3}s",
            report.folders,
            report.made,
            report.appended,
            report.unchanged,
            report.objects,
            report.objects_raw,
            report.rows,
            report.bytes_in,
            report.bytes_out,
            report.files_written,
            report.files_removed,
            source.counters.lists(),
            source.counters.gets(),
            started.elapsed().as_secs_f64(),
        )?;
    }
    if config.tolerance.strict && diagnostics.total() > 0 {
        return Err(anyhow!(
            "--strict: {} could not be read cleanly (named above); they were left out of the \
             tier and are read raw by every query",
            diagnostics.summary().unwrap_or_default()
        ));
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}

/// `compacted 14 folders into /tier (12 made, 1 with objects added, 1 unchanged): ...`.
fn summary(r: &CompactReport, tier: &seslog_engine::source::Location) -> String {
    let mut text = format!(
        "compacted {} closed folders into {tier} ({} made, {} with objects added, {} unchanged)",
        r.folders, r.made, r.appended, r.unchanged
    );
    if r.objects > 0 {
        text.push_str(&format!(
            ": {} objects, {} records, {:.1} MB -> {:.1} MB of Parquet",
            r.objects,
            r.rows,
            r.bytes_in as f64 / 1e6,
            r.bytes_out as f64 / 1e6
        ));
    }
    if r.objects_raw > 0 {
        text.push_str(&format!(
            "; {} objects left raw (named above; queries read them as they are)",
            r.objects_raw
        ));
    }
    text
}
