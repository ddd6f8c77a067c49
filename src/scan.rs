//! `SesSource`: a DataFusion `FileSource` for SES objects. It plugs the decode path
//! (`decode.rs`) into DataFusion's own `DataSourceExec`/`FileStream` machinery, so plans
//! stay made of stock nodes (limits, metrics, work stealing across partitions, partition
//! columns via `ProjectionOpener` all come from DataFusion). What it adds over `JsonSource`:
//! tolerance (a bad record is skipped and reported, not fatal) and derived columns.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileOpenFuture, FileOpener, FileScanConfig, FileSource,
};
use datafusion::datasource::projection::{ProjectionOpener, SplitProjection};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::projection::ProjectionExprs;
use datafusion::physical_plan::{DisplayFormatType, PhysicalExpr};
use futures::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::decode::{self, DecodePlan};
use crate::diagnostics::{Diagnostics, Progress};
use crate::source::Source;

/// What every file of one scan shares.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// Fail on the first bad record or object instead of skipping it.
    pub strict: bool,
    pub diagnostics: Diagnostics,
    /// For naming objects and explaining errors in messages.
    pub source: Source,
    pub progress: Arc<Progress>,
}

#[derive(Clone)]
pub struct SesSource {
    table_schema: TableSchema,
    batch_size: Option<usize>,
    metrics: ExecutionPlanMetricsSet,
    projection: SplitProjection,
    settings: ScanSettings,
}

impl SesSource {
    pub fn new(table_schema: TableSchema, settings: ScanSettings) -> Self {
        Self {
            projection: SplitProjection::unprojected(&table_schema),
            table_schema,
            batch_size: None,
            metrics: ExecutionPlanMetricsSet::new(),
            settings,
        }
    }
}

impl fmt::Debug for SesSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SesSource")
            .field("strict", &self.settings.strict)
            .finish()
    }
}

impl FileSource for SesSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        _base_config: &FileScanConfig,
        _partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        let file_schema = self.table_schema.file_schema();
        let projected = Arc::new(file_schema.project(&self.projection.file_indices)?);
        let plan = DecodePlan::new(
            projected,
            self.batch_size
                .expect("batch size is set before openers are made"),
            self.settings.strict,
        )?;
        let opener: Arc<dyn FileOpener> = Arc::new(SesOpener {
            store: object_store,
            plan: Arc::new(plan),
            settings: self.settings.clone(),
        });
        ProjectionOpener::try_new(self.projection.clone(), opener, file_schema)
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        let mut source = self.clone();
        source.batch_size = Some(batch_size);
        Arc::new(source)
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        let mut source = self.clone();
        let merged = self.projection.source.try_merge(projection)?;
        source.projection = SplitProjection::new(self.table_schema.file_schema(), &merged);
        Ok(Some(Arc::new(source)))
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        Some(&self.projection.source)
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "ses-json"
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        datafusion::physical_plan::apply_expression_roots(self.projection.source.iter(), f)
    }

    fn fmt_extra(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        if self.settings.strict {
            write!(f, ", strict=true")?;
        }
        Ok(())
    }
}

/// Opens one object: GET it whole (gzip is not splittable), then decode batch by batch.
struct SesOpener {
    store: Arc<dyn ObjectStore>,
    plan: Arc<DecodePlan>,
    settings: ScanSettings,
}

impl FileOpener for SesOpener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let store = Arc::clone(&self.store);
        let plan = Arc::clone(&self.plan);
        let settings = self.settings.clone();
        Ok(Box::pin(async move {
            let location = file.object_meta.location.clone();
            let name = settings.source.location.object_name(&location);
            let fetched = async { store.get(&location).await?.bytes().await }.await;
            let bytes = fetched.map_err(|e| {
                DataFusionError::External(
                    format!("reading {name}: {}", settings.source.describe_error(&e)).into(),
                )
            })?;
            settings.progress.read(bytes.len() as u64);
            let reader = decode::read_object(plan, bytes, name, settings.diagnostics);
            Ok(futures::stream::iter(reader).boxed())
        }))
    }
}
