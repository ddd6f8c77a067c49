//! What a scan could not read cleanly: skipped records, damaged or ignored objects. The
//! engine records them here instead of printing (only the front end prints); the caller
//! names them on stderr and ends with a count, so nothing is dropped silently.
//!
//! Each problem counts once, however often a query reads its object (a report that scans
//! a table twice must not double the warnings). Only the first `NAMED_PER_KIND` of each
//! kind (in object order, so a run's output is stable) are kept to be named; the rest are
//! counted, so a bucket with a million bad records costs memory for the count only.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Problems of one kind named one by one; the rest are counted.
pub const NAMED_PER_KIND: usize = 10;
/// A problem's detail is cut to this many bytes (a 10 MB value makes no 10 MB line).
const MAX_DETAIL: usize = 300;

/// One thing a scan had to skip or repair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

#[derive(Debug, Default)]
struct Collected {
    /// Hashes of every problem seen, so each counts once.
    seen: HashSet<u64>,
    /// Per kind, the first problems in (object, position) order, at most NAMED_PER_KIND.
    named: BTreeMap<ProblemKind, BTreeSet<Problem>>,
    counts: BTreeMap<ProblemKind, u64>,
}

/// Shared by every partition of a scan; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    collected: Arc<Mutex<Collected>>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, problem: Problem) {
        let mut hasher = DefaultHasher::new();
        problem.hash(&mut hasher);
        let mut c = self.collected.lock().expect("diagnostics lock");
        if !c.seen.insert(hasher.finish()) {
            return;
        }
        *c.counts.entry(problem.kind).or_default() += 1;
        let named = c.named.entry(problem.kind).or_default();
        named.insert(problem);
        if named.len() > NAMED_PER_KIND {
            named.pop_last();
        }
    }

    /// The problems to name, in a stable order (by object, then position).
    pub fn problems(&self) -> Vec<Problem> {
        let c = self.collected.lock().expect("diagnostics lock");
        let mut all: Vec<Problem> = c.named.values().flatten().cloned().collect();
        all.sort_by(|a, b| (&a.object, a.position).cmp(&(&b.object, b.position)));
        all
    }

    /// How many problems of each kind were not named, e.g. `(SkippedRecord, 4990)`.
    pub fn unnamed(&self) -> Vec<(ProblemKind, u64)> {
        let c = self.collected.lock().expect("diagnostics lock");
        ProblemKind::ALL
            .iter()
            .filter_map(|k| {
                let count = c.counts.get(k).copied().unwrap_or(0);
                let named = c.named.get(k).map_or(0, |n| n.len() as u64);
                (count > named).then_some((*k, count - named))
            })
            .collect()
    }

    /// How many problems of every kind there were.
    pub fn total(&self) -> u64 {
        let c = self.collected.lock().expect("diagnostics lock");
        c.counts.values().sum()
    }

    /// One line that counts the problems by kind, e.g.
    /// `3 records skipped, 1 damaged object`.
    pub fn summary(&self) -> Option<String> {
        let c = self.collected.lock().expect("diagnostics lock");
        let parts: Vec<String> = ProblemKind::ALL
            .iter()
            .filter_map(|k| {
                let (one, many) = k.counted();
                match c.counts.get(k).copied().unwrap_or(0) {
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
}

impl Progress {
    pub fn planned(&self, objects: u64, bytes: u64) {
        self.objects_total.fetch_add(objects, Ordering::Relaxed);
        self.bytes_total.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn read(&self, bytes: u64) {
        self.objects_done.fetch_add(1, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }

    /// `12/27 objects, 1.2/3.4 MB, 1234 rows, 0.8s, ~1.2s left`.
    pub fn line(&self, elapsed: std::time::Duration) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (done, total) = (get(&self.bytes_done), get(&self.bytes_total));
        let secs = elapsed.as_secs_f64();
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
