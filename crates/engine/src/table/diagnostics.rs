//! What a scan could not read cleanly: skipped records, damaged or ignored objects. The
//! engine records them here instead of printing (only the front end prints); the caller
//! names them on stderr and ends with a count, so nothing is dropped silently.
//!
//! Each problem counts once, however often a query reads its object (a report that scans
//! a table twice must not double the warnings). Only the first `NAMED_PER_CAUSE` of each
//! cause (in object order, so a run's output is stable) are kept to be named; the rest are
//! counted per cause, so 5,000 records of one kind of rubbish are a few lines and one count,
//! and a bucket with a million bad records costs memory for the counts only.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::physical_plan::metrics::Count;
use serde::{Deserialize, Serialize};

/// Problems of one cause named one by one; the rest are counted.
pub const NAMED_PER_CAUSE: usize = 5;
/// Causes of one kind told apart; problems of any further cause are counted together.
const CAUSES_PER_KIND: usize = 20;
/// What the problems past `CAUSES_PER_KIND` causes are counted as.
const OTHER_CAUSES: &str = "other causes";
/// A problem's detail is cut to this many bytes (a 10 MB value makes no 10 MB line).
const MAX_DETAIL: usize = 300;

/// One thing a scan had to skip or repair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Problem {
    /// Where: the object's URL (`s3://bucket/key` or the local path).
    pub object: String,
    /// 1-based line and 0-based byte offset in the decompressed object, when it is one record.
    pub position: Option<(usize, usize)>,
    pub kind: ProblemKind,
    pub detail: String,
    /// The setting that decided what became of a damaged object's records, when one did.
    pub choice: Option<Choice>,
}

/// `Tolerance::keep_damaged`, as it decided a damaged object's fate. A front end names it
/// the way its users set it (seslog: `--keep-damaged`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Choice {
    /// The records were kept, because `keep_damaged` is set.
    Kept,
    /// The records were not used; `keep_damaged` would keep them.
    Dropped,
}

impl Problem {
    pub fn new(
        object: String,
        position: Option<(usize, usize)>,
        kind: ProblemKind,
        mut detail: String,
    ) -> Self {
        if detail.len() > MAX_DETAIL {
            let mut cut = MAX_DETAIL;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
            detail.push_str("...");
        }
        Problem {
            object,
            position,
            kind,
            detail,
            choice: None,
        }
    }

    /// What went wrong where, without the setting that decided the outcome.
    pub fn summary(&self) -> String {
        let what = match self.kind {
            ProblemKind::SkippedRecord => "skipped record",
            ProblemKind::RepairedRecord => "record read with NULLs",
            ProblemKind::DamagedObject => "damaged object",
            ProblemKind::IgnoredObject => "ignored object",
        };
        let at = match self.position {
            Some((line, offset)) => format!(" line {line} (byte {offset})"),
            None => String::new(),
        };
        format!("{what}: {}{at}: {}", self.object, self.detail)
    }

    /// The detail up to its first `: `: the why, before the record's own text.
    pub fn head(&self) -> &str {
        self.detail.split(": ").next().unwrap_or_default()
    }

    /// Why, without what differs from one record to the next: the detail up to its first
    /// `: ` (what follows is the record's text), with numbers and quoted text left out.
    /// `not a JSON object: "abc"` and `not a JSON object: "xyz"` are one cause.
    pub fn cause(&self) -> String {
        let head = self.head();
        let mut out = String::with_capacity(head.len());
        let mut chars = head.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '0'..='9' => {
                    while chars.next_if(char::is_ascii_digit).is_some() {}
                    out.push('N');
                }
                '"' | '\'' | '`' => {
                    for q in chars.by_ref() {
                        if q == c {
                            break;
                        }
                    }
                    out.extend([c, '…', c]);
                }
                c => out.push(c),
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProblemKind {
    /// A record that could not be decoded; the rest of its object was still read.
    SkippedRecord,
    /// A record decoded with some values of an unexpected type read as NULL.
    RepairedRecord,
    /// An object whose data ends early or is corrupt.
    DamagedObject,
    /// An object in the layout that is not SES event data (not JSON records), or whose
    /// name cannot be read.
    IgnoredObject,
}

impl ProblemKind {
    const ALL: [ProblemKind; 4] = [
        ProblemKind::SkippedRecord,
        ProblemKind::RepairedRecord,
        ProblemKind::DamagedObject,
        ProblemKind::IgnoredObject,
    ];

    /// (one, many) as counted: "record skipped" / "records skipped".
    fn counted(self) -> (&'static str, &'static str) {
        match self {
            ProblemKind::SkippedRecord => ("record skipped", "records skipped"),
            ProblemKind::RepairedRecord => ("record read with NULLs", "records read with NULLs"),
            ProblemKind::DamagedObject => ("damaged object", "damaged objects"),
            ProblemKind::IgnoredObject => ("object ignored", "objects ignored"),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        match self.choice {
            Some(Choice::Kept) => f.write_str(" (keep_damaged is set)"),
            Some(Choice::Dropped) => f.write_str("; keep_damaged keeps them"),
            None => Ok(()),
        }
    }
}

/// A kind of problem and its cause (`Problem::cause`).
pub type Cause = (ProblemKind, String);

#[derive(Debug, Default)]
struct Collected {
    /// Hashes of every problem seen, so each counts once.
    seen: HashSet<u64>,
    /// Per cause, the first problems in (object, position) order, at most NAMED_PER_CAUSE.
    named: BTreeMap<Cause, BTreeSet<Problem>>,
    tallies: BTreeMap<Cause, Tally>,
    causes_per_kind: BTreeMap<ProblemKind, usize>,
}

/// The problems of one cause.
#[derive(Debug)]
struct Tally {
    count: u64,
    /// Their wording while every one has said the same (`Problem::head`): what the count
    /// line shows in place of the cause's placeholders.
    wording: Option<String>,
}

impl Collected {
    /// Counts `n` problems of `cause` worded `head`; returns the cause they count under
    /// (past `CAUSES_PER_KIND` causes of a kind, the other causes).
    fn tally(&mut self, mut cause: Cause, head: &str, n: u64) -> Cause {
        if !self.tallies.contains_key(&cause) {
            let causes = self.causes_per_kind.entry(cause.0).or_default();
            if *causes >= CAUSES_PER_KIND {
                cause.1 = OTHER_CAUSES.to_string();
            } else {
                *causes += 1;
            }
        }
        let tally = self.tallies.entry(cause.clone()).or_insert_with(|| Tally {
            count: 0,
            wording: Some(head.to_string()),
        });
        tally.count += n;
        if tally.wording.as_deref() != Some(head) {
            tally.wording = None;
        }
        cause
    }

    /// Whether `problem` is among the first of its cause, so far.
    fn would_name(&self, cause: &Cause, problem: &Problem) -> bool {
        self.named.get(cause).is_none_or(|named| {
            named.len() < NAMED_PER_CAUSE || named.last().is_some_and(|last| problem < last)
        })
    }

    /// Keeps `problem` to be named if it is among the first of its cause.
    fn name(&mut self, cause: Cause, problem: Problem) {
        let named = self.named.entry(cause).or_default();
        named.insert(problem);
        if named.len() > NAMED_PER_CAUSE {
            named.pop_last();
        }
    }

    fn count(&self, kind: ProblemKind) -> u64 {
        self.tallies
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, t)| t.count)
            .sum()
    }
}

/// Shared by every partition of a scan; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    collected: Arc<Mutex<Collected>>,
    /// Where a worker's scan also sends what it collects, for the coordinator to `absorb`.
    forward: Option<Arc<dyn Forward>>,
}

/// What a scan running in another process (a worker) sends on, as it collects: a problem
/// of an object counted under its cause and wording, and each problem that is among the
/// first of its cause when it comes (so the first ones of every worker reach the
/// coordinator, which keeps the first of all). Counts are per object, so that an object
/// two scans of one query read counts once, as here.
pub trait Forward: Send + Sync + fmt::Debug {
    fn counted(&self, object: &str, cause: &Cause, head: &str);
    fn named(&self, problem: &Problem);
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Diagnostics that also send what they collect to `forward`.
    pub fn forwarding(forward: Arc<dyn Forward>) -> Self {
        Self {
            forward: Some(forward),
            ..Self::default()
        }
    }

    pub fn push(&self, problem: Problem) {
        let mut hasher = DefaultHasher::new();
        problem.hash(&mut hasher);
        let mut c = self.collected.lock().expect("diagnostics lock");
        if !c.seen.insert(hasher.finish()) {
            return;
        }
        let head = problem.head().to_string();
        let raw = (problem.kind, problem.cause());
        if let Some(forward) = &self.forward {
            forward.counted(&problem.object, &raw, &head);
        }
        let cause = c.tally(raw, &head, 1);
        if c.would_name(&cause, &problem)
            && let Some(forward) = &self.forward
        {
            forward.named(&problem);
        }
        c.name(cause, problem);
    }

    /// Takes in what other processes' scans collected (workers', see `Forward`): counts
    /// per cause and wording, each object counted once however many scans read it, then
    /// the problems they named (each named once).
    pub fn absorb(
        &self,
        tallies: impl IntoIterator<Item = (Cause, String, u64)>,
        named: impl IntoIterator<Item = Problem>,
    ) {
        let mut c = self.collected.lock().expect("diagnostics lock");
        for (cause, head, count) in tallies {
            c.tally(cause, &head, count);
        }
        for problem in named {
            let mut hasher = DefaultHasher::new();
            problem.hash(&mut hasher);
            if !c.seen.insert(hasher.finish()) {
                continue;
            }
            let mut cause = (problem.kind, problem.cause());
            if !c.tallies.contains_key(&cause) {
                cause.1 = OTHER_CAUSES.to_string();
            }
            c.name(cause, problem);
        }
    }

    /// The problems to name, in a stable order (by object, then position).
    pub fn problems(&self) -> Vec<Problem> {
        let c = self.collected.lock().expect("diagnostics lock");
        let mut all: Vec<Problem> = c.named.values().flatten().cloned().collect();
        all.sort_by(|a, b| (&a.object, a.position).cmp(&(&b.object, b.position)));
        all
    }

    /// How many problems of each cause were not named, e.g.
    /// `(SkippedRecord, "not a JSON object", 4995)`, by kind, then cause; a cause whose
    /// problems all said the same is given in their words.
    pub fn unnamed(&self) -> Vec<(ProblemKind, String, u64)> {
        let c = self.collected.lock().expect("diagnostics lock");
        c.tallies
            .iter()
            .filter_map(|(cause, tally)| {
                let named = c.named.get(cause).map_or(0, |n| n.len() as u64);
                let words = match &tally.wording {
                    Some(same) if cause.1 != OTHER_CAUSES => same.clone(),
                    _ => cause.1.clone(),
                };
                (tally.count > named).then(|| (cause.0, words, tally.count - named))
            })
            .collect()
    }

    /// How many problems of every kind there were.
    pub fn total(&self) -> u64 {
        let c = self.collected.lock().expect("diagnostics lock");
        c.tallies.values().map(|t| t.count).sum()
    }

    /// One line that counts the problems by kind, e.g.
    /// `3 records skipped, 1 damaged object`.
    pub fn summary(&self) -> Option<String> {
        let c = self.collected.lock().expect("diagnostics lock");
        let parts: Vec<String> = ProblemKind::ALL
            .iter()
            .filter_map(|k| {
                let (one, many) = k.counted();
                match c.count(*k) {
                    0 => None,
                    1 => Some(format!("1 {one}")),
                    n => Some(format!("{n} {many}")),
                }
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// The plural of a kind, for "and 4990 more records skipped".
pub fn counted_plural(kind: ProblemKind) -> &'static str {
    kind.counted().1
}

/// How far a run has got, for the progress line: objects and bytes planned (added when a
/// scan is planned) and read (added as each object is fetched), and rows produced.
#[derive(Debug, Default)]
pub struct Progress {
    pub objects_total: AtomicU64,
    pub bytes_total: AtomicU64,
    pub objects_done: AtomicU64,
    pub bytes_done: AtomicU64,
    pub rows: AtomicU64,
    /// A worker's scan also counts what it read here (its objects, their bytes; of the
    /// Parquet tier, row groups, rows and bytes), for the coordinator's `--stats`.
    mirror: Option<Mirror>,
    /// The scans run on workers: what they have read is known only at the end.
    pub on_workers: std::sync::atomic::AtomicBool,
}

/// The metrics a worker's scan counts what it read into.
#[derive(Debug)]
pub struct Mirror {
    pub objects: Count,
    pub bytes: Count,
    /// Of those, the objects (and their bytes) the worker's object cache held.
    pub cached_objects: Count,
    pub cached_bytes: Count,
    pub tier_row_groups: Count,
    pub tier_rows: Count,
    pub tier_bytes: Count,
}

impl Progress {
    /// Progress that also counts what is read into metrics.
    pub fn mirrored(mirror: Mirror) -> Self {
        Self {
            mirror: Some(mirror),
            ..Self::default()
        }
    }

    /// Whether what is read is also counted into metrics (on a worker).
    pub fn mirrors(&self) -> bool {
        self.mirror.is_some()
    }

    /// An object that came from the object cache, not from S3 (on a worker).
    pub fn cached(&self, bytes: u64) {
        if let Some(mirror) = &self.mirror {
            mirror.cached_objects.add(1);
            mirror.cached_bytes.add(bytes as usize);
        }
    }

    /// What was read of a Parquet tier file: row groups, rows and bytes (on a worker).
    pub fn tier_read(&self, row_groups: u64, rows: u64, bytes: u64) {
        if let Some(mirror) = &self.mirror {
            mirror.tier_row_groups.add(row_groups as usize);
            mirror.tier_rows.add(rows as usize);
            mirror.tier_bytes.add(bytes as usize);
        }
    }

    pub fn planned(&self, objects: u64, bytes: u64) {
        self.objects_total.fetch_add(objects, Ordering::Relaxed);
        self.bytes_total.fetch_add(bytes, Ordering::Relaxed);
    }

    fn done(&self, bytes: u64) {
        self.objects_done.fetch_add(1, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A file of the Parquet tier read (its figures are the tier's, `tier_read`).
    pub fn read_tier_file(&self, bytes: u64) {
        self.done(bytes);
    }

    /// An object of the source read.
    pub fn read(&self, bytes: u64) {
        self.done(bytes);
        if let Some(mirror) = &self.mirror {
            mirror.objects.add(1);
            mirror.bytes.add(bytes as usize);
        }
    }

    /// `12/27 objects, 1.2/3.4 MB, 1234 rows, 0.8s, ~1.2s left`.
    pub fn line(&self, elapsed: std::time::Duration) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (done, total) = (get(&self.bytes_done), get(&self.bytes_total));
        let secs = elapsed.as_secs_f64();
        if self.on_workers.load(Ordering::Relaxed) {
            return format!(
                "{} objects, {:.1} MB on workers, {} rows, {secs:.1}s",
                get(&self.objects_total),
                total as f64 / 1e6,
                get(&self.rows),
            );
        }
        let left = if done > 0 && total > done {
            format!(", ~{:.1}s left", secs * (total - done) as f64 / done as f64)
        } else {
            String::new()
        };
        format!(
            "{}/{} objects, {:.1}/{:.1} MB, {} rows, {secs:.1}s{left}",
            get(&self.objects_done),
            get(&self.objects_total),
            done as f64 / 1e6,
            total as f64 / 1e6,
            get(&self.rows),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skipped(object: &str, line: usize, detail: &str) -> Problem {
        Problem::new(
            object.into(),
            Some((line, line * 10)),
            ProblemKind::SkippedRecord,
            detail.into(),
        )
    }

    #[test]
    fn progress_on_workers_says_what_was_planned_not_what_was_read() {
        let progress = Progress::default();
        progress.planned(3, 2_500_000);
        progress.read(1_000_000);
        let elapsed = std::time::Duration::from_secs(2);
        assert_eq!(
            progress.line(elapsed),
            "1/3 objects, 1.0/2.5 MB, 0 rows, 2.0s, ~3.0s left"
        );
        progress.on_workers.store(true, Ordering::Relaxed);
        assert_eq!(
            progress.line(elapsed),
            "3 objects, 2.5 MB on workers, 0 rows, 2.0s"
        );
    }

    #[test]
    fn causes_leave_out_what_differs_between_records() {
        for (detail, cause) in [
            ("not a JSON object: \"abc\"", "not a JSON object"),
            (
                "mail.timestamp = \"x\" is not a whole number that fits 64 bits; read as NULL",
                "mail.timestamp = \"…\" is not a whole number that fits N bits; read as NULL",
            ),
            (
                "Encountered unexpected 'o' whilst parsing value",
                "Encountered unexpected '…' whilst parsing value",
            ),
            (
                "record is longer than 64 MiB: \"xxx\"",
                "record is longer than N MiB",
            ),
        ] {
            assert_eq!(skipped("a", 1, detail).cause(), cause, "{detail}");
        }
    }

    #[test]
    fn each_cause_is_named_a_few_times_then_counted() {
        let d = Diagnostics::new();
        for line in 1..=5000 {
            d.push(skipped(
                "b",
                line,
                &format!("not a JSON object: \"{line}\""),
            ));
        }
        for line in 1..=3 {
            d.push(skipped(
                "a",
                line,
                "an SNS `SubscriptionConfirmation` message",
            ));
        }
        // Each problem counts once.
        d.push(skipped("a", 1, "an SNS `SubscriptionConfirmation` message"));
        let named: Vec<String> = d.problems().iter().map(|p| p.object.clone()).collect();
        assert_eq!(named, ["a", "a", "a", "b", "b", "b", "b", "b"]);
        assert_eq!(
            d.unnamed(),
            vec![(
                ProblemKind::SkippedRecord,
                "not a JSON object".to_string(),
                4995
            )]
        );
        assert_eq!(d.total(), 5003);
        assert_eq!(d.summary().unwrap(), "5003 records skipped");
    }

    #[test]
    fn a_count_line_keeps_the_words_its_problems_all_said() {
        let d = Diagnostics::new();
        for line in 1..=8 {
            d.push(skipped(
                "a",
                line,
                "an SES `Received` notification, which has no event",
            ));
            d.push(skipped(
                "b",
                line,
                &format!("Encountered unexpected '{line}' whilst parsing value"),
            ));
        }
        assert_eq!(
            d.unnamed(),
            vec![
                (
                    ProblemKind::SkippedRecord,
                    "Encountered unexpected '…' whilst parsing value".to_string(),
                    3
                ),
                (
                    ProblemKind::SkippedRecord,
                    "an SES `Received` notification, which has no event".to_string(),
                    3
                ),
            ]
        );
    }

    #[test]
    fn causes_past_the_limit_are_counted_together() {
        let d = Diagnostics::new();
        for cause in 0..CAUSES_PER_KIND + 5 {
            let word: String = std::iter::repeat_n('x', cause + 1).collect();
            for line in 0..NAMED_PER_CAUSE + 1 {
                d.push(skipped(&word, line, &word));
            }
        }
        let unnamed = d.unnamed();
        assert_eq!(unnamed.len(), CAUSES_PER_KIND + 1);
        let other = unnamed.iter().find(|u| u.1 == OTHER_CAUSES).unwrap();
        assert_eq!(
            other.2,
            (5 * (NAMED_PER_CAUSE + 1) - NAMED_PER_CAUSE) as u64
        );
    }
}
