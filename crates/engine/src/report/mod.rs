//! Reports: plain `.sql` files over `seslogs` with a short header, the canned ones from
//! `queries/` embedded in the binary and a user's own read from disk, all handled alike.
//!
//! ```sql
//! -- name: bounces
//! -- description: One row per bounced recipient.
//! -- window: 7d
//! -- param: type text = '' -- Permanent, Transient or Undetermined ('' for all)
//! SELECT ... WHERE day BETWEEN $day_from AND $day_to AND event_time >= $from ...
//! ```
//!
//! A report with a `window` gets `$from`/`$to` (event time, a UTC timestamp, `[from, to)`)
//! and `$day_from`/`$day_to` (the day folders that can hold them); each `param` is `$name`.
//! Values are bound as values by DataFusion, never pasted into the SQL text.

pub mod window;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::Duration;
use datafusion::common::{ParamValues, ScalarValue};

use crate::error::{Error, Result};
use crate::report::window::{TimeWindow, parse_duration};

/// The canned reports, embedded at build time (a test checks every file is here).
pub const BUILTIN: &[(&str, &str)] = &[
    ("bounces", include_str!("../../../../queries/bounces.sql")),
    (
        "complaints",
        include_str!("../../../../queries/complaints.sql"),
    ),
    (
        "recipient",
        include_str!("../../../../queries/recipient.sql"),
    ),
    ("message", include_str!("../../../../queries/message.sql")),
    ("delays", include_str!("../../../../queries/delays.sql")),
    ("rejects", include_str!("../../../../queries/rejects.sql")),
    ("failures", include_str!("../../../../queries/failures.sql")),
    ("summary", include_str!("../../../../queries/summary.sql")),
    ("domains", include_str!("../../../../queries/domains.sql")),
    (
        "suppression",
        include_str!("../../../../queries/suppression.sql"),
    ),
    ("check", include_str!("../../../../queries/check.sql")),
    ("errors", include_str!("../../../../queries/errors.sql")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Text,
    Number,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    /// `None`: the parameter is required.
    pub default: Option<String>,
    pub help: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub name: String,
    pub description: String,
    /// The default span of event time, when the report takes a window.
    pub window: Option<Duration>,
    /// The columns a narrow terminal's table view shows (`-- narrow: a, b, c`), the last
    /// one wrapped; empty: all, or the vertical view.
    pub narrow: Vec<String>,
    pub params: Vec<Param>,
    pub sql: String,
    /// `builtin` or the file it came from.
    pub origin: String,
}

fn unquote(text: &str) -> String {
    let t = text.trim();
    t.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .map_or_else(|| t.to_string(), |s| s.replace("''", "'"))
}

impl Report {
    /// Reads a report file; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Report> {
        Report::parse_header(text, origin).map_err(Error::Report)
    }

    fn parse_header(text: &str, origin: &str) -> Result<Report, String> {
        let mut name = None;
        let mut description = String::new();
        let mut window = None;
        let mut narrow = Vec::new();
        let mut params = Vec::new();
        for line in text.lines() {
            let Some(comment) = line.trim().strip_prefix("--") else {
                if line.trim().is_empty() {
                    continue;
                }
                break;
            };
            let Some((key, value)) = comment.trim().split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "name" => name = Some(value.to_string()),
                "description" => description = value.to_string(),
                "narrow" => {
                    narrow = value
                        .split(',')
                        .map(|c| c.trim().to_string())
                        .filter(|c| !c.is_empty())
                        .collect();
                }
                "window" => {
                    window =
                        Some(parse_duration(value).map_err(|e| format!("{origin}: window: {e}"))?);
                }
                "param" => {
                    let (spec, help) = value.split_once(" -- ").unwrap_or((value, ""));
                    let (spec, default) = match spec.split_once('=') {
                        Some((s, d)) => (s, Some(unquote(d))),
                        None => (spec, None),
                    };
                    let mut words = spec.split_whitespace();
                    let pname = words
                        .next()
                        .ok_or_else(|| format!("{origin}: a param line needs a name"))?;
                    let kind = match words.next() {
                        Some("text") | None => ParamKind::Text,
                        Some("number") => ParamKind::Number,
                        Some(other) => {
                            return Err(format!(
                                "{origin}: param {pname}: type `{other}` is not text or number"
                            ));
                        }
                    };
                    params.push(Param {
                        name: pname.to_string(),
                        kind,
                        default,
                        help: help.trim().to_string(),
                    });
                }
                _ => {}
            }
        }
        let name = name.ok_or_else(|| format!("{origin}: no `-- name:` line in the header"))?;
        Ok(Report {
            name,
            description,
            window,
            narrow,
            params,
            sql: text.to_string(),
            origin: origin.to_string(),
        })
    }

    /// The values for the report's placeholders. `values` are the user's, by parameter name;
    /// a value for a parameter the report does not declare is refused.
    pub fn bind(
        &self,
        window: Option<&TimeWindow>,
        values: &BTreeMap<String, String>,
    ) -> Result<ParamValues> {
        self.bind_values(window, values).map_err(Error::Param)
    }

    fn bind_values(
        &self,
        window: Option<&TimeWindow>,
        values: &BTreeMap<String, String>,
    ) -> Result<ParamValues, String> {
        let mut bound: HashMap<String, ScalarValue> = HashMap::new();
        if let Some(w) = window {
            let utc = Some("UTC".into());
            bound.insert(
                "from".into(),
                ScalarValue::TimestampMillisecond(Some(w.from.timestamp_millis()), utc.clone()),
            );
            bound.insert(
                "to".into(),
                ScalarValue::TimestampMillisecond(Some(w.to.timestamp_millis()), utc),
            );
            let (first, last) = w.day_folders();
            bound.insert("day_from".into(), ScalarValue::Utf8(Some(first)));
            bound.insert("day_to".into(), ScalarValue::Utf8(Some(last)));
        }
        for key in values.keys() {
            if !self.params.iter().any(|p| &p.name == key) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                return Err(format!(
                    "report {} has no parameter `{key}` (it has: {})",
                    self.name,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
        for p in &self.params {
            let text = values.get(&p.name).or(p.default.as_ref()).ok_or_else(|| {
                format!(
                    "report {} needs a value for `{}` ({})",
                    self.name, p.name, p.help
                )
            })?;
            let value = match p.kind {
                ParamKind::Text => ScalarValue::Utf8(Some(text.clone())),
                ParamKind::Number => ScalarValue::Float64(Some(
                    text.parse()
                        .map_err(|_| format!("`{}` must be a number, not `{text}`", p.name))?,
                )),
            };
            bound.insert(p.name.clone(), value);
        }
        Ok(ParamValues::from(bound))
    }
}

/// Every report: the built-in ones, then the `.sql` files of each directory in `dirs`
/// (a user's report of the same name replaces the built-in one).
pub fn catalog(dirs: &[PathBuf]) -> Result<Vec<Report>> {
    let mut by_name: BTreeMap<String, Report> = BTreeMap::new();
    for (file, text) in BUILTIN {
        let r = Report::parse(text, &format!("queries/{file}.sql"))?;
        by_name.insert(
            r.name.clone(),
            Report {
                origin: "builtin".into(),
                ..r
            },
        );
    }
    for dir in dirs {
        for r in read_dir_reports(dir)? {
            by_name.insert(r.name.clone(), r);
        }
    }
    Ok(by_name.into_values().collect())
}

fn read_dir_reports(dir: &Path) -> Result<Vec<Report>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Report(format!(
                "reading reports from {}: {e}",
                dir.display()
            )));
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::Report(format!("reading {}: {e}", p.display())))?;
            Report::parse(&text, &p.display().to_string())
        })
        .collect()
}

pub fn find<'a>(reports: &'a [Report], name: &str) -> Result<&'a Report> {
    reports
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| Error::NoReport {
            name: name.to_string(),
            known: reports.iter().map(|r| r.name.clone()).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "-- name: demo\n-- description: A demo.\n-- window: 30d\n-- param: who text -- an address\n-- param: n number = 2\n-- param: t text = 'a''b' -- quoted\nSELECT $who, $n, $t";

    #[test]
    fn header_is_read() {
        let r = Report::parse(R, "demo.sql").unwrap();
        assert_eq!(r.name, "demo");
        assert_eq!(r.window, Some(Duration::days(30)));
        assert_eq!(
            r.params[0],
            Param {
                name: "who".into(),
                kind: ParamKind::Text,
                default: None,
                help: "an address".into()
            }
        );
        assert_eq!(r.params[1].default.as_deref(), Some("2"));
        assert_eq!(r.params[2].default.as_deref(), Some("a'b"));
    }

    #[test]
    fn binding_checks_names_types_and_required_values() {
        let r = Report::parse(R, "demo.sql").unwrap();
        let mut v = BTreeMap::new();
        assert!(
            r.bind(None, &v)
                .unwrap_err()
                .to_string()
                .contains("needs a value for `who`")
        );
        v.insert("who".to_string(), "o'brien@example.com".to_string());
        assert!(r.bind(None, &v).is_ok());
        v.insert("n".to_string(), "x".to_string());
        assert!(
            r.bind(None, &v)
                .unwrap_err()
                .to_string()
                .contains("must be a number")
        );
        v.remove("n");
        v.insert("nope".to_string(), "1".to_string());
        assert!(
            r.bind(None, &v)
                .unwrap_err()
                .to_string()
                .contains("no parameter `nope`")
        );
    }

    #[test]
    fn every_builtin_parses_and_is_named_after_its_file() {
        for (file, text) in BUILTIN {
            let r = Report::parse(text, file).unwrap();
            assert_eq!(&r.name, file);
            assert!(!r.description.is_empty(), "{file} has no description");
        }
    }
}
