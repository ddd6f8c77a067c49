//! Skipping records by their raw bytes. A lookup (`array_has(recipients, 'alice@...')`,
//! `mail.messageid = '0100...'`) keeps a handful of records out of millions; decoding every
//! record to throw it away is what made the lookup the slowest thing seslog did. A record
//! that does not contain the value's bytes cannot match, so it is never split or decoded:
//! the scan searches the decompressed window for the value and looks only at the lines it
//! occurs on.
//!
//! It may only drop records that certainly cannot match; the filter itself still runs,
//! exactly, on what is left (the table says `Inexact`). So: the search ignores ASCII case
//! (`recipients` are lower-cased, addresses in records are not: the window is searched in
//! an ASCII-lower-cased copy, with memchr's SIMD substring search); only ASCII values with
//! no character JSON might escape (`"`, `\`, `/`, controls) are searched for; any
//! record holding a `\u` escape is kept, since the value could be spelled with one; and so
//! is any record holding the one non-ASCII character whose lower case is ASCII (the Kelvin
//! sign, U+212A, lower-cases to `k`: `recipients` would match where the bytes do not).

use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use memchr::memmem::Finder;

use crate::table::listing::literal_str;
use crate::table::schema::RECIPIENTS;

/// The values every record a query can keep must contain (lower-cased).
#[derive(Debug)]
pub struct Prefilter {
    needles: Vec<String>,
    finders: Vec<Finder<'static>>,
    /// What makes any record a candidate: a `\u` escape, the Kelvin sign.
    escapes: [Finder<'static>; 2],
}

/// Where a lookup's value must be for a record to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// An element of `recipients` (`array_has(recipients, 'x')`).
    Recipients,
    /// An element of `mail.destination`.
    Destination,
    /// `mail.messageid` itself.
    MessageId,
}

/// A value a filter requires a record to hold, exactly, in one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needle {
    pub column: Column,
    pub value: String,
}

/// The value a filter requires a record to hold, when it has that shape (whatever the
/// value's characters: the byte search takes only the `searchable` ones).
pub fn needle(filter: &Expr) -> Option<Needle> {
    let (column, value) = match filter {
        // array_has(recipients, 'x'), array_has(mail.destination, 'x'), contains(...)
        Expr::ScalarFunction(f)
            if matches!(f.func.name(), "array_has" | "contains") && f.args.len() == 2 =>
        {
            let list = &f.args[0];
            let column = if matches!(list, Expr::Column(c) if c.name == RECIPIENTS) {
                Column::Recipients
            } else if field_of(list, "mail", "destination") {
                Column::Destination
            } else {
                return None;
            };
            (column, literal_str(&f.args[1])?)
        }
        // mail.messageid = 'x' (either way round)
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (
            field_of(left, "mail", "messageid"),
            field_of(right, "mail", "messageid"),
        ) {
            (true, false) => (Column::MessageId, literal_str(right)?),
            (false, true) => (Column::MessageId, literal_str(left)?),
            _ => return None,
        },
        _ => return None,
    };
    Some(Needle { column, value })
}

/// Whether the bytes of `value` are how JSON would hold it: ASCII without anything JSON
/// may escape.
fn searchable(value: &str) -> bool {
    value.len() >= 3
        && value
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_control() && !matches!(b, b'"' | b'\\' | b'/'))
}

/// `column.field` as the planner writes it: get_field(column, 'field').
fn field_of(expr: &Expr, column: &str, field: &str) -> bool {
    let Expr::ScalarFunction(f) = expr else {
        return false;
    };
    f.func.name() == "get_field"
        && f.args.len() == 2
        && matches!(&f.args[0], Expr::Column(c) if c.name == column)
        && literal_str(&f.args[1]).as_deref() == Some(field)
}

impl Prefilter {
    /// From the filters a scan was given; `None` when none of them has a searchable value.
    pub fn from_filters(filters: &[Expr]) -> Option<Self> {
        let mut needles: Vec<String> = filters
            .iter()
            .filter_map(needle)
            .filter(|n| searchable(&n.value))
            .map(|n| n.value.to_ascii_lowercase())
            .collect();
        // The longest first: it is searched for first, and is the rarest.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        if needles.is_empty() {
            return None;
        }
        Some(Prefilter {
            finders: needles
                .iter()
                .map(|n| Finder::new(n.as_bytes()).into_owned())
                .collect(),
            escapes: [
                Finder::new(b"\\u").into_owned(),
                Finder::new("\u{212A}".as_bytes()).into_owned(),
            ],
            needles,
        })
    }

    /// `bytes` with ASCII letters lower-cased, into `into` (reused between windows).
    pub fn lower(bytes: &[u8], into: &mut Vec<u8>) {
        into.clear();
        into.extend(bytes.iter().map(u8::to_ascii_lowercase));
    }

    /// The first place in `lowered` (a lower-cased window) where a record to keep could
    /// be: the first needle, or an escape.
    pub fn candidate(&self, lowered: &[u8]) -> Option<usize> {
        std::iter::once(&self.finders[0])
            .chain(&self.escapes)
            .filter_map(|f| f.find(lowered))
            .min()
    }

    /// Whether a (lower-cased) record could match: it holds every needle, or an escape.
    pub fn keeps(&self, lowered: &[u8]) -> bool {
        self.escapes.iter().any(|f| f.find(lowered).is_some())
            || self.finders.iter().all(|f| f.find(lowered).is_some())
    }

    /// For EXPLAIN: `contains "a@example.com"`.
    pub fn describe(&self) -> String {
        self.needles
            .iter()
            .map(|n| format!("contains {n:?}"))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    #[test]
    fn only_safe_values_are_searched_for() {
        assert!(searchable("alice@example.com"));
        assert!(searchable("0100019a-news-000000"));
        assert!(!searchable("\"quoted\"@example.com"));
        assert!(!searchable("ä@example.com"));
        assert!(!searchable("a/b@example.com"));
        assert!(!searchable("ab"));
        let eq = col("x").eq(lit("alice@example.com"));
        assert_eq!(
            needle(&eq),
            None,
            "not a filter on an address or message id"
        );
        // Not searched for in the bytes, but still a value the column must hold.
        let has = datafusion::functions_nested::expr_fn::array_has(col(RECIPIENTS), lit("ä@x"));
        assert_eq!(
            needle(&has),
            Some(Needle {
                column: Column::Recipients,
                value: "ä@x".into()
            })
        );
        assert!(Prefilter::from_filters(&[has]).is_none());
    }

    #[test]
    fn records_are_kept_by_any_case_and_by_escapes() {
        assert!(Prefilter::from_filters(&[]).is_none());
        let f = Prefilter::from_filters(&[datafusion::functions_nested::expr_fn::array_has(
            col(RECIPIENTS),
            lit("Alice@example.com"),
        )])
        .expect("a prefilter");
        let keeps = |text: &[u8]| {
            let mut lowered = Vec::new();
            Prefilter::lower(text, &mut lowered);
            f.keeps(&lowered)
        };
        assert!(keeps(br#"{"to":["Alice@Example.COM"]}"#));
        assert!(keeps(br#"{"to":["alice\u0040example.com"]}"#));
        // Unicode lower case: "\u{212A}ATE@example.com" is kate@example.com in recipients.
        let kate = Prefilter::from_filters(&[datafusion::functions_nested::expr_fn::array_has(
            col(RECIPIENTS),
            lit("kate@example.com"),
        )])
        .expect("a prefilter");
        let mut lowered = Vec::new();
        Prefilter::lower(
            "{\"to\":[\"\u{212A}ATE@example.com\"]}".as_bytes(),
            &mut lowered,
        );
        assert!(kate.keeps(&lowered));
        assert_eq!(kate.candidate(&lowered), Some(8));
        assert!(!keeps(br#"{"to":["alice@example.org"]}"#));
        let mut lowered = Vec::new();
        Prefilter::lower(b"xx ALICE@example.com", &mut lowered);
        assert_eq!(f.candidate(&lowered), Some(3));
    }
}
