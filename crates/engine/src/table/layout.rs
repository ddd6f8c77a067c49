//! `FirehoseLayout`: the Firehose S3 `Prefix` expression a user deployed, understood as a
//! sequence of folder levels whose names carry partition values. It maps
//! `!{partitionKeyFromQuery:EventType}` to `event_type`, other keys to snake_case columns
//! (`SenderIdentity` -> `sender_identity`), and `!{timestamp:...}` pieces to `day`
//! ('yyyy/MM/dd', as Athena has it, whatever separators the layout uses) and `hour` ('HH').
//! Parsing a folder name and rendering one from values are both here; which folders to
//! list is `listing.rs`'s business.

use std::collections::BTreeMap;

use crate::error::{Error, LayoutError};

/// The default: what AWS's reference set-up deploys.
pub const DEFAULT_LAYOUT: &str =
    "partitioned/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd}/";

/// Firehose's error prefix as AWS's reference set-up deploys it: where records it could not
/// deliver go (`errorlogs`).
pub const DEFAULT_ERROR_LAYOUT: &str =
    "errorLog/!{firehose:error-output-type}/dt=!{timestamp:yyyy}-!{timestamp:MM}-!{timestamp:dd}/";

/// The column a layout's date gives, and how its value is written: `day` as Athena has it
/// for the events ('2024/11/05'), `dt` in the Hive style of the error prefix ('2024-11-05').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayColumn {
    pub name: String,
    pub separator: char,
}

impl Default for DayColumn {
    fn default() -> Self {
        DayColumn {
            name: "day".into(),
            separator: '/',
        }
    }
}

impl DayColumn {
    /// A value of the column in the '/' form the listing compares (`2024-11-05` ->
    /// `2024/11/05`).
    pub fn normalised(&self, value: &str) -> String {
        value.replace(self.separator, "/")
    }
}

/// A timestamp component a layout can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimePart {
    Year,
    Month,
    Day,
    Hour,
}

impl TimePart {
    /// The letters of the part in a Java date pattern, as Firehose's `!{timestamp:...}`
    /// and Athena's date projection write it.
    pub fn pattern(self) -> &'static str {
        match self {
            TimePart::Year => "yyyy",
            TimePart::Month => "MM",
            TimePart::Day => "dd",
            TimePart::Hour => "HH",
        }
    }

    fn width(self) -> usize {
        match self {
            TimePart::Year => 4,
            _ => 2,
        }
    }
}

/// One piece of a folder name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(String),
    /// A `partitionKeyFromQuery`/`partitionKeyFromLambda` value, by its column name.
    Key(String),
    Time(TimePart),
}

/// A variable of the layout: what a folder name assigns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    Key(String),
    Time(TimePart),
}

/// Values assigned to variables while walking down the folders.
pub type Assignment = BTreeMap<Var, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub tokens: Vec<Token>,
}

impl Segment {
    pub fn is_literal(&self) -> bool {
        self.tokens.iter().all(|t| matches!(t, Token::Literal(_)))
    }

    pub fn vars(&self) -> impl Iterator<Item = Var> + '_ {
        self.tokens.iter().filter_map(|t| match t {
            Token::Key(k) => Some(Var::Key(k.clone())),
            Token::Time(p) => Some(Var::Time(*p)),
            Token::Literal(_) => None,
        })
    }

    /// Reads a folder name against this segment's template; `None` when it does not fit.
    pub fn parse(&self, name: &str) -> Option<Assignment> {
        let mut rest = name;
        let mut out = Assignment::new();
        for (i, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Literal(text) => rest = rest.strip_prefix(text.as_str())?,
                Token::Time(part) => {
                    let w = part.width();
                    let digits = rest.get(..w)?;
                    if !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    out.insert(Var::Time(*part), digits.to_string());
                    rest = &rest[w..];
                }
                Token::Key(name) => {
                    // A key runs to the next literal (validated at parse time to exist) or
                    // to the end of the folder name.
                    let end = match self.tokens.get(i + 1) {
                        Some(Token::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    if end == 0 {
                        return None;
                    }
                    out.insert(Var::Key(name.clone()), rest[..end].to_string());
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(out)
    }

    /// The folder name for these values; every variable of the segment must be assigned.
    pub fn render(&self, values: &Assignment) -> Option<String> {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Key(k) => out.push_str(values.get(&Var::Key(k.clone()))?),
                Token::Time(p) => out.push_str(values.get(&Var::Time(*p))?),
            }
        }
        Some(out)
    }
}

/// The parsed layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirehoseLayout {
    pub expression: String,
    pub segments: Vec<Segment>,
    /// The column its yyyy/MM/dd give.
    pub day: DayColumn,
}

fn refuse(part: &str, why: impl Into<String>) -> LayoutError {
    LayoutError {
        part: part.to_string(),
        why: why.into(),
    }
}

/// `EventType` -> `event_type`, `SenderIdentity` -> `sender_identity`.
pub fn column_name(key: &str) -> String {
    let mut out = String::new();
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

/// Java DateTimeFormatter pattern (what Firehose uses) -> tokens.
fn parse_time_format(format: &str, whole: &str) -> Result<Vec<Token>, LayoutError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() {
            let mut j = i;
            while j < chars.len() && chars[j] == c {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let part = match run.as_str() {
                "yyyy" | "uuuu" => TimePart::Year,
                "MM" => TimePart::Month,
                "dd" => TimePart::Day,
                "HH" => TimePart::Hour,
                _ => {
                    return Err(refuse(
                        whole,
                        format!(
                            "timestamp pattern `{run}` is not supported (seslog maps yyyy, MM, dd and HH)"
                        ),
                    ));
                }
            };
            tokens.push(Token::Time(part));
            i = j;
        } else if c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&q| q == '\'')
                .ok_or_else(|| refuse(whole, "unclosed quote in the timestamp pattern"))?;
            tokens.push(Token::Literal(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else {
            tokens.push(Token::Literal(c.to_string()));
            i += 1;
        }
    }
    Ok(tokens)
}

impl FirehoseLayout {
    pub fn parse(expression: &str) -> crate::error::Result<Self> {
        FirehoseLayout::read(expression).map_err(Error::Layout)
    }

    /// `parse`, with the refusal as it is made: which part, and why.
    fn read(expression: &str) -> Result<Self, LayoutError> {
        if !expression.ends_with('/') {
            return Err(refuse(
                expression,
                "a layout is a folder prefix and must end with '/' (as Firehose's `Prefix` does)",
            ));
        }
        // 1. The expression as one token stream.
        let mut tokens: Vec<Token> = Vec::new();
        let mut rest = expression;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("!{") {
                let end = after
                    .find('}')
                    .ok_or_else(|| refuse(rest, "`!{` without its closing `}`"))?;
                let inner = &after[..end];
                let whole = &rest[..end + 3];
                let (namespace, value) = inner
                    .split_once(':')
                    .ok_or_else(|| refuse(whole, "expected `!{namespace:value}`"))?;
                match namespace.trim() {
                    "partitionKeyFromQuery" | "partitionKeyFromLambda" => {
                        let column = column_name(value.trim());
                        if column.is_empty() {
                            return Err(refuse(whole, "the partition key has no name"));
                        }
                        tokens.push(Token::Key(column));
                    }
                    "timestamp" => tokens.extend(parse_time_format(value, whole)?),
                    "firehose" if value.trim() == "error-output-type" => {
                        tokens.push(Token::Key("error_output_type".into()));
                    }
                    "firehose" => {
                        return Err(refuse(
                            whole,
                            "Firehose's random string carries no partition value; use the \
                             layout without it",
                        ));
                    }
                    other => {
                        return Err(refuse(whole, format!("unknown namespace `{other}`")));
                    }
                }
                rest = &after[end + 1..];
            } else {
                let end = rest.find("!{").unwrap_or(rest.len());
                tokens.push(Token::Literal(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        // 2. Split at '/' into folder levels, merging adjacent literals.
        let mut segments: Vec<Segment> = Vec::new();
        let mut current: Vec<Token> = Vec::new();
        for token in tokens {
            match token {
                Token::Literal(text) => {
                    let mut parts = text.split('/').peekable();
                    while let Some(part) = parts.next() {
                        if !part.is_empty() {
                            match current.last_mut() {
                                Some(Token::Literal(prev)) => prev.push_str(part),
                                _ => current.push(Token::Literal(part.to_string())),
                            }
                        }
                        if parts.peek().is_some() {
                            if current.is_empty() {
                                // A leading '/' is harmless; `//` inside is an empty level.
                                if segments.is_empty() {
                                    continue;
                                }
                                return Err(refuse(expression, "empty folder level (`//`)"));
                            }
                            segments.push(Segment {
                                tokens: std::mem::take(&mut current),
                            });
                        }
                    }
                }
                other => current.push(other),
            }
        }
        // 3. Check what can be mapped.
        let layout = FirehoseLayout {
            expression: expression.to_string(),
            segments,
            day: DayColumn::default(),
        };
        layout.validate()?;
        Ok(layout)
    }

    /// The same folders with their date as another column (`dt`, '2024-11-05').
    pub fn with_day_column(mut self, name: &str, separator: char) -> Self {
        self.day = DayColumn {
            name: name.into(),
            separator,
        };
        self
    }

    fn validate(&self) -> Result<(), LayoutError> {
        let mut seen: Vec<Var> = Vec::new();
        for seg in &self.segments {
            let text = seg.render_template();
            for pair in seg.tokens.windows(2) {
                if matches!(pair[0], Token::Key(_)) && !matches!(pair[1], Token::Literal(_)) {
                    return Err(refuse(
                        &text,
                        "a partition key must be followed by text or the end of the folder name, \
                         or its value cannot be told from the next one",
                    ));
                }
            }
            for var in seg.vars() {
                if seen.contains(&var) {
                    return Err(refuse(&text, format!("{var:?} appears twice")));
                }
                seen.push(var);
            }
        }
        let has = |p: TimePart| seen.contains(&Var::Time(p));
        let time_parts = [
            TimePart::Year,
            TimePart::Month,
            TimePart::Day,
            TimePart::Hour,
        ];
        if time_parts.iter().any(|&p| has(p))
            && !(has(TimePart::Year) && has(TimePart::Month) && has(TimePart::Day))
        {
            return Err(refuse(
                &self.expression,
                "the timestamp must have yyyy, MM and dd to give the `day` column",
            ));
        }
        for p in [
            TimePart::Year,
            TimePart::Month,
            TimePart::Day,
            TimePart::Hour,
        ] {
            if !has(p) {
                continue;
            }
            // A time part must come after the coarser ones, so that walking folders narrows
            // the day range level by level.
            let pos = |q: TimePart| {
                self.segments
                    .iter()
                    .position(|s| s.vars().any(|v| v == Var::Time(q)))
            };
            if p != TimePart::Year && pos(p) < pos(TimePart::Year) {
                return Err(refuse(
                    &self.expression,
                    "yyyy must come before MM, dd and HH",
                ));
            }
        }
        Ok(())
    }

    /// The partition columns this layout provides, in table order.
    pub fn partition_columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = Vec::new();
        for seg in &self.segments {
            for var in seg.vars() {
                if let Var::Key(k) = var {
                    cols.push(k);
                }
            }
        }
        if self.has_day() {
            cols.push(self.day.name.clone());
        }
        if self.has_time(TimePart::Hour) {
            cols.push("hour".into());
        }
        cols
    }

    pub fn has_time(&self, part: TimePart) -> bool {
        self.segments
            .iter()
            .any(|s| s.vars().any(|v| v == Var::Time(part)))
    }

    pub fn has_day(&self) -> bool {
        self.has_time(TimePart::Year)
    }

    /// Partition column values for a complete assignment, in `partition_columns()` order.
    pub fn column_values(&self, values: &Assignment) -> Vec<String> {
        self.partition_columns()
            .iter()
            .map(|c| match c.as_str() {
                day if day == self.day.name => {
                    let part = |p| values.get(&Var::Time(p)).map_or("", |s: &String| s);
                    let sep = self.day.separator;
                    format!(
                        "{}{sep}{}{sep}{}",
                        part(TimePart::Year),
                        part(TimePart::Month),
                        part(TimePart::Day)
                    )
                }
                "hour" => values
                    .get(&Var::Time(TimePart::Hour))
                    .cloned()
                    .unwrap_or_default(),
                key => values
                    .get(&Var::Key(key.to_string()))
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect()
    }
}

impl Segment {
    fn render_template(&self) -> String {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Literal(s) => s.clone(),
                Token::Key(k) => format!("!{{{k}}}"),
                Token::Time(p) => format!("!{{{p:?}}}"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_has_event_type_and_day() {
        let l = FirehoseLayout::parse(DEFAULT_LAYOUT).unwrap();
        assert_eq!(l.partition_columns(), vec!["event_type", "day"]);
        assert_eq!(l.segments.len(), 5);
        assert!(l.segments[0].is_literal());
        let v = l.segments[1].parse("Rendering Failure").unwrap();
        assert_eq!(v[&Var::Key("event_type".into())], "Rendering Failure");
        assert!(l.segments[2].parse("24").is_none());
        assert!(l.segments[2].parse("2024").is_some());
    }

    #[test]
    fn blog_layout_adds_sender_identity_and_hour() {
        let l = FirehoseLayout::parse(
            "partitioned/!{partitionKeyFromQuery:SenderIdentity}/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd/HH}/",
        )
        .unwrap();
        assert_eq!(
            l.partition_columns(),
            vec!["sender_identity", "event_type", "day", "hour"]
        );
    }

    #[test]
    fn hive_style_pieces() {
        let l = FirehoseLayout::parse(
            "ses/event=!{partitionKeyFromQuery:EventType}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/",
        )
        .unwrap();
        assert_eq!(l.partition_columns(), vec!["event_type", "day"]);
        let v = l.segments[2].parse("year=2024").unwrap();
        assert_eq!(v[&Var::Time(TimePart::Year)], "2024");
        assert!(l.segments[2].parse("month=11").is_none());
        let dt = FirehoseLayout::parse("logs/dt=!{timestamp:yyyy-MM-dd}/").unwrap();
        let mut v = dt.segments[1].parse("dt=2024-11-05").unwrap();
        assert_eq!(dt.column_values(&v), vec!["2024/11/05"]);
        v.clear();
        assert!(dt.segments[1].parse("dt=2024-11").is_none());
    }

    #[test]
    fn refuses_what_it_cannot_map_and_says_which_part() {
        let e = FirehoseLayout::read("x/!{firehose:random-string}/").unwrap_err();
        assert_eq!(e.part, "!{firehose:random-string}");
        assert!(FirehoseLayout::read("x/!{firehose:nope}/").is_err());
        let e = FirehoseLayout::read("x/!{timestamp:yyyy/MM}/").unwrap_err();
        assert!(e.why.contains("dd"), "{e}");
        let e = FirehoseLayout::read("x/!{timestamp:yyyy-ww}/").unwrap_err();
        assert!(e.why.contains("`ww`"), "{e}");
        let e = FirehoseLayout::read("x/!{partitionKeyFromQuery:EventType}").unwrap_err();
        assert!(e.why.contains("end with '/'"), "{e}");
        assert!(
            FirehoseLayout::read("x/!{nope:a}/")
                .unwrap_err()
                .why
                .contains("nope")
        );
    }

    #[test]
    fn the_error_prefix_gives_error_output_type_and_dt() {
        let l = FirehoseLayout::parse(DEFAULT_ERROR_LAYOUT)
            .unwrap()
            .with_day_column("dt", '-');
        assert_eq!(l.partition_columns(), vec!["error_output_type", "dt"]);
        let mut v = l.segments[1].parse("processing-failed").unwrap();
        v.extend(l.segments[2].parse("dt=2024-11-05").unwrap());
        assert_eq!(l.column_values(&v), vec!["processing-failed", "2024-11-05"]);
        assert_eq!(l.segments[2].render(&v).unwrap(), "dt=2024-11-05");
        assert!(l.segments[2].parse("2024-11-05").is_none());
    }

    #[test]
    fn render_is_the_inverse_of_parse() {
        let l = FirehoseLayout::parse(DEFAULT_LAYOUT).unwrap();
        for (seg, name) in l
            .segments
            .iter()
            .zip(["partitioned", "Bounce", "2024", "11", "05"])
        {
            let v = seg.parse(name).unwrap();
            assert_eq!(seg.render(&v).unwrap(), name);
        }
    }
}
