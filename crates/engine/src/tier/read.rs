//! Reading one of the tier's files for a scan: only the Parquet leaves the query reads
//! (its columns, and within nested ones the parts `ReadPaths` names), and, for a lookup,
//! only the row groups and pages that can hold the value.
//!
//! A lookup (`array_has(recipients, 'x')`, `mail.messageid = 'x'`) names a value a row must
//! hold in one column. Files whose keys say they cannot hold it are not opened at all
//! (`keys.rs`, at planning). In a file that is: the rows are sorted by their first
//! recipient, so the pages of `recipients` each cover a narrow range of addresses, and a
//! page whose [min, max] does not contain the value holds no row that can match, nor does a
//! row group whose own range or (for message ids, which are in no order) bloom filter says
//! so. What is left is probed on the value's one column, and the query's other columns are
//! read only for the rows that hold it. The query's filter still runs, exactly, on every
//! row handed on; this only leaves out rows that certainly cannot match. Statistics written
//! truncated stay bounds (a truncated minimum is below the real one, a truncated maximum
//! above), so the comparison stays safe.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowPredicate, ArrowPredicateFn, ArrowReaderOptions, RowFilter, RowSelection, RowSelector,
};
use datafusion::parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::{
    PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader,
};
use datafusion::parquet::file::page_index::column_index::ColumnIndexMetaData;
use datafusion::parquet::file::statistics::Statistics;
use datafusion::parquet::schema::types::SchemaDescriptor;
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectMeta;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::table::nested::{Part, ReadPaths};
use crate::table::prefilter::{Column, Needle};
use crate::table::schema::NullColumns;
use crate::tier::{Tier, TierStats, from_storage};

/// Marks a scanned file as one of the tier's (carried on `PartitionedFile::extensions`).
#[derive(Debug)]
pub struct TierFile;

/// What a scan reads of every tier file: decided once per scan.
#[derive(Debug)]
pub struct TierRead {
    /// The batches to hand on: the projected columns of the table's file schema.
    output: SchemaRef,
    /// The Parquet leaves to read, as dotted paths (`mail.commonheaders.subject`).
    leaves: Vec<String>,
    needles: Vec<Needle>,
    batch_size: usize,
    nulls: NullColumns,
}

impl TierRead {
    pub fn new(
        output: SchemaRef,
        reads: &ReadPaths,
        needles: Vec<Needle>,
        batch_size: usize,
    ) -> Self {
        let mut leaves = Vec::new();
        for field in output.fields() {
            paths(
                field.name(),
                field.data_type(),
                &reads.of(field.name()),
                &mut leaves,
            );
        }
        // Nothing of the record read (`count(*)`): the smallest column still gives the rows.
        if leaves.is_empty() {
            leaves.push("eventtype".to_string());
        }
        TierRead {
            output,
            leaves,
            needles,
            batch_size,
            nulls: NullColumns::default(),
        }
    }

    /// A batch as the reader gave it (the projected leaves) in the shape a raw scan gives.
    fn output_batch(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let columns = self
            .output
            .fields()
            .iter()
            .map(|field| {
                let column = batch.column_by_name(field.name()).ok_or_else(|| {
                    DataFusionError::Internal(format!("tier file has no column {}", field.name()))
                })?;
                from_storage(field.name(), column, field.data_type(), &self.nulls)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.output),
            columns,
            &datafusion::arrow::array::RecordBatchOptions::new()
                .with_row_count(Some(batch.num_rows())),
        )?)
    }
}

/// The dotted paths under `prefix` (a column or struct field of type `data_type`) that
/// `part` reads: a struct's fields one by one, anything else (a list, a map: what a query
/// names inside them is an element or a key, not a Parquet leaf) whole.
fn paths(prefix: &str, data_type: &DataType, part: &Part, out: &mut Vec<String>) {
    match (part, data_type) {
        (Part::Some(children), DataType::Struct(fields)) if !children.is_empty() => {
            for (name, child) in children {
                if let Some(field) = fields.iter().find(|f| f.name() == name) {
                    paths(&format!("{prefix}.{name}"), field.data_type(), child, out);
                }
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

/// The leaf a needle's value is looked for in.
fn needle_leaf(column: Column) -> &'static str {
    match column {
        Column::Recipients => "recipients.list.item",
        Column::Destination => "mail.destination.list.item",
        Column::MessageId => "mail.messageid",
    }
}

/// A tier file as the Parquet reader asks for it: ranges of it, and its footer (the size
/// is the manifest's, so no request asks for it). parquet's own `ParquetObjectReader` is
/// deprecated in favour of this.
struct TierFileReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

fn parquet_error(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for TierFileReader {
    fn get_bytes(
        &mut self,
        range: Range<u64>,
    ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(parquet_error)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(parquet_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, datafusion::parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            // One read of the end usually holds the footer and the page index.
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(64 << 10))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// Opens one tier file for a scan: the batches of the rows its statistics leave.
pub async fn open(
    tier: Arc<Tier>,
    read: Arc<TierRead>,
    meta: &ObjectMeta,
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    let failed = |e: &dyn std::fmt::Display| {
        DataFusionError::from(crate::error::Error::Tier {
            what: format!("reading {}", tier.name(&meta.location)),
            why: e.to_string(),
        })
    };
    let reader = TierFileReader {
        store: Arc::clone(&tier.store),
        path: meta.location.clone(),
        size: meta.size,
    };
    let policy = if read.needles.is_empty() {
        PageIndexPolicy::Skip
    } else {
        PageIndexPolicy::Optional
    };
    let options = ArrowReaderOptions::new().with_page_index_policy(policy);
    let mut builder = ParquetRecordBatchStreamBuilder::new_with_options(reader, options)
        .await
        .map_err(|e| failed(&e))?;
    let metadata = Arc::clone(builder.metadata());
    let (row_groups, selection) = select(&metadata, &read.needles, &mut builder)
        .await
        .map_err(|e| failed(&e))?;
    let stats = &tier.stats;
    let group_rows = |g: usize| metadata.row_group(g).num_rows() as u64;
    TierStats::add(&stats.row_groups_read, row_groups.len() as u64);
    TierStats::add(
        &stats.rows_read,
        match &selection {
            Some(s) => s.row_count() as u64,
            None => row_groups.iter().map(|&g| group_rows(g)).sum(),
        },
    );
    let mask = ProjectionMask::columns(
        metadata.file_metadata().schema_descr(),
        read.leaves.iter().map(String::as_str),
    );
    let mut builder = builder
        .with_projection(mask)
        .with_row_groups(row_groups)
        .with_batch_size(read.batch_size);
    let schema = metadata.file_metadata().schema_descr();
    let predicates: Vec<Box<dyn ArrowPredicate>> = read
        .needles
        .iter()
        .filter_map(|needle| predicate(schema, needle))
        .collect();
    if !predicates.is_empty() {
        builder = builder.with_row_filter(RowFilter::new(predicates));
    }
    if let Some(selection) = selection {
        builder = builder.with_row_selection(selection);
    }
    let name = tier.name(&meta.location);
    let stream = builder.build().map_err(|e| failed(&e))?;
    Ok(stream
        .map_err(move |e| {
            DataFusionError::from(crate::error::Error::Tier {
                what: format!("reading {name}"),
                why: e.to_string(),
            })
        })
        .and_then(move |batch| {
            let read = Arc::clone(&read);
            async move { read.output_batch(batch) }
        })
        .boxed())
}

/// The row groups to read and, within them, the rows: all of them without a lookup.
async fn select(
    metadata: &ParquetMetaData,
    needles: &[Needle],
    builder: &mut ParquetRecordBatchStreamBuilder<TierFileReader>,
) -> datafusion::parquet::errors::Result<(Vec<usize>, Option<RowSelection>)> {
    let all: Vec<usize> = (0..metadata.num_row_groups()).collect();
    if needles.is_empty() {
        return Ok((all, None));
    }
    let schema = metadata.file_metadata().schema_descr();
    let leaf = |path: &str| {
        schema
            .columns()
            .iter()
            .position(|c| c.path().string() == path)
    };
    let mut groups = Vec::new();
    let mut selectors = Vec::new();
    'groups: for g in all {
        let rows = metadata.row_group(g).num_rows() as usize;
        let mut keep: Vec<Range<usize>> = std::iter::once(0..rows).collect();
        for needle in needles {
            let Some(column) = leaf(needle_leaf(needle.column)) else {
                continue;
            };
            let value = needle.value.as_bytes();
            let chunk = metadata.row_group(g).column(column);
            if chunk.statistics().is_some_and(|s| excludes(s, value)) {
                continue 'groups;
            }
            if chunk.bloom_filter_offset().is_some()
                && let Some(bloom) = builder.get_row_group_column_bloom_filter(g, column).await?
                && !bloom.check(value)
            {
                continue 'groups;
            }
            if let Some(pages) = page_rows(metadata, g, column, rows, value) {
                keep = intersect(&keep, &pages);
            }
            if keep.is_empty() {
                continue 'groups;
            }
        }
        groups.push(g);
        let mut at = 0;
        for range in keep {
            if range.start > at {
                selectors.push(RowSelector::skip(range.start - at));
            }
            selectors.push(RowSelector::select(range.end - range.start));
            at = range.end;
        }
        if rows > at {
            selectors.push(RowSelector::skip(rows - at));
        }
    }
    Ok((groups, Some(RowSelection::from(selectors))))
}

/// The rows that hold the needle's value, exactly, from its one column: the lookup's own
/// filter (which still runs on every row handed on), evaluated first so the query's other
/// columns are read only for the rows that match, and not at all in a row group without
/// one. The statistics only say where the value may be; a page of `recipients` covers a
/// thousand rows.
fn predicate(schema: &SchemaDescriptor, needle: &Needle) -> Option<Box<dyn ArrowPredicate>> {
    let leaf = schema
        .columns()
        .iter()
        .position(|c| c.path().string() == needle_leaf(needle.column))?;
    let mask = ProjectionMask::leaves(schema, [leaf]);
    let (column, value) = (needle.column, needle.value.clone());
    Some(Box::new(ArrowPredicateFn::new(mask, move |batch| {
        holds(&batch, column, &value)
    })))
}

/// Per row of `batch` (the needle's column, as the predicate reads it): whether it holds
/// `value` (an element of the list equal to it; the string equal to it). NULL is false.
fn holds(batch: &RecordBatch, column: Column, value: &str) -> Result<BooleanArray, ArrowError> {
    let missing = || ArrowError::SchemaError(format!("no {column:?} column to look in"));
    let array = match column {
        Column::Recipients => batch
            .column_by_name(crate::table::schema::RECIPIENTS)
            .cloned(),
        Column::Destination | Column::MessageId => {
            let field = if column == Column::Destination {
                "destination"
            } else {
                "messageid"
            };
            batch
                .column_by_name("mail")
                .and_then(|mail| mail.as_struct_opt()?.column_by_name(field).cloned())
        }
    }
    .ok_or_else(missing)?;
    let wanted = StringArray::new_scalar(value);
    let rows = array.len();
    let hits = match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let equal = eq(list.values(), &wanted)?;
            let offsets = list.value_offsets();
            (0..rows)
                .map(|row| {
                    list.is_valid(row)
                        && (offsets[row] as usize..offsets[row + 1] as usize)
                            .any(|i| equal.is_valid(i) && equal.value(i))
                })
                .collect::<BooleanArray>()
        }
        _ => {
            let equal = eq(&array, &wanted)?;
            (0..rows)
                .map(|row| equal.is_valid(row) && equal.value(row))
                .collect::<BooleanArray>()
        }
    };
    Ok(hits)
}

/// Whether a column chunk's statistics say no value equals `value`.
fn excludes(stats: &Statistics, value: &[u8]) -> bool {
    match stats {
        Statistics::ByteArray(s) => outside(s.min_bytes_opt(), s.max_bytes_opt(), value),
        _ => false,
    }
}

fn outside(min: Option<&[u8]>, max: Option<&[u8]>, value: &[u8]) -> bool {
    min.is_some_and(|m| value < m) || max.is_some_and(|m| value > m)
}

/// The rows of row group `g` in pages of `column` that can hold `value`, when the page
/// index says (`None`: no index, every row).
fn page_rows(
    metadata: &ParquetMetaData,
    g: usize,
    column: usize,
    rows: usize,
    value: &[u8],
) -> Option<Vec<Range<usize>>> {
    let index = metadata.column_index()?.get(g)?.get(column)?;
    let locations = metadata
        .offset_index()?
        .get(g)?
        .get(column)?
        .page_locations();
    let ColumnIndexMetaData::BYTE_ARRAY(pages) = index else {
        return None;
    };
    let mut out: Vec<Range<usize>> = Vec::new();
    for (i, location) in locations.iter().enumerate() {
        let start = location.first_row_index as usize;
        let end = locations
            .get(i + 1)
            .map_or(rows, |next| next.first_row_index as usize);
        if pages.is_null_page(i) || outside(pages.min_value(i), pages.max_value(i), value) {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.end == start => last.end = end,
            _ => out.push(start..end),
        }
    }
    Some(out)
}

/// The rows in both sets of sorted, disjoint ranges.
fn intersect(a: &[Range<usize>], b: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let start = a[i].start.max(b[j].start);
        let end = a[i].end.min(b[j].end);
        if start < end {
            out.push(start..end);
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn ranges_intersect() {
        assert_eq!(intersect(&[0..10], &[2..4, 6..12]), vec![2..4, 6..10]);
        assert_eq!(
            intersect(&[0..3, 5..8], &[3..5]),
            Vec::<Range<usize>>::new()
        );
        assert_eq!(intersect(&[0..3, 5..8], &[1..6]), vec![1..3, 5..6]);
    }

    #[test]
    fn a_value_outside_the_bounds_is_excluded() {
        assert!(outside(Some(b"b"), Some(b"d"), b"a"));
        assert!(outside(Some(b"b"), Some(b"d"), b"e"));
        assert!(!outside(Some(b"b"), Some(b"d"), b"c"));
        assert!(!outside(Some(b"b"), Some(b"d"), b"d"));
        // Truncated bounds: "ab" below "abc...", "ac" above it.
        assert!(!outside(Some(b"ab"), Some(b"ac"), b"abz@example.com"));
        assert!(!outside(None, None, b"x"));
    }
}
