//! The config file, `~/.config/seslog/config.toml` (XDG; `--config FILE` overrides): named
//! sources and defaults. Every setting is resolved here with where it came from, in the
//! order flags > environment > config file > defaults, so `seslog config` can show both.
//!
//! ```toml
//! default_source = "prod"
//! format = "table"
//!
//! [sources.prod]
//! url = "s3://ses-logs-123456789012-us-east-1"
//! layout = "partitioned/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd}/"
//! region = "us-east-1"
//! profile = "prod-readonly"
//! parquet = "/var/lib/seslog/prod-parquet"
//! workers = "w1:7070,w2:7070"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The named source used when no `--source` is given.
    pub default_source: Option<String>,
    pub format: Option<String>,
    pub layout: Option<String>,
    /// Firehose's `ErrorOutputPrefix` (`--error-layout`).
    pub error_layout: Option<String>,
    /// Where objects fetched from S3 are kept (`--cache-dir`).
    pub cache_dir: Option<PathBuf>,
    /// How large the cache may grow: bytes, or a size like "4GB", "500MB".
    pub cache_max_size: Option<Size>,
    /// The Parquet tier (`--parquet`): a directory or s3://bucket/prefix.
    pub parquet: Option<String>,
    /// Workers to run scans on (`--workers`): "host:port,host:port".
    pub workers: Option<String>,
    /// The zone times are shown in (`--tz`).
    pub tz: Option<String>,
    #[serde(default)]
    pub sources: BTreeMap<String, NamedSource>,
    /// `seslog check`'s rules, one per `[[check]]` table.
    #[serde(default)]
    pub check: Vec<CheckRule>,
}

/// A `[[check]]` table: rates per key (`by`, as `check --by` takes it; none: the account),
/// of the events `where` keeps, against the rule's thresholds.
///
/// ```toml
/// [[check]]
/// name = "senders"
/// by = "sender"
/// min_sends = 200
/// max_bounce_rate = "2%"
/// max_complaint_rate = 0.0005
/// where = "mail.tags.campaign <> 'test'"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRule {
    pub name: Option<String>,
    pub by: Option<String>,
    #[serde(rename = "where")]
    pub filter: Option<String>,
    pub max_bounce_rate: Option<RateSetting>,
    pub max_complaint_rate: Option<RateSetting>,
    pub min_sends: Option<u64>,
}

/// A rate in the config file: a fraction, or text as the flags take it (`"2%"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RateSetting {
    Fraction(f64),
    Text(String),
}

impl RateSetting {
    /// As the flag would be written.
    pub fn text(&self) -> String {
        match self {
            RateSetting::Fraction(f) => f.to_string(),
            RateSetting::Text(t) => t.clone(),
        }
    }
}

/// A size in the config file: a number of bytes or text with a unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

impl Size {
    /// Bytes: `1048576`, `"4GB"`, `"500 MB"`, `"2GiB"` (units of 1000 and of 1024 both taken).
    pub fn bytes(&self) -> Result<u64> {
        let text = match self {
            Size::Bytes(n) => return Ok(*n),
            Size::Text(t) => t.trim(),
        };
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            "t" | "tb" => 1_000_000_000_000,
            "tib" => 1 << 40,
            _ => return Err(anyhow!("{text:?} is not a size like 4GB or 500MB")),
        };
        match number.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Ok((n * scale as f64) as u64),
            _ => Err(anyhow!("{text:?} is not a size like 4GB or 500MB")),
        }
    }
}

/// `$XDG_CACHE_HOME/seslog` when absolute, else `~/.cache/seslog`.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("seslog"))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedSource {
    pub url: String,
    pub layout: Option<String>,
    pub error_layout: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint: Option<String>,
    pub format: Option<String>,
    /// This source's Parquet tier.
    pub parquet: Option<String>,
    /// The workers that read this source (`--workers`).
    pub workers: Option<String>,
}

/// A config file as read, with its path for messages.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub data: FileConfig,
}

/// The default location: `$XDG_CONFIG_HOME/seslog/config.toml`, else `~/.config/...`.
pub fn default_path() -> Option<PathBuf> {
    config_home().map(|h| h.join("seslog").join("config.toml"))
}

/// `$XDG_CONFIG_HOME` when absolute, else `~/.config`.
pub fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
}

/// Reads `explicit` (which must exist) or the default file (which may not).
pub fn load(explicit: Option<&Path>) -> Result<Option<ConfigFile>> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match default_path() {
            Some(p) => (p, false),
            None => return Ok(None),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) => return Err(anyhow!("reading config {}: {e}", path.display())),
    };
    let data: FileConfig = toml::from_str(&text).map_err(|e| {
        // toml names the unknown key and its line; we name the file.
        anyhow!("config {}: {}", path.display(), e.to_string().trim())
    })?;
    for (name, source) in &data.sources {
        if source.url.is_empty() {
            return Err(anyhow!(
                "config {}: [sources.{name}] has an empty url",
                path.display()
            ));
        }
    }
    if let Some(name) = &data.default_source
        && !data.sources.contains_key(name)
    {
        return Err(anyhow!(
            "config {}: default_source = {name:?}, but there is no [sources.{name}]",
            path.display()
        ))
        .context("fix the config file or pass --config");
    }
    Ok(Some(ConfigFile { path, data }))
}

/// A resolved value and where it came from (`--source`, `SESLOG_SOURCE`, the config file,
/// the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: &'static str,
    pub value: String,
    pub origin: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_or_without_units() {
        let size = |t: &str| Size::Text(t.into()).bytes().ok();
        assert_eq!(Size::Bytes(12).bytes().unwrap(), 12);
        assert_eq!(size("4GB"), Some(4_000_000_000));
        assert_eq!(size("500 MB"), Some(500_000_000));
        assert_eq!(size("2GiB"), Some(2 << 30));
        assert_eq!(size("1.5g"), Some(1_500_000_000));
        assert_eq!(size("100"), Some(100));
        assert_eq!(size("4 parsecs"), None);
        assert_eq!(size("GB"), None);
    }
}
