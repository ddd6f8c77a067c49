//! Past one machine: a query's scan spread over workers (`seslog worker`), with
//! datafusion-distributed. Planning stays here (listing, partition pruning, Athena's SQL);
//! the objects are dealt out whole to the workers, which fetch and decode them with their
//! own credentials and stream the batches back.
//!
//! What crosses the wire besides DataFusion's own plan: the scan's settings (`codec`), where
//! the source is (`SourceOptions`, no credentials), and back, in the task metrics the
//! workers send when a query ends, what their scans collected (`forward`): the problems,
//! counted and named as a local scan names them, and the objects and bytes each read.

pub mod codec;
mod failure;

pub(crate) use failure::{blame, carry, on_worker};
pub mod forward;
pub mod worker;

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::common::extensions_options;
use datafusion::config::ConfigExtension;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::Explain;
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion_distributed::{
    DesiredTaskCountEvent, DesiredTaskCountEventResponse, DistributedExt, DistributedLeafExec,
    RouteTasksEvent, RouteTasksEventResponse, ScaleUpLeafNodeEvent, ScaleUpLeafNodeEventResponse,
    SessionStateBuilderExt, WorkerResolver,
};
use url::Url;

use crate::error::{Error, Result};
use crate::source::{Location, S3Settings, Source};
use crate::table::bundle;
use crate::table::scan::SesSource;
use crate::tier::Tier;

/// The workers a query may use, as the user named them (`host:port`), in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workers {
    names: Vec<String>,
    urls: Vec<Url>,
}

/// How long a worker may take to accept a connection, before a query, before it counts as
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Workers {
    /// `host:port[,host:port...]`.
    pub fn parse(text: &str) -> Result<Self> {
        let refuse = |why: String| Error::Worker {
            worker: text.to_string(),
            why,
        };
        let mut names = Vec::new();
        let mut urls = Vec::new();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let port = name
                .rsplit_once(':')
                .and_then(|(host, port)| (!host.is_empty()).then_some(port))
                .ok_or_else(|| refuse(format!("`{name}` is not host:port")))?;
            port.parse::<u16>()
                .map_err(|_| refuse(format!("`{name}` has no port number (host:port)")))?;
            let url = Url::parse(&format!("http://{name}"))
                .map_err(|e| refuse(format!("`{name}` is not host:port ({e})")))?;
            if names.contains(&name.to_string()) {
                return Err(refuse(format!("`{name}` is named twice")));
            }
            names.push(name.to_string());
            urls.push(url);
        }
        if names.is_empty() {
            return Err(refuse("no worker named (host:port[,host:port...])".into()));
        }
        Ok(Self { names, urls })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Fails naming the first worker that does not accept a connection, before any work
    /// is planned: a query must not start on a cluster it cannot finish on.
    pub async fn check(&self) -> Result<()> {
        for name in &self.names {
            reach(name, CONNECT_TIMEOUT)
                .await
                .map_err(|why| Error::Worker {
                    worker: name.clone(),
                    why: format!("cannot be reached: {why}"),
                })?;
        }
        Ok(())
    }

    /// The worker a task of a stage runs on: tasks go round the workers in order (see
    /// `route`), so a scan's part knows its worker when it is planned.
    fn of_task(&self, task: usize) -> usize {
        task % self.names.len()
    }
}

impl WorkerResolver for Workers {
    /// The workers' addresses. A lone worker is given twice: the distributed engine runs a
    /// stage of one task in the coordinator itself, so with one address nothing would run
    /// on the worker; twice, its scans run there as two tasks.
    fn get_urls(&self) -> datafusion::error::Result<Vec<Url>> {
        match self.urls.as_slice() {
            [one] => Ok(vec![one.clone(), one.clone()]),
            urls => Ok(urls.to_vec()),
        }
    }
}

extensions_options! {
    /// Where a query's objects are, for the workers: the source as the user named it and
    /// how to reach S3. Never a credential: each worker uses its own credential chain.
    pub struct SourceOptions {
        /// `s3://bucket[/prefix]`, or a directory every worker sees at the same path.
        pub location: String, default = String::new()
        /// The Parquet tier (`--parquet`), where it is; empty: none.
        pub tier: String, default = String::new()
        pub endpoint: String, default = String::new()
        pub region: String, default = String::new()
        pub timeout_ms: u64, default = crate::source::DEFAULT_TIMEOUT.as_millis() as u64
        pub retries: usize, default = crate::source::DEFAULT_RETRIES
        /// `--offline`: each worker answers from its own object cache, and fetches nothing.
        pub offline: bool, default = false
    }
}

impl ConfigExtension for SourceOptions {
    const PREFIX: &'static str = "seslog_source";
}

impl SourceOptions {
    /// For `source` and its tier, reached as `s3` says. A local directory is named by its
    /// absolute path, which every worker must see too.
    pub fn of(source: &Source, tier: Option<&Tier>, s3: &S3Settings) -> Result<Self> {
        let named = |location: &Location| match location {
            Location::Local(dir) => std::path::absolute(dir)
                .map(|dir| dir.display().to_string())
                .map_err(|e| Error::Source(format!("{}: {e}", dir.display()))),
            s3 @ Location::S3 { .. } => Ok(s3.to_string()),
        };
        Ok(Self {
            location: named(&source.location)?,
            tier: tier
                .map(|t| named(&t.location))
                .transpose()?
                .unwrap_or_default(),
            endpoint: s3.endpoint.clone().unwrap_or_default(),
            region: s3.region.clone().unwrap_or_default(),
            timeout_ms: s3.timeout.as_millis() as u64,
            retries: s3.retries,
            offline: source.offline,
        })
    }

    /// How a worker opens the source and the tier: the same places, its own credentials,
    /// no cache (the worker gives its own), offline if the query is.
    fn settings(&self) -> Result<(Location, Option<Location>, S3Settings)> {
        let location = Location::parse(&self.location)?;
        let tier = match self.tier.as_str() {
            "" => None,
            tier => Some(Location::parse(tier)?),
        };
        let some = |s: &String| (!s.is_empty()).then(|| s.clone());
        let s3 = S3Settings {
            endpoint: some(&self.endpoint),
            region: some(&self.region),
            timeout: Duration::from_millis(self.timeout_ms),
            retries: self.retries,
            offline: self.offline,
            ..S3Settings::default()
        };
        Ok((location, tier, s3))
    }
}

/// `state`, planning its queries over `workers`: the scan of `seslogs` dealt out to them
/// whole object by whole object, every other stage as datafusion-distributed places it.
pub(crate) fn coordinating(
    state: SessionState,
    workers: &Workers,
    source: SourceOptions,
) -> SessionState {
    let workers = Arc::new(workers.clone());
    let routed = Arc::clone(&workers);
    let dealt = Arc::clone(&workers);
    SessionStateBuilder::new_from_existing(state)
        .with_distributed_worker_resolver(workers.as_ref().clone())
        .with_distributed_planner()
        .with_distributed_user_codec(codec::SesCodec)
        .with_distributed_option_extension(source)
        .with_distributed_desired_task_count_handler(desired_tasks)
        .with_distributed_scale_up_leaf_node_handler(move |ev: ScaleUpLeafNodeEvent| {
            deal(ev, &dealt)
        })
        .with_distributed_route_tasks_handler(move |ev: RouteTasksEvent| route(ev, &routed))
        .build()
}

/// The scan of `seslogs`, if `plan` is one.
fn ses_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<(&FileScanConfig, &SesSource)> {
    let exec = plan.downcast_ref::<DataSourceExec>()?;
    let config = exec.data_source().downcast_ref::<FileScanConfig>()?;
    let scan = config.file_source().downcast_ref::<SesSource>()?;
    Some((config, scan))
}

/// A scan wants every worker it can keep busy: one per object at most (the planner caps
/// it at the number of workers).
fn desired_tasks(
    ev: DesiredTaskCountEvent,
) -> Option<datafusion::error::Result<DesiredTaskCountEventResponse>> {
    let (config, _) = ses_scan(ev.plan)?;
    let objects: usize = config
        .file_groups
        .iter()
        .flat_map(|group| group.iter())
        .map(|file| bundle::objects(file).len())
        .sum();
    Some(Ok(DesiredTaskCountEventResponse::desired(objects.max(1))))
}

/// Deals a scan's objects out to the tasks: whole objects only (a gzip object cannot be
/// entered in the middle; DataFusion's own file-scan dealing would cut objects into byte
/// ranges), largest first onto the lightest, as a local scan deals them onto partitions.
/// Each task's part is labelled with the worker it will run on.
fn deal(
    ev: ScaleUpLeafNodeEvent,
    workers: &Workers,
) -> Option<datafusion::error::Result<ScaleUpLeafNodeEventResponse>> {
    let (config, scan) = ses_scan(ev.plan)?;
    let partitions = ev.plan.output_partitioning().partition_count();
    let tasks = ev.task_count.max(1);
    // Dealt object by object; each worker bundles its part again (`codec.rs`).
    let files: Vec<PartitionedFile> = bundle::unbundle(
        config
            .file_groups
            .iter()
            .flat_map(|group| group.iter().cloned()),
    );
    let mut groups = crate::table::spread(files, partitions * tasks).into_iter();
    let mut parts: Vec<Vec<FileGroup>> = vec![Vec::with_capacity(partitions); tasks];
    // Group i goes to task i % tasks, so every task has its share of large and small.
    for i in 0..partitions * tasks {
        parts[i % tasks].push(groups.next().unwrap_or_default());
    }
    // Every part as the scan, but its own objects (the scan's are not copied to each).
    let mut template = config.clone();
    template.file_groups.clear();
    let variants = parts.into_iter().enumerate().map(|(task, groups)| {
        let worker = &workers.names[workers.of_task(task)];
        let part = FileScanConfigBuilder::from(template.clone())
            .with_source(Arc::new(scan.for_worker(worker)))
            .with_file_groups(groups)
            .build();
        DataSourceExec::from_data_source(part) as Arc<dyn ExecutionPlan>
    });
    Some(
        DistributedLeafExec::try_new(Arc::clone(ev.plan), variants)
            .map(|leaf| ScaleUpLeafNodeEventResponse::new(Arc::new(leaf))),
    )
}

/// Task i of every stage runs on worker i (round the list), which `deal` relies on.
fn route(
    ev: RouteTasksEvent,
    workers: &Workers,
) -> Option<datafusion::error::Result<RouteTasksEventResponse>> {
    let urls = (0..ev.task_count)
        .map(|task| workers.urls[workers.of_task(task)].clone())
        .collect();
    Some(Ok(RouteTasksEventResponse::new(urls)))
}

/// Whether `name` (`host:port`) accepts a connection within `timeout`; why not.
pub(crate) async fn reach(name: &str, timeout: Duration) -> std::result::Result<(), String> {
    let resolving = name.to_string();
    let addrs: Vec<_> = tokio::task::spawn_blocking(move || resolving.to_socket_addrs())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
        .collect();
    let mut why = String::from("the name resolves to no address");
    for addr in addrs {
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => why = e.to_string(),
            Err(_) => why = format!("no answer in {}s", timeout.as_secs()),
        }
    }
    Err(why)
}

/// `EXPLAIN` of a query that runs on workers: the logical plan, and the distributed plan
/// as it will run, stage by stage, each scan part with its worker. (DataFusion's own
/// `EXPLAIN` shows the plan before the distributed planner has placed anything.)
pub(crate) async fn explain(
    state: &SessionState,
    explain: &Explain,
) -> Result<SendableRecordBatchStream> {
    let physical = state.create_physical_plan(&explain.plan).await?;
    let schema = Arc::clone(explain.schema.inner());
    let logical = state.optimize(&explain.plan)?.display_indent().to_string();
    let distributed = datafusion_distributed::display_plan_ascii(physical.as_ref(), false);
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from(vec!["logical_plan", "distributed_plan"])),
            Arc::new(StringArray::from(vec![logical, distributed])),
        ],
    )
    .map_err(DataFusionError::from)?;
    Ok(Box::pin(MemoryStream::try_new(vec![batch], schema, None)?))
}
