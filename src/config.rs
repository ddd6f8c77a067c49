//! `Config`: the decisions made once from what the user typed and the environment (the
//! source parsed, the layout parsed, the output format chosen from whether stdout is a
//! terminal). Nothing below this reads the environment or asks about the terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use anyhow::{Context, Result, anyhow};

use clap::ValueEnum;

use crate::cli::{ArgOrigins, ColorArg, GlobalArgs};
use crate::error::UsageError;
use crate::output::{Format, PrintOptions, ProgressMode};
use crate::settings::{self, FileConfig, NamedSource, Setting};
use seslog_engine::cluster::Workers;
use seslog_engine::source::{CacheSettings, Location, S3Settings};
use seslog_engine::table::decode::Tolerance;
use seslog_engine::table::errorlog;
use seslog_engine::table::layout::{DEFAULT_ERROR_LAYOUT, DEFAULT_LAYOUT, FirehoseLayout};

#[derive(Debug, Clone)]
pub struct Config {
    /// `None` until a command that reads logs needs it (`seslog reports` does not).
    pub location: Option<Location>,
    pub layout: FirehoseLayout,
    /// Where `errorlogs` reads (Firehose's error prefix).
    pub error_layout: FirehoseLayout,
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
    /// Where objects fetched from S3 are kept, if anywhere.
    pub cache: CachePlan,
    /// `--offline`: answer from the cache alone.
    pub offline: bool,
    /// The Parquet tier (`--parquet`), if one is used.
    pub tier: Option<Location>,
    /// `--workers`: where the scans run, if not in this process.
    pub workers: Option<Workers>,
    /// "Now", decided once, for windows like `--since 24h`.
    pub now: DateTime<Utc>,
    /// Every setting with where it came from, for `seslog config`.
    pub settings: Vec<Setting>,
    pub progress: ProgressMode,
    /// `seslog sql` with no query on a terminal opens the shell.
    pub stdin_is_terminal: bool,
    /// `--tz`: the zone timestamps are shown in; `None`: UTC, as stored.
    pub tz: Option<std::sync::Arc<str>>,
    /// The config file's `[[check]]` rules.
    pub checks: Vec<settings::CheckRule>,
    /// The config file read, if any, for messages about its contents.
    pub config_path: Option<PathBuf>,
}

impl Config {
    /// The config file as messages name it.
    pub fn config_file_name(&self) -> String {
        match &self.config_path {
            Some(path) => format!("config file {}", path.display()),
            None => "config file".into(),
        }
    }
}

impl Config {
    /// One line per decision, each made by a function of its own below (ripgrep's
    /// `HiArgs::from_low_args`); the settings shown by `seslog config` are collected on
    /// the way.
    pub fn from_cli(cli: &GlobalArgs, origins: &ArgOrigins) -> Result<Self> {
        let mut shown = Vec::new();
        let mut layers = Layers::load(cli, origins)?;
        let location = source(cli, &mut layers, &mut shown)?;
        let layout = layout(cli, &layers, &mut shown)?;
        let error_layout = error_layout(cli, &layers, &mut shown)?;
        let s3 = s3_settings(cli, &layers, &mut shown)?;
        let terminal = Terminal::detect();
        let format = format(cli, &layers, &terminal, &mut shown)?;
        let print = print_options(cli, &terminal);
        let cache = cache_plan(cli, &layers, &mut shown)?;
        let tier = tier(cli, &layers, location.as_ref(), &mut shown)?;
        let workers = workers(cli, &layers, &mut shown)?;
        let tz = tz(cli, &layers, &mut shown)?;
        let query_dirs = query_dirs(cli.queries.as_deref());
        shown.push(queries_setting(&query_dirs, origins));
        shown.push(layers.file_setting());
        Ok(Config {
            location,
            layout,
            error_layout,
            s3,
            format,
            print,
            output: cli.output.clone(),
            tolerance: Tolerance {
                strict: cli.strict,
                keep_damaged: cli.keep_damaged,
            },
            prefilter: !cli.no_prefilter,
            stats: cli.stats,
            cache,
            offline: cli.offline,
            tier,
            workers,
            query_dirs,
            now: Utc::now(),
            settings: shown,
            stdin_is_terminal: terminal.stdin,
            progress: progress(cli, &terminal, format),
            tz,
            checks: layers.data.check.clone(),
            config_path: layers.file.as_ref().map(|f| f.path.clone()),
        })
    }
}

/// Where a setting can come from besides its flag, in order: the environment (clap puts a
/// flag before its variable), the named source's `[sources.NAME]` section, the config
/// file's top level.
struct Layers<'a> {
    origins: &'a ArgOrigins,
    file: Option<settings::ConfigFile>,
    data: FileConfig,
    /// The source picked by name from the config file, once `source` has decided.
    named: Option<(String, NamedSource)>,
}

impl<'a> Layers<'a> {
    fn load(cli: &GlobalArgs, origins: &'a ArgOrigins) -> Result<Self> {
        let file = settings::load(cli.config.as_deref())?;
        let data = file.as_ref().map(|f| f.data.clone()).unwrap_or_default();
        Ok(Layers {
            origins,
            file,
            data,
            named: None,
        })
    }

    fn file_name(&self) -> String {
        self.file
            .as_ref()
            .map_or_else(String::new, |f| f.path.display().to_string())
    }

    /// `config FILE what`.
    fn in_file(&self, what: &str) -> String {
        format!("config {} {what}", self.file_name())
    }

    /// `--source`, `environment SESLOG_SOURCE`, or `default`.
    fn flag(&self, id: &str) -> String {
        self.origins.of(id).unwrap_or("default").to_string()
    }

    /// `config FILE [sources.NAME] what`, when a named source was picked.
    fn section(&self, what: &str) -> String {
        match &self.named {
            Some((name, _)) => self.in_file(&format!("[sources.{name}] {what}")),
            None => String::new(),
        }
    }

    /// A field of the named source's section.
    fn named_field(&self, field: impl Fn(&NamedSource) -> Option<String>) -> Option<String> {
        self.named.as_ref().and_then(|(_, n)| field(n))
    }

    /// A setting a flag, the named source's section and the config file's top level can
    /// each give (`key` names it in all three): the first that does, and where from.
    fn layered(
        &self,
        key: &str,
        flag: &Option<String>,
        named: impl Fn(&NamedSource) -> Option<String>,
        file: &Option<String>,
    ) -> Option<(String, String)> {
        first(vec![
            (flag.clone(), self.flag(key)),
            (self.named_field(named), self.section(key)),
            (file.clone(), self.in_file(key)),
        ])
    }

    fn file_setting(&self) -> Setting {
        Setting {
            key: "config",
            value: self.file_name(),
            origin: match (&self.file, self.origins.of("config")) {
                (None, _) => "none found".into(),
                (Some(_), Some(o)) => o.to_string(),
                (Some(_), None) => "default location".into(),
            },
        }
    }
}

/// Picks the first of (value, origin) candidates that has a value: flags and environment
/// first (clap already put a flag before its variable), then the config file, then none.
fn first(candidates: Vec<(Option<String>, String)>) -> Option<(String, String)> {
    candidates
        .into_iter()
        .find_map(|(v, o)| v.filter(|v| !v.is_empty()).map(|v| (v, o)))
}

/// The source: a name from the config file (whose section then supplies other settings) or
/// a URL/path. `None` until a command that reads logs needs it.
fn source(
    cli: &GlobalArgs,
    layers: &mut Layers,
    shown: &mut Vec<Setting>,
) -> Result<Option<Location>> {
    let (source_text, source_origin) = match first(vec![
        (cli.source.clone(), layers.flag("source")),
        (
            layers.data.default_source.clone(),
            layers.in_file("default_source"),
        ),
    ]) {
        Some((text, origin)) => (Some(text), origin),
        None => (None, "default (none)".to_string()),
    };
    layers.named = source_text
        .as_ref()
        .and_then(|t| layers.data.sources.get(t).map(|n| (t.clone(), n.clone())));
    let url = match &layers.named {
        Some((_, n)) => Some(n.url.clone()),
        None => source_text.clone(),
    };
    let location = match &url {
        Some(u) => Some(Location::parse(u).map_err(|e| anyhow!("--source: {e}"))?),
        None => None,
    };
    let origin = match &layers.named {
        Some(_) => format!(
            "{} (source {:?} picked by {source_origin})",
            layers.section("url"),
            source_text.as_deref().unwrap_or("")
        ),
        None => source_origin,
    };
    shown.push(Setting {
        key: "source",
        value: url.unwrap_or_default(),
        origin,
    });
    Ok(location)
}

fn layout(cli: &GlobalArgs, layers: &Layers, shown: &mut Vec<Setting>) -> Result<FirehoseLayout> {
    let expression = layers.layered(
        "layout",
        &cli.layout,
        |n| n.layout.clone(),
        &layers.data.layout,
    );
    let parse = |e: &str| Ok(FirehoseLayout::parse(e)?);
    layout_setting("layout", expression, DEFAULT_LAYOUT, parse, shown)
}

/// As `layout`, for Firehose's error prefix (`errorlogs`).
fn error_layout(
    cli: &GlobalArgs,
    layers: &Layers,
    shown: &mut Vec<Setting>,
) -> Result<FirehoseLayout> {
    let expression = layers.layered(
        "error_layout",
        &cli.error_layout,
        |n| n.error_layout.clone(),
        &layers.data.error_layout,
    );
    let parse = |e: &str| Ok(errorlog::layout(e)?);
    layout_setting(
        "error_layout",
        expression,
        DEFAULT_ERROR_LAYOUT,
        parse,
        shown,
    )
}

/// A layout setting: the expression found (or the default) parsed, and shown with where
/// it came from.
fn layout_setting(
    key: &'static str,
    found: Option<(String, String)>,
    default: &str,
    parse: impl Fn(&str) -> Result<FirehoseLayout>,
    shown: &mut Vec<Setting>,
) -> Result<FirehoseLayout> {
    let (expression, origin) = found.unwrap_or_else(|| (default.to_string(), "default".into()));
    let what = key.replace('_', " ");
    let layout = parse(&expression).with_context(|| format!("{what} from {origin}"))?;
    shown.push(Setting {
        key,
        value: expression,
        origin,
    });
    Ok(layout)
}

/// Endpoint, region and profile. Region and profile: a flag wins; then AWS's own
/// variables, which the AWS SDK reads itself (so they are shown, not passed on); only then
/// the config file.
fn s3_settings(cli: &GlobalArgs, layers: &Layers, shown: &mut Vec<Setting>) -> Result<S3Settings> {
    let endpoint = first(vec![
        (cli.endpoint.clone(), layers.flag("endpoint")),
        (
            layers.named_field(|n| n.endpoint.clone()),
            layers.section("endpoint"),
        ),
    ]);
    if let Some((url, origin)) = &endpoint {
        check_endpoint(url).with_context(|| format!("endpoint `{url}` from {origin}"))?;
    }
    let aws_env = |vars: &[&str]| {
        vars.iter().find_map(|v| {
            std::env::var(v)
                .ok()
                .filter(|x| !x.is_empty())
                .map(|x| (x, format!("environment {v}")))
        })
    };
    let region = first(vec![(cli.region.clone(), layers.flag("region"))])
        .or_else(|| aws_env(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
        .or_else(|| {
            first(vec![(
                layers.named_field(|n| n.region.clone()),
                layers.section("region"),
            )])
        });
    let profile = first(vec![(cli.profile.clone(), layers.flag("profile"))])
        .or_else(|| aws_env(&["AWS_PROFILE"]))
        .or_else(|| {
            first(vec![(
                layers.named_field(|n| n.profile.clone()),
                layers.section("profile"),
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
    let not_from_aws_env = |v: &Option<(String, String)>| {
        v.as_ref()
            .filter(|(_, o)| !o.starts_with("environment AWS_"))
            .map(|(x, _)| x.clone())
    };
    Ok(S3Settings {
        endpoint: endpoint.map(|(e, _)| e),
        region: not_from_aws_env(&region),
        profile: not_from_aws_env(&profile),
        timeout: std::time::Duration::from_secs_f64(cli.s3_timeout),
        retries: cli.s3_retries,
        // Opened by `query::open_engine`, for an S3 source only.
        cache: None,
        offline: cli.offline,
    })
}

/// The object cache as configured: where, how large, and whether the user named the place
/// (a cache the user named must work; the default one is skipped with a warning if not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePlan {
    Off,
    At {
        settings: CacheSettings,
        /// Where the directory came from, when the user gave it (`--cache-dir`, ...).
        named_by: Option<String>,
    },
}

/// `--no-cache`; else `--cache-dir`/`SESLOG_CACHE_DIR`, the config file's `cache_dir`, the
/// XDG cache directory; the cap from `cache_max_size`.
fn cache_plan(cli: &GlobalArgs, layers: &Layers, shown: &mut Vec<Setting>) -> Result<CachePlan> {
    let max_bytes = match &layers.data.cache_max_size {
        Some(size) => size
            .bytes()
            .with_context(|| layers.in_file("cache_max_size"))?,
        None => seslog_engine::source::cache::DEFAULT_MAX_BYTES,
    };
    let named = match (&cli.cache_dir, &layers.data.cache_dir) {
        (Some(dir), _) => Some((dir.clone(), layers.flag("cache_dir"))),
        (None, Some(dir)) => Some((dir.clone(), layers.in_file("cache_dir"))),
        (None, None) => None,
    };
    let (plan, value, origin) = match (cli.no_cache, named) {
        (true, _) => (CachePlan::Off, String::new(), "--no-cache".to_string()),
        (false, Some((dir, origin))) => (
            CachePlan::At {
                settings: CacheSettings {
                    dir: dir.clone(),
                    max_bytes,
                },
                named_by: Some(origin.clone()),
            },
            dir.display().to_string(),
            origin,
        ),
        (false, None) => match settings::default_cache_dir() {
            Some(dir) => (
                CachePlan::At {
                    settings: CacheSettings {
                        dir: dir.clone(),
                        max_bytes,
                    },
                    named_by: None,
                },
                dir.display().to_string(),
                "default".to_string(),
            ),
            None => (
                CachePlan::Off,
                String::new(),
                "default (no HOME or XDG_CACHE_HOME)".to_string(),
            ),
        },
    };
    shown.push(Setting {
        key: "cache_dir",
        value,
        origin,
    });
    shown.push(Setting {
        key: "cache_max_size",
        value: max_bytes.to_string(),
        origin: match layers.data.cache_max_size {
            Some(_) => layers.in_file("cache_max_size"),
            None => "default".into(),
        },
    });
    Ok(plan)
}

/// `--parquet`/`SESLOG_PARQUET`, else the named source's `parquet`, else the config file's.
/// The tier cannot be the source itself: its folders would be the source's.
fn tier(
    cli: &GlobalArgs,
    layers: &Layers,
    source: Option<&Location>,
    shown: &mut Vec<Setting>,
) -> Result<Option<Location>> {
    let chosen = layers.layered(
        "parquet",
        &cli.parquet,
        |n| n.parquet.clone(),
        &layers.data.parquet,
    );
    show_optional(shown, "parquet", &chosen, "default (none)");
    let Some((text, origin)) = chosen else {
        return Ok(None);
    };
    let location = Location::parse(&text).map_err(|e| anyhow!("--parquet (from {origin}): {e}"))?;
    let same = match (&location, source) {
        (Location::Local(a), Some(Location::Local(b))) => {
            a == b
                || a.canonicalize()
                    .ok()
                    .is_some_and(|a| b.canonicalize().ok() == Some(a))
        }
        (a, Some(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(anyhow!(
            "--parquet (from {origin}) is the source itself; give the tier a place of its own \
             (another directory, or another bucket or prefix)"
        ));
    }
    Ok(Some(location))
}

/// Shows an optional setting: its value and where it came from, or that there is none.
fn show_optional(
    shown: &mut Vec<Setting>,
    key: &'static str,
    chosen: &Option<(String, String)>,
    none: &str,
) {
    let (value, origin) = chosen
        .clone()
        .unwrap_or_else(|| (String::new(), none.to_string()));
    shown.push(Setting { key, value, origin });
}

/// `--workers`/`SESLOG_WORKERS`, else the named source's `workers`, else the config file's.
fn workers(cli: &GlobalArgs, layers: &Layers, shown: &mut Vec<Setting>) -> Result<Option<Workers>> {
    let chosen = layers.layered(
        "workers",
        &cli.workers,
        |n| n.workers.clone(),
        &layers.data.workers,
    );
    show_optional(shown, "workers", &chosen, "default (none: in this process)");
    let Some((text, origin)) = chosen else {
        return Ok(None);
    };
    let workers =
        Workers::parse(&text).map_err(|e| UsageError(format!("--workers (from {origin}): {e}")))?;
    Ok(Some(workers))
}

/// What the terminal looks like, asked once.
#[derive(Debug, Clone, Copy)]
struct Terminal {
    stdout: bool,
    stderr: bool,
    stdin: bool,
}

impl Terminal {
    fn detect() -> Self {
        Terminal {
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
            stdin: std::io::stdin().is_terminal(),
        }
    }
}

/// `--tz` (or `SESLOG_TZ`), else the config file's `tz`, else UTC; checked here, so a zone
/// that does not exist is an error before any work.
fn tz(
    cli: &GlobalArgs,
    layers: &Layers,
    shown: &mut Vec<Setting>,
) -> Result<Option<std::sync::Arc<str>>> {
    let Some((zone, origin)) = first(vec![
        (cli.tz.clone(), layers.flag("tz")),
        (layers.data.tz.clone(), layers.in_file("tz")),
    ]) else {
        shown.push(Setting {
            key: "tz",
            value: "UTC".into(),
            origin: "default".into(),
        });
        return Ok(None);
    };
    if let Err(e) = zone.parse::<datafusion::arrow::array::timezone::Tz>() {
        return Err(anyhow!(
            "{origin}: `{zone}` is not a time zone ({e}); use a name like Europe/Berlin or an \
             offset like +09:00"
        ));
    }
    shown.push(Setting {
        key: "tz",
        value: zone.clone(),
        origin,
    });
    Ok(Some(zone.into()))
}

/// `--format`, else `--output`'s extension, else the config file, else table on a
/// terminal and CSV otherwise.
fn format(
    cli: &GlobalArgs,
    layers: &Layers,
    terminal: &Terminal,
    shown: &mut Vec<Setting>,
) -> Result<Format> {
    let (format, origin) = match (cli.format, &cli.output) {
        (Some(f), _) => (f, layers.flag("format")),
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
            (layers.named_field(|n| n.format.clone()), layers.section("format")),
            (layers.data.format.clone(), layers.in_file("format")),
        ]) {
            Some((text, origin)) => (parse_format(&text, &origin)?, origin),
            None if terminal.stdout => (Format::Table, "default (stdout is a terminal)".into()),
            None => (Format::Csv, "default (stdout is not a terminal)".into()),
        },
    };
    shown.push(Setting {
        key: "format",
        value: format!("{format:?}").to_lowercase(),
        origin,
    });
    if format == Format::Parquet && cli.output.is_none() && terminal.stdout {
        return Err(anyhow!(
            "--format parquet is binary: write it with --output FILE.parquet or redirect stdout"
        ));
    }
    Ok(format)
}

fn parse_format(text: &str, origin: &str) -> Result<Format> {
    Format::from_str(text, true).map_err(|_| {
        anyhow!("{origin}: format {text:?} is not one of table, vertical, csv, tsv, json, ndjson, parquet")
    })
}

fn print_options(cli: &GlobalArgs, terminal: &Terminal) -> PrintOptions {
    let color = match cli.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            terminal.stdout
                && cli.output.is_none()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    PrintOptions {
        header: !cli.no_header,
        max_rows: match cli.max_rows {
            Some(0) => None,
            Some(n) => Some(n),
            None => Some(1000),
        },
        color,
        // A terminal sizes the table itself; elsewhere `COLUMNS` says how wide to be.
        width: if terminal.stdout {
            None
        } else {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .filter(|&w: &u16| w >= 20)
        },
        narrow: Vec::new(),
    }
}

fn queries_setting(query_dirs: &[PathBuf], origins: &ArgOrigins) -> Setting {
    Setting {
        key: "queries",
        value: query_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        origin: origins
            .of("queries")
            .map_or("default".into(), |o| format!("default + {o}")),
    }
}

/// The progress line: on a terminal stderr (not over rows streaming to the same terminal;
/// the table prints at the end), a line a second with `-v` elsewhere.
fn progress(cli: &GlobalArgs, terminal: &Terminal, format: Format) -> ProgressMode {
    match (terminal.stderr, cli.verbose) {
        (true, _)
            if terminal.stdout
                && cli.output.is_none()
                && !matches!(format, Format::Table | Format::Vertical) =>
        {
            ProgressMode::Off
        }
        (true, _) => ProgressMode::Terminal,
        (false, true) => ProgressMode::Lines,
        (false, false) => ProgressMode::Off,
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
