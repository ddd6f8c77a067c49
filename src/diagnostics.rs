//! What a scan could not read cleanly: skipped records, damaged or ignored objects. The
//! engine records them here instead of printing (only the front end prints); the caller
//! names each one on stderr and ends with a count, so nothing is dropped silently.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One thing a scan had to skip or repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: the object's URL (`s3://bucket/key` or the local path).
    pub object: String,
    /// 1-based line and 0-based byte offset in the decompressed object, when it is one record.
    pub position: Option<(usize, usize)>,
    pub kind: ProblemKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A record that could not be decoded; the rest of its object was still read.
    SkippedRecord,
    /// A record decoded with some values of an unexpected type read as NULL.
    RepairedRecord,
    /// An object whose data ends early or is corrupt; the records before the damage were kept.
    DamagedObject,
    /// An object in the layout that is not SES event data (not JSON records).
    IgnoredObject,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ProblemKind::SkippedRecord => "skipped record",
            ProblemKind::RepairedRecord => "record read with NULLs",
            ProblemKind::DamagedObject => "damaged object",
            ProblemKind::IgnoredObject => "ignored object",
        };
        write!(f, "{what}: {}", self.object)?;
        if let Some((line, offset)) = self.position {
            write!(f, " line {line} (byte {offset})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Shared by every partition of a scan; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    problems: Arc<Mutex<Vec<Problem>>>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, problem: Problem) {
        self.problems
            .lock()
            .expect("diagnostics lock")
            .push(problem);
    }

    /// All problems so far, in a stable order (by object, then position).
    pub fn problems(&self) -> Vec<Problem> {
        let mut all = self.problems.lock().expect("diagnostics lock").clone();
        all.sort_by(|a, b| (&a.object, a.position).cmp(&(&b.object, b.position)));
        all
    }

    /// One line that counts the problems by kind, e.g.
    /// `3 records skipped, 1 damaged object`.
    pub fn summary(&self) -> Option<String> {
        let all = self.problems();
        if all.is_empty() {
            return None;
        }
        let count = |k: ProblemKind| all.iter().filter(|p| p.kind == k).count();
        let parts: Vec<String> = [
            (
                ProblemKind::SkippedRecord,
                "record skipped",
                "records skipped",
            ),
            (
                ProblemKind::RepairedRecord,
                "record read with NULLs",
                "records read with NULLs",
            ),
            (
                ProblemKind::DamagedObject,
                "damaged object",
                "damaged objects",
            ),
            (
                ProblemKind::IgnoredObject,
                "object ignored",
                "objects ignored",
            ),
        ]
        .iter()
        .filter_map(|(k, one, many)| match count(*k) {
            0 => None,
            1 => Some(format!("1 {one}")),
            n => Some(format!("{n} {many}")),
        })
        .collect();
        Some(parts.join(", "))
    }
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
