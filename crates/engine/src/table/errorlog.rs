//! `errorlogs`: the records Firehose could not deliver, as it files them under its error
//! prefix (`errorLog/!{firehose:error-output-type}/dt=yyyy-MM-dd/`): one JSON document per
//! failed record, with the record itself base64 in `rawData`. The columns are Firehose's,
//! lower-cased as Athena names them, plus `arrival_time` (from `arrivalTimestamp`) and
//! `raw_record` (`rawData` decoded), plus the layout's partition columns
//! (`error_output_type`, `dt`).
//!
//! Listing and pruning are the events table's (`listing.rs`, the same layouts). Reading is
//! simpler than `SesSource`: error output is the exception (a handful of records where
//! something went wrong), so an object is inflated whole and read line by line, and the
//! tolerance machinery that large event objects need (windows, resynchronising a cut
//! record, splitting `}{`) is not repeated here. A line that is not an error record is
//! skipped and named like a bad event record.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, StructArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::Session;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use futures::StreamExt;
use object_store::ObjectMeta;
use serde_json::Value;

use crate::error::{Error, Unit};
use crate::source::Source;
use crate::table::diagnostics::{Problem, ProblemKind};
use crate::table::layout::{DEFAULT_ERROR_LAYOUT, FirehoseLayout};
use crate::table::listing;
use crate::table::records::is_gzip;
use crate::table::scan::{Keep, ScanSettings, fetch};
use crate::table::{flatten, matching_leaves, report_rejected_names};

/// The table name.
pub const TABLE: &str = "errorlogs";
/// The column holding the failed record as text (also what tells the table's schema apart).
pub const RAW_RECORD: &str = "raw_record";

/// An object inflated to more than this is not Firehose error output: it is read no
/// further (a gzip bomb costs this much, not memory without end).
const MAX_INFLATED: u64 = 1 << 30;

/// The error layout as a layout: its date is the Hive-style `dt` column ('2024-11-05').
pub fn layout(expression: &str) -> crate::error::Result<FirehoseLayout> {
    Ok(FirehoseLayout::parse(expression)?.with_day_column("dt", '-'))
}

pub fn default_layout() -> FirehoseLayout {
    layout(DEFAULT_ERROR_LAYOUT).expect("the default error layout parses")
}

/// Firehose's fields, by the lower-cased name a record may spell in either case
/// (`errorCode` in delivery errors, `ErrorCode` in format-conversion errors).
const INTEGERS: [&str; 4] = [
    "attemptsmade",
    "arrivaltimestamp",
    "attemptendingtimestamp",
    "subsequencenumber",
];
const CATALOG: [&str; 6] = [
    "catalogid",
    "databasename",
    "tablename",
    "region",
    "versionid",
    "catalogarn",
];
/// The file columns in table order, with their types.
fn columns() -> Vec<Field> {
    let int = |n: &str| Field::new(n, DataType::Int64, true);
    let text = |n: &str| Field::new(n, DataType::Utf8, true);
    vec![
        int("attemptsmade"),
        int("arrivaltimestamp"),
        text("errorcode"),
        text("errormessage"),
        int("attemptendingtimestamp"),
        text("rawdata"),
        text("lambdaarn"),
        text("sequencenumber"),
        int("subsequencenumber"),
        Field::new("datacatalogtable", catalog_type(), true),
        Field::new(
            "arrival_time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        text(RAW_RECORD),
    ]
}

fn catalog_type() -> DataType {
    DataType::Struct(Fields::from(
        CATALOG
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// The file columns, then the layout's partition columns.
fn table_schema(layout: &FirehoseLayout) -> SchemaRef {
    let mut fields = columns();
    fields.extend(
        layout
            .partition_columns()
            .iter()
            .map(|c| Field::new(c, DataType::Utf8, false)),
    );
    Arc::new(Schema::new(fields))
}

#[derive(Debug)]
pub struct ErrorLogTable {
    source: Source,
    layout: FirehoseLayout,
    schema: SchemaRef,
    settings: ScanSettings,
}

impl ErrorLogTable {
    pub fn new(source: Source, layout: FirehoseLayout, settings: ScanSettings) -> Self {
        Self {
            source,
            schema: table_schema(&layout),
            layout,
            settings,
        }
    }

    /// The folder the layout starts with, under the source's root.
    fn first_folder(&self) -> object_store::path::Path {
        self.layout
            .segments
            .iter()
            .take_while(|s| s.is_literal())
            .filter_map(|s| s.render(&Default::default()))
            .fold(self.source.root.clone(), |path, name| path.join(name))
    }

    fn partition_schema(&self) -> SchemaRef {
        let files = columns().len();
        Arc::new(Schema::new(self.schema.fields()[files..].to_vec()))
    }
}

#[async_trait]
impl TableProvider for ErrorLogTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let partitions = self.layout.partition_columns();
        let columns: Vec<&str> = partitions.iter().map(String::as_str).collect();
        Ok(filters
            .iter()
            .map(|f| match expr_applicable_for_cols(&columns, f) {
                true => TableProviderFilterPushDown::Exact,
                false => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let store = self.source.store.as_ref();
        let found = matching_leaves(
            state,
            &self.source,
            &self.layout,
            self.partition_schema(),
            filters,
        )
        .await;
        // No error output at all is the usual case (Firehose writes it only when something
        // failed): an empty table, said once, not an error.
        let leaves = match found {
            Err(DataFusionError::External(e))
                if matches!(e.downcast_ref::<Error>(), Some(Error::NoObjects { .. })) =>
            {
                self.source.notice(format!(
                    "{TABLE}: no error output under {} (Firehose writes there only when a \
                     record fails; --error-layout is `{}`)",
                    self.source.location.folder_name(&self.first_folder()),
                    self.layout.expression
                ));
                Vec::new()
            }
            other => other?,
        };
        let objects: Vec<(ObjectMeta, Vec<String>)> =
            flatten(listing::list_folders(store, leaves, &self.source).await?)
                .into_iter()
                .filter(|(meta, _)| meta.size > 0)
                .map(|(meta, values)| (meta, self.layout.column_values(&values)))
                .collect();
        report_rejected_names(&self.source, &self.settings)?;
        self.settings.progress.planned(
            objects.len() as u64,
            objects.iter().map(|(m, _)| m.size).sum(),
        );
        let n = state.config().target_partitions().max(1);
        let mut groups: Vec<Vec<(ObjectMeta, Vec<String>)>> = vec![Vec::new(); n];
        for (i, object) in objects.into_iter().enumerate() {
            groups[i % n].push(object);
        }
        let partitions: Vec<Arc<dyn PartitionStream>> = groups
            .into_iter()
            .filter(|g| !g.is_empty())
            .map(|objects| {
                Arc::new(ErrorLogPartition {
                    schema: Arc::clone(&self.schema),
                    objects,
                    settings: self.settings.clone(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        Ok(Arc::new(StreamingTableExec::try_new(
            Arc::clone(&self.schema),
            partitions,
            projection,
            [],
            false,
            limit,
        )?))
    }
}

/// The objects one partition reads, in turn.
#[derive(Debug)]
struct ErrorLogPartition {
    schema: SchemaRef,
    objects: Vec<(ObjectMeta, Vec<String>)>,
    settings: ScanSettings,
}

impl PartitionStream for ErrorLogPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = Arc::clone(&self.schema);
        let settings = self.settings.clone();
        let stream = futures::stream::iter(self.objects.clone()).then(move |(meta, values)| {
            let (schema, settings) = (Arc::clone(&schema), settings.clone());
            async move { read_object(&schema, &settings, &meta, &values).await }
        });
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        ))
    }
}

/// Says a problem, or fails the query with it under `--strict`.
fn report(settings: &ScanSettings, problem: Problem) -> Result<()> {
    let unit = match problem.kind {
        ProblemKind::DamagedObject | ProblemKind::IgnoredObject => Unit::Object,
        _ => Unit::Record,
    };
    crate::table::report(settings, problem, unit)
}

async fn read_object(
    schema: &SchemaRef,
    settings: &ScanSettings,
    meta: &ObjectMeta,
    values: &[String],
) -> Result<RecordBatch> {
    let name = settings.source.location.object_name(&meta.location);
    let store = Arc::clone(&settings.source.store);
    let bytes = fetch(store.as_ref(), meta, &name, settings, Keep::InCache).await?;
    settings.progress.read(bytes.len() as u64);
    let text = match inflate(&bytes) {
        Ok(text) => text,
        Err((text, why)) => {
            report(
                settings,
                Problem::new(name.clone(), None, ProblemKind::DamagedObject, why),
            )?;
            text
        }
    };
    let mut rows = Rows::default();
    let mut offset = 0;
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let at = Some((i + 1, offset));
        offset += line.len() + 1;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let problem =
            |kind, why: String| report(settings, Problem::new(name.clone(), at, kind, why));
        match rows.push(line) {
            Ok(repairs) => {
                for why in repairs {
                    problem(ProblemKind::RepairedRecord, why)?;
                }
            }
            Err(why) => problem(ProblemKind::SkippedRecord, why)?,
        }
    }
    rows.batch(schema, values)
}

/// The object's content: inflated when it is gzip (whatever its name says). A gzip stream
/// that ends early or is corrupt gives the complete lines before the damage, and why.
fn inflate(bytes: &[u8]) -> std::result::Result<Vec<u8>, (Vec<u8>, String)> {
    if !is_gzip(bytes) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    let read = decoder.take(MAX_INFLATED + 1).read_to_end(&mut out);
    let why = match read {
        Ok(_) if out.len() as u64 > MAX_INFLATED => {
            format!("inflates to more than {MAX_INFLATED} bytes; not read further")
        }
        Ok(_) => return Ok(out),
        Err(e) => format!("gzip data damaged after {} bytes: {e}", out.len()),
    };
    let complete = out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    out.truncate(complete);
    Err((out, why))
}

/// The columns of an object's records, as they are read.
#[derive(Default)]
struct Rows {
    integers: BTreeMap<&'static str, Vec<Option<i64>>>,
    texts: BTreeMap<&'static str, Vec<Option<String>>>,
    catalog: Vec<Option<BTreeMap<&'static str, String>>>,
    raw_record: Vec<Option<String>>,
    len: usize,
}

const TEXTS: [&str; 5] = [
    "errorcode",
    "errormessage",
    "rawdata",
    "lambdaarn",
    "sequencenumber",
];

impl Rows {
    /// Adds one record; what was read as NULL, or why it is not an error record.
    fn push(&mut self, line: &[u8]) -> std::result::Result<Vec<String>, String> {
        let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(line) else {
            return Err(format!(
                "not a JSON object: {}",
                crate::table::decode::preview(line)
            ));
        };
        let members: BTreeMap<String, Value> = members
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        if !members.contains_key("rawdata") {
            return Err("not a Firehose error record (no rawData)".into());
        }
        let mut repairs = Vec::new();
        let mut wrong = |name: &str, what: &str| {
            repairs.push(format!("{name} is not {what}; read as NULL"));
        };
        for name in INTEGERS {
            let value = match members.get(name) {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
                // Firehose writes numbers as numbers; a number as text is the same value.
                Some(Value::String(s)) if s.parse::<i64>().is_ok() => s.parse().ok(),
                Some(_) => {
                    wrong(name, "an integer");
                    None
                }
            };
            self.integers.entry(name).or_default().push(value);
        }
        for name in TEXTS {
            let value = match members.get(name) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                // `sequenceNumber` is text in Firehose's schema; a producer may write digits.
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(_) => {
                    wrong(name, "text");
                    None
                }
            };
            self.texts.entry(name).or_default().push(value);
        }
        let catalog = match members.get("datacatalogtable") {
            None | Some(Value::Null) => None,
            Some(Value::Object(table)) => {
                let table: BTreeMap<String, &Value> = table
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect();
                Some(
                    CATALOG
                        .iter()
                        .filter_map(|&n| Some((n, table.get(n)?.as_str()?.to_string())))
                        .collect(),
                )
            }
            Some(_) => {
                wrong("datacatalogtable", "an object");
                None
            }
        };
        self.catalog.push(catalog);
        let raw = self.texts["rawdata"].last().cloned().flatten();
        let decoded = raw.map(|text| {
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map(|bytes| {
                    let text = String::from_utf8_lossy(&bytes);
                    text.trim_end_matches(['\n', '\r']).to_string()
                })
        });
        self.raw_record.push(match decoded {
            Some(Ok(text)) => Some(text),
            Some(Err(e)) => {
                repairs.push(format!(
                    "rawData is not base64 ({e}); raw_record read as NULL"
                ));
                None
            }
            None => None,
        });
        self.len += 1;
        Ok(repairs)
    }

    /// The batch of the table's schema: the file columns, then the partition values.
    fn batch(mut self, schema: &SchemaRef, values: &[String]) -> Result<RecordBatch> {
        let arrival_ms = self
            .integers
            .get("arrivaltimestamp")
            .cloned()
            .unwrap_or_default();
        let arrival_time =
            Arc::new(TimestampMillisecondArray::from(arrival_ms).with_timezone("UTC")) as ArrayRef;
        let mut int = |name| -> ArrayRef {
            Arc::new(Int64Array::from(
                self.integers.remove(name).unwrap_or_default(),
            ))
        };
        let (attempts, arrival, ending, subsequence) = (
            int("attemptsmade"),
            int("arrivaltimestamp"),
            int("attemptendingtimestamp"),
            int("subsequencenumber"),
        );
        let mut text = |name| -> ArrayRef {
            Arc::new(StringArray::from(
                self.texts.remove(name).unwrap_or_default(),
            ))
        };
        let (code, message, raw, lambda, sequence) = (
            text("errorcode"),
            text("errormessage"),
            text("rawdata"),
            text("lambdaarn"),
            text("sequencenumber"),
        );
        let DataType::Struct(catalog_fields) = catalog_type() else {
            unreachable!("catalog_type is a struct")
        };
        let catalog_columns: Vec<ArrayRef> = CATALOG
            .iter()
            .map(|n| {
                Arc::new(StringArray::from_iter(
                    self.catalog
                        .iter()
                        .map(|t| t.as_ref().and_then(|t| t.get(n).cloned())),
                )) as ArrayRef
            })
            .collect();
        let present = self.catalog.iter().map(Option::is_some).collect::<Vec<_>>();
        let catalog = Arc::new(StructArray::try_new(
            catalog_fields,
            catalog_columns,
            Some(present.into()),
        )?) as ArrayRef;
        let mut columns = vec![
            attempts,
            arrival,
            code,
            message,
            ending,
            raw,
            lambda,
            sequence,
            subsequence,
            catalog,
            arrival_time,
            Arc::new(StringArray::from(self.raw_record)) as ArrayRef,
        ];
        columns.extend(values.iter().map(|v| {
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                v.as_str(),
                self.len,
            ))) as ArrayRef
        }));
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(lines: &[&str]) -> (RecordBatch, Vec<String>) {
        let mut rows = Rows::default();
        let mut said = Vec::new();
        for line in lines {
            match rows.push(line.as_bytes()) {
                Ok(repairs) => said.extend(repairs),
                Err(why) => said.push(why),
            }
        }
        let schema = table_schema(&default_layout());
        let values = vec!["processing-failed".to_string(), "2024-11-05".to_string()];
        (rows.batch(&schema, &values).unwrap(), said)
    }

    #[test]
    fn raw_data_is_decoded_and_names_are_read_in_either_case() {
        let record =
            base64::engine::general_purpose::STANDARD.encode("{\"eventType\":\"Bounce\"}\n");
        let line = format!(
            "{{\"attemptsMade\":4,\"arrivalTimestamp\":1730801702000,\"ErrorCode\":\"DynamicPartitioning.MetadataExtractionFailed\",\"errorMessage\":\"no EventType\",\"rawData\":\"{record}\",\"dataCatalogTable\":{{\"tableName\":\"ses\"}}}}"
        );
        let (batch, said) = read(&[&line, "{\"x\":1}", "[1]"]);
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(
            said,
            vec![
                "not a Firehose error record (no rawData)".to_string(),
                "not a JSON object: \"[1]\"".to_string()
            ]
        );
        let text = |name: &str| {
            let column = batch.column_by_name(name).unwrap();
            datafusion::arrow::util::display::array_value_to_string(column, 0).unwrap()
        };
        assert_eq!(text("raw_record"), "{\"eventType\":\"Bounce\"}");
        assert_eq!(
            text("errorcode"),
            "DynamicPartitioning.MetadataExtractionFailed"
        );
        assert_eq!(text("attemptsmade"), "4");
        assert_eq!(text("arrival_time"), "2024-11-05T10:15:02Z");
        assert_eq!(
            text("datacatalogtable"),
            "{catalogid: , databasename: , tablename: ses, region: , versionid: , catalogarn: }"
        );
        assert_eq!(text("error_output_type"), "processing-failed");
        assert_eq!(text("dt"), "2024-11-05");
    }

    #[test]
    fn bad_base64_and_wrong_types_are_null_and_said() {
        let (batch, said) = read(&["{\"rawData\":\"%%%\",\"attemptsMade\":\"four\"}"]);
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(
            said[0].starts_with("attemptsmade is not an integer"),
            "{said:?}"
        );
        assert!(said[1].starts_with("rawData is not base64"), "{said:?}");
        assert!(batch.column_by_name("raw_record").unwrap().is_null(0));
    }

    #[test]
    fn a_cut_gzip_keeps_its_complete_lines() {
        let whole = seslog_gen::gzip(b"{\"rawData\":\"\"}\n{\"rawData\":\"\"}\n");
        let (text, why) = inflate(&whole[..whole.len() - 12]).unwrap_err();
        assert!(why.contains("damaged"), "{why}");
        assert!(text.is_empty() || text.ends_with(b"\n"));
        assert_eq!(inflate(&whole).unwrap().len(), 30);
    }
}
