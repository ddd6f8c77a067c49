//! `TimeWindow`: the span of EVENT time a report covers, and the Firehose day folders that
//! may hold it. Firehose files an event under the day it ARRIVED (the oldest record of its
//! buffer), so an event at 23:59:58 can sit under the next day and one at 00:00:03 under the
//! day before; a report therefore reads one extra day of folders on each side of the window
//! and then filters on `event_time`.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::error::WindowError;

/// A half-open span of event time, `[from, to)`, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// What the user can write for a point in time.
const TIME_EXAMPLES: &str = "a date like 2024-11-01 or a time like 2024-11-01T09:30:00Z";

/// `2024-11-01` (the start of that UTC day) or an RFC 3339 time.
pub(crate) fn parse_start(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is not a time: use {TIME_EXAMPLES}"))
}

/// As `parse_start`, but a date means the END of that day: `--to 2024-11-30` includes
/// the whole of November 30th.
pub(crate) fn parse_end(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)) + Duration::days(1));
    }
    parse_start(text)
}

/// `90m`, `24h`, `7d`, `2w`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad =
        || format!("`{text}` is not a duration: use a number and a unit, like 90m, 24h, 7d or 2w");
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(unit_at);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let d = match unit {
        "s" => Duration::seconds(n),
        "m" | "min" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        "w" => Duration::weeks(n),
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(bad());
    }
    Ok(d)
}

impl TimeWindow {
    /// From a start and an end, or a length back from the end (or now), or the
    /// report's default span back from now.
    pub fn resolve(
        from: Option<&str>,
        to: Option<&str>,
        since: Option<&str>,
        default_span: Duration,
        now: DateTime<Utc>,
    ) -> Result<Self, WindowError> {
        let to = match to {
            Some(t) => parse_end(t).map_err(WindowError::End)?,
            None => now,
        };
        let from = match (from, since) {
            (Some(_), Some(_)) => return Err(WindowError::StartAndSpan),
            (Some(f), None) => parse_start(f).map_err(WindowError::Start)?,
            (None, Some(s)) => to - parse_duration(s).map_err(WindowError::Span)?,
            (None, None) => to - default_span,
        };
        if from >= to {
            return Err(WindowError::Empty {
                from: from.to_rfc3339(),
                to: to.to_rfc3339(),
            });
        }
        Ok(TimeWindow { from, to })
    }

    /// The first and last Firehose day folders (`yyyy/MM/dd`) that can hold an event of
    /// the window: a day of margin on each side for events filed across midnight.
    pub fn day_folders(&self) -> (String, String) {
        let first = self.from.date_naive() - Duration::days(1);
        let last = (self.to - Duration::milliseconds(1)).date_naive() + Duration::days(1);
        (
            first.format("%Y/%m/%d").to_string(),
            last.format("%Y/%m/%d").to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_start(s).unwrap()
    }

    #[test]
    fn dates_cover_whole_days_and_to_is_inclusive() {
        let w = TimeWindow::resolve(
            Some("2024-11-01"),
            Some("2024-11-30"),
            None,
            Duration::days(7),
            t("2025-01-01"),
        )
        .unwrap();
        assert_eq!(w.from, t("2024-11-01T00:00:00Z"));
        assert_eq!(w.to, t("2024-12-01T00:00:00Z"));
        assert_eq!(w.day_folders(), ("2024/10/31".into(), "2024/12/01".into()));
    }

    #[test]
    fn since_counts_back_from_now() {
        let now = t("2024-11-08T12:00:00Z");
        let w = TimeWindow::resolve(None, None, Some("90m"), Duration::days(7), now).unwrap();
        assert_eq!(w.from, t("2024-11-08T10:30:00Z"));
        assert_eq!(w.to, now);
        let w = TimeWindow::resolve(None, None, None, Duration::days(30), now).unwrap();
        assert_eq!(w.from, t("2024-10-09T12:00:00Z"));
    }

    #[test]
    fn bad_values_are_refused_with_an_example() {
        let now = t("2024-11-08T12:00:00Z");
        let e =
            TimeWindow::resolve(Some("yesterday"), None, None, Duration::days(1), now).unwrap_err();
        assert!(
            matches!(&e, WindowError::Start(why) if why.contains("2024-11-01")),
            "{e:?}"
        );
        let e =
            TimeWindow::resolve(None, None, Some("7 days"), Duration::days(1), now).unwrap_err();
        assert!(
            matches!(&e, WindowError::Span(why) if why.contains("7d")),
            "{e:?}"
        );
        assert!(
            TimeWindow::resolve(
                Some("2024-11-09"),
                Some("2024-11-01"),
                None,
                Duration::days(1),
                now
            )
            .is_err()
        );
    }
}
