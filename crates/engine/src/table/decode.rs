//! Records -> Arrow batches in the exposed `seslogs` shape: what to decode for a query
//! (only the fields it reads), the decode itself (all records of a chunk at once; one by one
//! only to find the bad ones), and the checks on what came out (an SES event has an
//! `eventType`; an integer is exact). `reader.rs` finds the records in an object.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, RecordBatchOptions, StringArray, StructArray,
};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::arrow::json::reader::Decoder;
use datafusion::error::{DataFusionError, Result};

use crate::table::derived;
use crate::table::diagnostics::ProblemKind;
use crate::table::nested::{Part, ReadPaths};
use crate::table::notification::{self, Format};
use crate::table::prefilter::Prefilter;
use crate::table::prune::Pruner;
use crate::table::schema::{self, EVENT_TIME, RECIPIENTS, RECORD_FORMAT};

/// What to do with what cannot be read cleanly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    RecordFormat,
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
    pub(crate) batch_size: usize,
    pub(crate) tolerance: Tolerance,
    /// Records that cannot contain what the query looks for are not decoded.
    pub(crate) prefilter: Option<Arc<Prefilter>>,
    /// Decoders to reuse: building one for the schema costs as much as decoding a small
    /// object, and Firehose writes thousands of small objects a day. One plan serves one
    /// partition (and its helper thread on a large object), so the lock is rarely
    /// contended.
    decoders: std::sync::Mutex<Vec<Decoder>>,
    /// Cuts each record down to the decode schema's members before decoding; `None` when
    /// the query reads all of `mail`, the bulk of every record: then there is too little to
    /// cut for the extra pass to pay (a whole-record query was 1.2x slower with it).
    pruner: Option<Pruner>,
    /// The columns and struct fields the query does not read, as NULLs.
    nulls: schema::NullColumns,
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
                RECORD_FORMAT => outputs.push(Output::RecordFormat),
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
        let decode_schema = Arc::new(Schema::new(decode_fields));
        Ok(Self {
            pruner: Pruner::worth_it(decode_schema.fields(), raw.fields()),
            decode_schema,
            output_schema,
            outputs,
            integers,
            batch_size,
            tolerance,
            prefilter: None,
            decoders: std::sync::Mutex::new(Vec::new()),
            nulls: schema::NullColumns::default(),
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
        // A record the pruner is not sure of is decoded as it is; one that fails to decode
        // sends the whole chunk down the slow path, which reads the records as they are.
        let mut cut = Vec::new();
        let mut batches = Vec::new();
        for record in records {
            cut.clear();
            let bytes = match &self.pruner {
                Some(pruner) if pruner.prune(&record.bytes, &mut cut) => &cut[..],
                _ => &record.bytes[..],
            };
            feed(&mut decoder, bytes, &mut batches)?;
        }
        batches.extend(decoder.flush()?);
        self.decoders.lock().expect("decoder pool").push(decoder);
        // A "record" that held more than one (a line `{...}{...}` taken whole) gives more
        // rows than records: the slow path splits it.
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows != records.len() {
            return Err(DataFusionError::Internal("record count mismatch".into()));
        }
        match batches.len() {
            0 => Ok(None),
            1 => Ok(batches.pop()),
            _ => Ok(Some(concat_batches(&self.decode_schema, &batches)?)),
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

    /// Builds the output batch from a decoded batch (decode schema, integers converted) of
    /// records in one format.
    fn output(&self, decoded: &RecordBatch, format: Format) -> Result<RecordBatch> {
        let columns = self
            .outputs
            .iter()
            .map(|o| match o {
                // Not decoded at all when the query reads none of its fields.
                Output::Raw { raw_name, exposed } => match decoded.column_by_name(raw_name) {
                    Some(column) => schema::expose_array(column, exposed, raw_name, &self.nulls),
                    None => Ok(self.nulls.get(exposed, decoded.num_rows())),
                },
                Output::EventTime => derived::event_time(decoded),
                Output::Recipients => derived::recipients(decoded),
                Output::RecordFormat => Ok(Arc::new(StringArray::from_iter_values(
                    std::iter::repeat_n(format.name(), decoded.num_rows()),
                )) as ArrayRef),
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

/// Where records being decoded come from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// As the object holds them.
    Read,
    /// Rewritten from a notification or an SNS envelope into this format.
    Rewritten(Format),
}

impl Origin {
    fn format(self) -> Format {
        match self {
            Origin::Read => Format::Event,
            Origin::Rewritten(format) => format,
        }
    }
}

/// One record of an object: its bytes, and where it starts (1-based line, byte offset in
/// the decompressed object) for messages.
pub struct Record {
    pub bytes: Bytes,
    pub line: usize,
    pub offset: usize,
    /// A whole line taken as one record without being split record by record (the fast
    /// way for one-record-per-line objects); if decoding it fails, it is split first.
    pub whole_line: bool,
}

/// Where decoding says what it could not read cleanly: (kind, (line, offset), detail).
pub type Report<'a> = dyn FnMut(ProblemKind, Option<(usize, usize)>, String) -> Result<()> + 'a;

impl DecodePlan {
    /// Decodes records into an output batch: all at once, and one by one only when that
    /// fails, to find the bad ones. Problems go to `report` (which may fail the scan).
    pub fn decode(
        &self,
        records: &[Record],
        report: &mut Report<'_>,
    ) -> Result<Option<RecordBatch>> {
        self.decode_as(records, Origin::Read, report)
    }

    /// Records that failed to decode all at once: one by one, keeping the good ones.
    pub fn decode_each(
        &self,
        records: &[Record],
        report: &mut Report<'_>,
    ) -> Result<Option<RecordBatch>> {
        self.decode_each_as(records, Origin::Read, report)
    }

    /// Decodes records all at once; `None` when that fails (some record is bad, or a line
    /// held more than one record).
    pub fn decode_if_clean(
        &self,
        records: &[Record],
        report: &mut Report<'_>,
    ) -> Result<Option<Option<RecordBatch>>> {
        self.decode_if_clean_as(records, Origin::Read, report)
    }

    fn decode_as(
        &self,
        records: &[Record],
        origin: Origin,
        report: &mut Report<'_>,
    ) -> Result<Option<RecordBatch>> {
        if let Some(decoded) = self.decode_if_clean_as(records, origin, report)? {
            return Ok(decoded);
        }
        self.decode_each_as(records, origin, report)
    }

    fn decode_each_as(
        &self,
        records: &[Record],
        origin: Origin,
        report: &mut Report<'_>,
    ) -> Result<Option<RecordBatch>> {
        match self.decode_one_by_one(records, report)? {
            Some((batch, rows)) => self.checked(batch, rows, records, origin, report),
            None => Ok(None),
        }
    }

    fn decode_if_clean_as(
        &self,
        records: &[Record],
        origin: Origin,
        report: &mut Report<'_>,
    ) -> Result<Option<Option<RecordBatch>>> {
        match self.decode_all(records) {
            Ok(Some(batch)) => {
                let rows = (0..records.len()).collect();
                Ok(Some(self.checked(batch, rows, records, origin, report)?))
            }
            Ok(None) => Ok(Some(None)),
            Err(_) => Ok(None),
        }
    }

    /// The checks on decoded rows (`rows[i]` is the record row i came from), then the
    /// output columns. Records without an `eventType` may be SES's notifications: those
    /// are rewritten as events and decoded after the rest.
    fn checked(
        &self,
        batch: RecordBatch,
        rows: Vec<usize>,
        records: &[Record],
        origin: Origin,
        report: &mut Report<'_>,
    ) -> Result<Option<RecordBatch>> {
        let (events, others) = self.split_non_events(batch, rows)?;
        let mut out = Vec::new();
        if let Some((batch, rows)) = events {
            let batch = self.exact_integers(batch, &rows, records, report)?;
            out.push(self.output(&batch, origin.format())?);
        }
        let mut rewritten: [Vec<Record>; 2] = Default::default();
        for i in others {
            let r = &records[i];
            let position = Some((r.line, r.offset));
            let event = match origin {
                Origin::Read => notification::as_event(&r.bytes),
                // Rewritten already: not read as anything else a second time.
                Origin::Rewritten(_) => Err(notification::NEITHER.to_string()),
            };
            match event {
                Ok((bytes, format)) => rewritten[format as usize].push(Record {
                    bytes: Bytes::from(bytes),
                    line: r.line,
                    offset: r.offset,
                    whole_line: false,
                }),
                Err(why) => report(ProblemKind::SkippedRecord, position, why)?,
            }
        }
        for (format, records) in [Format::Event, Format::Notification]
            .into_iter()
            .zip(&rewritten)
        {
            if !records.is_empty() {
                out.extend(self.decode_as(records, Origin::Rewritten(format), report)?);
            }
        }
        match out.len() {
            0 => Ok(None),
            1 => Ok(out.pop()),
            _ => Ok(Some(concat_batches(&self.output_schema, &out)?)),
        }
    }

    /// The slow path, taken only for a chunk that failed: find the bad records, keep the rest.
    fn decode_one_by_one(
        &self,
        records: &[Record],
        report: &mut Report<'_>,
    ) -> Result<Option<(RecordBatch, Vec<usize>)>> {
        let mut batches = Vec::with_capacity(records.len());
        let mut rows = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let position = Some((record.line, record.offset));
            let strict_err = match decode_single(self, &record.bytes, false) {
                Ok(batch) => {
                    batches.push(batch);
                    rows.push(i);
                    continue;
                }
                Err(e) => e,
            };
            match decode_single(self, &record.bytes, true) {
                // Read with the unexpected value as NULL, unless that value was the event
                // type: then it is not an event (one problem, reported once).
                Ok(batch)
                    if batch
                        .column_by_name("eventType")
                        .is_some_and(|c| c.is_valid(0)) =>
                {
                    report(ProblemKind::RepairedRecord, position, short(&strict_err))?;
                    batches.push(batch);
                    rows.push(i);
                }
                _ => report(ProblemKind::SkippedRecord, position, short(&strict_err))?,
            }
        }
        if batches.is_empty() {
            return Ok(None);
        }
        Ok(Some((concat_batches(&self.decode_schema, &batches)?, rows)))
    }

    /// Splits off the rows without an `eventType` (a notification, a Firehose error
    /// record, a stray document): the event rows with their records, and the records of
    /// the others.
    #[allow(clippy::type_complexity)]
    fn split_non_events(
        &self,
        batch: RecordBatch,
        rows: Vec<usize>,
    ) -> Result<(Option<(RecordBatch, Vec<usize>)>, Vec<usize>)> {
        let event_type = Arc::clone(
            batch
                .column_by_name("eventType")
                .expect("eventType is always decoded"),
        );
        if event_type.null_count() == 0 {
            return Ok((Some((batch, rows)), Vec::new()));
        }
        let (kept, others): (Vec<(usize, usize)>, Vec<(usize, usize)>) = rows
            .iter()
            .copied()
            .enumerate()
            .partition(|(row, _)| event_type.is_valid(*row));
        let others = others.into_iter().map(|(_, record)| record).collect();
        if kept.is_empty() {
            return Ok((None, others));
        }
        let keep = datafusion::arrow::compute::is_not_null(&event_type)?;
        let kept = kept.into_iter().map(|(_, record)| record).collect();
        Ok((Some((filter_record_batch(&batch, &keep)?, kept)), others))
    }

    /// Integer fields from their text, exactly; a value that is not one is NULL and said.
    fn exact_integers(
        &self,
        batch: RecordBatch,
        rows: &[usize],
        records: &[Record],
        report: &mut Report<'_>,
    ) -> Result<RecordBatch> {
        if self.integers.is_empty() {
            return Ok(batch);
        }
        let schema = batch.schema();
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut columns = batch.columns().to_vec();
        for path in &self.integers {
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
                report(
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
}

#[cfg(test)]
impl DecodePlan {
    /// What `bytes` decodes to as it is, and cut down first (`None`: the pruner left it).
    pub(crate) fn whole_and_cut(
        &self,
        bytes: &[u8],
    ) -> (Result<RecordBatch>, Option<Result<RecordBatch>>) {
        let mut cut = Vec::new();
        let cut = self
            .pruner
            .as_ref()
            .is_some_and(|p| p.prune(bytes, &mut cut))
            .then(|| decode_single(self, &cut, false));
        (decode_single(self, bytes, false), cut)
    }
}

/// Hands all of `bytes` to the decoder. A decoder holds at most a batch of rows and takes
/// no more bytes once it is full (it says how many it took): the full batch is taken out
/// and the rest fed in. Bytes not taken are records lost without a word, as once happened
/// when a batch of lines held one more record than lines (a line of two records).
fn feed(decoder: &mut Decoder, mut bytes: &[u8], batches: &mut Vec<RecordBatch>) -> Result<()> {
    while !bytes.is_empty() {
        let taken = decoder.decode(bytes)?;
        bytes = &bytes[taken..];
        if bytes.is_empty() {
            break;
        }
        match decoder.flush()? {
            Some(batch) => batches.push(batch),
            None if taken == 0 => {
                return Err(DataFusionError::Internal(
                    "the JSON decoder took no bytes and holds no rows".into(),
                ));
            }
            None => {}
        }
    }
    Ok(())
}

fn decode_single(plan: &DecodePlan, bytes: &[u8], lenient: bool) -> Result<RecordBatch> {
    let mut decoder = plan.decoder(lenient)?;
    let mut batches = Vec::new();
    feed(&mut decoder, bytes, &mut batches)?;
    batches.extend(decoder.flush()?);
    match batches.len() {
        0 => Err(DataFusionError::Internal(
            "a record decoded to no row".into(),
        )),
        1 => Ok(batches.pop().expect("one batch")),
        _ => Ok(concat_batches(&plan.decode_schema, &batches)?),
    }
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
pub fn preview(bytes: &[u8]) -> String {
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
