//! Skipping records by their raw bytes. A lookup (`array_has(recipients, 'alice@...')`,
//! `mail.messageid = '0100...'`) keeps a handful of records out of millions; decoding every
//! record to throw it away is what made the lookup the slowest thing seslog did. A record
//! that does not contain the value's bytes cannot match, so it is never split or decoded:
//! the scan searches the decompressed window for the value and looks only at the lines it
//! occurs on.
//!
//! It may only drop records that certainly cannot match; the filter itself still runs,
//! exactly, on what is left (the table says `Inexact`). So: the search ignores ASCII case
//! (`recipients` are lower-cased, addresses in records are not: the window is lower-cased
//! 16 KiB at a time into a buffer that stays in the CPU's cache, and searched with memchr's
//! SIMD substring search); only ASCII values with
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
}

/// What the search has found in one window: for the needle and for an escape, the position
/// searched from and the first found there (`None`: none up to the window's end).
#[derive(Debug, Default)]
pub struct Search {
    window: (usize, usize),
    needle: Option<(usize, Option<usize>)>,
    escape: Option<(usize, Option<usize>)>,
    scratch: Vec<u8>,
}

/// The Kelvin sign (U+212A), whose lower case is ASCII `k`.
const KELVIN: &[u8] = "\u{212A}".as_bytes();

/// Where the first thing is that makes any record a candidate: a `\u` escape or the Kelvin
/// sign (neither is changed by ASCII lower-casing). One pass for both: a backslash or the
/// Kelvin sign's first byte, then a look at what follows.
fn first_escape(raw: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr2(b'\\', KELVIN[0], &raw[from..]) {
        let at = from + i;
        let rest = &raw[at..];
        if rest.starts_with(b"\\u") || rest.starts_with(KELVIN) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The first hit at or after `pos`, from `find` (which searches from `pos`, giving an
/// offset from it) or from `slot`: a search from an earlier position whose hit is not
/// before `pos` (or that found nothing) answers for `pos` too.
fn remembered(
    slot: &mut Option<(usize, Option<usize>)>,
    pos: usize,
    find: impl FnOnce() -> Option<usize>,
) -> Option<usize> {
    match *slot {
        Some((from, hit)) if from <= pos && hit.is_none_or(|h| h >= pos) => hit,
        _ => {
            let hit = find().map(|i| pos + i);
            *slot = Some((pos, hit));
            hit
        }
    }
}

/// Where a lookup's value must be for a record to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Column {
    /// An element of `recipients` (`array_has(recipients, 'x')`).
    Recipients,
    /// An element of `mail.destination`.
    Destination,
    /// `mail.messageid` itself.
    MessageId,
}

/// A value a filter requires a record to hold, exactly, in one column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
        Self::of_needles(
            filters
                .iter()
                .filter_map(needle)
                .filter(|n| searchable(&n.value))
                .map(|n| n.value.to_ascii_lowercase())
                .collect(),
        )
    }

    /// The values searched for, lower-case, longest first: what `of_needles` takes back.
    pub fn needles(&self) -> &[String] {
        &self.needles
    }

    /// From values already searchable and lower-case (`needles` of another prefilter).
    pub fn of_needles(mut needles: Vec<String>) -> Option<Self> {
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
            needles,
        })
    }

    /// `bytes` with ASCII letters lower-cased, into `into` (reused).
    fn lower(bytes: &[u8], into: &mut Vec<u8>) {
        into.clear();
        into.extend(bytes.iter().map(u8::to_ascii_lowercase));
    }

    /// Where in `window`, at or after `pos`, a record to keep could first be: the first
    /// needle (in any ASCII case), or an escape. `search` remembers what was found in this
    /// window (`key`: its identity), so that a window is looked through once, however
    /// many candidates it holds.
    pub fn candidate(
        &self,
        search: &mut Search,
        window: &[u8],
        key: (usize, usize),
        pos: usize,
    ) -> Option<usize> {
        if search.window != key {
            *search = Search {
                window: key,
                scratch: std::mem::take(&mut search.scratch),
                ..Search::default()
            };
        }
        let needle = remembered(&mut search.needle, pos, || {
            self.find_needle(&window[pos..], &mut search.scratch)
        });
        let escape = remembered(&mut search.escape, pos, || first_escape(&window[pos..]));
        needle.into_iter().chain(escape).min()
    }

    /// The first needle in `raw`, in any ASCII case: `raw` is lower-cased a piece at a
    /// time into `scratch` (small enough to stay in the CPU's cache), the pieces
    /// overlapping by a needle's length less one so that none is missed at a seam.
    fn find_needle(&self, raw: &[u8], scratch: &mut Vec<u8>) -> Option<usize> {
        const PIECE: usize = 16 << 10;
        let overlap = self.needles[0].len() - 1;
        let piece = PIECE.max(2 * overlap + 1);
        let mut at = 0;
        loop {
            let end = (at + piece).min(raw.len());
            Self::lower(&raw[at..end], scratch);
            if let Some(i) = self.finders[0].find(scratch) {
                return Some(at + i);
            }
            if end == raw.len() {
                return None;
            }
            at = end - overlap;
        }
    }

    /// Whether a record could match: it holds every needle (in any ASCII case), or an
    /// escape.
    pub fn keeps(&self, record: &[u8], search: &mut Search) -> bool {
        if first_escape(record).is_some() {
            return true;
        }
        Self::lower(record, &mut search.scratch);
        self.finders
            .iter()
            .all(|f| f.find(&search.scratch).is_some())
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
        let keeps = |text: &[u8]| f.keeps(text, &mut Search::default());
        assert!(keeps(br#"{"to":["Alice@Example.COM"]}"#));
        assert!(keeps(br#"{"to":["alice\u0040example.com"]}"#));
        // Unicode lower case: "\u{212A}ATE@example.com" is kate@example.com in recipients.
        let kate = Prefilter::from_filters(&[datafusion::functions_nested::expr_fn::array_has(
            col(RECIPIENTS),
            lit("kate@example.com"),
        )])
        .expect("a prefilter");
        let kelvin = "{\"to\":[\"\u{212A}ATE@example.com\"]}".as_bytes();
        assert!(kate.keeps(kelvin, &mut Search::default()));
        assert_eq!(
            kate.candidate(&mut Search::default(), kelvin, (0, 0), 0),
            Some(8)
        );
        assert!(!keeps(br#"{"to":["alice@example.org"]}"#));
        assert!(
            !keeps(br#"{"from":"\"Bob\" <bob@example.org>"}"#),
            "\\\" is no \\u"
        );
        let candidate = |text: &[u8], pos| f.candidate(&mut Search::default(), text, (0, 0), pos);
        assert_eq!(candidate(b"xx ALICE@example.com", 0), Some(3));
        assert_eq!(candidate(b"xx ALICE@example.com", 4), None);
        assert_eq!(
            candidate(br#"x \" \u0041"#, 0),
            Some(5),
            "an escaped quote is not a \\u"
        );
    }

    /// The window is lower-cased and searched a piece at a time: a needle across a seam is
    /// found, and a search that remembers what it found gives what a fresh one gives.
    #[test]
    fn finds_every_candidate_across_pieces() {
        let f = Prefilter::from_filters(&[datafusion::functions_nested::expr_fn::array_has(
            col(RECIPIENTS),
            lit("alice@example.com"),
        )])
        .expect("a prefilter");
        let mut window = vec![b'x'; 100_000];
        let mut expected = Vec::new();
        for (at, text) in [
            ((16 << 10) - 5, &b"ALICE@example.COM"[..]),
            (40_000, br"\u0061"),
            (40_100, "\u{212A}".as_bytes()),
            (70_000, b"alice@EXAMPLE.com"),
            ((16 << 10) * 5 - 20, b"Alice@Example.Com"),
        ] {
            window[at..at + text.len()].copy_from_slice(text);
            expected.push(at);
        }
        expected.sort();
        let mut search = Search::default();
        let mut found = Vec::new();
        let mut pos = 0;
        while let Some(at) = f.candidate(&mut search, &window, (0, window.len()), pos) {
            assert_eq!(
                f.candidate(&mut Search::default(), &window, (0, 1), pos),
                Some(at)
            );
            found.push(at);
            pos = at + 1;
        }
        assert_eq!(found, expected);
    }
}
