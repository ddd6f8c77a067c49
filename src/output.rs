//! Printing results: one small printer per format, each generic over `std::io::Write` so a
//! unit test prints into a `Vec<u8>`. Batches stream through `begin`/`batch`/`finish`;
//! only the table view holds rows (it needs every row to size its columns).
//!
//! Nested values (structs, lists, maps) are written as JSON text in the table and in CSV,
//! since CSV has no nesting; JSON and NDJSON keep them as real JSON.

use std::io::Write;
use std::sync::Arc;

use comfy_table::{ContentArrangement, Table, presets};
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::json::writer::{EncoderOptions, make_encoder};
use datafusion::arrow::json::{ArrayWriter, LineDelimitedWriter, WriterBuilder};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::Result;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
}

impl Format {
    pub fn printer<'w, W: Write + 'w>(self, out: W) -> Box<dyn Printer + 'w> {
        match self {
            Format::Table => Box::new(TablePrinter {
                out,
                schema: None,
                rows: Vec::new(),
            }),
            Format::Csv => Box::new(CsvPrinter {
                out: Some(out),
                writer: None,
            }),
            Format::Json => Box::new(JsonPrinter {
                writer: Some(Json::Array(
                    WriterBuilder::new().with_explicit_nulls(true).build(out),
                )),
            }),
            Format::Ndjson => Box::new(JsonPrinter {
                writer: Some(Json::Lines(
                    WriterBuilder::new().with_explicit_nulls(true).build(out),
                )),
            }),
        }
    }
}

/// Receives a result set batch by batch.
pub trait Printer {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()>;
    fn batch(&mut self, batch: &RecordBatch) -> Result<()>;
    fn finish(&mut self) -> Result<()>;
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
}

impl<W: Write> Printer for TablePrinter<W> {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()> {
        self.schema = Some(Arc::clone(schema));
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = nested_as_json(batch)?;
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
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(schema.fields().iter().map(|f| f.name().clone()));
        for row in self.rows.drain(..) {
            table.add_row(row);
        }
        writeln!(self.out, "{table}")?;
        self.out.flush()?;
        Ok(())
    }
}

struct CsvPrinter<W: Write> {
    out: Option<W>,
    writer: Option<datafusion::arrow::csv::Writer<W>>,
}

impl<W: Write> Printer for CsvPrinter<W> {
    fn begin(&mut self, schema: &SchemaRef) -> Result<()> {
        let out = self.out.take().expect("begin is called once");
        let mut writer = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
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
    reports: &[crate::report::Report],
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

/// One verdict line after the recipient timeline.
pub fn print_verdict(message_id: &str, verdict: &str, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{message_id}: {verdict}")
}

/// Names every skipped record and damaged or ignored object, then counts them.
pub fn report_problems(
    diagnostics: &crate::diagnostics::Diagnostics,
    err: &mut impl Write,
) -> std::io::Result<()> {
    for problem in diagnostics.problems() {
        writeln!(err, "seslog: warning: {problem}")?;
    }
    if let Some(summary) = diagnostics.summary() {
        writeln!(
            err,
            "seslog: warning: {summary} (use --strict to make this an error)"
        )?;
    }
    Ok(())
}

/// One line of figures after a query, `key=value` so scripts can read it.
pub fn report_stats(
    counters: &crate::source::Counters,
    rows: u64,
    elapsed: std::time::Duration,
    err: &mut impl Write,
) -> std::io::Result<()> {
    writeln!(
        err,
        "seslog: stats: rows={rows} list_requests={} objects_read={} bytes_read={} elapsed={:.3}s",
        counters.lists(),
        counters.gets(),
        counters.bytes(),
        elapsed.as_secs_f64()
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
            let mut p = format.printer(&mut out);
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
    fn table_shows_null() {
        let text = print(Format::Table, &sample());
        assert!(text.contains("NULL"), "{text}");
        assert!(text.contains("日本語"));
    }
}
