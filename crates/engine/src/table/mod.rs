//! `SesLogTable`: the `seslogs` table. Its schema is the exposed SES record (`schema.rs`)
//! plus the layout's partition columns. A scan turns the pushed-down partition filters into
//! the folders to list (`listing.rs`), evaluates those filters exactly, once, over every
//! surviving folder, lists the objects of the survivors, and hands them to a stock
//! `DataSourceExec` with our `SesSource`. Filters on partition columns are therefore
//! `Exact`; everything else is left to DataFusion.

pub(crate) mod bundle;
pub mod decode;
#[cfg(test)]
mod decode_properties;
pub mod derived;
pub mod diagnostics;
pub mod errorlog;
pub mod layout;
pub mod listing;
pub mod nested;
pub mod notification;
mod prefetch;
pub mod prefilter;
mod projection;
mod prune;
pub mod reader;
pub mod records;
pub mod scan;
pub mod schema;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::error::{Error, Unit};
use crate::source::Source;
use crate::table::diagnostics::{Problem, ProblemKind};
use crate::table::layout::Assignment;
use crate::table::layout::FirehoseLayout;
use crate::table::nested::ReadPaths;
use crate::table::scan::{ScanSettings, SesSource};
use crate::tier::{self, read::TierFile};
use listing::{Constraints, Leaf};
use object_store::ObjectMeta;
use prefilter::Prefilter;

#[derive(Debug)]
pub struct SesLogTable {
    source: Source,
    layout: FirehoseLayout,
    table_schema: TableSchema,
    partition_columns: Vec<String>,
    settings: ScanSettings,
}

impl SesLogTable {
    pub fn new(source: Source, layout: FirehoseLayout, settings: ScanSettings) -> Self {
        let partition_columns = layout.partition_columns();
        let partition_fields: Vec<FieldRef> = partition_columns
            .iter()
            .map(|c| Arc::new(Field::new(c, DataType::Utf8, false)))
            .collect();
        let table_schema = TableSchema::builder(schema::file_schema())
            .with_table_partition_cols(partition_fields)
            .build();
        Self {
            source,
            layout,
            table_schema,
            partition_columns,
            settings,
        }
    }

    fn partition_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.table_schema.table_partition_cols().to_vec(),
        ))
    }
}

/// The layout's folders under the source that the partition filters leave: those the
/// filters' bounds let the walk reach, then kept only when every filter holds.
pub(crate) async fn matching_leaves(
    state: &dyn Session,
    source: &Source,
    layout: &FirehoseLayout,
    partition_schema: SchemaRef,
    filters: &[Expr],
) -> Result<Vec<Leaf>> {
    let constraints = Constraints::from_filters(filters, layout);
    let leaves = listing::find_leaves(
        source.store.as_ref(),
        &source.root,
        layout,
        &constraints,
        source,
    )
    .await?;
    filter_leaves(state, layout, partition_schema, leaves, filters)
}

/// Keeps the leaves whose partition values (`partition_schema`, the layout's columns)
/// satisfy every filter, evaluated in one batch.
fn filter_leaves(
    state: &dyn Session,
    layout: &FirehoseLayout,
    partition_schema: SchemaRef,
    leaves: Vec<Leaf>,
    filters: &[Expr],
) -> Result<Vec<Leaf>> {
    if leaves.is_empty() || filters.is_empty() {
        return Ok(leaves);
    }
    let values: Vec<Vec<String>> = leaves
        .iter()
        .map(|l| layout.column_values(&l.values))
        .collect();
    let columns: Vec<ArrayRef> = (0..partition_schema.fields().len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                values.iter().map(|v| v[i].as_str()),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&partition_schema), columns)?;
    let df_schema = DFSchema::try_from(partition_schema.as_ref().clone())?;
    let mut keep = BooleanArray::from(vec![true; leaves.len()]);
    for filter in filters {
        let expr = state.create_physical_expr(filter.clone(), &df_schema)?;
        let result = expr.evaluate(&batch)?.into_array(leaves.len())?;
        let result = result.as_boolean();
        keep = datafusion::arrow::compute::and(&keep, result)?;
    }
    Ok(leaves
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.is_valid(*i) && keep.value(*i))
        .map(|(_, l)| l)
        .collect())
}

/// Objects and folders the listings left out because their names cannot be read: said,
/// or under `--strict` the error.
pub(crate) fn report_rejected_names(source: &Source, settings: &ScanSettings) -> Result<()> {
    for problem in rejected_names(source) {
        report(settings, problem, Unit::Object)?;
    }
    Ok(())
}

/// Says a problem to the scan's diagnostics, or under `--strict` fails the query with it.
pub(crate) fn report(settings: &ScanSettings, problem: Problem, unit: Unit) -> Result<()> {
    if settings.tolerance.strict {
        return Err(Error::Strict {
            problem: Box::new(problem),
            unit,
        }
        .into());
    }
    settings.diagnostics.push(problem);
    Ok(())
}

#[async_trait]
impl TableProvider for SesLogTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(self.table_schema.table_schema())
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let columns: Vec<&str> = self.partition_columns.iter().map(String::as_str).collect();
        Ok(filters
            .iter()
            .map(|f| {
                if expr_applicable_for_cols(&columns, f) {
                    TableProviderFilterPushDown::Exact
                } else if prefilter::needle(f).is_some() {
                    // Used to skip records by their bytes; still applied exactly above.
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
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
        let columns: Vec<&str> = self.partition_columns.iter().map(String::as_str).collect();
        let (filters, on_records): (Vec<Expr>, Vec<Expr>) = filters
            .iter()
            .cloned()
            .partition(|f| expr_applicable_for_cols(&columns, f));
        let filters = filters.as_slice();
        let prefilter = Prefilter::from_filters(&on_records)
            .filter(|_| self.settings.prefilter)
            .map(Arc::new);
        let leaves = matching_leaves(
            state,
            &self.source,
            &self.layout,
            self.partition_schema(),
            filters,
        )
        .await?;
        let needles: Vec<prefilter::Needle> = match self.settings.prefilter {
            true => on_records.iter().filter_map(prefilter::needle).collect(),
            false => Vec::new(),
        };
        let (objects, tier_files) = match &self.settings.tier {
            Some(tier) => tier::readings(tier, &self.source, leaves, &needles).await?,
            None => (
                flatten(listing::list_folders(store, leaves, &self.source).await?),
                Vec::new(),
            ),
        };
        report_rejected_names(&self.source, &self.settings)?;

        let partitioned = |meta, values: &Assignment| {
            let partition_values = self
                .layout
                .column_values(values)
                .into_iter()
                .map(|v| ScalarValue::Utf8(Some(v)))
                .collect();
            PartitionedFile::new_from_meta(meta).with_partition_values(partition_values)
        };
        let mut files: Vec<PartitionedFile> = Vec::with_capacity(objects.len() + tier_files.len());
        files.extend(
            objects
                .into_iter()
                // An empty object holds no records; not reading it is the same answer.
                .filter(|(meta, _)| meta.size > 0)
                .map(|(meta, values)| partitioned(meta, &values)),
        );
        files.extend(
            tier_files
                .into_iter()
                .map(|(meta, values)| partitioned(meta, &values).with_extension(TierFile)),
        );
        self.settings.progress.planned(
            files.len() as u64,
            files.iter().map(|f| f.object_meta.size).sum(),
        );
        let partitions = state.config().target_partitions();
        let groups = spread(bundle::bundle(files, partitions), partitions);

        let reads = state
            .config()
            .get_extension::<ReadPaths>()
            .unwrap_or_default();
        let source = SesSource::new(self.table_schema.clone(), self.settings.clone(), reads)
            .with_prefilter(prefilter)
            .with_needles(needles);
        let config = FileScanConfigBuilder::new(self.source.url.clone(), Arc::new(source))
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// The objects and folders the source's listings left out so far (their names cannot be
/// read), as problems; each is named once.
pub(crate) fn rejected_names(source: &Source) -> Vec<Problem> {
    let rejected = std::mem::take(&mut *source.rejected.lock().expect("rejected names lock"));
    rejected
        .into_iter()
        .map(|(key, why)| {
            Problem::new(
                source.rejected_name(&key),
                None,
                ProblemKind::IgnoredObject,
                format!("{why}; not read"),
            )
        })
        .collect()
}

/// Every folder's objects, with the values the folder assigned.
pub(crate) fn flatten(folders: Vec<(Leaf, Vec<ObjectMeta>)>) -> Vec<(ObjectMeta, Assignment)> {
    folders
        .into_iter()
        .flat_map(|(leaf, objects)| objects.into_iter().map(move |o| (o, leaf.values.clone())))
        .collect()
}

/// Deals files into `n` groups, largest first onto the lightest group, so partitions finish
/// together (a gzip object cannot be split, so files are the unit of parallelism).
///
/// Positions are sorted, not the files (a `PartitionedFile` is a few hundred bytes: sorting
/// 16,000 of them was most of a lookup's planning), and each group is made at its final
/// size, so the files are held twice at most while they are dealt.
pub(crate) fn spread(files: Vec<PartitionedFile>, n: usize) -> Vec<FileGroup> {
    let n = n.max(1).min(files.len().max(1));
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&files[a], &files[b]);
        b.object_meta
            .size
            .cmp(&a.object_meta.size)
            .then(a.path().cmp(b.path()))
    });
    let mut load = vec![0u64; n];
    let mut counts = vec![0usize; n];
    let mut group_of = vec![0usize; files.len()];
    for &i in &order {
        let lightest = (0..n).min_by_key(|&g| load[g]).expect("n >= 1");
        load[lightest] += files[i].object_meta.size;
        counts[lightest] += 1;
        group_of[i] = lightest;
    }
    let mut slots: Vec<Option<PartitionedFile>> = files.into_iter().map(Some).collect();
    let mut groups: Vec<Vec<PartitionedFile>> =
        counts.iter().map(|&c| Vec::with_capacity(c)).collect();
    for &i in &order {
        groups[group_of[i]].push(slots[i].take().expect("each file is dealt once"));
    }
    groups.into_iter().map(FileGroup::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(groups: &[FileGroup]) -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|g| g.iter().map(|f| f.path().to_string()).collect())
            .collect()
    }

    #[test]
    fn spread_deals_largest_first_onto_the_lightest_group() {
        let files = [
            ("e", 10),
            ("a", 50),
            ("d", 30),
            ("f", 5),
            ("c", 30),
            ("b", 40),
        ]
        .into_iter()
        .map(|(name, size)| PartitionedFile::new(name, size))
        .collect();
        // a 50 -> 0; b 40 -> 1; c 30 -> 1 (70); d 30 -> 0 (80); e 10 -> 1 (80);
        // f 5 -> 0 (the first of two equally light groups).
        assert_eq!(names(&spread(files, 2)), [["a", "d", "f"], ["b", "c", "e"]]);
    }

    #[test]
    fn spread_makes_no_more_groups_than_files() {
        let files = vec![PartitionedFile::new("x", 1), PartitionedFile::new("y", 2)];
        assert_eq!(names(&spread(files, 8)), [["y"], ["x"]]);
        assert_eq!(names(&spread(Vec::new(), 8)), [Vec::<String>::new()]);
    }
}
