//! The scan of `seslogs` across the wire. DataFusion's own protobuf carries the file scan
//! config (the objects in their groups, the schema, the projection, the limit); the rest
//! of the scan (tolerance, prefilter, the nested fields it reads, its worker) travels as
//! JSON beside it. A worker rebuilds the scan over the source its session opened
//! (`worker::Session`), with diagnostics that record into the scan's metrics.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfig, FileScanConfigBuilder, FileSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::projection::{ProjectionExpr, ProjectionExprs};
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf;
use prost::Message;

use crate::cluster::forward::Recorder;
use crate::cluster::worker::Session;
use crate::table::bundle;
use crate::table::scan::{ScanWire, SesSource};
use crate::tier::read::TierFile;

/// Encodes and decodes seslog's scan; registered on the coordinator and on every worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct SesCodec;

/// The scan as it crosses: DataFusion's file scan config, and seslog's settings.
#[derive(Clone, PartialEq, Message)]
struct ScanNode {
    #[prost(message, optional, tag = "1")]
    config: Option<protobuf::FileScanExecConf>,
    #[prost(string, tag = "2")]
    settings: String,
    /// The files of the Parquet tier among the objects (DataFusion's protobuf does not
    /// carry the mark a `PartitionedFile` has for them).
    #[prost(string, repeated, tag = "3")]
    tier_files: Vec<String>,
}

fn malformed(why: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("a seslog scan that cannot be read: {why}"))
}

impl PhysicalExtensionCodec for SesCodec {
    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some((config, scan)) = super::ses_scan(&node) else {
            return Err(DataFusionError::NotImplemented(format!(
                "{} is not a seslog scan",
                node.name()
            )));
        };
        let projection = scan
            .projection()
            .map(|exprs| {
                let projections = exprs
                    .iter()
                    .map(|e| {
                        Ok(protobuf::ProjectionExpr {
                            alias: e.alias.clone(),
                            expr: Some(converter.physical_expr_to_proto(&e.expr, self)?),
                        })
                    })
                    .collect::<Result<_>>()?;
                Ok::<_, DataFusionError>(protobuf::ProjectionExprs { projections })
            })
            .transpose()?;
        // The file schema and then the partition columns, as DataFusion's own encoding has it.
        let table_schema = config.file_source().table_schema().table_schema();
        let tier_files = config
            .file_groups
            .iter()
            .flat_map(|group| group.iter())
            .filter(|f| f.extension::<TierFile>().is_some())
            .map(|f| f.path().to_string())
            .collect();
        let conf = protobuf::FileScanExecConf {
            // A bundle crosses as its members, bundled again on the worker.
            file_groups: config
                .file_groups
                .iter()
                .map(|group| FileGroup::new(bundle::unbundle(group.iter().cloned())))
                .map(|group| (&group).try_into())
                .collect::<Result<_>>()?,
            schema: Some(table_schema.as_ref().try_into()?),
            table_partition_cols: config
                .table_partition_cols()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            object_store_url: config.object_store_url.to_string(),
            limit: config
                .limit
                .map(|l| protobuf::ScanLimit { limit: l as u32 }),
            batch_size: config.batch_size.map(|s| s as u64),
            projection_exprs: projection,
            ..Default::default()
        };
        let settings = serde_json::to_string(&scan.wire()).map_err(malformed)?;
        ScanNode {
            config: Some(conf),
            settings,
            tier_files,
        }
        .encode(buf)
        .map_err(malformed)
    }

    fn try_decode(
        &self,
        buf: &[u8],
        _inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let node = ScanNode::decode(buf).map_err(malformed)?;
        let conf = node
            .config
            .ok_or_else(|| malformed("no file scan config"))?;
        let wire: ScanWire = serde_json::from_str(&node.settings).map_err(malformed)?;
        let session = ctx
            .session_config()
            .get_extension::<Session>()
            .ok_or_else(|| {
                DataFusionError::Internal(
                    "a seslog scan arrived at a process that is not a seslog worker".into(),
                )
            })?;
        let table_schema = FileScanConfig::parse_table_schema_from_proto(&conf)?;
        let schema = Arc::clone(table_schema.table_schema());
        let metrics = ExecutionPlanMetricsSet::new();
        let worker = wire.worker().unwrap_or("the worker").to_string();
        let (diagnostics, progress) = Recorder::scan(&metrics, &worker);
        let source = session.source();
        let mut scan: Arc<dyn FileSource> = Arc::new(SesSource::from_wire(
            table_schema,
            wire,
            source,
            diagnostics,
            progress,
            metrics,
        ));
        if let Some(projection) = &conf.projection_exprs {
            let decode = PhysicalPlanDecodeContext::new(ctx, self);
            let exprs = projection
                .projections
                .iter()
                .map(|p| {
                    let expr = p
                        .expr
                        .as_ref()
                        .ok_or_else(|| malformed("an empty projection"))?;
                    let expr = converter.proto_to_physical_expr(expr, &schema, &decode)?;
                    Ok(ProjectionExpr::new(expr, p.alias.clone()))
                })
                .collect::<Result<Vec<_>>>()?;
            if let Some(projected) = scan.try_pushdown_projection(&ProjectionExprs::new(exprs))? {
                scan = projected;
            }
        }
        let tier_files: HashSet<&str> = node.tier_files.iter().map(String::as_str).collect();
        let groups = conf
            .file_groups
            .iter()
            .map(|group| {
                let files = FileGroup::try_from(group)?
                    .into_inner()
                    .into_iter()
                    .map(|file| match tier_files.contains(file.path().as_ref()) {
                        true => file.with_extension(TierFile),
                        false => file,
                    });
                Ok(FileGroup::new(bundle::bundle(files.collect(), 1)))
            })
            .collect::<Result<Vec<_>>>()?;
        let config =
            FileScanConfigBuilder::new(ObjectStoreUrl::parse(&conf.object_store_url)?, scan)
                .with_file_groups(groups)
                .with_limit(conf.limit.map(|l| l.limit as usize))
                .with_batch_size(conf.batch_size.map(|s| s as usize))
                .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}
