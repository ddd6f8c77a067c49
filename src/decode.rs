//! Records -> Arrow batches in the exposed `seslogs` shape, object by object. Everything
//! that decides how fast a scan is lives here and in `records.rs`, so the levers (decode
//! only the fields a query needs, count without decoding, skip records by their raw bytes)
//! have one place to go.
//!
//! Trust: a gzip object's records are held back until its CRC has been checked. A bit flip
//! inflates to plausible garbage (`DeliveryDeuay`) long before the checksum at the end says
//! so, so the records of an object whose checksum fails are dropped (and the object named),
//! unless the user asks to keep them. Holding is bounded (`HOLD_LIMIT`): past it, the rest
//! of the object is inflated without decoding to get the verdict first, and decoding
//! resumes in a second pass. A truncated object has no checksum to fail: the records
//! before the cut are sound and kept.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, RecordBatchOptions, StructArray,
    new_null_array,
};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::arrow::json::reader::Decoder;
use datafusion::error::{DataFusionError, Result};

use crate::derived;
use crate::diagnostics::{Diagnostics, Problem, ProblemKind};
use crate::nested::{Part, ReadPaths};
use crate::prefilter::Prefilter;
use crate::records::{self, Ending, Flow, Inflow, Piece, RecordSplitter, WINDOW};
use crate::schema::{self, EVENT_TIME, RECIPIENTS};

/// Decoded output held per object while its gzip checksum is pending.
const HOLD_LIMIT: usize = 64 << 20;
/// Lines that are not JSON before the first record: past this, the object is not event
/// data (a README, a CSV export) and is ignored whole, as one problem.
const MAX_LEADING_GARBAGE: usize = 100;

/// What to do with what cannot be read cleanly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tolerance {
    /// The first skipped record or damaged object fails the query.
    pub strict: bool,
    /// Keep the records of a gzip object whose checksum fails (they may hold garbage).
    pub keep_damaged: bool,
}

/// Which raw fields must be decoded: all of a field, or only some of its children.
#[derive(Debug, Clone)]
enum Need {
    All,
    Some(BTreeMap<String, Need>),
}

impl Need {
    fn add_path(&mut self, path: &[&str]) {
        let Need::Some(children) = self else { return };
        match path.split_first() {
            None => *self = Need::All,
            Some((head, rest)) => children
                .entry((*head).to_string())
                .or_insert_with(|| Need::Some(BTreeMap::new()))
                .add_path(rest),
        }
    }

    /// Adds the raw paths under `field` that `part` (exposed names) reads. A path stops at
    /// a list or map: those are read whole.
    fn add_part<'a>(&mut self, field: &'a Field, part: &Part, path: &mut Vec<&'a str>) {
        path.push(field.name());
        match (part, field.data_type()) {
            (Part::Some(children), DataType::Struct(fields)) if !children.is_empty() => {
                for (name, child) in children {
                    if let Some(f) = fields.iter().find(|f| f.name().to_lowercase() == *name) {
                        self.add_part(f, child, path);
                    }
                }
            }
            _ => self.add_path(path),
        }
        path.pop();
    }

    /// The part of `field` this need covers; `None` when nothing of it is needed.
    fn prune(&self, field: &Field) -> Option<Field> {
        let Need::Some(children) = self else {
            return Some(field.clone());
        };
        let pruned = match field.data_type() {
            DataType::Struct(fields) => {
                let kept: Vec<Field> = fields
                    .iter()
                    .filter_map(|f| children.get(f.name()).and_then(|n| n.prune(f)))
                    .collect();
                if kept.is_empty() {
                    return None;
                }
                DataType::Struct(Fields::from(kept))
            }
            // A path through a list applies to its items.
            DataType::List(item) => DataType::List(Arc::new(self.prune(item)?)),
            _ => return Some(field.clone()),
        };
        Some(Field::new(field.name(), pruned, field.is_nullable()))
    }
}

/// Integer fields are decoded as their JSON text and converted here, exactly: arrow's
/// JSON reader truncates `1.9` to 1 and saturates `-9223372036854775809` to i64::MIN, and
/// a number that is not the value in the log must not be shown as if it were.
fn integers_as_text(field: &Field, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) -> Field {
    path.push(field.name().clone());
    let data_type = match field.data_type() {
        DataType::Int64 => {
            found.push(path.clone());
            DataType::Utf8
        }
        DataType::Struct(children) => DataType::Struct(
            children
                .iter()
                .map(|c| integers_as_text(c, path, found))
                .collect(),
        ),
        other => other.clone(),
    };
    path.pop();
    Field::new(field.name(), data_type, field.is_nullable())
}

/// The integer a JSON number's text stands for, when it is one that fits an i64 exactly
/// (`12`, `1.0`, `1e3`); `None` for `1.9`, `1e400`, `-9223372036854775809`, `abc`.
pub fn exact_integer(text: &str) -> Option<i64> {
    if let Ok(v) = text.parse::<i64>() {
        return Some(v);
    }
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = [int, frac].concat();
    // value = digits * 10^(exponent - frac.len())
    let shift = exponent.checked_sub(i32::try_from(frac.len()).ok()?)?;
    let digits = digits.trim_start_matches('0');
    let (significant, zeros) = if shift < 0 {
        let cut = usize::try_from(-shift).ok()?;
        if cut > digits.len() {
            // Only a zero can be shifted entirely behind the point and stay an integer.
            return digits.bytes().all(|b| b == b'0').then_some(0);
        }
        let (keep, dropped) = digits.split_at(digits.len() - cut);
        if !dropped.bytes().all(|b| b == b'0') {
            return None;
        }
        (keep, 0u32)
    } else {
        (digits, u32::try_from(shift).ok()?)
    };
    let mut value: i128 = if significant.is_empty() {
        0
    } else {
        significant.parse::<i128>().ok()?
    };
    if value != 0 {
        value = value.checked_mul(10i128.checked_pow(zeros)?)?;
    }
    i64::try_from(if negative { -value } else { value }).ok()
}

/// What one output column is made from.
#[derive(Debug, Clone)]
enum Output {
    /// A raw column, by its name in the decode schema, exposed as the given type.
    Raw {
        raw_name: String,
        exposed: DataType,
    },
    EventTime,
    Recipients,
}

/// Decided once per scan from the projected columns: what to decode and how to build each
/// output column.
#[derive(Debug)]
pub struct DecodePlan {
    decode_schema: SchemaRef,
    output_schema: SchemaRef,
    outputs: Vec<Output>,
    /// Raw paths of integer fields decoded as text (see `integers_as_text`).
    integers: Vec<Vec<String>>,
    batch_size: usize,
    tolerance: Tolerance,
    /// Records that cannot contain what the query looks for are not decoded.
    prefilter: Option<Arc<Prefilter>>,
    /// Decoders to reuse: building one for the schema costs as much as decoding a small
    /// object, and Firehose writes thousands of small objects a day. One plan serves one
    /// partition, so the lock is never contended.
    decoders: std::sync::Mutex<Vec<Decoder>>,
}

impl DecodePlan {
    pub fn with_prefilter(mut self, prefilter: Option<Arc<Prefilter>>) -> Self {
        self.prefilter = prefilter;
        self
    }

    /// The raw fields decoded, as paths (`eventType`, `mail.source`), for EXPLAIN.
    pub fn decoded_paths(&self) -> Vec<String> {
        fn walk(fields: &Fields, prefix: &str, out: &mut Vec<String>) {
            for f in fields {
                let path = format!("{prefix}{}", f.name());
                match f.data_type() {
                    DataType::Struct(children) if !children.is_empty() => {
                        walk(children, &format!("{path}."), out)
                    }
                    _ => out.push(path),
                }
            }
        }
        let mut out = Vec::new();
        walk(self.decode_schema.fields(), "", &mut out);
        out
    }

    /// `output_schema` is a projection of `schema::file_schema()`; `reads` says which parts
    /// of its nested columns the query reads (the rest is decoded as NULL, never read).
    pub fn new(
        output_schema: SchemaRef,
        batch_size: usize,
        tolerance: Tolerance,
        reads: &ReadPaths,
    ) -> Result<Self> {
        let raw = schema::raw_schema();
        let mut need = Need::Some(BTreeMap::new());
        // Always decoded: it tells an SES event from any other JSON object.
        need.add_path(&["eventType"]);
        let mut outputs = Vec::with_capacity(output_schema.fields().len());
        for field in output_schema.fields() {
            match field.name().as_str() {
                EVENT_TIME => {
                    for path in derived::EVENT_TIME_SOURCES {
                        need.add_path(path);
                    }
                    outputs.push(Output::EventTime);
                }
                RECIPIENTS => {
                    for path in derived::RECIPIENT_SOURCES {
                        need.add_path(path);
                    }
                    outputs.push(Output::Recipients);
                }
                name => {
                    let raw_field = raw
                        .fields()
                        .iter()
                        .find(|f| f.name().to_lowercase() == name)
                        .ok_or_else(|| {
                            DataFusionError::Internal(format!("no raw column for {name}"))
                        })?;
                    need.add_part(raw_field, &reads.of(name), &mut Vec::new());
                    outputs.push(Output::Raw {
                        raw_name: raw_field.name().clone(),
                        exposed: field.data_type().clone(),
                    });
                }
            }
        }
        let Need::Some(top) = &need else {
            unreachable!("the root need is a set of columns")
        };
        let mut integers = Vec::new();
        let decode_fields: Vec<Field> = raw
            .fields()
            .iter()
            .filter_map(|f| top.get(f.name()).and_then(|n| n.prune(f)))
            .map(|f| integers_as_text(&f, &mut Vec::new(), &mut integers))
            .collect();
        Ok(Self {
            decode_schema: Arc::new(Schema::new(decode_fields)),
            output_schema,
            outputs,
            integers,
            batch_size,
            tolerance,
            prefilter: None,
            decoders: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Decodes records strictly into one batch, with a decoder from the pool; a decoder
    /// that failed is dropped (its state is not known), one that succeeded goes back.
    fn decode_all(&self, records: &[Record]) -> Result<Option<RecordBatch>> {
        let pooled = self.decoders.lock().expect("decoder pool").pop();
        let mut decoder = match pooled {
            Some(d) => d,
            None => self.decoder(false)?,
        };
        for record in records {
            decoder.decode(&record.bytes)?;
        }
        let batch = decoder.flush()?;
        self.decoders.lock().expect("decoder pool").push(decoder);
        match &batch {
            Some(b) if b.num_rows() != records.len() => {
                Err(DataFusionError::Internal("record count mismatch".into()))
            }
            _ => Ok(batch),
        }
    }

    fn decoder(&self, lenient: bool) -> Result<Decoder> {
        Ok(ReaderBuilder::new(Arc::clone(&self.decode_schema))
            .with_batch_size(self.batch_size.max(1))
            // A number where SES usually writes a string is still the value.
            .with_coerce_primitive(true)
            .with_ignore_type_conflicts(lenient)
            .build_decoder()?)
    }

    /// Builds the output batch from a decoded batch (decode schema, integers converted).
    fn output(&self, decoded: &RecordBatch) -> Result<RecordBatch> {
        let columns = self
            .outputs
            .iter()
            .map(|o| match o {
                // Not decoded at all when the query reads none of its fields.
                Output::Raw { raw_name, exposed } => match decoded.column_by_name(raw_name) {
                    Some(column) => schema::expose_array(column, exposed, raw_name),
                    None => Ok(new_null_array(exposed, decoded.num_rows())),
                },
                Output::EventTime => derived::event_time(decoded),
                Output::Recipients => derived::recipients(decoded),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.output_schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(decoded.num_rows())),
        )?)
    }
}

/// Converts the text column at `path` (under `array`) to Int64, exactly; rows whose text
/// is not an i64 become NULL and are returned as (row, text).
fn convert_integers(
    array: &ArrayRef,
    path: &[String],
    bad: &mut Vec<(usize, String)>,
) -> Result<ArrayRef> {
    let Some((head, rest)) = path.split_first() else {
        let text = array.as_string::<i32>();
        let values: Int64Array = (0..text.len())
            .map(|row| {
                if text.is_null(row) {
                    return None;
                }
                let v = exact_integer(text.value(row));
                if v.is_none() {
                    bad.push((row, text.value(row).to_string()));
                }
                v
            })
            .collect();
        return Ok(Arc::new(values));
    };
    let strukt = array.as_struct();
    let mut fields: Vec<Field> = strukt.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = strukt.columns().to_vec();
    if let Some(i) = fields.iter().position(|f| f.name() == head) {
        columns[i] = convert_integers(&columns[i], rest, bad)?;
        fields[i] = Field::new(head, columns[i].data_type().clone(), true);
    }
    Ok(Arc::new(StructArray::try_new(
        Fields::from(fields),
        columns,
        strukt.nulls().cloned(),
    )?))
}

/// One record of an object: its bytes, and where it starts (1-based line, byte offset in
/// the decompressed object) for messages.
struct Record {
    bytes: Bytes,
    line: usize,
    offset: usize,
}

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
    line: usize,
    /// Discarding bytes up to the next newline (after garbage that ran past the window).
    skip_line: bool,
    /// Set once the inflow has said how it ended.
    ending: Option<Ending>,
    /// A record (or what starts like one) has been seen in this object.
    json_seen: bool,
    /// With a prefilter: whether this object holds one record per line, so a line is a
    /// record and lines without the value can be passed over (decided on its first record).
    one_per_line: Option<bool>,
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
            one_per_line: None,
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
        let problem = Problem::new(self.object.clone(), position, kind, detail);
        if self.plan.tolerance.strict {
            return Err(DataFusionError::External(
                format!("{problem} (--strict: no record may be skipped)").into(),
            ));
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
            Flow::Data(data) => self.window = data,
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
        let Some(prefilter) = self.plan.prefilter.clone() else {
            return self.split_records();
        };
        if self.one_per_line == Some(true) {
            return self.candidate_records(&prefilter);
        }
        let mut records = self.split_records()?;
        records.retain(|r| prefilter.keeps(&r.bytes));
        Ok(records)
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
            let Some(found) = prefilter.candidate(&window[self.pos..]) else {
                // Not here. The value may straddle the end of the window: keep its last line.
                let keep_from = match memchr::memrchr(b'\n', &window[self.pos..]) {
                    Some(i) if more => self.pos + i + 1,
                    _ if more => self.pos,
                    _ => window.len(),
                };
                self.line += memchr::memchr_iter(b'\n', &window[self.pos..keep_from]).count();
                self.pos = keep_from;
                if more {
                    self.carry_or_skip(keep_from)?;
                }
                continue;
            };
            let at = self.pos + found;
            let start = memchr::memrchr(b'\n', &window[self.pos..at])
                .map_or(self.pos, |i| self.pos + i + 1);
            self.line += memchr::memchr_iter(b'\n', &window[self.pos..start]).count();
            self.pos = start;
            let mut splitter = RecordSplitter::resume(&window, start, self.line, more);
            loop {
                match splitter.next() {
                    Some((Piece::Record(range), line)) => {
                        let end = range.end;
                        if prefilter.keeps(&window[range.clone()]) {
                            records.push(Record {
                                bytes: window.slice(range.clone()),
                                line,
                                offset: self.base + range.start,
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
                        self.one_per_line = Some(false);
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
                        });
                        if self.plan.prefilter.is_some() && self.one_per_line.is_none() {
                            self.one_per_line =
                                Some(memchr::memchr(b'\n', &window[range]).is_none());
                            if self.one_per_line == Some(true) {
                                (self.pos, self.line) = (splitter.pos, splitter.line);
                                return Ok(records);
                            }
                        }
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
        // `rows[i]` is the record row i came from.
        let (batch, rows) = match self.plan.decode_all(records) {
            Ok(Some(batch)) => (batch, (0..records.len()).collect()),
            Ok(None) => return Ok(None),
            Err(_) => match self.decode_one_by_one(records)? {
                Some(decoded) => decoded,
                None => return Ok(None),
            },
        };
        let Some((batch, rows)) = self.drop_non_events(batch, rows, records)? else {
            return Ok(None);
        };
        let batch = self.exact_integers(batch, &rows, records)?;
        Ok(Some(self.plan.output(&batch)?))
    }

    /// The slow path, taken only for a chunk that failed: find the bad records, keep the rest.
    fn decode_one_by_one(
        &mut self,
        records: &[Record],
    ) -> Result<Option<(RecordBatch, Vec<usize>)>> {
        let mut batches = Vec::with_capacity(records.len());
        let mut rows = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let position = Some((record.line, record.offset));
            let strict_err = match decode_single(&self.plan, &record.bytes, false) {
                Ok(batch) => {
                    batches.push(batch);
                    rows.push(i);
                    continue;
                }
                Err(e) => e,
            };
            match decode_single(&self.plan, &record.bytes, true) {
                // Read with the unexpected value as NULL, unless that value was the event
                // type: then it is not an event (one problem, reported once).
                Ok(batch)
                    if batch
                        .column_by_name("eventType")
                        .is_some_and(|c| c.is_valid(0)) =>
                {
                    self.report(ProblemKind::RepairedRecord, position, short(&strict_err))?;
                    batches.push(batch);
                    rows.push(i);
                }
                _ => self.report(ProblemKind::SkippedRecord, position, short(&strict_err))?,
            }
        }
        if batches.is_empty() {
            return Ok(None);
        }
        Ok(Some((
            concat_batches(&self.plan.decode_schema, &batches)?,
            rows,
        )))
    }

    /// A JSON object without `eventType` is not an SES event (a Firehose error record, a
    /// stray document): skip it, by name.
    fn drop_non_events(
        &mut self,
        batch: RecordBatch,
        rows: Vec<usize>,
        records: &[Record],
    ) -> Result<Option<(RecordBatch, Vec<usize>)>> {
        let event_type = Arc::clone(
            batch
                .column_by_name("eventType")
                .expect("eventType is always decoded"),
        );
        if event_type.null_count() == 0 {
            return Ok(Some((batch, rows)));
        }
        let mut kept = Vec::with_capacity(rows.len());
        for (row, &record) in rows.iter().enumerate() {
            if event_type.is_null(row) {
                let r = &records[record];
                self.report(
                    ProblemKind::SkippedRecord,
                    Some((r.line, r.offset)),
                    "not an SES event record (no eventType)".into(),
                )?;
            } else {
                kept.push(record);
            }
        }
        if kept.is_empty() {
            return Ok(None);
        }
        let keep = datafusion::arrow::compute::is_not_null(&event_type)?;
        Ok(Some((filter_record_batch(&batch, &keep)?, kept)))
    }

    /// Integer fields from their text, exactly; a value that is not one is NULL and said.
    fn exact_integers(
        &mut self,
        batch: RecordBatch,
        rows: &[usize],
        records: &[Record],
    ) -> Result<RecordBatch> {
        if self.plan.integers.is_empty() {
            return Ok(batch);
        }
        let plan = Arc::clone(&self.plan);
        let schema = batch.schema();
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut columns = batch.columns().to_vec();
        for path in &plan.integers {
            let Some(i) = fields.iter().position(|f| f.name() == &path[0]) else {
                continue;
            };
            let mut bad = Vec::new();
            columns[i] = convert_integers(&columns[i], &path[1..], &mut bad)?;
            fields[i] = Field::new(&path[0], columns[i].data_type().clone(), true);
            for (row, text) in bad {
                let r = &records[rows[row]];
                let detail = format!(
                    "{} = {} is not a whole number that fits 64 bits; read as NULL",
                    path.join("."),
                    preview(text.as_bytes())
                );
                self.report(
                    ProblemKind::RepairedRecord,
                    Some((r.line, r.offset)),
                    detail,
                )?;
            }
        }
        Ok(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )?)
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
        let detail = match ending {
            Ending::Intact => return Ok(()),
            Ending::Truncated { after } => format!(
                "gzip stream ends early after {after} decompressed bytes (truncated object); \
                 the records before the cut were kept"
            ),
            Ending::Corrupt { after, cause } if usable => format!(
                "gzip data is corrupt after {after} decompressed bytes ({cause}); its records \
                 were kept (--keep-damaged) and may hold damaged values"
            ),
            Ending::Corrupt { after, cause } => format!(
                "gzip data is corrupt after {after} decompressed bytes ({cause}); none of its \
                 records were used (a bit flip or a bad copy: what it inflates to cannot be \
                 trusted; --keep-damaged keeps them)"
            ),
        };
        self.report(ProblemKind::DamagedObject, None, detail)
    }

    fn step(&mut self) -> Result<()> {
        let records = self.next_records()?;
        if !records.is_empty()
            && !self.done
            && let Some(batch) = self.decode(&records)?
            && batch.num_rows() > 0
        {
            self.emit(batch)?;
        }
        if self.exhausted() && !self.done {
            self.finish()?;
        }
        Ok(())
    }
}

fn decode_single(plan: &DecodePlan, bytes: &[u8], lenient: bool) -> Result<RecordBatch> {
    let mut decoder = plan.decoder(lenient)?;
    decoder.decode(bytes)?;
    decoder
        .flush()?
        .ok_or_else(|| DataFusionError::Internal("a record decoded to no row".into()))
}

/// The first line of an arrow error, without its "Json error: " prefix.
fn short(e: &DataFusionError) -> String {
    let text = e.to_string();
    let text = text.lines().next().unwrap_or_default();
    text.trim_start_matches("Arrow error: ")
        .trim_start_matches("Json error: ")
        .to_string()
}

/// A short, printable preview of skipped bytes for the message.
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if bytes.len() > 60 {
        out.push_str("...");
    }
    format!("{out:?}")
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

/// A range of a record for tests that need to find it again.
pub type RecordRange = Range<usize>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_exact_or_nothing() {
        for (text, want) in [
            ("12", Some(12)),
            ("-7", Some(-7)),
            ("1.0", Some(1)),
            ("1e3", Some(1000)),
            ("1.5e1", Some(15)),
            ("0.0", Some(0)),
            ("-0", Some(0)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("1.9", None),
            ("-9223372036854775809", None),
            ("9223372036854775808", None),
            ("1e400", None),
            ("1.0000000000000001", None),
            ("abc", None),
            ("", None),
            ("1e-1", None),
            ("10e-1", Some(1)),
        ] {
            assert_eq!(exact_integer(text), want, "{text}");
        }
    }
}
