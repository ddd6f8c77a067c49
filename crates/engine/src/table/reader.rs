//! One object -> output batches: its bytes are decompressed a window at a time
//! (`records.rs`), cut into records, and decoded (`decode.rs`), and nothing is handed on
//! before it can be trusted.
//!
//! Trust: a gzip object's records are held back until its CRC has been checked. A bit flip
//! inflates to plausible garbage (`DeliveryDeuay`) long before the checksum at the end says
//! so, so the records of an object whose checksum fails are dropped (and the object named),
//! unless the user asks to keep them. Holding is bounded (`HOLD_LIMIT`): past it, the rest
//! of the object is inflated without decoding to get the verdict first, and decoding
//! resumes in a second pass. A truncated object has no checksum to fail: the records
//! before the cut are sound and kept.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::error::Result;

use crate::error::{Error, Unit};
use crate::table::decode::{DecodePlan, Record, preview};
use crate::table::diagnostics::{Choice, Diagnostics, Problem, ProblemKind};
use crate::table::prefilter::{Prefilter, Search};
use crate::table::records::{self, Ending, Flow, Inflow, Piece, RecordSplitter, WINDOW};

/// Decoded output held per object while its gzip checksum is pending.
const HOLD_LIMIT: usize = 64 << 20;
/// Lines that are not JSON before the first record: past this, the object is not event
/// data (a README, a CSV export) and is ignored whole, as one problem.
const MAX_LEADING_GARBAGE: usize = 100;

/// Output and problems of a gzip object, held until its checksum is known.
#[derive(Default)]
struct Hold {
    batches: Vec<RecordBatch>,
    bytes: usize,
    problems: Vec<Problem>,
}

/// Reads one object as a sequence of output batches, from its bytes as fetched.
pub struct ObjectReader {
    plan: Arc<DecodePlan>,
    object: String,
    diagnostics: Diagnostics,
    /// The object as fetched, for a second pass.
    raw: Bytes,
    inflow: Inflow,
    /// Decompressed bytes being split; `base` is the offset of its first byte.
    window: Bytes,
    base: usize,
    pos: usize,
    /// The 1-based line `pos` is on (not kept up once nothing more can be reported).
    line: usize,
    /// Discarding bytes up to the next newline (after garbage that ran past the window).
    skip_line: bool,
    /// Set once the inflow has said how it ended.
    ending: Option<Ending>,
    /// A record (or what starts like one) has been seen in this object.
    json_seen: bool,
    /// Whether the object is read a line at a time, each line taken as one record (split
    /// record by record only if it fails to decode): true until a line does not look
    /// like one record; then the rest of the object is split record by record.
    by_lines: bool,
    /// With a prefilter, lines without the value are passed over; only once the object's
    /// first line is seen to be one record (pretty-printed JSON spans lines).
    first_line_checked: bool,
    /// How far the prefilter's search has got in the window.
    search: Search,
    /// Lines that are not JSON before the first record: reported as skipped once a record
    /// shows the object is event data, or as one ignored object if none ever does.
    leading_garbage: Vec<(Option<(usize, usize)>, String)>,
    hold: Option<Hold>,
    ready: VecDeque<RecordBatch>,
    done: bool,
}

impl ObjectReader {
    pub fn new(
        plan: Arc<DecodePlan>,
        raw: Bytes,
        object: String,
        diagnostics: Diagnostics,
    ) -> Self {
        let inflow = Inflow::new(raw.clone());
        let hold = inflow.is_gzip().then(Hold::default);
        Self {
            plan,
            object,
            diagnostics,
            raw,
            inflow,
            window: Bytes::new(),
            base: 0,
            pos: 0,
            line: 1,
            skip_line: false,
            ending: None,
            json_seen: false,
            by_lines: true,
            first_line_checked: false,
            search: Search::default(),
            leading_garbage: Vec::new(),
            hold,
            ready: VecDeque::new(),
            done: false,
        }
    }

    fn report(
        &mut self,
        kind: ProblemKind,
        position: Option<(usize, usize)>,
        detail: String,
    ) -> Result<()> {
        self.report_with(kind, position, detail, None)
    }

    fn report_with(
        &mut self,
        kind: ProblemKind,
        position: Option<(usize, usize)>,
        detail: String,
        choice: Option<Choice>,
    ) -> Result<()> {
        let mut problem = Problem::new(self.object.clone(), position, kind, detail);
        problem.choice = choice;
        if self.plan.tolerance.strict {
            return Err(Error::Strict {
                problem: Box::new(problem),
                unit: Unit::Record,
            }
            .into());
        }
        match &mut self.hold {
            Some(hold) => hold.problems.push(problem),
            None => self.diagnostics.push(problem),
        }
        Ok(())
    }

    /// The object is event data: lines before its first record were damaged records.
    fn saw_json(&mut self) -> Result<()> {
        if !self.json_seen {
            self.json_seen = true;
            for (position, detail) in std::mem::take(&mut self.leading_garbage) {
                self.report(ProblemKind::SkippedRecord, position, detail)?;
            }
        }
        Ok(())
    }

    /// Not event data at all (a README, a CSV export): ignored whole, as one problem.
    fn ignore_object(&mut self) -> Result<()> {
        (self.window, self.pos) = (Bytes::new(), 0);
        self.ending = Some(Ending::Intact);
        self.hold = None;
        self.leading_garbage.clear();
        self.done = true;
        self.report(
            ProblemKind::IgnoredObject,
            None,
            "not JSON event data (does not start with '{')".into(),
        )
    }

    /// All of the object has been split.
    fn exhausted(&self) -> bool {
        self.ending.is_some() && self.pos >= self.window.len()
    }

    /// Replaces the window by `carry` (the unsplit end of the old one) and what follows it.
    fn refill(&mut self, carry_from: usize) {
        let carry = self.window.slice(carry_from..);
        self.base += carry_from;
        self.pos = 0;
        match self.inflow.next(&carry, WINDOW) {
            Flow::Data(data) => {
                self.window = data;
                // The inflow may already know this is the last of it (the gzip trailer
                // was read in the same call): then nothing is carried over from this
                // window, and nothing is searched for or counted past it.
                self.ending = self.inflow.ending().cloned();
            }
            Flow::End(ending) => {
                self.window = carry;
                self.ending = Some(ending);
            }
        }
    }

    /// Discards bytes through the next newline; false when the object ends first.
    fn skip_to_next_line(&mut self) -> bool {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.window[self.pos..]) {
                self.pos += i + 1;
                self.line += 1;
                self.skip_line = false;
                return true;
            }
            if self.ending.is_some() {
                self.pos = self.window.len();
                return false;
            }
            self.refill(self.window.len());
        }
    }

    /// The next records, up to a batch; fewer (or none) only at the end of the object.
    /// With a prefilter, only records that could match.
    fn next_records(&mut self) -> Result<Vec<Record>> {
        let prefilter = self.plan.prefilter.clone();
        if self.by_lines {
            match &prefilter {
                Some(p) if self.first_line_is_a_record() => return self.candidate_records(p),
                Some(_) => {}
                None => return self.split_lines(),
            }
        }
        let mut records = self.split_records()?;
        let Some(prefilter) = prefilter else {
            return Ok(records);
        };
        let mut search = Search::default();
        records.retain(|r| prefilter.keeps(&r.bytes, &mut search));
        Ok(records)
    }

    /// Whether the object's first line (the first that is not blank) looks like one
    /// record: then its lines are its records.
    fn first_line_is_a_record(&mut self) -> bool {
        if self.first_line_checked {
            return self.by_lines;
        }
        if self.window.is_empty() && self.ending.is_none() {
            self.refill(0);
        }
        self.first_line_checked = true;
        let rest = &self.window[self.pos..];
        let start = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .unwrap_or(rest.len());
        let line = &rest[start..];
        let end = memchr::memchr(b'\n', line);
        let looks = match end {
            Some(end) => looks_like_a_record(&line[..end]),
            None if self.ending.is_some() => looks_like_a_record(line),
            None => false,
        };
        self.by_lines = looks;
        looks
    }

    /// The fast way for one record per line: each line is a record, found with a
    /// newline search, checked only for its first and last byte; the JSON decoder
    /// checks the rest (a line that fails is split record by record then).
    fn split_lines(&mut self) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        while records.len() < self.plan.batch_size && !self.exhausted() {
            if self.skip_line && !self.skip_to_next_line() {
                break;
            }
            let window = self.window.clone();
            let (line_end, next) = match memchr::memchr(b'\n', &window[self.pos..]) {
                Some(i) => (self.pos + i, self.pos + i + 1),
                // A line that runs past the window is carried over only if it starts
                // like a record: the splitter deals with anything else (1 GiB of zeros
                // is not one long record).
                None if self.ending.is_none() => {
                    let rest = trim(&window[self.pos..]);
                    let rest = rest.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(rest);
                    if !rest.is_empty() && rest[0] != b'{' {
                        self.by_lines = false;
                        break;
                    }
                    self.carry_or_skip(self.pos)?;
                    continue;
                }
                None => (window.len(), window.len()),
            };
            let mut start = self.pos;
            if self.base + start == 0 && window[start..line_end].starts_with(&[0xEF, 0xBB, 0xBF]) {
                start += 3;
            }
            let line = trim(&window[start..line_end]);
            if line.is_empty() {
                (self.pos, self.line) = (next, self.line + 1);
                continue;
            }
            if !looks_like_a_record(line) {
                self.by_lines = false;
                break;
            }
            let offset = start + (line.as_ptr() as usize - window[start..].as_ptr() as usize);
            self.json_seen = true;
            let record = Record {
                bytes: window.slice(offset..offset + line.len()),
                line: self.line,
                offset: self.base + offset,
                whole_line: true,
            };
            (self.pos, self.line) = (next, self.line + 1);
            if shallow(line) {
                records.push(record);
            } else {
                // It may nest deeper than the JSON decoder can recurse: the splitter
                // measures it (and skips it if so).
                records.extend(self.split_lines_apart(&[record])?);
            }
        }
        Ok(records)
    }

    /// Lines taken whole that did not decode: split record by record, the pieces that are
    /// not records reported.
    fn split_lines_apart(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            if !r.whole_line {
                out.push(Record {
                    bytes: r.bytes.clone(),
                    whole_line: false,
                    ..*r
                });
                continue;
            }
            for (piece, line) in RecordSplitter::resume(&r.bytes, 0, r.line, false) {
                match piece {
                    Piece::Record(range) => out.push(Record {
                        bytes: r.bytes.slice(range.clone()),
                        line,
                        offset: r.offset + range.start,
                        whole_line: false,
                    }),
                    Piece::Garbage(range, why) | Piece::GarbageToNextLine(range, why) => {
                        let detail = format!("{why}: {}", preview(&r.bytes[range.clone()]));
                        let position = Some((line, r.offset + range.start));
                        self.report(ProblemKind::SkippedRecord, position, detail)?;
                    }
                    Piece::Partial(_) => unreachable!("a line is split as the end of its object"),
                }
            }
        }
        Ok(out)
    }

    /// With a prefilter, on an object of one record per line: search the window for the
    /// value and split only the lines it occurs on.
    fn candidate_records(&mut self, prefilter: &Prefilter) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        while records.len() < self.plan.batch_size && !self.exhausted() {
            if self.skip_line && !self.skip_to_next_line() {
                break;
            }
            let window = self.window.clone();
            let more = self.ending.is_none();
            let key = (self.base, window.len());
            let Some(at) = prefilter.candidate(&mut self.search, &window, key, self.pos) else {
                if !more {
                    // Not in the rest of the object: nothing after it asks for a line
                    // number, so its lines are not counted (most objects are one window).
                    self.pos = window.len();
                    continue;
                }
                // Not here. The value may straddle the end of the window: keep its last line.
                let keep_from = memchr::memrchr(b'\n', &window[self.pos..])
                    .map_or(self.pos, |i| self.pos + i + 1);
                self.line += memchr::memchr_iter(b'\n', &window[self.pos..keep_from]).count();
                self.pos = keep_from;
                self.carry_or_skip(keep_from)?;
                continue;
            };
            let start = memchr::memrchr(b'\n', &window[self.pos..at])
                .map_or(self.pos, |i| self.pos + i + 1);
            self.line += memchr::memchr_iter(b'\n', &window[self.pos..start]).count();
            self.pos = start;
            let mut splitter = RecordSplitter::resume(&window, start, self.line, more);
            loop {
                match splitter.next() {
                    Some((Piece::Record(range), line)) => {
                        let end = range.end;
                        if prefilter.keeps(&window[range.clone()], &mut self.search) {
                            records.push(Record {
                                bytes: window.slice(range.clone()),
                                line,
                                offset: self.base + range.start,
                                whole_line: false,
                            });
                        }
                        (self.pos, self.line) = (splitter.pos, splitter.line);
                        if end > at {
                            break;
                        }
                    }
                    Some((Piece::Partial(from), _)) => {
                        self.carry_or_skip(from)?;
                        break;
                    }
                    // Not a record where a line starts after all: read the rest of this
                    // object the ordinary way, from this line on (it reports what it finds).
                    Some(_) => {
                        self.by_lines = false;
                        return Ok(records);
                    }
                    None => break,
                }
            }
        }
        Ok(records)
    }

    /// Refills the window keeping what follows `from`, unless that is longer than a record
    /// may be: then it is skipped (and named) up to the next line.
    fn carry_or_skip(&mut self, from: usize) -> Result<()> {
        let window = self.window.clone();
        let mut carry_from = from;
        if window.len() - from > records::MAX_RECORD_BYTES {
            let detail = format!(
                "record is longer than {} MiB: {}",
                records::MAX_RECORD_BYTES >> 20,
                preview(&window[from..])
            );
            let position = Some((self.line, self.base + from));
            self.report(ProblemKind::SkippedRecord, position, detail)?;
            self.line += memchr::memchr_iter(b'\n', &window[from..]).count();
            self.skip_line = true;
            carry_from = window.len();
        }
        self.refill(carry_from);
        Ok(())
    }

    /// Every record, split in order (and every piece that is not one, reported).
    fn split_records(&mut self) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        while records.len() < self.plan.batch_size && !self.exhausted() {
            if self.skip_line && !self.skip_to_next_line() {
                break;
            }
            let window = self.window.clone();
            let more = self.ending.is_none();
            let mut splitter = RecordSplitter::resume(&window, self.pos, self.line, more);
            let mut carry_from = window.len();
            // The splitter reached the end of the window (or a record straddles it).
            let mut ran_out = false;
            while records.len() < self.plan.batch_size {
                let Some((piece, line)) = splitter.next() else {
                    ran_out = true;
                    break;
                };
                let (range, why, to_next_line) = match piece {
                    Piece::Record(range) => {
                        self.saw_json()?;
                        records.push(Record {
                            bytes: window.slice(range.clone()),
                            line,
                            offset: self.base + range.start,
                            whole_line: false,
                        });
                        continue;
                    }
                    Piece::Partial(start) => {
                        carry_from = start;
                        ran_out = true;
                        break;
                    }
                    Piece::Garbage(range, why) => (range, why, false),
                    Piece::GarbageToNextLine(range, why) => (range, why, true),
                };
                let position = Some((line, self.base + range.start));
                let detail = format!("{why}: {}", preview(&window[range.clone()]));
                self.skip_line |= to_next_line;
                if why != records::NOT_JSON {
                    self.saw_json()?;
                } else if !self.json_seen {
                    self.leading_garbage.push((position, detail));
                    if self.leading_garbage.len() > MAX_LEADING_GARBAGE {
                        self.ignore_object()?;
                        return Ok(Vec::new());
                    }
                    continue;
                }
                self.report(ProblemKind::SkippedRecord, position, detail)?;
            }
            self.pos = splitter.pos;
            self.line = splitter.line;
            if !ran_out || !more || self.skip_line {
                continue;
            }
            self.carry_or_skip(carry_from)?;
        }
        Ok(records)
    }

    fn decode(&mut self, records: &[Record]) -> Result<Option<RecordBatch>> {
        let plan = Arc::clone(&self.plan);
        let mut report = |kind, position, detail| self.report(kind, position, detail);
        if let Some(decoded) = plan.decode_if_clean(records, &mut report)? {
            return Ok(decoded);
        }
        self.decode_unclean(records)
    }

    /// Records that failed to decode all at once: lines taken as records are split record
    /// by record (a line may hold several), then decoded again; others one by one.
    fn decode_unclean(&mut self, records: &[Record]) -> Result<Option<RecordBatch>> {
        let plan = Arc::clone(&self.plan);
        if records.iter().any(|r| r.whole_line) {
            let split = self.split_lines_apart(records)?;
            return plan.decode(&split, &mut |kind, position, detail| {
                self.report(kind, position, detail)
            });
        }
        plan.decode_each(records, &mut |kind, position, detail| {
            self.report(kind, position, detail)
        })
    }

    /// Hands a batch on, or holds it while the object's checksum is pending.
    fn emit(&mut self, batch: RecordBatch) -> Result<()> {
        let Some(hold) = &mut self.hold else {
            self.ready.push_back(batch);
            return Ok(());
        };
        hold.bytes += batch.get_array_memory_size();
        hold.batches.push(batch);
        if hold.bytes > HOLD_LIMIT {
            self.verify_then_resume()?;
        }
        Ok(())
    }

    /// Too much held: inflate the rest without decoding to learn the verdict now; if the
    /// object is sound, hand over what was held and decode on from where we stopped, in a
    /// second pass over the object.
    fn verify_then_resume(&mut self) -> Result<()> {
        let known = self.ending.clone();
        let (resume_at, line, skip_line) = (self.base + self.pos, self.line, self.skip_line);
        let ending = match &known {
            // The rest is already in the window.
            Some(ending) => ending.clone(),
            None => loop {
                if let Flow::End(ending) = self.inflow.next(&[], WINDOW) {
                    break ending;
                }
            },
        };
        if !self.usable(&ending) {
            (self.window, self.pos) = (Bytes::new(), 0);
            self.ending = Some(ending);
            return self.finish();
        }
        self.settle(&ending);
        if known.is_some() {
            return Ok(());
        }
        self.inflow = Inflow::new(self.raw.clone());
        let mut skipped = 0;
        while skipped < resume_at {
            match self.inflow.next(&[], WINDOW.min(resume_at - skipped)) {
                Flow::Data(d) => skipped += d.len(),
                Flow::End(ending) => {
                    self.ending = Some(ending);
                    break;
                }
            }
        }
        (self.window, self.base, self.pos) = (Bytes::new(), resume_at, 0);
        (self.line, self.skip_line) = (line, skip_line);
        Ok(())
    }

    fn usable(&self, ending: &Ending) -> bool {
        !matches!(ending, Ending::Corrupt { .. }) || self.plan.tolerance.keep_damaged
    }

    /// Releases or drops what is held, by the verdict; true when the object's records are
    /// used.
    fn settle(&mut self, ending: &Ending) -> bool {
        let usable = self.usable(ending);
        if let Some(hold) = self.hold.take()
            && usable
        {
            self.ready.extend(hold.batches);
            for problem in hold.problems {
                self.diagnostics.push(problem);
            }
        }
        usable
    }

    /// The end of the object: settle what is held and say how the object ended.
    fn finish(&mut self) -> Result<()> {
        let ending = self.ending.clone().unwrap_or(Ending::Intact);
        if !self.json_seen
            && !self.leading_garbage.is_empty()
            && !matches!(ending, Ending::Corrupt { .. })
        {
            return self.ignore_object();
        }
        let usable = self.settle(&ending);
        self.done = true;
        let (detail, choice) = match ending {
            Ending::Intact => return Ok(()),
            Ending::Truncated { after } => (
                format!(
                    "gzip stream ends early after {after} decompressed bytes (truncated \
                     object); the records before the cut were kept"
                ),
                None,
            ),
            Ending::Corrupt { after, cause } if usable => (
                format!(
                    "gzip data is corrupt after {after} decompressed bytes ({cause}); its \
                     records were kept and may hold damaged values"
                ),
                Some(Choice::Kept),
            ),
            Ending::Corrupt { after, cause } => (
                format!(
                    "gzip data is corrupt after {after} decompressed bytes ({cause}); none of \
                     its records were used (a bit flip or a bad copy: what it inflates to cannot \
                     be trusted)"
                ),
                Some(Choice::Dropped),
            ),
        };
        self.report_with(ProblemKind::DamagedObject, None, detail, choice)
    }

    fn step(&mut self) -> Result<()> {
        let records = self.next_records()?;
        // (Not with --strict: the first problem must be the one a reading in order meets.)
        let large = records.len() == self.plan.batch_size
            && !self.exhausted()
            && !self.done
            && !self.plan.tolerance.strict;
        if let Some(helper) = large.then(Helper::take).flatten() {
            let next = self.next_records()?;
            self.decode_side_by_side(records, next, helper)?;
        } else {
            self.decode_and_emit(&records)?;
        }
        if self.exhausted() && !self.done {
            self.finish()?;
        }
        Ok(())
    }

    fn decode_and_emit(&mut self, records: &[Record]) -> Result<()> {
        if records.is_empty() || self.done {
            return Ok(());
        }
        let decoded = self.decode(records)?;
        self.emit_rows(decoded)
    }

    /// Hands a decoded batch on unless it has no rows.
    fn emit_rows(&mut self, decoded: Option<RecordBatch>) -> Result<()> {
        match decoded.filter(|b| b.num_rows() > 0) {
            Some(batch) => self.emit(batch),
            None => Ok(()),
        }
    }

    /// An object of more than a batch of records: two batches are decoded at once, one on
    /// a helper thread, so a large object (Firehose writes up to 128 MB) does not keep one
    /// core busy while the other idles. Only the clean path runs side by side (problems
    /// collected, then reported in order); a batch with a bad record takes the slow path
    /// in its turn. What comes out, and in which order, is what `step` gives one batch at
    /// a time.
    fn decode_side_by_side(
        &mut self,
        first: Vec<Record>,
        second: Vec<Record>,
        _helper: Helper,
    ) -> Result<()> {
        let plan = &self.plan;
        let clean = |records: &[Record]| {
            let mut problems = Vec::new();
            let mut collect = |kind, position, detail| {
                problems.push((kind, position, detail));
                Ok(())
            };
            let decoded = plan.decode_if_clean(records, &mut collect);
            decoded.map(|d| d.map(|batch| (batch, problems)))
        };
        let (a, b) = std::thread::scope(|s| {
            let other = s.spawn(|| clean(&second));
            let a = clean(&first);
            (a, other.join().expect("a decoding thread panicked"))
        });
        for (records, decoded) in [(first, a), (second, b)] {
            if self.done {
                break;
            }
            match decoded? {
                Some((batch, problems)) => {
                    for (kind, position, detail) in problems {
                        self.report(kind, position, detail)?;
                    }
                    self.emit_rows(batch)?;
                }
                None => {
                    let decoded = self.decode_unclean(&records)?;
                    self.emit_rows(decoded)?;
                }
            }
        }
        Ok(())
    }
}

impl Iterator for ObjectReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = self.ready.pop_front() {
                return Some(Ok(batch));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.step() {
                self.done = true;
                self.ready.clear();
                return Some(Err(e));
            }
        }
    }
}

/// A thread that may decode beside the scan's own: at most one fewer than the cores,
/// for the whole process (two partitions each reading a large object must not ask for
/// four threads on two cores).
struct Helper;

static HELPERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Helper {
    fn take() -> Option<Helper> {
        use std::sync::atomic::Ordering;
        // Asked once: on Linux the answer reads the cgroup files, and this runs per batch.
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        HELPERS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n + 1 < cores).then_some(n + 1)
            })
            .ok()
            .map(|_| Helper)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        HELPERS.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Whether a line certainly nests no deeper than `records::MAX_DEPTH`: it does not hold
/// more opening brackets than that (a count; the exact depth needs the splitter's
/// string-aware walk). Counted in runs of 255 bytes into a `u8`: the compiler then adds
/// 16 bytes' matches per instruction, where a `usize` count widened every byte to 64
/// bits (it was an eighth of a full scan's time). Stops once past the limit.
fn shallow(line: &[u8]) -> bool {
    let mut opening = 0;
    for run in line.chunks(255) {
        let n = run
            .iter()
            .fold(0u8, |n, &b| n + u8::from(b == b'{' || b == b'['));
        opening += usize::from(n);
        if opening > records::MAX_DEPTH {
            return false;
        }
    }
    true
}

/// A line that starts like a record and ends like one (blanks around it aside).
fn looks_like_a_record(line: &[u8]) -> bool {
    let line = trim(line);
    line.first() == Some(&b'{') && line.last() == Some(&b'}')
}

fn trim(bytes: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
    let start = bytes.iter().position(|b| !blank(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_counts_every_opening_bracket_across_runs() {
        let limit = records::MAX_DEPTH;
        // Brackets spread over several 255-byte runs, with other bytes between them.
        let line = |n: usize| "{x[ab".repeat(n).into_bytes();
        assert!(shallow(&line(limit / 2)));
        assert!(!shallow(&line(limit / 2 + 1)));
        let mut dense = vec![b'['; limit];
        assert!(shallow(&dense));
        dense.push(b'{');
        assert!(!shallow(&dense));
        // 255 brackets in one run: the u8 count is at its top, not past it.
        assert!(!shallow(&[b'{'; 255]));
        assert!(shallow(&[b'x'; 10_000]));
    }
}
