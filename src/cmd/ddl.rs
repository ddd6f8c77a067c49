//! `seslog athena-ddl`: the Athena `CREATE EXTERNAL TABLE` over the same objects, printed.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use seslog_engine::source::Location;

use crate::config::Config;
use crate::error::{UsageError, explain};

/// Print the Athena `CREATE EXTERNAL TABLE` (partition projection from --layout) that
/// gives Athena the same `seslogs` table over the same objects.
///
/// Example: seslog --layout 'partitioned/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd}/' athena-ddl --bucket s3://my-ses-logs/
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the objects are: s3://bucket[/prefix]. Default: --source, when it is on S3.
    #[arg(long, value_name = "S3_URL")]
    pub bucket: Option<String>,
    /// The table name.
    #[arg(long, default_value = "seslogs")]
    pub table: String,
    /// The first day partition projection offers (yyyy/MM/dd); the range ends at NOW.
    #[arg(long, value_name = "DAY", default_value = "2020/01/01")]
    pub first_day: String,
}

pub fn run(args: &Args, config: &Config) -> Result<ExitCode> {
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
    let ddl = seslog_engine::ddl::create_table(&config.layout, &url, &args.table, &args.first_day)
        .map_err(explain)?;
    std::io::stdout().lock().write_all(ddl.as_bytes())?;
    Ok(ExitCode::from(crate::exit::SUCCESS))
}
