//! `seslog shell`: a SQL prompt over `seslogs` with history (kept in the user's data
//! directory), statements over several lines (ended by `;`), completion of keywords,
//! tables, columns (nested fields too: `mail.commonheaders.`) and report names, and
//! backslash commands. Each result is followed by its figures, as `--stats` prints them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use datafusion::arrow::datatypes::{DataType, Fields};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::cmd::report::{Request, WindowArgs, plan_report};
use crate::config::Config;
use crate::error::explain;
use crate::output::{self, Format, View};
use crate::query;
use seslog_engine::engine::{Engine, TABLE};

/// An interactive SQL prompt over `seslogs` (also `seslog sql` with no query on a terminal).
///
/// Example: seslog --source s3://my-ses-logs shell
#[derive(Debug, clap::Args)]
pub struct Args {}

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "LIMIT",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "BETWEEN",
    "AS",
    "DISTINCT",
    "COUNT",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "JOIN",
    "ON",
    "WITH",
    "UNION",
    "HAVING",
    "DESC",
    "ASC",
    "IS NULL",
    "IS NOT NULL",
    "array_has",
    "unnest",
    "element_at",
    "lower",
    "split_part",
    "date_trunc",
    "to_char",
    "CROSS JOIN UNNEST",
    "WITH ORDINALITY",
    "from_iso8601_timestamp",
    "from_iso8601_date",
    "date_format",
    "date_parse",
    "date_add",
    "date_diff",
    "to_iso8601",
    "parse_duration",
    "count_if",
    "approx_distinct",
    "arbitrary",
    "max_by",
    "min_by",
    "contains",
    "cardinality",
    "array_join",
    "regexp_extract",
    "regexp_like",
    "json_extract_scalar",
    "try_cast",
];

const HELP: &str = "\\d                 list tables
\\d seslogs         list its columns
\\format FORMAT     table, csv, tsv, json or ndjson
\\reports           list the reports
\\run NAME [k=v]    run a report (from=, to=, since= set its window)
\\q                 quit
Statements end with `;` and may span lines.";

/// Completes SQL words and `seslogs`' column paths.
struct SqlHelper {
    words: Vec<String>,
}

impl SqlHelper {
    fn new(engine: &Engine, reports: Vec<String>) -> Self {
        let mut words: Vec<String> = KEYWORDS.iter().map(|k| k.to_string()).collect();
        words.push(TABLE.to_string());
        words.extend(["\\d", "\\format", "\\reports", "\\run", "\\q", "\\help"].map(String::from));
        words.extend(reports);
        if let Ok(table) = futures::executor::block_on(engine.context().table_provider(TABLE)) {
            for field in table.schema().fields() {
                paths(field.name(), field.data_type(), &mut words);
            }
        }
        words.sort();
        words.dedup();
        SqlHelper { words }
    }
}

/// `mail`, `mail.commonheaders`, `mail.commonheaders.subject`, ...
fn paths(prefix: &str, data_type: &DataType, out: &mut Vec<String>) {
    out.push(prefix.to_string());
    let children: Option<&Fields> = match data_type {
        DataType::Struct(f) => Some(f),
        _ => None,
    };
    for child in children.into_iter().flatten() {
        paths(
            &format!("{prefix}.{}", child.name()),
            child.data_type(),
            out,
        );
    }
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '\\'))
            .map_or(0, |i| i + 1);
        let word = &line[start..pos];
        if word.is_empty() {
            return Ok((start, Vec::new()));
        }
        let lower = word.to_lowercase();
        let found = self
            .words
            .iter()
            .filter(|w| w.to_lowercase().starts_with(&lower) && w.len() > word.len())
            // After `mail.`, offer the next level only, not every path below it.
            .filter(|w| {
                !w[word.len()..].trim_end_matches(|c| c != '.').contains('.')
                    || !w[word.len()..].contains('.')
            })
            .map(|w| Pair {
                display: w.clone(),
                replacement: w.clone(),
            })
            .collect();
        Ok((start, found))
    }
}

impl Hinter for SqlHelper {
    type Hint = String;
}
impl Highlighter for SqlHelper {}
impl Validator for SqlHelper {}
impl Helper for SqlHelper {}

fn history_path() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(data.join("seslog").join("history"))
}

/// Whether a shell is running: it handles Ctrl-C itself (see `cmd::run`).
pub static HANDLES_INTERRUPTS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

pub async fn run(_args: Args, config: &Config) -> Result<ExitCode> {
    let engine = query::open_engine(config).await?;
    HANDLES_INTERRUPTS.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut config = config.clone();
    config.output = None;
    if config.format == Format::Csv {
        config.format = Format::Table;
    }
    let reports = seslog_engine::report::catalog(&config.query_dirs)
        .map(|r| r.into_iter().map(|r| r.name).collect())
        .unwrap_or_default();
    let mut editor: Editor<SqlHelper, DefaultHistory> = Editor::new()?;
    editor.set_helper(Some(SqlHelper::new(&engine, reports)));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    eprintln!(
        "seslog shell over {}: \\help for commands, \\q to quit",
        engine.source.location
    );
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "seslog> "
        } else {
            "   ...> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if pending.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            let go_on = tokio::select! {
                biased;
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("seslog: cancelled");
                    true
                }
                go_on = backslash(trimmed, &engine, &mut config) => go_on,
            };
            if !go_on {
                break;
            }
            continue;
        }
        if trimmed.is_empty() && pending.is_empty() {
            continue;
        }
        pending.push_str(&line);
        pending.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let sql = std::mem::take(&mut pending);
        let _ = editor.add_history_entry(sql.trim());
        // Ctrl-C while a statement runs cancels it (the query is dropped, its progress line
        // with it) and comes back to the prompt; at the prompt it clears the line.
        // `biased`: the Ctrl-C listener is registered (its first poll) before the statement
        // starts, whose first poll may take a while.
        tokio::select! {
            biased;
            _ = tokio::signal::ctrl_c() => eprintln!("seslog: cancelled"),
            result = run_sql(&sql, &engine, &config) => {
                if let Err(e) = result {
                    eprintln!("seslog: {e:#}");
                }
            }
        }
    }
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(path);
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}

/// A backslash command; `false` means quit.
async fn backslash(line: &str, engine: &Engine, config: &mut Config) -> bool {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    let result: Result<()> = match command {
        "\\q" | "\\quit" => return false,
        "\\help" | "\\?" => {
            println!("{HELP}");
            Ok(())
        }
        "\\d" => match words.next() {
            None => run_sql("SHOW TABLES;", engine, config).await,
            Some(table) => {
                // A name as it was typed: quoted, so DESCRIBE takes it whole.
                let sql = format!("DESCRIBE \"{}\";", table.replace('"', "\"\""));
                run_sql(&sql, engine, config).await
            }
        },
        "\\format" => match words
            .next()
            .and_then(|f| <Format as clap::ValueEnum>::from_str(f, true).ok())
        {
            Some(Format::Parquet) | None => {
                eprintln!("seslog: \\format takes table, vertical, csv, tsv, json or ndjson");
                Ok(())
            }
            Some(f) => {
                config.format = f;
                Ok(())
            }
        },
        "\\reports" => {
            match seslog_engine::report::catalog(&config.query_dirs) {
                Ok(reports) => {
                    let _ = output::print_reports(&reports, &mut std::io::stdout().lock());
                }
                Err(e) => eprintln!("seslog: {e}"),
            }
            Ok(())
        }
        "\\run" => match words.next() {
            None => Err(anyhow::anyhow!(
                "\\run NAME [from=... to=... since=... param=value]"
            )),
            Some(name) => {
                let mut request = Request {
                    window: WindowArgs::default(),
                    params: Default::default(),
                };
                for kv in words {
                    let Some((k, v)) = kv.split_once('=') else {
                        eprintln!("seslog: `{kv}` is not NAME=VALUE");
                        return true;
                    };
                    match k {
                        "from" => request.window.from = Some(v.into()),
                        "to" => request.window.to = Some(v.into()),
                        "since" => request.window.since = Some(v.into()),
                        _ => {
                            request.params.insert(k.into(), v.into());
                        }
                    }
                }
                match plan_report(engine, name, &request, config).await {
                    Ok((plan, if_empty)) => {
                        let rows = print_plan(plan, engine, config).await;
                        if let (Ok(0), Some(note)) = (&rows, if_empty) {
                            eprintln!("seslog: note: {note}");
                        }
                        rows.map(|_| ())
                    }
                    Err(e) => Err(e),
                }
            }
        },
        other => Err(anyhow::anyhow!(
            "unknown command {other}; \\help lists them"
        )),
    };
    if let Err(e) = result {
        eprintln!("seslog: {e:#}");
    }
    true
}

async fn run_sql(sql: &str, engine: &Engine, config: &Config) -> Result<()> {
    for statement in Engine::statements(sql).map_err(explain)? {
        let plan = engine.plan(statement).await.map_err(explain)?;
        print_plan(plan, engine, config).await?;
    }
    Ok(())
}

/// Runs a plan, prints its result and then its figures.
async fn print_plan(
    plan: datafusion::logical_expr::LogicalPlan,
    engine: &Engine,
    config: &Config,
) -> Result<u64> {
    let started = Instant::now();
    let c = &engine.source.counters;
    let before = (c.lists(), c.gets(), c.bytes());
    let rows = query::print_plan(engine, plan, config, View::Rows, &mut |_| {}).await?;
    output::report_problems(&engine.diagnostics, &mut std::io::stderr().lock())?;
    let bytes = c.bytes() - before.2;
    eprintln!(
        "{rows} rows in {:.3}s; listed {} times, read {} objects, {bytes} bytes (Athena would bill ${:.6})",
        started.elapsed().as_secs_f64(),
        c.lists() - before.0,
        c.gets() - before.1,
        output::athena_cost_usd(bytes)
    );
    Ok(rows)
}
