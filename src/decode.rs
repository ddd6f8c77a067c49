//! The decode path, all of it: object bytes -> (gunzip) -> records -> Arrow batches in the
//! exposed `seslogs` shape. Everything that decides how fast a scan is lives here, so the
//! levers (decode only the fields a query needs, count without decoding, skip records by
//! their raw bytes) have one place to go.
//!
//! Records are found by our own splitter, not by lines: SES writes one JSON object per line,
//! but other producers write them back to back (`}{`) or with CRLF and blank lines, and
//! objects get truncated. The splitter tracks strings and nesting, so `}{` inside a subject
//! is not a boundary, and it resynchronises on the next line when a record is cut short, so
//! one bad record never costs the rest of its object.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::arrow::json::reader::Decoder;
use datafusion::error::{DataFusionError, Result};

use crate::derived;
use crate::diagnostics::{Diagnostics, Problem, ProblemKind};
use crate::schema::{self, EVENT_TIME, RECIPIENTS};

/// The result of gunzipping (or not) one object.
pub struct Decompressed {
    pub data: Bytes,
    /// Set when the gzip stream is cut short or corrupt; `data` holds what came before.
    pub damage: Option<String>,
}

/// gzip is detected by its magic bytes, not the object's name: buckets hold `.gz` objects
/// that are plain and plain-named objects that are gzip. Concatenated gzip members (what
/// `cat a.gz b.gz` makes) are read as one stream.
pub fn decompress(raw: Bytes) -> Decompressed {
    if raw.len() < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
        return Decompressed {
            data: raw,
            damage: None,
        };
    }
    let mut out = Vec::with_capacity(raw.len() * 8);
    let mut decoder = flate2::read::MultiGzDecoder::new(&raw[..]);
    // On error, read_to_end keeps every byte decompressed before it in `out`.
    let damage = match decoder.read_to_end(&mut out) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Some(format!(
            "gzip stream ends early after {} decompressed bytes (truncated object); \
             records before the cut were kept",
            out.len()
        )),
        Err(e) => Some(format!(
            "corrupt gzip data after {} decompressed bytes ({e}); records before it were kept",
            out.len()
        )),
    };
    Decompressed {
        data: Bytes::from(out),
        damage,
    }
}

/// One piece of an object's text, as the splitter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A complete top-level JSON object (braces balanced outside strings).
    Record(Range<usize>),
    /// Bytes that cannot be a record; skipped up to the next line.
    Garbage(Range<usize>, &'static str),
}

const CUT_AT_END: &str = "record is cut off at the end of the object";

/// Finds record boundaries in decompressed bytes. Yields `(piece, line)` with the 1-based
/// line where the piece starts.
pub struct RecordSplitter<'a> {
    buf: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> RecordSplitter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            line: 1,
        }
    }

    /// Ends a piece that cannot be a record; scanning resumes at `resume`.
    fn cut(
        &mut self,
        range: Range<usize>,
        resume: usize,
        line: usize,
        why: &'static str,
    ) -> Option<(Piece, usize)> {
        self.pos = resume;
        Some((Piece::Garbage(range, why), line))
    }

    fn skip_to_line_end(&self, from: usize) -> usize {
        memchr::memchr(b'\n', &self.buf[from..]).map_or(self.buf.len(), |i| from + i)
    }
}

impl Iterator for RecordSplitter<'_> {
    type Item = (Piece, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.buf;
        while self.pos < buf.len() {
            match buf[self.pos] {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                // A UTF-8 byte-order mark at the start of an object is whitespace to us.
                0xEF if buf[self.pos..].starts_with(&[0xEF, 0xBB, 0xBF]) => self.pos += 2,
                _ => break,
            }
            self.pos += 1;
        }
        if self.pos >= buf.len() {
            return None;
        }
        let start = self.pos;
        let line = self.line;
        if buf[start] != b'{' {
            let end = self.skip_to_line_end(start);
            self.pos = end;
            return Some((Piece::Garbage(start..end, "not a JSON object"), line));
        }
        let mut depth = 0usize;
        let mut i = start;
        while i < buf.len() {
            match buf[i] {
                b'"' => {
                    // Jump through the string: only `"`, `\` and a raw newline matter.
                    i += 1;
                    loop {
                        let found = buf
                            .get(i..)
                            .and_then(|rest| memchr::memchr3(b'"', b'\\', b'\n', rest));
                        let Some(j) = found else {
                            return self.cut(start..buf.len(), buf.len(), line, CUT_AT_END);
                        };
                        match buf[i + j] {
                            b'"' => {
                                i += j;
                                break;
                            }
                            b'\\' => i += j + 2,
                            // A raw newline cannot be inside a JSON string: the record
                            // was cut and the next line is a new start.
                            _ => {
                                let end = i + j;
                                return self.cut(
                                    start..end,
                                    end,
                                    line,
                                    "record is cut off (unterminated string)",
                                );
                            }
                        }
                    }
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        self.pos = i + 1;
                        return Some((Piece::Record(start..i + 1), line));
                    }
                }
                b'\n' => {
                    self.line += 1;
                    // SES never breaks a record across lines; a line that starts with `{`
                    // while a record is still open means that record was cut short.
                    if buf.get(i + 1) == Some(&b'{') {
                        let why = "record is cut off (next record starts on the next line)";
                        return self.cut(start..i, i + 1, line, why);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.cut(start..buf.len(), buf.len(), line, CUT_AT_END)
    }
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
    batch_size: usize,
    strict: bool,
}

impl DecodePlan {
    /// `output_schema` is a projection of `schema::file_schema()`.
    pub fn new(output_schema: SchemaRef, batch_size: usize, strict: bool) -> Result<Self> {
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
                    need.add_path(&[raw_field.name()]);
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
        let decode_fields: Vec<Field> = raw
            .fields()
            .iter()
            .filter_map(|f| top.get(f.name()).and_then(|n| n.prune(f)))
            .collect();
        Ok(Self {
            decode_schema: Arc::new(Schema::new(decode_fields)),
            output_schema,
            outputs,
            batch_size,
            strict,
        })
    }

    fn decoder(&self, lenient: bool) -> Result<Decoder> {
        Ok(ReaderBuilder::new(Arc::clone(&self.decode_schema))
            .with_batch_size(self.batch_size)
            // A number where SES usually writes a string is still the value.
            .with_coerce_primitive(true)
            .with_ignore_type_conflicts(lenient)
            .build_decoder()?)
    }

    /// Builds the output batch from a decoded batch (decode schema).
    fn output(&self, decoded: &RecordBatch) -> Result<RecordBatch> {
        let columns = self
            .outputs
            .iter()
            .map(|o| match o {
                Output::Raw { raw_name, exposed } => {
                    let column = decoded.column_by_name(raw_name).ok_or_else(|| {
                        DataFusionError::Internal(format!("{raw_name} was not decoded"))
                    })?;
                    schema::expose_array(column, exposed, raw_name)
                }
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

/// Reads one object's decompressed bytes as a sequence of output batches.
pub struct ObjectReader {
    plan: Arc<DecodePlan>,
    data: Bytes,
    object: String,
    diagnostics: Diagnostics,
    pos: usize,
    line: usize,
    damage: Option<String>,
    done: bool,
}

impl ObjectReader {
    pub fn new(
        plan: Arc<DecodePlan>,
        decompressed: Decompressed,
        object: String,
        diagnostics: Diagnostics,
    ) -> Self {
        Self {
            plan,
            data: decompressed.data,
            object,
            diagnostics,
            pos: 0,
            line: 1,
            damage: decompressed.damage,
            done: false,
        }
    }

    fn report(
        &self,
        kind: ProblemKind,
        position: Option<(usize, usize)>,
        detail: String,
    ) -> Result<()> {
        let problem = Problem {
            object: self.object.clone(),
            position,
            kind,
            detail,
        };
        if self.plan.strict {
            return Err(DataFusionError::External(
                format!("{problem} (--strict: no record may be skipped)").into(),
            ));
        }
        self.diagnostics.push(problem);
        Ok(())
    }

    /// The next chunk of up to `batch_size` records, as (range, line) pairs.
    fn next_records(&mut self) -> Result<Vec<(Range<usize>, usize)>> {
        let data = self.data.clone();
        let mut splitter = RecordSplitter {
            buf: &data,
            pos: self.pos,
            line: self.line,
        };
        let mut records = Vec::new();
        let first = self.pos == 0;
        while records.len() < self.plan.batch_size {
            let Some((piece, line)) = splitter.next() else {
                break;
            };
            match piece {
                Piece::Record(range) => records.push((range, line)),
                Piece::Garbage(range, why) => {
                    // An object whose very first bytes are not JSON is not event data at
                    // all (a README, a CSV export): ignore it whole, once.
                    if first && records.is_empty() && why == "not a JSON object" {
                        self.pos = data.len();
                        self.report(
                            ProblemKind::IgnoredObject,
                            None,
                            "not JSON event data (does not start with '{')".into(),
                        )?;
                        return Ok(Vec::new());
                    }
                    let detail = format!("{why}: {}", preview(&data[range.clone()]));
                    self.report(
                        ProblemKind::SkippedRecord,
                        Some((line, range.start)),
                        detail,
                    )?;
                }
            }
        }
        self.pos = splitter.pos;
        self.line = splitter.line;
        Ok(records)
    }

    fn decode_chunk(&self, records: &[(Range<usize>, usize)]) -> Result<Option<RecordBatch>> {
        let fast = || -> Result<Option<RecordBatch>> {
            let mut decoder = self.plan.decoder(false)?;
            for (range, _) in records {
                decoder.decode(&self.data[range.clone()])?;
            }
            let batch = decoder.flush()?;
            match &batch {
                Some(b) if b.num_rows() != records.len() => {
                    Err(DataFusionError::Internal("record count mismatch".into()))
                }
                _ => Ok(batch),
            }
        };
        let batch = match fast() {
            Ok(batch) => batch,
            Err(_) => self.decode_one_by_one(records)?,
        };
        let Some(batch) = batch else { return Ok(None) };
        self.drop_non_events(batch, records)
    }

    /// The slow path, taken only for a chunk that failed: find the bad records, keep the rest.
    fn decode_one_by_one(&self, records: &[(Range<usize>, usize)]) -> Result<Option<RecordBatch>> {
        let mut batches = Vec::with_capacity(records.len());
        for (range, line) in records {
            let bytes = &self.data[range.clone()];
            let position = Some((*line, range.start));
            match decode_single(&self.plan, bytes, false) {
                Ok(batch) => batches.push(batch),
                Err(strict_err) => match decode_single(&self.plan, bytes, true) {
                    Ok(batch) => {
                        self.report(ProblemKind::RepairedRecord, position, short(&strict_err))?;
                        batches.push(batch);
                    }
                    Err(_) => {
                        self.report(ProblemKind::SkippedRecord, position, short(&strict_err))?
                    }
                },
            }
        }
        if batches.is_empty() {
            return Ok(None);
        }
        Ok(Some(concat_batches(&self.plan.decode_schema, &batches)?))
    }

    /// A JSON object without `eventType` is not an SES event (a Firehose error record, a
    /// stray document): skip it, by name.
    fn drop_non_events(
        &self,
        batch: RecordBatch,
        records: &[(Range<usize>, usize)],
    ) -> Result<Option<RecordBatch>> {
        let event_type = batch
            .column_by_name("eventType")
            .expect("eventType is always decoded");
        if event_type.null_count() == 0 {
            return Ok(Some(batch));
        }
        // Row i of a failed-then-repaired chunk may not be record i; name them by content.
        let keep = datafusion::arrow::compute::is_not_null(event_type)?;
        if batch.num_rows() == records.len() {
            for (i, (range, line)) in records.iter().enumerate() {
                if event_type.is_null(i) {
                    self.report(
                        ProblemKind::SkippedRecord,
                        Some((*line, range.start)),
                        "not an SES event record (no eventType)".into(),
                    )?;
                }
            }
        } else {
            self.report(
                ProblemKind::SkippedRecord,
                None,
                format!(
                    "{} records without eventType (not SES events)",
                    event_type.null_count()
                ),
            )?;
        }
        Ok(Some(filter_record_batch(&batch, &keep)?))
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
        while !self.done {
            let records = match self.next_records() {
                Ok(r) => r,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if records.is_empty() {
                self.done = true;
                if let Some(damage) = self.damage.take()
                    && let Err(e) = self.report(ProblemKind::DamagedObject, None, damage)
                {
                    return Some(Err(e));
                }
                return None;
            }
            match self.decode_chunk(&records) {
                Ok(Some(batch)) if batch.num_rows() > 0 => return Some(self.plan.output(&batch)),
                Ok(_) => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// The whole-object entry point: bytes as fetched -> decoded batches.
pub fn read_object(
    plan: Arc<DecodePlan>,
    raw: Bytes,
    object: String,
    diagnostics: Diagnostics,
) -> ObjectReader {
    ObjectReader::new(plan, decompress(raw), object, diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<(String, usize)> {
        RecordSplitter::new(text.as_bytes())
            .map(|(p, line)| match p {
                Piece::Record(r) => (text[r].to_string(), line),
                Piece::Garbage(r, why) => (format!("BAD({why}):{}", &text[r]), line),
            })
            .collect()
    }

    #[test]
    fn splits_lines_back_to_back_crlf_and_blank_lines() {
        let text = "{\"a\":1}\r\n\r\n{\"b\":\"}{\"}{\"c\":[{}]}\n\n";
        assert_eq!(
            pieces(text),
            vec![
                ("{\"a\":1}".to_string(), 1),
                ("{\"b\":\"}{\"}".to_string(), 3),
                ("{\"c\":[{}]}".to_string(), 3),
            ]
        );
    }

    #[test]
    fn escaped_quotes_do_not_end_strings() {
        let text = r#"{"s":"a \"}{\" b\\"}{"t":1}"#;
        assert_eq!(pieces(text).len(), 2);
    }

    #[test]
    fn resynchronises_after_a_cut_record() {
        let text =
            "{\"a\":{\"b\":1\n{\"c\":2}\n{\"d\":\"unterminated\n{\"e\":3}\ngarbage here\n{\"f\":4";
        let got = pieces(text);
        assert_eq!(
            got[0],
            (
                "BAD(record is cut off (next record starts on the next line)):{\"a\":{\"b\":1"
                    .to_string(),
                1
            )
        );
        assert_eq!(got[1], ("{\"c\":2}".to_string(), 2));
        assert_eq!(got[2].1, 3);
        assert!(
            got[2]
                .0
                .starts_with("BAD(record is cut off (unterminated string))")
        );
        assert_eq!(got[3], ("{\"e\":3}".to_string(), 4));
        assert_eq!(
            got[4],
            ("BAD(not a JSON object):garbage here".to_string(), 5)
        );
        assert_eq!(got[5].1, 6);
        assert!(got[5].0.starts_with("BAD(record is cut off at the end"));
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn plain_and_gzip_are_told_by_their_bytes() {
        use std::io::Write;
        let plain = Bytes::from_static(b"{\"a\":1}\n");
        assert_eq!(decompress(plain.clone()).data, plain);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let out = decompress(Bytes::from(gz.clone()));
        assert_eq!(out.data, plain);
        assert!(out.damage.is_none());
        let cut = decompress(Bytes::from(gz[..gz.len() - 10].to_vec()));
        assert!(cut.damage.unwrap().contains("ends early"));
    }
}
