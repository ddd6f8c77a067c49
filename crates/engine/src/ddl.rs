//! `seslog athena-ddl`: the `CREATE EXTERNAL TABLE` that gives Athena the same `seslogs`
//! table over the same objects: the record's columns (OpenX JSON SerDe, case-insensitive,
//! SES's tag keys mapped to Athena's safe names) and partition projection built from the
//! layout, so Athena reads exactly the folders seslog reads.

use datafusion::arrow::datatypes::{DataType, Field};

use crate::error::{Error, Result};
use crate::table::layout::{FirehoseLayout, TimePart, Token};
use crate::table::schema::raw_schema;

/// Every `eventType` SES publishes; each is a folder name under the default layout.
pub const EVENT_TYPES: &[&str] = &[
    "Send",
    "Delivery",
    "Bounce",
    "Complaint",
    "Reject",
    "Open",
    "Click",
    "Rendering Failure",
    "DeliveryDelay",
    "Subscription",
];

/// SES's automatic tags, by the names Athena's DDL gives them (AWS's published mapping).
const SES_TAGS: &[(&str, &str)] = &[
    ("ses_operation", "ses:operation"),
    ("ses_configurationset", "ses:configuration-set"),
    ("ses_source_ip", "ses:source-ip"),
    ("ses_from_domain", "ses:from-domain"),
    ("ses_caller_identity", "ses:caller-identity"),
    ("ses_outgoing_ip", "ses:outgoing-ip"),
];

/// The storage location template and the projection properties for a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// Relative to the table's LOCATION, e.g. `partitioned/${event_type}/${day}/`.
    pub template: String,
    /// Partition columns in table order.
    pub columns: Vec<String>,
    /// `projection.*` table properties, in order.
    pub properties: Vec<(String, String)>,
}

/// Literal text inside a Java date pattern: letters must be quoted (`'month='`).
fn java_literal(text: &str) -> String {
    if text.chars().any(|c| c.is_ascii_alphabetic() || c == '\'') {
        format!("'{}'", text.replace('\'', "''"))
    } else {
        text.to_string()
    }
}

/// Partition projection for the layout. The year, month and day pieces (and what lies
/// between them) become one `${day}` of projection type `date`; keys become `enum`
/// (`event_type`) or `injected` (others: Athena needs their value in the query).
pub fn projection(layout: &FirehoseLayout, first_day: &str) -> Result<Projection> {
    // The layout as one token stream, '/' between folder levels.
    let mut tokens: Vec<Token> = vec![];
    for seg in &layout.segments {
        tokens.extend(seg.tokens.iter().cloned());
        tokens.push(Token::Literal("/".into()));
    }
    let is_date = |t: &Token| {
        matches!(
            t,
            Token::Time(TimePart::Year | TimePart::Month | TimePart::Day)
        )
    };
    let date_span = tokens
        .iter()
        .position(is_date)
        .zip(tokens.iter().rposition(is_date));
    let mut template = String::new();
    let mut day_format = String::new();
    let mut columns = vec![];
    let mut properties = vec![("projection.enabled".to_string(), "true".to_string())];
    for (i, token) in tokens.iter().enumerate() {
        if let Some((first, last)) = date_span
            && (first..=last).contains(&i)
        {
            match token {
                Token::Time(p) => day_format.push_str(p.pattern()),
                Token::Literal(text) => day_format.push_str(&java_literal(text)),
                Token::Key(k) => {
                    return Err(Error::Projection(format!(
                        "the layout puts the partition key `{k}` between the parts of the \
                         date; Athena's date projection cannot read it"
                    )));
                }
            }
            if i == first {
                template.push_str("${day}");
            }
            continue;
        }
        match token {
            Token::Literal(text) => template.push_str(text),
            Token::Key(k) => {
                template.push_str(&format!("${{{k}}}"));
                columns.push(k.clone());
                if k == "event_type" {
                    properties.push((format!("projection.{k}.type"), "enum".into()));
                    properties.push((format!("projection.{k}.values"), EVENT_TYPES.join(",")));
                } else {
                    properties.push((format!("projection.{k}.type"), "injected".into()));
                }
            }
            Token::Time(TimePart::Hour) => template.push_str("${hour}"),
            Token::Time(_) => unreachable!("date parts are in the date span"),
        }
    }
    if date_span.is_some() {
        columns.push("day".into());
        let first = chrono::NaiveDate::parse_from_str(first_day, "%Y/%m/%d")
            .map_err(|_| Error::FirstDay(first_day.to_string()))?;
        let first = java_format(first, &day_format);
        properties.extend([
            ("projection.day.type".into(), "date".into()),
            ("projection.day.format".into(), day_format.clone()),
            ("projection.day.range".into(), format!("{first},NOW")),
            ("projection.day.interval".into(), "1".into()),
            ("projection.day.interval.unit".into(), "DAYS".into()),
        ]);
    }
    if layout.has_time(TimePart::Hour) {
        columns.push("hour".into());
        properties.extend([
            ("projection.hour.type".into(), "integer".into()),
            ("projection.hour.range".into(), "0,23".into()),
            ("projection.hour.digits".into(), "2".into()),
        ]);
    }
    Ok(Projection {
        template,
        columns,
        properties,
    })
}

/// Formats a day with the subset of Java's pattern `projection` writes (yyyy, MM, dd and
/// quoted literals).
pub fn java_format(day: chrono::NaiveDate, pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("yyyy") {
            out.push_str(&day.format("%Y").to_string());
            rest = r;
        } else if let Some(r) = rest.strip_prefix("MM") {
            out.push_str(&day.format("%m").to_string());
            rest = r;
        } else if let Some(r) = rest.strip_prefix("dd") {
            out.push_str(&day.format("%d").to_string());
            rest = r;
        } else if let Some(r) = rest.strip_prefix("''") {
            out.push('\'');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('\'') {
            let end = r.find('\'').unwrap_or(r.len());
            out.push_str(&r[..end]);
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Hive's type for a record field.
fn hive_type(field: &Field, path: &str) -> String {
    if path == "mail.tags" {
        let fields: Vec<String> = SES_TAGS
            .iter()
            .map(|(name, _)| format!("{name}:array<string>"))
            .collect();
        return format!("struct<{}>", fields.join(", "));
    }
    match field.data_type() {
        DataType::Utf8 => "string".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Int32 => "int".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        // `send` is always `{}`; Hive has no empty struct.
        DataType::Struct(children) if children.is_empty() => "map<string,string>".into(),
        DataType::Struct(children) => {
            let inner: Vec<String> = children
                .iter()
                .map(|c| {
                    format!(
                        "{}:{}",
                        c.name(),
                        hive_type(c, &format!("{path}.{}", c.name()))
                    )
                })
                .collect();
            format!("struct<{}>", inner.join(", "))
        }
        DataType::List(item) => format!("array<{}>", hive_type(item, path)),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) => format!(
                "map<{},{}>",
                hive_type(&kv[0], path),
                hive_type(&kv[1], path)
            ),
            _ => "string".into(),
        },
        other => unreachable!("the record schema has no {other}"),
    }
}

/// The whole statement. `location` is `s3://bucket/prefix/` (ending with '/').
pub fn create_table(
    layout: &FirehoseLayout,
    location: &str,
    table: &str,
    first_day: &str,
) -> Result<String> {
    let projection = projection(layout, first_day)?;
    let schema = raw_schema();
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("  `{}` {}", f.name(), hive_type(f, f.name())))
        .collect();
    let partitions: Vec<String> = projection
        .columns
        .iter()
        .map(|c| format!("  `{c}` string"))
        .collect();
    let mappings: Vec<String> = SES_TAGS
        .iter()
        .map(|(name, key)| format!("  'mapping.{name}'='{key}'"))
        .collect();
    let mut properties: Vec<String> = projection
        .properties
        .iter()
        .map(|(k, v)| format!("  '{k}'='{v}'"))
        .collect();
    properties.push(format!(
        "  'storage.location.template'='{location}{}'",
        projection.template
    ));
    Ok(format!(
        "-- The seslogs table for Athena, over the objects seslog reads with the layout
--   {layout}
-- Differences from seslog's table: Athena has no event_time or recipients columns
-- (use from_iso8601_timestamp(...) and the per-type recipient lists), mail.tags fields are
-- arrays (seslog joins a tag's values with ','), and only SES's own tags are columns.
-- Made by seslog athena-ddl; check the range start (--first-day) before running it.
CREATE EXTERNAL TABLE IF NOT EXISTS `{table}` (
{columns}
)
PARTITIONED BY (
{partitions}
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES (
  'ignore.malformed.json'='true',
  'case.insensitive'='true',
{mappings}
)
LOCATION '{location}'
TBLPROPERTIES (
{properties}
);
",
        layout = layout.expression,
        columns = columns.join(",\n"),
        partitions = partitions.join(",\n"),
        mappings = mappings.join(",\n"),
        properties = properties.join(",\n"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::layout::{Assignment, Var};

    /// Expands a template the way Athena does for one partition.
    fn expand(p: &Projection, values: &[(&str, &str)]) -> String {
        let mut out = p.template.clone();
        for (k, v) in values {
            out = out.replace(&format!("${{{k}}}"), v);
        }
        out
    }

    /// seslog's own folder path for the same partition.
    fn seslog_path(layout: &FirehoseLayout, keys: &[(&str, &str)], ymdh: [&str; 4]) -> String {
        let mut a = Assignment::new();
        for (k, v) in keys {
            a.insert(Var::Key((*k).into()), (*v).into());
        }
        for (part, v) in [
            TimePart::Year,
            TimePart::Month,
            TimePart::Day,
            TimePart::Hour,
        ]
        .into_iter()
        .zip(ymdh)
        {
            a.insert(Var::Time(part), v.into());
        }
        layout
            .segments
            .iter()
            .map(|s| format!("{}/", s.render(&a).expect("every variable is assigned")))
            .collect()
    }

    /// The round trip: for each layout, the prefix Athena builds from the printed template
    /// and projection format is the folder seslog itself reads for that partition.
    #[test]
    fn template_lists_the_folders_seslog_reads() {
        let day = chrono::NaiveDate::from_ymd_opt(2024, 11, 5).unwrap();
        for (expression, keys) in [
            (
                crate::table::layout::DEFAULT_LAYOUT,
                vec![("event_type", "Rendering Failure")],
            ),
            (
                "partitioned/!{partitionKeyFromQuery:SenderIdentity}/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd/HH}/",
                vec![
                    ("sender_identity", "shop.example.com"),
                    ("event_type", "Bounce"),
                ],
            ),
            (
                "events/type=!{partitionKeyFromQuery:EventType}/dt=!{timestamp:yyyy}-!{timestamp:MM}-!{timestamp:dd}/",
                vec![("event_type", "Open")],
            ),
            (
                "logs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/!{partitionKeyFromQuery:EventType}/",
                vec![("event_type", "Click")],
            ),
        ] {
            let layout = FirehoseLayout::parse(expression).unwrap();
            let p = projection(&layout, "2024/01/01").unwrap();
            let format = &p
                .properties
                .iter()
                .find(|(k, _)| k == "projection.day.format")
                .unwrap()
                .1;
            let mut values = keys.clone();
            let day_text = java_format(day, format);
            values.push(("day", &day_text));
            values.push(("hour", "07"));
            assert_eq!(
                expand(&p, &values),
                seslog_path(&layout, &keys, ["2024", "11", "05", "07"]),
                "layout {expression}"
            );
            let mut expected: Vec<String> = keys.iter().map(|(k, _)| k.to_string()).collect();
            expected.push("day".into());
            if layout.has_time(TimePart::Hour) {
                expected.push("hour".into());
            }
            assert_eq!(p.columns, expected, "layout {expression}");
            assert_eq!(layout.partition_columns(), expected, "layout {expression}");
        }
    }

    #[test]
    fn date_pattern_quotes_letters() {
        let layout = FirehoseLayout::parse(
            "logs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/!{partitionKeyFromQuery:EventType}/",
        )
        .unwrap();
        let p = projection(&layout, "2024/01/01").unwrap();
        assert_eq!(p.template, "logs/year=${day}/${event_type}/");
        assert!(p.properties.contains(&(
            "projection.day.format".into(),
            "yyyy/'month='MM/'day='dd".into()
        )));
        assert!(p.properties.contains(&(
            "projection.day.range".into(),
            "2024/month=01/day=01,NOW".into()
        )));
    }
}
