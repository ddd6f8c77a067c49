//! `seslog cache`: what the object cache holds, and `seslog cache clear` to empty it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use seslog_engine::source::ObjectCache;

use crate::config::{CachePlan, Config};

/// Show the object cache: where it is, how many objects and listings it holds, its size
/// and cap. Objects fetched from S3 are kept there and read from disk next time (Firehose
/// never rewrites an object); `--offline` answers from it alone.
///
/// Example: seslog cache
/// Example: seslog cache clear
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Remove every cached object and listing.
    Clear,
}

pub fn run(args: &Args, config: &Config) -> Result<ExitCode> {
    let CachePlan::At { settings, .. } = &config.cache else {
        return Err(anyhow!(
            "the cache is off (--no-cache, or no HOME to put it under): give --cache-dir DIR"
        ));
    };
    let cache = ObjectCache::open(settings).map_err(|e| {
        anyhow!(
            "the cache directory {} cannot be used: {e}",
            settings.dir.display()
        )
    })?;
    let mut out = std::io::stdout().lock();
    match args.action {
        None => {
            let usage = cache.usage()?;
            writeln!(out, "cache:    {}", cache.dir().display())?;
            writeln!(
                out,
                "objects:  {} ({} of at most {})",
                usage.objects,
                human(usage.object_bytes),
                human(cache.max_bytes())
            )?;
            writeln!(out, "listings: {}", usage.listings)?;
        }
        Some(Action::Clear) => {
            let removed = cache.clear()?;
            writeln!(
                out,
                "removed {} objects ({}) and {} listings from {}",
                removed.objects,
                human(removed.object_bytes),
                removed.listings,
                cache.dir().display()
            )?;
        }
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}

/// Bytes in units of 1000, as `du --si` and S3's console show them.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}
