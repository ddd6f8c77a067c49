//! Trino's date and time functions as Athena users write them: `from_iso8601_timestamp`,
//! `from_iso8601_date`, `date_parse` and `date_format` with MySQL-style specifiers
//! (`%Y-%m-%d %H:%i:%s`), `to_iso8601`, `parse_duration`, `date_add`, `date_diff`.
//! Timestamps with a zone are computed in that zone's local time, as Trino does.

use std::sync::Arc;

use chrono::{
    DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Weekday,
};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};

use super::udf::{RowUdf, string, strings, text, with_regex};

pub fn functions() -> Vec<RowUdf> {
    vec![
        RowUdf::new(
            "from_iso8601_timestamp",
            |t| strings(t, &["string"]),
            |_| Ok(utc_millis()),
            |a, _| {
                let at = parse_iso8601_timestamp(text(&a[0])?)?;
                Ok(ScalarValue::TimestampMillisecond(
                    Some(at.timestamp_millis()),
                    Some("UTC".into()),
                ))
            },
        ),
        RowUdf::new(
            "from_iso8601_date",
            |t| strings(t, &["string"]),
            |_| Ok(DataType::Date32),
            |a, _| Ok(date_value(parse_iso8601_date(text(&a[0])?)?)),
        ),
        RowUdf::new(
            "date_parse",
            |t| strings(t, &["string", "format"]),
            |_| Ok(DataType::Timestamp(TimeUnit::Millisecond, None)),
            |a, _| {
                let at = date_parse(text(&a[0])?, text(&a[1])?)?;
                Ok(ScalarValue::TimestampMillisecond(
                    Some(at.and_utc().timestamp_millis()),
                    None,
                ))
            },
        ),
        RowUdf::new(
            "date_format",
            |t| match t {
                [x, f] => Ok(vec![temporal(x)?, string(f, "format")?]),
                _ => plan_err!("takes (timestamp, format)"),
            },
            |_| Ok(DataType::Utf8),
            |a, _| {
                let local = When::of(&a[0])?.local();
                let format = mysql_format(text(&a[1])?)?;
                Ok(ScalarValue::Utf8(Some(local.format(&format).to_string())))
            },
        ),
        RowUdf::new(
            "to_iso8601",
            |t| match t {
                [x] => Ok(vec![temporal(x)?]),
                _ => plan_err!("takes (timestamp) or (date)"),
            },
            |_| Ok(DataType::Utf8),
            |a, _| Ok(ScalarValue::Utf8(Some(When::of(&a[0])?.iso8601()))),
        ),
        RowUdf::new(
            "parse_duration",
            |t| strings(t, &["string"]),
            |_| {
                Ok(DataType::Interval(
                    datafusion::arrow::datatypes::IntervalUnit::MonthDayNano,
                ))
            },
            |a, _| parse_duration(text(&a[0])?),
        ),
        RowUdf::new(
            "date_add",
            |t| match t {
                [u, n, x] if n.is_integer() || n.is_null() => {
                    Ok(vec![string(u, "unit")?, DataType::Int64, temporal(x)?])
                }
                _ => plan_err!("takes (unit, integer, timestamp or date)"),
            },
            |t| Ok(t[2].clone()),
            |a, _| {
                let ScalarValue::Int64(Some(n)) = a[1] else {
                    return exec_err!("the amount must be an integer");
                };
                When::of(&a[2])?.add(text(&a[0])?, n)
            },
        ),
        RowUdf::new(
            "date_diff",
            |t| match t {
                [u, a, b] => Ok(vec![string(u, "unit")?, temporal(a)?, temporal(b)?]),
                _ => plan_err!("takes (unit, from, to)"),
            },
            |_| Ok(DataType::Int64),
            |a, _| {
                let (from, to) = (When::of(&a[1])?, When::of(&a[2])?);
                Ok(ScalarValue::Int64(Some(diff(
                    unit(text(&a[0])?)?,
                    from.local(),
                    to.local(),
                ))))
            },
        ),
    ]
}

fn utc_millis() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// Timestamps of any unit are taken as microseconds (zone kept); dates stay dates.
fn temporal(t: &DataType) -> Result<DataType> {
    match t {
        DataType::Timestamp(_, tz) => Ok(DataType::Timestamp(TimeUnit::Microsecond, tz.clone())),
        DataType::Date32 | DataType::Date64 => Ok(DataType::Date32),
        DataType::Null => Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
        other => plan_err!(
            "expects a timestamp or a date, not {other}; for text use \
             from_iso8601_timestamp(x) or date_parse(x, format) first"
        ),
    }
}

/// One timestamp or date argument.
enum When {
    Naive(NaiveDateTime),
    Zoned(DateTime<Tz>, Arc<str>),
    Date(NaiveDate),
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

fn date_value(d: NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some((d - EPOCH).num_days() as i32))
}

impl When {
    fn of(v: &ScalarValue) -> Result<Self> {
        let out_of_range = || DataFusionError::Execution(format!("{v} is out of range"));
        match v {
            ScalarValue::TimestampMicrosecond(Some(us), tz) => {
                let at = DateTime::from_timestamp_micros(*us).ok_or_else(out_of_range)?;
                Ok(match tz {
                    None => When::Naive(at.naive_utc()),
                    Some(name) => {
                        let zone: Tz = name.parse()?;
                        When::Zoned(at.with_timezone(&zone), Arc::clone(name))
                    }
                })
            }
            ScalarValue::Date32(Some(days)) => Ok(When::Date(
                EPOCH
                    .checked_add_signed(TimeDelta::days(i64::from(*days)))
                    .ok_or_else(out_of_range)?,
            )),
            other => exec_err!("expected a timestamp or a date, got {other}"),
        }
    }

    /// The wall-clock time (midnight for a date).
    fn local(&self) -> NaiveDateTime {
        match self {
            When::Naive(t) => *t,
            When::Zoned(t, _) => t.naive_local(),
            When::Date(d) => d.and_time(NaiveTime::MIN),
        }
    }

    fn iso8601(&self) -> String {
        match self {
            When::Naive(t) => t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
            When::Zoned(t, name) if matches!(&**name, "UTC" | "+00:00" | "Z") => {
                t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            }
            When::Zoned(t, _) => t.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
            When::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }

    /// `date_add`: the same kind of value, moved by `n` units of wall-clock time.
    fn add(&self, unit_name: &str, n: i64) -> Result<ScalarValue> {
        let overflow = || DataFusionError::Execution(format!("{n} {unit_name}(s) is out of range"));
        let moved = match unit(unit_name)? {
            Unit::Micros(per) if per % DAY != 0 && matches!(self, When::Date(_)) => {
                return exec_err!(
                    "cannot add a {unit_name} to a date; cast it to a timestamp first"
                );
            }
            Unit::Micros(per) => self
                .local()
                .checked_add_signed(TimeDelta::microseconds(
                    n.checked_mul(per).ok_or_else(overflow)?,
                ))
                .ok_or_else(overflow)?,
            Unit::Months(per) => {
                let months = n.checked_mul(per).ok_or_else(overflow)?;
                let m = Months::new(u32::try_from(months.unsigned_abs()).map_err(|_| overflow())?);
                if months >= 0 {
                    self.local().checked_add_months(m)
                } else {
                    self.local().checked_sub_months(m)
                }
                .ok_or_else(overflow)?
            }
        };
        Ok(match self {
            When::Naive(_) => {
                ScalarValue::TimestampMicrosecond(Some(moved.and_utc().timestamp_micros()), None)
            }
            When::Zoned(t, name) => {
                let at = t
                    .timezone()
                    .from_local_datetime(&moved)
                    .earliest()
                    .ok_or_else(overflow)?;
                ScalarValue::TimestampMicrosecond(
                    Some(at.timestamp_micros()),
                    Some(Arc::clone(name)),
                )
            }
            When::Date(_) => date_value(moved.date()),
        })
    }
}

/// A Trino unit: a fixed length (in microseconds) or a number of calendar months.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Micros(i64),
    Months(i64),
}

/// A day in microseconds: days and weeks are fixed lengths of wall-clock time.
const DAY: i64 = 86_400_000_000;

fn unit(name: &str) -> Result<Unit> {
    Ok(match name.to_lowercase().as_str() {
        "millisecond" => Unit::Micros(1_000),
        "second" => Unit::Micros(1_000_000),
        "minute" => Unit::Micros(60_000_000),
        "hour" => Unit::Micros(3_600_000_000),
        "day" => Unit::Micros(DAY),
        "week" => Unit::Micros(7 * DAY),
        "month" => Unit::Months(1),
        "quarter" => Unit::Months(3),
        "year" => Unit::Months(12),
        other => {
            return exec_err!(
                "unknown unit '{other}': use millisecond, second, minute, hour, day, week, \
                 month, quarter or year"
            );
        }
    })
}

/// `date_diff`: whole units from `a` to `b`, truncated toward zero.
fn diff(unit: Unit, a: NaiveDateTime, b: NaiveDateTime) -> i64 {
    match unit {
        Unit::Micros(per) => (b - a).num_microseconds().unwrap_or(i64::MAX) / per,
        Unit::Months(per) => {
            let mut months =
                i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month());
            // A month is complete only once the day and time of month are reached.
            let rest = |t: NaiveDateTime| (t.day(), t.time());
            if months > 0 && rest(b) < rest(a) {
                months -= 1;
            } else if months < 0 && rest(b) > rest(a) {
                months += 1;
            }
            months / per
        }
    }
}

fn parse_iso8601_timestamp(s: &str) -> Result<DateTime<chrono::Utc>> {
    let t = s.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.to_utc());
    }
    let zoned = t.strip_suffix('Z').map(|x| format!("{x}+00:00"));
    let zoned = zoned.as_deref().unwrap_or(t);
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H%:z",
    ] {
        if let Ok(at) = DateTime::parse_from_str(zoned, f) {
            return Ok(at.to_utc());
        }
    }
    // No zone: the session's, which is UTC in Athena and in seslog.
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(at.and_utc());
        }
    }
    if let Ok(d) = parse_iso8601_date(t) {
        return Ok(d.and_time(NaiveTime::MIN).and_utc());
    }
    exec_err!("{s:?} is not an ISO 8601 timestamp (like 2024-11-05T10:15:02.123Z)")
}

/// `2024-11-05`, a week date `2020-W10` or `2020-W10-2`, or an ordinal date `2020-123`.
fn parse_iso8601_date(s: &str) -> Result<NaiveDate> {
    let t = s.trim();
    let bad = || DataFusionError::Execution(format!("{s:?} is not an ISO 8601 date"));
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d);
    }
    if let Some((year, week)) = t.split_once("-W") {
        let (week, day) = week.split_once('-').unwrap_or((week, "1"));
        let day: u8 = day.parse().map_err(|_| bad())?;
        let weekday = Weekday::try_from(day.checked_sub(1).ok_or_else(bad)?).map_err(|_| bad())?;
        return NaiveDate::from_isoywd_opt(
            year.parse().map_err(|_| bad())?,
            week.parse().map_err(|_| bad())?,
            weekday,
        )
        .ok_or_else(bad);
    }
    if let Some((year, day)) = t.split_once('-')
        && day.len() == 3
    {
        return NaiveDate::from_yo_opt(
            year.parse().map_err(|_| bad())?,
            day.parse().map_err(|_| bad())?,
        )
        .ok_or_else(bad);
    }
    Err(bad())
}

fn date_parse(s: &str, format: &str) -> Result<NaiveDateTime> {
    let mut f = mysql_format(format)?;
    // chrono wants a month, a day, an hour and a minute to make a time; Trino takes the
    // ones a format leaves out as January, the 1st, and zero.
    let mut s = s.to_string();
    for (specs, default, spec) in [
        (&["%m", "%-m", "%b", "%B", "%j"][..], "01", "%m"),
        (&["%d", "%-d", "%j"][..], "01", "%d"),
        (&["%H", "%-H", "%I", "%-I"][..], "00", "%H"),
        (&["%M"][..], "00", "%M"),
    ] {
        if !specs.iter().any(|x| f.contains(x)) {
            s.push_str(&format!(" {default}"));
            f.push_str(&format!(" {spec}"));
        }
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&s, &f) {
        return Ok(t);
    }
    exec_err!("{s:?} does not match the format {format:?}")
}

/// Trino's (MySQL's) format specifiers in chrono's terms.
fn mysql_format(format: &str) -> Result<String> {
    let mut out = String::with_capacity(format.len() + 8);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            return exec_err!("format {format:?} ends with a lone %");
        };
        out.push_str(match spec {
            'a' => "%a",
            'b' => "%b",
            'c' => "%-m",
            'd' => "%d",
            'e' => "%-d",
            'f' => "%6f",
            'H' => "%H",
            'h' | 'I' => "%I",
            'i' => "%M",
            'j' => "%j",
            'k' => "%-H",
            'l' => "%-I",
            'M' => "%B",
            'm' => "%m",
            'p' => "%p",
            'r' => "%I:%M:%S %p",
            'S' | 's' => "%S",
            'T' => "%H:%M:%S",
            'v' => "%V",
            'W' => "%A",
            'x' => "%G",
            'Y' => "%Y",
            'y' => "%y",
            '%' => "%%",
            other => {
                return exec_err!(
                    "format specifier %{other} in {format:?} is not supported (Trino does \
                     not support it either, or it has no equivalent)"
                );
            }
        });
    }
    Ok(out)
}

/// `parse_duration('3.5m')`: a day-to-second interval, to the millisecond, as in Trino.
fn parse_duration(s: &str) -> Result<ScalarValue> {
    let parsed = with_regex(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$", |re| {
        re.captures(s).map(|c| (c[1].to_string(), c[2].to_string()))
    })?;
    let Some((number, unit)) = parsed else {
        return exec_err!("{s:?} is not a duration (like '3.5m', '42ms', '2 h')");
    };
    let nanos_per: f64 = match unit.as_str() {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        "d" => 86400e9,
        other => {
            return exec_err!(
                "unknown duration unit '{other}' in {s:?}: use ns, us, ms, s, m, h or d"
            );
        }
    };
    let value: f64 = number.parse().expect("the pattern matched digits");
    let millis = (value * nanos_per / 1e6).round() as i64;
    let days = millis / 86_400_000;
    let rest = millis % 86_400_000;
    Ok(ScalarValue::IntervalMonthDayNano(Some(
        IntervalMonthDayNano::new(
            0,
            i32::try_from(days)
                .map_err(|_| DataFusionError::Execution(format!("{s:?} is too long")))?,
            rest * 1_000_000,
        ),
    )))
}
