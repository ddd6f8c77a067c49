//! Printing results: one small printer per format, each generic over `std::io::Write` so a
//! unit test prints into a `Vec<u8>`. Batches stream through `begin`/`batch`/`finish`;
//! only the table view holds rows (it needs every row to size its columns), and at most
//! `--max-rows` of them.
//!
//! Nested values (structs, lists, maps) are written as JSON text in the table, CSV and TSV,
//! which have no nesting; JSON, NDJSON and Parquet keep them nested. Text from the logs is
//! attacker-controlled: the table view escapes control and bidi characters; machine
//! formats write values exactly.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use comfy_table::{Attribute, Cell, ContentArrangement, Table, presets};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::json::writer::{EncoderOptions, make_encoder};
use datafusion::arrow::json::{ArrayWriter, LineDelimitedWriter, WriterBuilder};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::Result;
use datafusion::parquet::arrow::ArrowWriter;

/// The output formats: one enum, parsed by clap straight from `--format` (and by the
/// config file and the shell's `\format` through `clap::ValueEnum::from_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    /// The table view one `column | value` line per field, a block per row (as psql's
    /// `\x`); the table view turns to it by itself when its columns cannot fit.
    Vertical,
    Csv,
    Tsv,
    Json,
    Ndjson,
    Parquet,
}

/// How progress is shown on stderr while a scan runs (decided once by `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Off,
    /// stderr is a terminal: one line, redrawn in place.
    Terminal,
    /// `-v` when stderr is not a terminal: a plain line a second.
    Lines,
}

/// How to print, decided once by `config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintOptions {
    /// CSV/TSV header row.
    pub header: bool,
    /// Table view: rows shown at most (`None`: all).
    pub max_rows: Option<usize>,
    /// Table view: style the header (only ever on a terminal or when forced).
    pub color: bool,
    /// Table view: the width to fit, when not a terminal (which sizes itself).
    pub width: Option<u16>,
    /// Table view: the columns to show, the last one wrapped, when not all fit (a report's
    /// `-- narrow:` line); empty: the vertical view then.
    pub narrow: Vec<String>,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            header: true,
            max_rows: None,
            color: false,
            width: None,
            narrow: Vec::new(),
        }
    }
}

impl Format {
    /// The format a file name implies: `.csv`, `.tsv`, `.json`, `.ndjson`/`.jsonl`, `.parquet`.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "parquet" => Some(Format::Parquet),
            "txt" => Some(Format::Table),
            _ => None,
        }
    }

    pub fn printer<'w, W: Write + Send + 'w>(
        self,
        out: W,
        options: &PrintOptions,
        view: View,
    ) -> Box<dyn Printer + Send + 'w> {
        let table = |out| TablePrinter {
            out,
            schema: None,
            rows: Vec::new(),
            hidden: 0,
            options: options.clone(),
            vertical: self == Format::Vertical,
        };
        match (self, view) {
            (Format::Table | Format::Vertical, View::Rows) => Box::new(table(out)),
            (Format::Table | Format::Vertical, View::Timeline) => Box::new(TimelinePrinter {
                table: table(out),
                schema: None,
                verdicts: Vec::new(),
            }),
            (Format::Csv, _) => Box::new(CsvPrinter {
                out: Some(out),
                writer: None,
                delimiter: b',',
                header: options.header,
            }),
            (Format::Tsv, _) => Box::new(CsvPrinter {
                out: Some(out),
                writer: None,
                delimiter: b'\t',
                header: options.header,
            }),
            (Format::Json, _) => Box::new(JsonPrinter {
                writer: Some(Json::Array(
                    WriterBuilder::new().with_explicit_nulls(true).build(out),
                )),
            }),
            (Format::Ndjson, _) => Box::new(JsonPrinter {
                writer: Some(Json::Lines(
                    WriterBuilder::new().with_explicit_nulls(true).build(out),
                )),
            }),
            (Format::Parquet, _) => Box::new(ParquetPrinter {
                out: Some(out),
                writer: None,
            }),
        }
    }
}

/// How the table view lays a result out. Machine formats always write plain rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Rows,
    /// The `recipient` report: the timeline without its `verdict` column, then one
    /// `message_id: verdict` line per message.
    Timeline,
}

/// Receives a result set batch by batch.
pub trait Printer {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()>;
    fn batch(&mut self, batch: &RecordBatch) -> Result<()>;
    fn finish(&mut self) -> Result<()>;
}

/// Escapes what a terminal would act on: control characters (`\n`, `\u{1b}`) and the
/// bidirectional overrides that make text display in another order than it is.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let risky = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(risky) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if risky(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The schema with every zoned timestamp column (`event_time`, reports' times) in `zone`.
/// Times nested in structs, and times SES wrote as text, stay as they are.
pub fn zoned_schema(schema: &SchemaRef, zone: &str) -> SchemaRef {
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Timestamp(unit, Some(_)) => Arc::new(
                field
                    .as_ref()
                    .clone()
                    .with_data_type(DataType::Timestamp(*unit, Some(zone.into()))),
            ),
            _ => Arc::clone(field),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The batch in `zoned_schema`: the same instants, shown with the zone's offset.
pub fn in_zone(batch: &RecordBatch, zone: &str) -> Result<RecordBatch> {
    let schema = zoned_schema(&batch.schema(), zone);
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| datafusion::arrow::compute::cast(column, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Replaces every nested column by its JSON text (NULL stays NULL).
pub fn nested_as_json(batch: &RecordBatch) -> Result<RecordBatch> {
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| f.data_type().is_nested())
    {
        return Ok(batch.clone());
    }
    let options = EncoderOptions::default();
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if !field.data_type().is_nested() {
            fields.push(Arc::clone(field));
            columns.push(Arc::clone(column));
            continue;
        }
        let mut encoder = make_encoder(field, column.as_ref(), &options)?;
        let mut text = StringBuilder::new();
        let mut buf = Vec::new();
        for i in 0..column.len() {
            if column.is_null(i) {
                text.append_null();
            } else {
                buf.clear();
                encoder.encode(i, &mut buf);
                text.append_value(String::from_utf8_lossy(&buf));
            }
        }
        fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
        columns.push(Arc::new(text.finish()));
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

struct TablePrinter<W: Write> {
    out: W,
    schema: Option<SchemaRef>,
    rows: Vec<Vec<String>>,
    hidden: usize,
    options: PrintOptions,
    /// Always vertical (`--format vertical`); else vertical only when the table is wider
    /// than the terminal (or `COLUMNS`).
    vertical: bool,
}

impl<W: Write> Printer for TablePrinter<W> {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()> {
        self.schema = Some(Arc::clone(schema));
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let room = self
            .options
            .max_rows
            .map_or(usize::MAX, |m| m.saturating_sub(self.rows.len()));
        let shown = batch.num_rows().min(room);
        self.hidden += batch.num_rows() - shown;
        if shown == 0 {
            return Ok(());
        }
        let batch = nested_as_json(&batch.slice(0, shown))?;
        let options = FormatOptions::default().with_null("NULL");
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            self.rows.push(
                formatters
                    .iter()
                    .map(|f| sanitize(&f.value(row).to_string()).into_owned())
                    .collect(),
            );
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let names: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| sanitize(f.name()).into_owned())
            .collect();
        let mut table = self.table(&names);
        if let Some(width) = self.options.width {
            table.set_width(width);
        }
        for row in &self.rows {
            table.add_row(row.clone());
        }
        // Each column at its widest, with its padding and border (`│ x `), and the last
        // border: what the table needs to show every cell on one line.
        let natural: usize = table
            .column_max_content_widths()
            .iter()
            .map(|w| usize::from(*w) + 3)
            .sum::<usize>()
            + 1;
        // A terminal that says it is narrower than 20 columns does not know its size.
        let width = table.width().filter(|w| *w >= 20);
        let too_wide = width.is_some_and(|w| natural > usize::from(w));
        let narrow = match width {
            Some(width) if too_wide && !self.vertical => {
                self.narrow_table(&names, &table.column_max_content_widths(), width)
            }
            _ => None,
        };
        if let Some((narrow, left_out)) = narrow {
            writeln!(self.out, "{narrow}")?;
            eprintln!(
                "seslog: {} of {} columns shown to fit the terminal (not {}): --format vertical \
                 or csv shows them all",
                names.len() - left_out.len(),
                names.len(),
                left_out.join(", ")
            );
        } else if self.vertical || (too_wide && !self.rows.is_empty()) {
            write_vertical(&names, &self.rows, width, &mut self.out)?;
        } else {
            writeln!(self.out, "{table}")?;
        }
        self.rows.clear();
        self.out.flush()?;
        if self.hidden > 0 {
            // A note for the person reading, not data: stderr.
            let shown = self.options.max_rows.unwrap_or_default();
            eprintln!(
                "seslog: {shown} rows shown, {} more not shown (--max-rows 0 shows all)",
                self.hidden
            );
        }
        Ok(())
    }
}

impl<W: Write> TablePrinter<W> {
    /// An empty table view with these column names: its style, wrapping and header.
    fn table(&self, names: &[String]) -> Table {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        table.set_header(names.iter().map(|name| {
            let cell = Cell::new(name);
            if self.options.color {
                cell.add_attribute(Attribute::Bold)
            } else {
                cell
            }
        }));
        if self.options.color {
            table.enforce_styling();
        }
        table
    }

    /// The report's narrow columns as a table, and the names left out, when they fit
    /// `width` with their last column wrapped to at least 20 characters.
    fn narrow_table(
        &self,
        names: &[String],
        widths: &[u16],
        width: u16,
    ) -> Option<(Table, Vec<String>)> {
        let picked: Vec<usize> = self
            .options
            .narrow
            .iter()
            .filter_map(|n| names.iter().position(|m| m == n))
            .collect();
        if picked.len() < 2 || picked.len() != self.options.narrow.len() {
            return None;
        }
        let (last, rest) = picked.split_last()?;
        let needed: usize = rest
            .iter()
            .map(|&i| usize::from(widths[i]) + 3)
            .sum::<usize>()
            + usize::from(widths[*last]).min(20)
            + 3
            + 1;
        if needed > usize::from(width) {
            return None;
        }
        let picked_names: Vec<String> = picked.iter().map(|&i| names[i].clone()).collect();
        let mut table = self.table(&picked_names);
        table.set_width(width);
        for row in &self.rows {
            table.add_row(picked.iter().map(|&i| row[i].as_str()));
        }
        let left_out = (0..names.len())
            .filter(|i| !picked.contains(i))
            .map(|i| names[i].clone())
            .collect();
        Some((table, left_out))
    }
}

/// psql's expanded display: a `-[ RECORD n ]` line, then one `name | value` line per
/// column, values wrapped to the width (comfy-table does the wrapping, wide characters
/// included, as it does for the table view).
fn write_vertical(
    names: &[String],
    rows: &[Vec<String>],
    width: Option<u16>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let rule_width = usize::from(width.unwrap_or(80)).clamp(20, 80);
    for (i, row) in rows.iter().enumerate() {
        let title = format!("-[ RECORD {} ]", i + 1);
        let pad = rule_width.saturating_sub(title.chars().count());
        writeln!(out, "{title}{}", "-".repeat(pad))?;
        let mut table = Table::new();
        // No borders but the line between the two columns.
        table
            .load_preset(presets::NOTHING)
            .set_style(comfy_table::TableComponent::VerticalLines, '|')
            .set_content_arrangement(ContentArrangement::Dynamic);
        if let Some(width) = width {
            table.set_width(width);
        }
        for (name, value) in names.iter().zip(row) {
            table.add_row(vec![name.as_str(), value.as_str()]);
        }
        if let Some(column) = table.column_mut(0) {
            column.set_padding((0, 1));
        }
        if let Some(column) = table.column_mut(1) {
            column.set_padding((1, 0));
        }
        for line in table.to_string().lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// `View::Timeline`: rows go to the table without `verdict`; each message's verdict (in
/// the order messages first appear) is written under the table. A result without rows,
/// or without the two columns, is printed as plain rows.
struct TimelinePrinter<W: Write> {
    table: TablePrinter<W>,
    /// The result's schema, and the positions of `message_id` and `verdict` in it.
    schema: Option<(SchemaRef, Option<(usize, usize)>)>,
    verdicts: Vec<(String, String)>,
}

impl<W: Write> Printer for TimelinePrinter<W> {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()> {
        let columns = schema
            .index_of("message_id")
            .ok()
            .zip(schema.index_of("verdict").ok());
        self.schema = Some((Arc::clone(schema), columns));
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some((schema, Some((id_at, verdict_at)))) = &self.schema else {
            if self.table.schema.is_none() {
                self.table.begin(&batch.schema())?;
            }
            return self.table.batch(batch);
        };
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|i| i != verdict_at)
            .collect();
        let timeline = batch.project(&keep)?;
        if self.table.schema.is_none() {
            self.table.begin(&timeline.schema())?;
        }
        let ids = batch.column(*id_at).as_string::<i32>();
        let verdicts = batch.column(*verdict_at).as_string::<i32>();
        for row in 0..batch.num_rows() {
            let id = ids.value(row);
            if !self.verdicts.iter().any(|(seen, _)| seen == id) {
                self.verdicts
                    .push((id.to_string(), verdicts.value(row).to_string()));
            }
        }
        self.table.batch(&timeline)
    }

    fn finish(&mut self) -> Result<()> {
        if self.table.schema.is_none() {
            // No batch came: the plain table of the whole schema, header only.
            if let Some((schema, _)) = &self.schema {
                self.table.begin(schema)?;
            }
            return self.table.finish();
        }
        self.table.finish()?;
        for (id, verdict) in &self.verdicts {
            print_verdict(id, verdict, &mut self.table.out)?;
        }
        self.table.out.flush()?;
        Ok(())
    }
}

struct CsvPrinter<W: Write> {
    out: Option<W>,
    writer: Option<datafusion::arrow::csv::Writer<W>>,
    delimiter: u8,
    header: bool,
}

impl<W: Write> Printer for CsvPrinter<W> {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()> {
        let out = self.out.take().expect("begin is called once");
        let mut writer = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(self.header)
            .with_delimiter(self.delimiter)
            .build(out);
        // Write the header even when there are no rows: an empty result is still a table.
        let empty = nested_as_json(&RecordBatch::new_empty(Arc::clone(schema)))?;
        writer.write(&empty)?;
        self.writer = Some(writer);
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let writer = self.writer.as_mut().expect("begin was called");
        writer.write(&nested_as_json(batch)?)?;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(writer) = self.writer.take() {
            writer.into_inner().flush()?;
        }
        Ok(())
    }
}

struct ParquetPrinter<W: Write + Send> {
    out: Option<W>,
    writer: Option<ArrowWriter<W>>,
}

impl<W: Write + Send> Printer for ParquetPrinter<W> {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()> {
        let out = self.out.take().expect("begin is called once");
        self.writer = Some(ArrowWriter::try_new(out, Arc::clone(schema), None)?);
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .as_mut()
            .expect("begin was called")
            .write(batch)?;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(writer) = self.writer.take() {
            let mut out = writer.into_inner()?;
            out.flush()?;
        }
        Ok(())
    }
}

enum Json<W: Write> {
    Array(ArrayWriter<W>),
    Lines(LineDelimitedWriter<W>),
}

struct JsonPrinter<W: Write> {
    writer: Option<Json<W>>,
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn begin(&mut self, _schema: &SchemaRef) -> Result<()> {
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        match self.writer.as_mut().expect("not finished") {
            Json::Array(w) => w.write(batch)?,
            Json::Lines(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self.writer.take() {
            Some(Json::Array(mut w)) => {
                w.finish()?;
                w.into_inner().flush()?;
                Ok(())
            }
            Some(Json::Lines(mut w)) => {
                w.finish()?;
                w.into_inner().flush()?;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// `seslog reports`: each report with its description, window and parameters.
pub fn print_reports(
    reports: &[seslog_engine::report::Report],
    out: &mut impl Write,
) -> std::io::Result<()> {
    for r in reports {
        let window = r
            .window
            .map(|w| format!(" (default window: last {})", human_span(w)))
            .unwrap_or_default();
        let origin = if r.origin == "builtin" {
            String::new()
        } else {
            format!(" [{}]", r.origin)
        };
        writeln!(out, "{}{origin}{window}", r.name)?;
        writeln!(out, "    {}", r.description)?;
        for p in &r.params {
            let default = p
                .default
                .as_ref()
                .map(|d| format!(" (default {d:?})"))
                .unwrap_or_else(|| " (required)".into());
            writeln!(out, "    --param {}=...{default} {}", p.name, p.help)?;
        }
    }
    out.flush()
}

fn human_span(d: chrono::Duration) -> String {
    let minutes = d.num_minutes();
    if minutes % (24 * 60) == 0 {
        format!("{}d", minutes / (24 * 60))
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// `seslog config`: each setting, its value and where it came from.
pub fn print_settings(
    settings: &[crate::settings::Setting],
    out: &mut impl Write,
) -> std::io::Result<()> {
    let width = settings.iter().map(|s| s.key.len()).max().unwrap_or(0);
    for s in settings {
        let value = if s.value.is_empty() {
            "(none)"
        } else {
            s.value.as_str()
        };
        writeln!(
            out,
            "{:width$} = {}    # from {}",
            s.key,
            sanitize(value),
            s.origin
        )?;
    }
    out.flush()
}

/// Draws the progress line: in place on a terminal, as a line of its own with `-v`.
pub fn show_progress(mode: ProgressMode, line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = match mode {
        ProgressMode::Terminal => write!(err, "\r\x1b[2Kseslog: {line}"),
        ProgressMode::Lines => writeln!(err, "seslog: progress: {line}"),
        ProgressMode::Off => Ok(()),
    };
    let _ = err.flush();
}

/// Clears the progress line on a terminal.
pub fn end_progress(mode: ProgressMode) {
    if mode == ProgressMode::Terminal {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// One verdict line after the recipient timeline.
fn print_verdict(message_id: &str, verdict: &str, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{message_id}: {verdict}")
}

/// Names the skipped records and damaged or ignored objects (the first few of each cause;
/// the rest as one line per cause with its count), then counts them all. Object names and
/// record text are escaped: stderr is a terminal too.
pub fn report_problems(
    diagnostics: &seslog_engine::table::diagnostics::Diagnostics,
    err: &mut impl Write,
) -> std::io::Result<()> {
    for problem in diagnostics.problems() {
        writeln!(
            err,
            "seslog: warning: {}",
            sanitize(&crate::error::problem_text(&problem))
        )?;
    }
    for (kind, cause, more) in diagnostics.unnamed() {
        writeln!(
            err,
            "seslog: warning: {more} more {}: {} (not named one by one)",
            seslog_engine::table::diagnostics::counted_plural(kind),
            sanitize(&cause)
        )?;
    }
    if let Some(summary) = diagnostics.summary() {
        writeln!(
            err,
            "seslog: warning: {summary} (use --strict to make this an error)"
        )?;
    }
    Ok(())
}

/// What Athena would bill for scanning `bytes`: $5 per TB, at least 10 MB per query.
pub fn athena_cost_usd(bytes: u64) -> f64 {
    const MIN_BYTES: u64 = 10 * 1024 * 1024;
    bytes.max(MIN_BYTES) as f64 / 1e12 * 5.0
}

/// One line of figures after a query, `key=value` so scripts can read it.
pub fn report_stats(
    counters: &seslog_engine::source::Counters,
    tier: Option<&seslog_engine::tier::Tier>,
    rows: u64,
    elapsed: std::time::Duration,
    err: &mut impl Write,
) -> std::io::Result<()> {
    write!(
        err,
        "seslog: stats: rows={rows} list_requests={} objects_read={} bytes_read={} get_requests={} get_concurrency={} slowdowns={} cached_objects={} cached_listings={}",
        counters.lists(),
        counters.objects(),
        counters.bytes(),
        counters.gets(),
        counters.get_concurrency(),
        counters.slowdowns(),
        counters.cached_objects(),
        counters.cached_listings(),
    )?;
    if let Some(tier) = tier {
        use seslog_engine::tier::TierStats;
        let s = &tier.stats;
        let get = TierStats::get;
        write!(
            err,
            " parquet_folders={} raw_folders={} objects_read_beside={} parquet_files={} row_groups_read={} row_groups={} parquet_rows_read={} parquet_rows={} parquet_bytes_read={} parquet_bytes={}",
            get(&s.folders),
            get(&s.folders_raw),
            get(&s.objects_raw),
            get(&s.files),
            get(&s.row_groups_read),
            get(&s.row_groups),
            get(&s.rows_read),
            get(&s.rows),
            tier.counters.bytes(),
            get(&s.bytes),
        )?;
    }
    writeln!(
        err,
        " elapsed={:.3}s athena_would_bill_usd={:.6}",
        elapsed.as_secs_f64(),
        athena_cost_usd(counters.bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, ListBuilder, StringArray};

    fn sample() -> RecordBatch {
        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("a@example.com");
        list.values().append_value("b\"q@example.com");
        list.append(true);
        list.append(false);
        RecordBatch::try_from_iter(vec![
            (
                "n",
                Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("x,y"), Some("日本語")])) as ArrayRef,
            ),
            ("l", Arc::new(list.finish()) as ArrayRef),
        ])
        .unwrap()
    }

    fn print(format: Format, batch: &RecordBatch) -> String {
        let mut out = Vec::new();
        {
            let mut p = format.printer(&mut out, &PrintOptions::default(), View::Rows);
            p.begin(&batch.schema()).unwrap();
            p.batch(batch).unwrap();
            p.finish().unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_has_a_header_and_nested_values_as_json() {
        assert_eq!(
            print(Format::Csv, &sample()),
            "n,s,l\n1,\"x,y\",\"[\"\"a@example.com\"\",\"\"b\\\"\"q@example.com\"\"]\"\n,日本語,\n"
        );
    }

    #[test]
    fn ndjson_keeps_nesting_and_nulls() {
        let text = print(Format::Ndjson, &sample());
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows[0]["l"][1], "b\"q@example.com");
        assert!(rows[1]["n"].is_null());
    }

    #[test]
    fn sanitize_escapes_controls_and_bidi_overrides() {
        assert_eq!(sanitize("plain 日本語"), "plain 日本語");
        assert_eq!(
            sanitize("a\nb\u{1b}[31mred\u{202e}txt"),
            "a\\nb\\u{1b}[31mred\\u{202e}txt"
        );
    }

    /// TSV quotes a field holding a quote, as CSV does, so every value reads back exactly.
    #[test]
    fn tsv_without_header() {
        let mut out = Vec::new();
        {
            let mut p = Format::Tsv.printer(
                &mut out,
                &PrintOptions {
                    header: false,
                    ..Default::default()
                },
                View::Rows,
            );
            let b = sample();
            p.begin(&b.schema()).unwrap();
            p.batch(&b).unwrap();
            p.finish().unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            "1\tx,y\t\"[\"\"a@example.com\"\",\"\"b\\\"\"q@example.com\"\"]\""
        );
    }

    #[test]
    fn table_shows_null() {
        let text = print(Format::Table, &sample());
        assert!(text.contains("NULL"), "{text}");
        assert!(text.contains("日本語"));
    }
}
