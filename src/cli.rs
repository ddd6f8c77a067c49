//! What the user typed, as clap parses it: the global flags and where each came from. No
//! decisions here; `config.rs` turns this into a `Config` once. Each subcommand's own flags
//! are in its module under `cmd/`.

use clap::ValueEnum;

use std::path::PathBuf;

use crate::output::Format;

/// The global flags, accepted before or after the subcommand. The parser that puts them
/// together with the subcommands is `cmd::Cli`.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Where the logs are: a local directory or s3://bucket[/prefix], the root that holds
    /// the layout's first folder (`partitioned/`), as Firehose writes it.
    #[arg(
        long,
        short = 's',
        env = "SESLOG_SOURCE",
        global = true,
        value_name = "DIR|s3://BUCKET[/PREFIX]"
    )]
    pub source: Option<String>,

    /// The Firehose S3 `Prefix` expression the logs were written with.
    #[arg(long, env = "SESLOG_LAYOUT", global = true, value_name = "EXPR")]
    pub layout: Option<String>,

    /// S3-compatible endpoint (MinIO, LocalStack, ...); http:// is allowed when given.
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true, value_name = "URL")]
    pub endpoint: Option<String>,

    /// The Firehose S3 `ErrorOutputPrefix` expression: where the table `errorlogs` (and
    /// `seslog errors`) reads the records Firehose could not deliver.
    #[arg(long, env = "SESLOG_ERROR_LAYOUT", global = true, value_name = "EXPR")]
    pub error_layout: Option<String>,

    /// AWS region of the bucket (default: from the AWS config, else asked of S3).
    #[arg(long, global = true)]
    pub region: Option<String>,

    /// AWS profile from ~/.aws/config (default: AWS_PROFILE, else "default").
    #[arg(long, global = true)]
    pub profile: Option<String>,

    /// Output format (default: from --output's extension, else table on a terminal and
    /// csv otherwise).
    #[arg(long, value_enum, global = true)]
    pub format: Option<Format>,

    /// Write the result to FILE instead of stdout, atomically: a failed or interrupted run
    /// leaves no file behind.
    #[arg(long, short = 'o', global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Show timestamps in this zone: an IANA name like Europe/Berlin, or +09:00 (default:
    /// UTC). Times SES wrote as text (mail.timestamp, bounce.timestamp) stay as written.
    #[arg(long, env = "SESLOG_TZ", global = true, value_name = "ZONE")]
    pub tz: Option<String>,

    /// CSV/TSV without the header row.
    #[arg(long, global = true)]
    pub no_header: bool,

    /// Table view: show at most N rows (0: all; default 1000). Never limits other formats.
    #[arg(long, global = true, value_name = "N")]
    pub max_rows: Option<usize>,

    /// Colour in the table view: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, global = true, default_value = "auto")]
    pub color: ColorArg,

    /// Fail (exit 1) on the first record or object that cannot be read, instead of
    /// skipping it with a warning.
    #[arg(long, global = true)]
    pub strict: bool,

    /// Decode every record even where a lookup could skip records by their bytes (for
    /// comparing answers and speed; the answer is the same).
    #[arg(long, global = true, hide = true)]
    pub no_prefilter: bool,

    /// Keep the records of a gzip object whose checksum fails (they may hold damaged
    /// values; by default such an object's records are not used, and the object is named).
    #[arg(long, global = true)]
    pub keep_damaged: bool,

    /// Seconds S3 may stay silent (before answering, or in the middle of a body) before
    /// the request counts as failed and is retried.
    #[arg(
        long,
        env = "SESLOG_S3_TIMEOUT",
        global = true,
        value_name = "SECS",
        default_value_t = seslog_engine::source::DEFAULT_TIMEOUT.as_secs_f64(),
        value_parser = positive_seconds
    )]
    pub s3_timeout: f64,

    /// How often a failed S3 request (5xx, reset, silence, a malformed or short answer)
    /// is retried before the query fails.
    #[arg(
        long,
        env = "SESLOG_S3_RETRIES",
        global = true,
        value_name = "N",
        default_value_t = seslog_engine::source::DEFAULT_RETRIES
    )]
    pub s3_retries: usize,

    /// Where objects fetched from S3 are kept, to be read from disk next time (default:
    /// $XDG_CACHE_HOME/seslog, else ~/.cache/seslog). Local sources are never cached.
    #[arg(long, env = "SESLOG_CACHE_DIR", global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Fetch every object from S3, and keep nothing in the cache.
    #[arg(long, env = "SESLOG_NO_CACHE", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub no_cache: bool,

    /// Answer from the cache alone, without any request to S3 (not even a listing); a query
    /// that needs something the cache does not hold fails, naming it.
    #[arg(long, env = "SESLOG_OFFLINE", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub offline: bool,

    /// The Parquet tier (`seslog compact` makes it): a directory or s3://bucket/prefix.
    /// Queries read each folder from it where it still holds exactly what the folder's
    /// objects hold, and the raw objects elsewhere.
    #[arg(
        long,
        env = "SESLOG_PARQUET",
        global = true,
        value_name = "DIR|s3://BUCKET[/PREFIX]"
    )]
    pub parquet: Option<String>,

    /// Run the scan on these workers (`seslog worker` on each), over plain TCP: the
    /// objects are dealt out to them, each fetches and decodes its own with its own
    /// credentials. Without it, everything runs in this process.
    #[arg(
        long,
        env = "SESLOG_WORKERS",
        global = true,
        value_name = "HOST:PORT[,HOST:PORT...]"
    )]
    pub workers: Option<String>,

    /// Print rows, requests made, bytes read and time taken to stderr after the query.
    #[arg(long, global = true)]
    pub stats: bool,

    /// Progress on stderr even when it is not a terminal (a line a second).
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,

    /// The config file (default: ~/.config/seslog/config.toml).
    #[arg(long, env = "SESLOG_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A directory of your own reports (`.sql` files with a report header), besides
    /// ~/.config/seslog/queries/.
    #[arg(long, env = "SESLOG_QUERIES", global = true, value_name = "DIR")]
    pub queries: Option<PathBuf>,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s <= 86_400.0 => Ok(s),
        _ => Err(format!(
            "`{text}` is not a number of seconds between 0 and 86400 (e.g. 10 or 0.5)"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// Whether each global setting came from a flag or the environment, as clap saw it.
#[derive(Debug, Clone, Default)]
pub struct ArgOrigins(std::collections::BTreeMap<&'static str, String>);

impl ArgOrigins {
    pub fn from_matches(matches: &clap::ArgMatches) -> Self {
        let mut out = std::collections::BTreeMap::new();
        for (id, flag, env) in [
            ("source", "--source", "SESLOG_SOURCE"),
            ("layout", "--layout", "SESLOG_LAYOUT"),
            ("error_layout", "--error-layout", "SESLOG_ERROR_LAYOUT"),
            ("endpoint", "--endpoint", "AWS_ENDPOINT_URL"),
            ("region", "--region", ""),
            ("profile", "--profile", ""),
            ("format", "--format", ""),
            ("queries", "--queries", "SESLOG_QUERIES"),
            ("config", "--config", "SESLOG_CONFIG"),
            ("cache_dir", "--cache-dir", "SESLOG_CACHE_DIR"),
            ("parquet", "--parquet", "SESLOG_PARQUET"),
            ("workers", "--workers", "SESLOG_WORKERS"),
            ("tz", "--tz", "SESLOG_TZ"),
        ] {
            let origin = match matches.value_source(id) {
                Some(clap::parser::ValueSource::CommandLine) => flag.to_string(),
                Some(clap::parser::ValueSource::EnvVariable) => format!("environment {env}"),
                _ => continue,
            };
            out.insert(id, origin);
        }
        ArgOrigins(out)
    }

    /// `--source` or `environment SESLOG_SOURCE`, when the value came from either.
    pub fn of(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }
}
