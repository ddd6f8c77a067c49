//! `Config`: the decisions made once from what the user typed and the environment (the
//! source parsed, the layout parsed, the output format chosen from whether stdout is a
//! terminal). Nothing below this reads the environment or asks about the terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use anyhow::{Context, Result, anyhow};

use crate::cli::{Cli, ColorArg, FormatArg};
use crate::layout::{DEFAULT_LAYOUT, FirehoseLayout};
use crate::output::{Format, PrintOptions};
use crate::source::{Location, S3Settings};

#[derive(Debug, Clone)]
pub struct Config {
    /// `None` until a command that reads logs needs it (`seslog reports` does not).
    pub location: Option<Location>,
    pub layout: FirehoseLayout,
    pub s3: S3Settings,
    pub format: Format,
    pub print: PrintOptions,
    /// `--output FILE`: where the result goes instead of stdout.
    pub output: Option<PathBuf>,
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
        let stdout_is_terminal = std::io::stdout().is_terminal();
        let format = match (cli.format, &cli.output) {
            (Some(f), _) => match f {
                FormatArg::Table => Format::Table,
                FormatArg::Csv => Format::Csv,
                FormatArg::Tsv => Format::Tsv,
                FormatArg::Json => Format::Json,
                FormatArg::Ndjson => Format::Ndjson,
                FormatArg::Parquet => Format::Parquet,
            },
            (None, Some(path)) => Format::from_path(path).ok_or_else(|| {
                anyhow!(
                    "--output {}: cannot tell the format from the name; give --format (csv, tsv, json, ndjson, parquet, table)",
                    path.display()
                )
            })?,
            (None, None) if stdout_is_terminal => Format::Table,
            (None, None) => Format::Csv,
        };
        if format == Format::Parquet && cli.output.is_none() && stdout_is_terminal {
            return Err(anyhow!(
                "--format parquet is binary: write it with --output FILE.parquet or redirect stdout"
            ));
        }
        let color = match cli.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                stdout_is_terminal
                    && cli.output.is_none()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        let print = PrintOptions {
            header: !cli.no_header,
            max_rows: match cli.max_rows {
                Some(0) => None,
                Some(n) => Some(n),
                None => Some(1000),
            },
            color,
            // A terminal sizes the table itself; elsewhere `COLUMNS` says how wide to be.
            width: if stdout_is_terminal {
                None
            } else {
                std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .filter(|&w: &u16| w >= 20)
            },
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
            print,
            output: cli.output.clone(),
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
