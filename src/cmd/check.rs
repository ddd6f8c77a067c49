//! `seslog check`: bounce and complaint rates against thresholds, exit 3 when one is
//! crossed. For the account as a whole (the built-in `check` report), or per key (`--by`,
//! or the `[[check]]` rules of the config file), each key judged on its own once it has
//! enough sends.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use seslog_engine::report::Report;

use super::report::{Request, WindowArgs, parse_rate, run_named, run_report};
use crate::config::Config;
use crate::error::{UsageError, explain};
use crate::settings::RateSetting;

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
    /// configuration-set, or tag:NAME. Without it, the config file's [[check]] rules if
    /// there are any, else the account as a whole.
    #[arg(long, value_name = "KEY", value_parser = CheckBy::parse)]
    pub by: Option<CheckBy>,
    /// A key with fewer sends in the window is not judged (default 100).
    #[arg(long, value_name = "N")]
    pub min_sends: Option<u64>,
    /// With --by: only events for which this SQL condition holds, e.g.
    /// "mail.tags.campaign = 'spring'".
    #[arg(long = "where", value_name = "SQL", requires = "by")]
    pub filter: Option<String>,
}

/// What a rule gives its own rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckBy {
    /// The account as a whole: one key (a `[[check]]` rule without `by`).
    Account,
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
            CheckBy::Account => "account".into(),
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
            CheckBy::Account => "'all'".into(),
            CheckBy::Sender => SENDER.into(),
            CheckBy::Domain => {
                format!("lower(coalesce(mail.tags.ses_from_domain, split_part({SENDER}, '@', 2)))")
            }
            CheckBy::ConfigurationSet => "mail.tags.ses_configuration_set".into(),
            CheckBy::Tag(name) => format!(
                "mail.tags[{}]",
                quoted(&seslog_engine::table::schema::safe_tag_name(name))
            ),
        }
    }
}

/// One rule: what to key on, which events, and when a key is over.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    name: String,
    by: CheckBy,
    filter: Option<String>,
    max_bounce_rate: f64,
    max_complaint_rate: f64,
    min_sends: u64,
}

const DEFAULT_MAX_BOUNCE_RATE: f64 = 0.05;
const DEFAULT_MAX_COMPLAINT_RATE: f64 = 0.001;
const DEFAULT_MIN_SENDS: u64 = 100;

pub async fn run(args: CheckArgs, config: &Config) -> Result<ExitCode> {
    let (rules, named) = match (&args.by, config.checks.is_empty()) {
        (Some(by), _) => {
            let rule = Rule {
                name: by.name(),
                by: by.clone(),
                filter: args.filter.clone(),
                max_bounce_rate: args.max_bounce_rate.unwrap_or(DEFAULT_MAX_BOUNCE_RATE),
                max_complaint_rate: args
                    .max_complaint_rate
                    .unwrap_or(DEFAULT_MAX_COMPLAINT_RATE),
                min_sends: args.min_sends.unwrap_or(DEFAULT_MIN_SENDS),
            };
            (vec![rule], false)
        }
        (None, false) => (rules_of(config, &args)?, true),
        (None, true) => {
            if args.min_sends.is_some() {
                return Err(UsageError(
                    "--min-sends judges keys: it goes with --by (or [[check]] rules in the config file)"
                        .into(),
                )
                .into());
            }
            let request = Request::new(args.window)
                .param(
                    "max_bounce_rate",
                    args.max_bounce_rate.map(|r| r.to_string()),
                )
                .param(
                    "max_complaint_rate",
                    args.max_complaint_rate.map(|r| r.to_string()),
                );
            return run_named("check", request, config).await;
        }
    };
    let report = Report::parse(&check_sql(&rules, named), "check").map_err(explain)?;
    run_report(&report, Request::new(args.window), config)
        .await
        .with_context(|| {
            let shown: Vec<String> = rules
                .iter()
                .map(|r| match &r.filter {
                    Some(filter) => format!("{} (where {filter})", r.name),
                    None => r.name.clone(),
                })
                .collect();
            format!("check {}", shown.join(", "))
        })
}

/// The config file's rules, with the command line's thresholds over each rule's own.
fn rules_of(config: &Config, args: &CheckArgs) -> Result<Vec<Rule>> {
    config
        .checks
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let at = || format!("{}: [[check]] number {}", config.config_file_name(), i + 1);
            let by = match &rule.by {
                Some(text) => CheckBy::parse(text).map_err(|e| anyhow!("{}: by: {e}", at()))?,
                None => CheckBy::Account,
            };
            let rate = |flag: Option<f64>, setting: &Option<RateSetting>, default: f64, what| {
                match (flag, setting) {
                    (Some(r), _) => Ok(r),
                    (None, Some(s)) => {
                        parse_rate(&s.text()).map_err(|e| anyhow!("{}: {what}: {e}", at()))
                    }
                    (None, None) => Ok(default),
                }
            };
            Ok(Rule {
                name: rule.name.clone().unwrap_or_else(|| by.name()),
                max_bounce_rate: rate(
                    args.max_bounce_rate,
                    &rule.max_bounce_rate,
                    DEFAULT_MAX_BOUNCE_RATE,
                    "max_bounce_rate",
                )?,
                max_complaint_rate: rate(
                    args.max_complaint_rate,
                    &rule.max_complaint_rate,
                    DEFAULT_MAX_COMPLAINT_RATE,
                    "max_complaint_rate",
                )?,
                min_sends: args
                    .min_sends
                    .or(rule.min_sends)
                    .unwrap_or(DEFAULT_MIN_SENDS),
                filter: rule.filter.clone(),
                by,
            })
        })
        .collect::<Result<_>>()
        .map_err(|e| UsageError(format!("{e:#}")).into())
}

/// The rules as one report: per rule, the same sums as `queries/check.sql` per key, then
/// the rules' rows together (`rule` names each when they come from the config file).
/// Each rule reads the window's objects once.
fn check_sql(rules: &[Rule], named: bool) -> String {
    let mut ctes = Vec::new();
    let mut selects = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let (bounce_max, complaint_max, floor) = (
            rule.max_bounce_rate,
            rule.max_complaint_rate,
            rule.min_sends,
        );
        ctes.push(format!(
            "events_{i} AS (
    SELECT DISTINCT eventtype, mail.messageid AS message_id, event_time,
           array_to_string(recipients, ',') AS addresses, cardinality(recipients) AS n,
           bounce.bouncetype AS bounce_type, bounce.bouncesubtype AS bounce_subtype,
           {key} AS k
    FROM seslogs
    WHERE day BETWEEN $day_from AND $day_to AND event_time >= $from AND event_time < $to
      AND ({filter})
),
rates_{i} AS (
    SELECT k, sends, bounces, complaints,
           coalesce(CAST(bounces AS DOUBLE) / nullif(sends, 0), 0.0) AS bounce_rate,
           coalesce(CAST(complaints AS DOUBLE) / nullif(sends, 0), 0.0) AS complaint_rate
    FROM (
        SELECT k,
               coalesce(sum(CASE WHEN eventtype = 'Send' THEN n END), 0) AS sends,
               coalesce(sum(CASE WHEN eventtype = 'Bounce' AND bounce_type = 'Permanent'
                                  AND bounce_subtype <> 'OnAccountSuppressionList' THEN n END), 0) AS bounces,
               coalesce(sum(CASE WHEN eventtype = 'Complaint' THEN n END), 0) AS complaints
        FROM events_{i}
        GROUP BY k
    )
),
judged_{i} AS (
    SELECT *, sends >= {floor} AND bounce_rate > {bounce_max} AS bounce_over,
              sends >= {floor} AND complaint_rate > {complaint_max} AS complaint_over
    FROM rates_{i}
)",
            key = rule.by.sql(),
            filter = rule.filter.as_deref().unwrap_or("TRUE"),
        ));
        let rule_column = if named {
            format!("{} AS rule, ", quoted(&rule.name))
        } else {
            String::new()
        };
        selects.push(format!(
            "SELECT {rule_column}{by} AS \"by\", k AS \"key\", sends, bounces,
       round(100 * bounce_rate, 3) AS bounce_rate_pct, complaints,
       round(100 * complaint_rate, 3) AS complaint_rate_pct,
       CASE WHEN bounce_over OR complaint_over THEN 'OVER'
            WHEN sends < {floor} THEN 'few sends' ELSE 'ok' END AS status,
       concat_ws(', ', CASE WHEN bounce_over THEN 'bounce rate' END,
                       CASE WHEN complaint_over THEN 'complaint rate' END) AS crossed
FROM judged_{i}",
            by = quoted(&rule.by.name()),
            floor = rule.min_sends,
        ));
    }
    let by_rule = if named { "rule, " } else { "" };
    format!(
        "-- name: check
-- description: Bounce and complaint rates per key against thresholds.
-- window: 7d
WITH {}
{}
ORDER BY status = 'OVER' DESC, {by_rule}bounce_rate_pct DESC, complaint_rate_pct DESC, \"key\"
",
        ctes.join(",\n"),
        selects.join("\nUNION ALL\n")
    )
}

/// `text` as an SQL string literal.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
