//! `Config`: the decisions made once from what the user typed and the environment (the
//! source parsed, the layout parsed, the output format chosen from whether stdout is a
//! terminal). Nothing below this reads the environment or asks about the terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use anyhow::{Context, Result, anyhow};

use clap::ValueEnum;

use crate::cli::{ArgOrigins, Cli, ColorArg, FormatArg};
use crate::decode::Tolerance;
use crate::layout::{DEFAULT_LAYOUT, FirehoseLayout};
use crate::output::{Format, PrintOptions};
use crate::settings::{self, Setting};
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
    pub tolerance: Tolerance,
    /// Skip records by their raw bytes (`--no-prefilter` turns it off, to compare).
    pub prefilter: bool,
    pub stats: bool,
    /// Where users' own reports are: `--queries DIR`, then `~/.config/seslog/queries/`.
    pub query_dirs: Vec<PathBuf>,
    /// "Now", decided once, for windows like `--since 24h`.
    pub now: DateTime<Utc>,
    /// Every setting with where it came from, for `seslog config`.
    pub settings: Vec<Setting>,
    pub progress: ProgressMode,
    /// `seslog sql` with no query on a terminal opens the shell.
    pub stdin_is_terminal: bool,
}

/// How progress is shown on stderr while a scan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Off,
    /// stderr is a terminal: one line, redrawn in place.
    Terminal,
    /// `-v` when stderr is not a terminal: a plain line a second.
    Lines,
}

/// Picks the first of (value, origin) candidates that has a value: flags and environment
/// first (clap already put a flag before its variable), then the config file, then none.
fn first(candidates: Vec<(Option<String>, String)>) -> Option<(String, String)> {
    candidates
        .into_iter()
        .find_map(|(v, o)| v.filter(|v| !v.is_empty()).map(|v| (v, o)))
}

fn parse_format(text: &str, origin: &str) -> Result<Format> {
    FormatArg::from_str(text, true).map(format_of).map_err(|_| {
        anyhow!("{origin}: format {text:?} is not one of table, csv, tsv, json, ndjson, parquet")
    })
}

pub fn format_of(f: FormatArg) -> Format {
    match f {
        FormatArg::Table => Format::Table,
        FormatArg::Csv => Format::Csv,
        FormatArg::Tsv => Format::Tsv,
        FormatArg::Json => Format::Json,
        FormatArg::Ndjson => Format::Ndjson,
        FormatArg::Parquet => Format::Parquet,
    }
}

impl Config {
    pub fn from_cli(cli: &Cli, origins: &ArgOrigins) -> Result<Self> {
        let file = settings::load(cli.config.as_deref())?;
        let data = file.as_ref().map(|f| f.data.clone()).unwrap_or_default();
        let file_name = file
            .as_ref()
            .map_or_else(String::new, |f| f.path.display().to_string());
        let from_file = |what: &str| format!("config {file_name} {what}");
        let flag = |id: &str| origins.of(id).unwrap_or("default").to_string();
        let mut shown: Vec<Setting> = Vec::new();

        // The source: a name from the config file or a URL/path.
        let (source_text, source_origin) = match first(vec![
            (cli.source.clone(), flag("source")),
            (data.default_source.clone(), from_file("default_source")),
        ]) {
            Some((text, origin)) => (Some(text), origin),
            None => (None, "default (none)".to_string()),
        };
        let named = source_text
            .as_ref()
            .and_then(|t| data.sources.get(t).map(|n| (t.clone(), n.clone())));
        let section = |what: &str| match &named {
            Some((name, _)) => from_file(&format!("[sources.{name}] {what}")),
            None => String::new(),
        };
        let url = match &named {
            Some((_, n)) => Some(n.url.clone()),
            None => source_text.clone(),
        };
        let location = match &url {
            Some(u) => Some(Location::parse(u).map_err(|e| anyhow!("--source: {e}"))?),
            None => None,
        };
        let url_origin = match &named {
            Some(_) => format!(
                "{} (source {:?} picked by {source_origin})",
                section("url"),
                source_text.as_deref().unwrap_or("")
            ),
            None => source_origin.clone(),
        };
        shown.push(Setting {
            key: "source",
            value: url.clone().unwrap_or_default(),
            origin: url_origin,
        });

        let n = named.as_ref().map(|(_, n)| n.clone());
        let (expression, layout_origin) = first(vec![
            (cli.layout.clone(), flag("layout")),
            (n.as_ref().and_then(|n| n.layout.clone()), section("layout")),
            (data.layout.clone(), from_file("layout")),
        ])
        .unwrap_or_else(|| (DEFAULT_LAYOUT.to_string(), "default".into()));
        let layout = FirehoseLayout::parse(&expression)
            .with_context(|| format!("layout from {layout_origin}"))?;
        shown.push(Setting {
            key: "layout",
            value: expression,
            origin: layout_origin,
        });

        let endpoint = first(vec![
            (cli.endpoint.clone(), flag("endpoint")),
            (
                n.as_ref().and_then(|n| n.endpoint.clone()),
                section("endpoint"),
            ),
        ]);
        if let Some((url, origin)) = &endpoint {
            check_endpoint(url).with_context(|| format!("endpoint `{url}` from {origin}"))?;
        }
        // Region and profile: a flag wins; then AWS's own variables, which the AWS SDK
        // reads itself; only then the config file.
        let aws_env = |vars: &[&str]| {
            vars.iter().find_map(|v| {
                std::env::var(v)
                    .ok()
                    .filter(|x| !x.is_empty())
                    .map(|x| (x, format!("environment {v}")))
            })
        };
        let region = first(vec![(cli.region.clone(), flag("region"))])
            .or_else(|| aws_env(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
            .or_else(|| {
                first(vec![(
                    n.as_ref().and_then(|n| n.region.clone()),
                    section("region"),
                )])
            });
        let profile = first(vec![(cli.profile.clone(), flag("profile"))])
            .or_else(|| aws_env(&["AWS_PROFILE"]))
            .or_else(|| {
                first(vec![(
                    n.as_ref().and_then(|n| n.profile.clone()),
                    section("profile"),
                )])
            });
        for (key, v) in [
            ("endpoint", &endpoint),
            ("region", &region),
            ("profile", &profile),
        ] {
            let (value, origin) = v
                .clone()
                .unwrap_or_else(|| (String::new(), "default (AWS SDK)".into()));
            shown.push(Setting { key, value, origin });
        }
        let from_env = |v: &Option<(String, String)>| {
            v.as_ref()
                .filter(|(_, o)| !o.starts_with("environment AWS_"))
                .map(|(x, _)| x.clone())
        };

        let stdout_is_terminal = std::io::stdout().is_terminal();
        let (format, format_origin) = match (cli.format, &cli.output) {
            (Some(f), _) => (format_of(f), flag("format")),
            (None, Some(path)) => (
                Format::from_path(path).ok_or_else(|| {
                    anyhow!(
                        "--output {}: cannot tell the format from the name; give --format (csv, tsv, json, ndjson, parquet, table)",
                        path.display()
                    )
                })?,
                "--output's extension".to_string(),
            ),
            (None, None) => match first(vec![
                (n.as_ref().and_then(|n| n.format.clone()), section("format")),
                (data.format.clone(), from_file("format")),
            ]) {
                Some((text, origin)) => (parse_format(&text, &origin)?, origin),
                None if stdout_is_terminal => (Format::Table, "default (stdout is a terminal)".into()),
                None => (Format::Csv, "default (stdout is not a terminal)".into()),
            },
        };
        shown.push(Setting {
            key: "format",
            value: format!("{format:?}").to_lowercase(),
            origin: format_origin,
        });
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
        let query_dirs = query_dirs(cli.queries.as_deref());
        shown.push(Setting {
            key: "queries",
            value: query_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            origin: origins
                .of("queries")
                .map_or("default".into(), |o| format!("default + {o}")),
        });
        shown.push(Setting {
            key: "config",
            value: file_name.clone(),
            origin: match (&file, origins.of("config")) {
                (None, _) => "none found".into(),
                (Some(_), Some(o)) => o.to_string(),
                (Some(_), None) => "default location".into(),
            },
        });
        Ok(Config {
            location,
            layout,
            s3: S3Settings {
                endpoint: endpoint.map(|(e, _)| e),
                // AWS's own variables are left to the SDK (it reads them itself).
                region: from_env(&region),
                profile: from_env(&profile),
                timeout: std::time::Duration::from_secs_f64(cli.s3_timeout),
                retries: cli.s3_retries,
            },
            format,
            print,
            output: cli.output.clone(),
            tolerance: Tolerance {
                strict: cli.strict,
                keep_damaged: cli.keep_damaged,
            },
            prefilter: !cli.no_prefilter,
            stats: cli.stats,
            query_dirs,
            now: Utc::now(),
            settings: shown,
            stdin_is_terminal: std::io::stdin().is_terminal(),
            progress: match (std::io::stderr().is_terminal(), cli.verbose) {
                // Not over rows streaming to the same terminal; the table prints at the end.
                (true, _)
                    if stdout_is_terminal && cli.output.is_none() && format != Format::Table =>
                {
                    ProgressMode::Off
                }
                (true, _) => ProgressMode::Terminal,
                (false, true) => ProgressMode::Lines,
                (false, false) => ProgressMode::Off,
            },
        })
    }
}

/// An S3 endpoint must be an http(s) URL with a host: anything else would fail deep inside
/// the request signer.
fn check_endpoint(text: &str) -> Result<()> {
    let url = url::Url::parse(text).map_err(|e| {
        anyhow::anyhow!(
            "not a URL ({e}); expected e.g. http://localhost:9000 or https://s3.example.com"
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        anyhow::bail!(
            "not an http:// or https:// URL with a host; expected e.g. http://localhost:9000"
        );
    }
    Ok(())
}

/// `--queries DIR` first, then the XDG config directory's `seslog/queries/`.
fn query_dirs(flag: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(home) = settings::config_home() {
        dirs.push(home.join("seslog").join("queries"));
    }
    // Later directories win on a name clash: the flag beats the config directory.
    if let Some(dir) = flag {
        dirs.push(dir.to_path_buf());
    }
    dirs
}
