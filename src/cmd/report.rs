//! The canned reports (`seslog bounces`, `recipient`, `summary`, ...), `seslog run` for any
//! report by name, and `seslog reports` to list them. Every one reads top to bottom the
//! same way: args -> report (from `queries/` or the user's directory) -> window and
//! parameters bound as values -> source -> table -> query -> print.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::Duration;
use clap::ValueEnum;
use datafusion::arrow::array::{AsArray, RecordBatch};

use crate::config::Config;
use crate::error::explain;
use crate::output::{self, View};
use crate::query;
use seslog_engine::engine::Engine;
use seslog_engine::report::window::TimeWindow;
use seslog_engine::report::{self, Report};

/// The span of event time: dates are whole UTC days (`--to` inclusive), times are RFC 3339.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WindowArgs {
    /// Start of the window: 2024-11-01 or 2024-11-01T09:30:00Z.
    #[arg(long, value_name = "DATE|TIME")]
    pub from: Option<String>,
    /// End of the window (a date includes that whole day; default: now).
    #[arg(long, value_name = "DATE|TIME")]
    pub to: Option<String>,
    /// The window is this long, back from --to: 90m, 24h, 7d, 2w.
    #[arg(long, value_name = "DURATION", conflicts_with = "from")]
    pub since: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BounceType {
    Permanent,
    Transient,
    Undetermined,
}

/// One row per bounced recipient.
///
/// Example: seslog bounces --since 24h --type permanent --format csv > hard-bounces.csv
#[derive(Debug, clap::Args)]
pub struct BouncesArgs {
    #[command(flatten)]
    pub window: WindowArgs,
    /// Only bounces of this type.
    #[arg(long = "type", value_enum)]
    pub bounce_type: Option<BounceType>,
    /// Only this recipient (any case; `Name <addr>` and stray spaces are fine).
    #[arg(long, value_parser = parse_address)]
    pub recipient: Option<String>,
    /// Only recipients at this domain.
    #[arg(long)]
    pub domain: Option<String>,
}

/// A report over a window of event time.
#[derive(Debug, clap::Args)]
pub struct WindowedArgs {
    #[command(flatten)]
    pub window: WindowArgs,
}

/// Everything that happened to one address, oldest first, and a verdict per message.
///
/// Example: seslog recipient Alice@Example.com --since 7d
#[derive(Debug, clap::Args)]
pub struct RecipientArgs {
    /// The address (matched in any case; `Name <addr>` and stray spaces are fine).
    #[arg(value_parser = parse_address)]
    pub address: String,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// Every event of one message, oldest first.
///
/// Example: seslog message 0100018c2f...-000000
#[derive(Debug, clap::Args)]
pub struct MessageArgs {
    /// The SES message id (mail.messageId).
    pub id: String,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// List every report (built in and your own) with its description and parameters.
///
/// Example: seslog reports --queries ./my-reports
#[derive(Debug, clap::Args)]
pub struct ReportsArgs {}

/// Run any report by name, yours included (from --queries DIR or ~/.config/seslog/queries/).
///
/// Example: seslog run my-report --param campaign=reset --since 7d
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The report's name (`seslog reports` lists them).
    pub name: String,
    /// A parameter value, NAME=VALUE; repeat for several.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// `5%` -> 0.05, `0.05` -> 0.05.
pub(super) fn parse_rate(text: &str) -> Result<f64, String> {
    let bad =
        || format!("`{text}` is not a rate: use a percentage like 5% or a fraction like 0.05");
    let value = match text.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => text.parse::<f64>().map_err(|_| bad())?,
    };
    if !(0.0..=1.0).contains(&value) {
        return Err(bad());
    }
    Ok(value)
}

/// An address as people paste it: `  alice@example.com `, `Alice <alice@example.com>`,
/// `<alice@example.com>`, `mailto:alice@example.com`, with a space or a line break
/// inside: the bare address. Something with no `@` is refused, naming what was given: it
/// can match no recipient, and an empty answer would look like "never mailed".
fn parse_address(text: &str) -> Result<String, String> {
    let inner = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let mut address: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    if address.len() > 7 && address[..7].eq_ignore_ascii_case("mailto:") {
        address.drain(..7);
    }
    match address.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(address),
        _ => Err(format!(
            "`{}` is not an email address (expected local@domain, or Name <local@domain>)",
            text.trim()
        )),
    }
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    Ok((k.trim().to_string(), v.to_string()))
}

/// What a report run needs besides its name.
#[derive(Debug, Default)]
pub struct Request {
    pub window: WindowArgs,
    pub params: BTreeMap<String, String>,
}

impl Request {
    pub(super) fn new(window: WindowArgs) -> Self {
        Request {
            window,
            params: BTreeMap::new(),
        }
    }

    pub(super) fn param(mut self, name: &str, value: Option<String>) -> Self {
        if let Some(v) = value {
            self.params.insert(name.to_string(), v);
        }
        self
    }
}

pub async fn bounces(args: BouncesArgs, config: &Config) -> Result<ExitCode> {
    let kind = args.bounce_type.map(|t| format!("{t:?}"));
    let request = Request::new(args.window)
        .param("type", kind)
        .param("recipient", args.recipient)
        .param("domain", args.domain);
    run_named("bounces", request, config).await
}

pub async fn windowed(name: &str, args: WindowedArgs, config: &Config) -> Result<ExitCode> {
    run_named(name, Request::new(args.window), config).await
}

pub async fn recipient(args: RecipientArgs, config: &Config) -> Result<ExitCode> {
    run_named(
        "recipient",
        Request::new(args.window).param("address", Some(args.address)),
        config,
    )
    .await
}

pub async fn message(args: MessageArgs, config: &Config) -> Result<ExitCode> {
    run_named(
        "message",
        Request::new(args.window).param("id", Some(args.id)),
        config,
    )
    .await
}

pub async fn run(args: RunArgs, config: &Config) -> Result<ExitCode> {
    let mut request = Request::new(args.window);
    request.params.extend(args.params);
    run_named(&args.name, request, config).await
}

pub fn list(_args: ReportsArgs, config: &Config) -> Result<ExitCode> {
    let reports = report::catalog(&config.query_dirs).map_err(explain)?;
    let mut out = std::io::stdout().lock();
    output::print_reports(&reports, &mut out)?;
    Ok(ExitCode::from(crate::exit::SUCCESS))
}

/// A report's plan with its window and parameters bound, ready to execute on `engine`.
/// The report's plan, and what to say if it finds nothing (the window it looked in).
pub async fn plan_report(
    engine: &Engine,
    name: &str,
    request: &Request,
    config: &Config,
) -> Result<(datafusion::logical_expr::LogicalPlan, Option<String>)> {
    let reports = report::catalog(&config.query_dirs).map_err(explain)?;
    let report: &Report = report::find(&reports, name).map_err(explain)?;
    plan_given(engine, report, request, config).await
}

/// `plan_report` for a report in hand.
async fn plan_given(
    engine: &Engine,
    report: &Report,
    request: &Request,
    config: &Config,
) -> Result<(datafusion::logical_expr::LogicalPlan, Option<String>)> {
    let window = match report.window {
        Some(span) => Some(resolve_window(&request.window, span, config)?),
        None => None,
    };
    let params = report
        .bind(window.as_ref(), &request.params)
        .map_err(explain)?;
    let mut statements = Engine::statements(&report.sql)
        .map_err(explain)
        .with_context(|| format!("report {}", report.origin))?;
    if statements.len() != 1 {
        bail!(
            "report {} must hold exactly one statement, not {}",
            report.origin,
            statements.len()
        );
    }
    let plan = engine.plan(statements.remove(0)).await.map_err(explain)?;
    let w = &request.window;
    let defaulted = w.from.is_none() && w.to.is_none() && w.since.is_none();
    let if_empty = window.as_ref().zip(report.window).map(|(window, span)| {
        crate::hints::for_empty_report(window, defaulted.then(|| span.num_days()))
    });
    Ok((plan.with_param_values(params).map_err(explain)?, if_empty))
}

pub(super) async fn run_named(name: &str, request: Request, config: &Config) -> Result<ExitCode> {
    let reports = report::catalog(&config.query_dirs).map_err(explain)?;
    let report = report::find(&reports, name).map_err(explain)?;
    run_report(report, request, config).await
}

pub(super) async fn run_report(
    report: &Report,
    request: Request,
    config: &Config,
) -> Result<ExitCode> {
    let name = report.name.as_str();
    let mut narrowed;
    let config = if report.narrow.is_empty() {
        config
    } else {
        narrowed = config.clone();
        narrowed.print.narrow = report.narrow.clone();
        &narrowed
    };
    let engine = query::open_engine(config).await?;
    let (plan, if_empty) = plan_given(&engine, report, &request, config).await?;
    let started = std::time::Instant::now();
    // The recipient report in the table view: the timeline, then one verdict line per
    // message; in machine formats `verdict` stays a column so the output is one clean table.
    let view = match name {
        "recipient" if config.output.is_none() => View::Timeline,
        _ => View::Rows,
    };
    let mut over = false;
    let mut watch = |batch: &RecordBatch| over |= name == "check" && status_over(batch);
    let printed = query::print_plan(&engine, plan, config, view, &mut watch).await;
    let rows = printed.as_ref().map_or(0, |rows| *rows);
    if let (Ok(0), Some(note)) = (&printed, if_empty) {
        eprintln!("seslog: note: {note}");
    }
    query::report_after(&engine, config, rows, started.elapsed())?;
    printed?;
    if over {
        return Ok(ExitCode::from(crate::exit::THRESHOLD_CROSSED));
    }
    Ok(ExitCode::from(crate::exit::SUCCESS))
}

fn resolve_window(args: &WindowArgs, span: Duration, config: &Config) -> Result<TimeWindow> {
    TimeWindow::resolve(
        args.from.as_deref(),
        args.to.as_deref(),
        args.since.as_deref(),
        span,
        config.now,
    )
    .map_err(explain)
}

/// A `check` row whose status is OVER: a threshold was crossed.
fn status_over(batch: &RecordBatch) -> bool {
    batch
        .column_by_name("status")
        .and_then(|c| c.as_string_opt::<i32>())
        .is_some_and(|s| s.iter().any(|v| v == Some("OVER")))
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn addresses_are_taken_as_people_paste_them() {
        for given in [
            "alice@example.com",
            "  alice@example.com\n",
            "Alice Smith <alice@example.com>",
            "\"Smith, Alice\" < alice@example.com >",
            "<alice@example.com>",
            "mailto:alice@example.com",
            "alice @example.com",
        ] {
            assert_eq!(
                parse_address(given).as_deref(),
                Ok("alice@example.com"),
                "{given:?}"
            );
        }
        // Case is the report's business (it matches in any case): kept as given.
        assert_eq!(
            parse_address("Alice@Example.COM").as_deref(),
            Ok("Alice@Example.COM")
        );
        for wrong in ["alice", "", "  ", "@example.com", "alice@", "Alice <>"] {
            let err = parse_address(wrong).unwrap_err();
            assert!(err.contains("is not an email address"), "{wrong:?}: {err}");
        }
    }
}
