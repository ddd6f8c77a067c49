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

/// Bounce and complaint rates against thresholds; exits 3 when one is crossed.
///
/// Example: seslog check --since 7d --max-bounce-rate 2% || page-someone
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub window: WindowArgs,
    /// Highest acceptable bounce rate: 5% or 0.05 (default: SES's review threshold, 5%).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub max_bounce_rate: Option<f64>,
    /// Highest acceptable complaint rate: 0.1% or 0.001 (default: SES's review threshold).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub max_complaint_rate: Option<f64>,
    /// Rates per key, each judged on its own: sender, domain (the sending domain),
    /// configuration-set, or tag:NAME.
    #[arg(long, value_name = "KEY", value_parser = CheckBy::parse)]
    pub by: Option<CheckBy>,
    /// With --by: a key with fewer sends in the window is not judged (default 100).
    #[arg(long, value_name = "N", requires = "by")]
    pub min_sends: Option<u64>,
    /// With --by: only events for which this SQL condition holds, e.g.
    /// "mail.tags.campaign = 'spring'".
    #[arg(long = "where", value_name = "SQL", requires = "by")]
    pub filter: Option<String>,
}

/// What `check --by` gives its own rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckBy {
    Sender,
    Domain,
    ConfigurationSet,
    Tag(String),
}

impl CheckBy {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "sender" => Ok(CheckBy::Sender),
            "domain" => Ok(CheckBy::Domain),
            "configuration-set" => Ok(CheckBy::ConfigurationSet),
            _ => match text.strip_prefix("tag:") {
                Some(name) if !name.trim().is_empty() => Ok(CheckBy::Tag(name.trim().to_string())),
                _ => Err(format!(
                    "`{text}` is not a key: use sender, domain, configuration-set or tag:NAME"
                )),
            },
        }
    }

    /// The key's name in the output.
    fn name(&self) -> String {
        match self {
            CheckBy::Sender => "sender".into(),
            CheckBy::Domain => "domain".into(),
            CheckBy::ConfigurationSet => "configuration-set".into(),
            CheckBy::Tag(name) => format!("tag:{name}"),
        }
    }

    /// The key of one record, in SQL. `mail.source` may be `Name <address>`: the address,
    /// lower-cased. The sending domain is SES's `ses:from-domain` tag, else the sender's.
    fn sql(&self) -> String {
        const SENDER: &str = "lower(CASE WHEN strpos(mail.source, '<') > 0 \
             THEN split_part(split_part(mail.source, '<', 2), '>', 1) ELSE mail.source END)";
        match self {
            CheckBy::Sender => SENDER.into(),
            CheckBy::Domain => {
                format!("lower(coalesce(mail.tags.ses_from_domain, split_part({SENDER}, '@', 2)))")
            }
            CheckBy::ConfigurationSet => "mail.tags.ses_configuration_set".into(),
            CheckBy::Tag(name) => format!(
                "mail.tags['{}']",
                seslog_engine::table::schema::safe_tag_name(name).replace('\'', "''")
            ),
        }
    }
}

/// `check --by`: the same sums as `queries/check.sql`, per key, with a floor of sends
/// under which a key is not judged (one bounce in two sends is no alarm).
const CHECK_BY: &str = "-- name: check
-- description: Bounce and complaint rates per {by} against thresholds.
-- window: 7d
-- param: max_bounce_rate number = 0.05 -- the highest acceptable bounce rate, as a fraction
-- param: max_complaint_rate number = 0.001 -- the highest acceptable complaint rate, as a fraction
-- param: min_sends number = 100 -- a key with fewer sends is not judged
WITH events AS (
    SELECT DISTINCT eventtype, mail.messageid AS message_id, event_time,
           array_to_string(recipients, ',') AS addresses, cardinality(recipients) AS n,
           bounce.bouncetype AS bounce_type, bounce.bouncesubtype AS bounce_subtype,
           {key} AS k
    FROM seslogs
    WHERE day BETWEEN $day_from AND $day_to AND event_time >= $from AND event_time < $to
      AND ({filter})
),
totals AS (
    SELECT k,
           coalesce(sum(CASE WHEN eventtype = 'Send' THEN n END), 0) AS sends,
           coalesce(sum(CASE WHEN eventtype = 'Bounce' AND bounce_type = 'Permanent'
                              AND bounce_subtype <> 'OnAccountSuppressionList' THEN n END), 0) AS bounces,
           coalesce(sum(CASE WHEN eventtype = 'Complaint' THEN n END), 0) AS complaints
    FROM events
    GROUP BY k
),
rates AS (
    SELECT k, sends, bounces, complaints,
           coalesce(CAST(bounces AS DOUBLE) / nullif(sends, 0), 0.0) AS bounce_rate,
           coalesce(CAST(complaints AS DOUBLE) / nullif(sends, 0), 0.0) AS complaint_rate
    FROM totals
),
judged AS (
    SELECT *, sends >= $min_sends AND bounce_rate > $max_bounce_rate AS bounce_over,
              sends >= $min_sends AND complaint_rate > $max_complaint_rate AS complaint_over
    FROM rates
)
SELECT '{by}' AS \"by\", k AS \"key\", sends, bounces, round(100 * bounce_rate, 3) AS bounce_rate_pct,
       complaints, round(100 * complaint_rate, 3) AS complaint_rate_pct,
       CASE WHEN bounce_over OR complaint_over THEN 'OVER'
            WHEN sends < $min_sends THEN 'few sends' ELSE 'ok' END AS status,
       concat_ws(', ', CASE WHEN bounce_over THEN 'bounce rate' END,
                       CASE WHEN complaint_over THEN 'complaint rate' END) AS crossed
FROM judged
ORDER BY bounce_over OR complaint_over DESC, bounce_rate DESC, complaint_rate DESC, k
";

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
fn parse_rate(text: &str) -> Result<f64, String> {
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
    fn new(window: WindowArgs) -> Self {
        Request {
            window,
            params: BTreeMap::new(),
        }
    }

    fn param(mut self, name: &str, value: Option<String>) -> Self {
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

pub async fn check(args: CheckArgs, config: &Config) -> Result<ExitCode> {
    let request = Request::new(args.window)
        .param(
            "max_bounce_rate",
            args.max_bounce_rate.map(|r| r.to_string()),
        )
        .param(
            "max_complaint_rate",
            args.max_complaint_rate.map(|r| r.to_string()),
        )
        .param("min_sends", args.min_sends.map(|n| n.to_string()));
    let Some(by) = args.by else {
        return run_named("check", request, config).await;
    };
    let sql = CHECK_BY
        .replace("{by}", &by.name().replace('\'', "''"))
        .replace("{key}", &by.sql())
        .replace("{filter}", args.filter.as_deref().unwrap_or("TRUE"));
    let report = Report::parse(&sql, "check --by").map_err(explain)?;
    run_report(&report, request, config)
        .await
        .with_context(|| match &args.filter {
            Some(filter) => format!("check --by {} --where \"{filter}\"", by.name()),
            None => format!("check --by {}", by.name()),
        })
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

async fn run_named(name: &str, request: Request, config: &Config) -> Result<ExitCode> {
    let reports = report::catalog(&config.query_dirs).map_err(explain)?;
    let report = report::find(&reports, name).map_err(explain)?;
    run_report(report, request, config).await
}

async fn run_report(report: &Report, request: Request, config: &Config) -> Result<ExitCode> {
    let name = report.name.as_str();
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
