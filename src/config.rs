//! `Config`: the decisions made once from what the user typed and the environment (the
//! source parsed, the layout parsed, the output format chosen from whether stdout is a
//! terminal). Nothing below this reads the environment or asks about the terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use anyhow::{Context, Result, anyhow};

use crate::cli::{Cli, FormatArg};
use crate::layout::{DEFAULT_LAYOUT, FirehoseLayout};
use crate::output::Format;
use crate::source::{Location, S3Settings};

#[derive(Debug, Clone)]
pub struct Config {
    /// `None` until a command that reads logs needs it (`seslog reports` does not).
    pub location: Option<Location>,
    pub layout: FirehoseLayout,
    pub s3: S3Settings,
    pub format: Format,
    pub strict: bool,
    pub stats: bool,
    /// Where users' own reports are: `--queries DIR`, then `~/.config/seslog/queries/`.
    pub query_dirs: Vec<PathBuf>,
    /// "Now", decided once, for windows like `--since 24h`.
    pub now: DateTime<Utc>,
}

impl Config {
    pub fn from_cli(cli: &Cli) -> Result<Self> {
        let location = match cli.source.as_deref().filter(|s| !s.is_empty()) {
            Some(source) => Some(Location::parse(source).map_err(|e| anyhow!("--source: {e}"))?),
            None => None,
        };
        let expression = cli.layout.as_deref().unwrap_or(DEFAULT_LAYOUT);
        let layout = FirehoseLayout::parse(expression).context("--layout")?;
        let format = match cli.format {
            Some(FormatArg::Table) => Format::Table,
            Some(FormatArg::Csv) => Format::Csv,
            Some(FormatArg::Json) => Format::Json,
            Some(FormatArg::Ndjson) => Format::Ndjson,
            None if std::io::stdout().is_terminal() => Format::Table,
            None => Format::Csv,
        };
        Ok(Config {
            location,
            layout,
            s3: S3Settings {
                endpoint: cli.endpoint.clone().filter(|e| !e.is_empty()),
                region: cli.region.clone(),
                profile: cli.profile.clone(),
            },
            format,
            strict: cli.strict,
            stats: cli.stats,
            query_dirs: query_dirs(cli.queries.as_deref()),
            now: Utc::now(),
        })
    }
}

/// `--queries DIR` first, then the XDG config directory's `seslog/queries/`.
fn query_dirs(flag: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(home) = config_home {
        dirs.push(home.join("seslog").join("queries"));
    }
    // Later directories win on a name clash: the flag beats the config directory.
    if let Some(dir) = flag {
        dirs.push(dir.to_path_buf());
    }
    dirs
}
