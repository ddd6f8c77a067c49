//! The query engine, free of any front end: a DataFusion session with `seslogs` registered
//! over one source, seslog's Trino functions, and read-only SQL. Callers get a stream of
//! batches and, after it ends, the scan's diagnostics and request counts.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::StreamExt;

use datafusion::common::Column;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement};

use crate::athena::{self, AthenaDialect};
use crate::error::{Error, Result};
use crate::table::decode::Tolerance;
use crate::table::diagnostics::{Diagnostics, Progress};

use crate::cluster::forward::{Gathered, Tally, Totals};
use crate::cluster::{self, SourceOptions, Workers};
use crate::source::{Location, S3Settings, Source};
use crate::table::SesLogTable;
use crate::table::errorlog::{self, ErrorLogTable};
use crate::table::layout::FirehoseLayout;
use crate::table::nested::ReadPaths;
use crate::table::scan::ScanSettings;
use crate::tier::Tier;
use datafusion::physical_plan::execute_stream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

/// The table name, as Athena users know it.
pub const TABLE: &str = "seslogs";

pub struct Engine {
    ctx: SessionContext,
    pub source: Source,
    pub tier: Option<Arc<Tier>>,
    pub diagnostics: Diagnostics,
    pub progress: Arc<Progress>,
    /// The table's layout: its partition columns for `DESCRIBE`, its first folder for
    /// `misplaced_source`.
    layout: FirehoseLayout,
    /// `errorlogs`'s layout (Firehose's error prefix), for `DESCRIBE errorlogs`.
    error_layout: FirehoseLayout,
    settings: ScanSettings,
    /// The workers the scans run on (`distribute`), and what each read so far.
    cluster: Option<Cluster>,
}

/// The workers of a distributed engine, and what they did.
#[derive(Debug)]
struct Cluster {
    workers: Arc<Workers>,
    tally: Arc<Tally>,
}

impl Engine {
    /// `prefilter`: skip records by their raw bytes where a filter allows (always, but to
    /// compare answers or speed with it off). `tier`: the Parquet tier, read in place of the
    /// raw objects where it holds them.
    pub fn new(
        source: Source,
        layout: FirehoseLayout,
        tolerance: Tolerance,
        prefilter: bool,
        tier: Option<Arc<Tier>>,
    ) -> Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Objects are the unit of parallelism; more of them in flight than cores hides the
        // wait for each one: on S3 its latency, on disk the blocking read and task hand-off
        // of thousands of small objects (twice the cores made a 7-day lookup over 16,588
        // objects 11% faster on 2 cores, and a full scan no slower).
        let partitions = match source.location {
            Location::Local(_) => cores * 2,
            Location::S3 { .. } => cores * 4,
        };
        let config = SessionConfig::new()
            .with_target_partitions(partitions)
            .with_information_schema(true);
        let runtime = RuntimeEnvBuilder::new().build_arc()?;
        runtime.register_object_store(source.url.as_ref(), Arc::clone(&source.store));
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        athena::register(&ctx);
        let diagnostics = Diagnostics::new();
        let progress = Arc::new(Progress::default());
        let settings = ScanSettings {
            tolerance,
            prefilter,
            diagnostics: diagnostics.clone(),
            source: source.clone(),
            progress: progress.clone(),
            tier: tier.clone(),
        };
        ctx.register_table(
            TABLE,
            Arc::new(SesLogTable::new(
                source.clone(),
                layout.clone(),
                settings.clone(),
            )),
        )?;
        let error_layout = errorlog::default_layout();
        let mut engine = Self {
            ctx,
            source,
            tier,
            diagnostics,
            progress,
            layout,
            error_layout: error_layout.clone(),
            settings,
            cluster: None,
        };
        engine.with_error_layout(error_layout)?;
        Ok(engine)
    }

    /// Registers `errorlogs` over the objects under `layout` (Firehose's error prefix; see
    /// `errorlog::layout`), in place of the default one.
    pub fn with_error_layout(&mut self, layout: FirehoseLayout) -> Result<&mut Self> {
        self.ctx.deregister_table(errorlog::TABLE)?;
        self.ctx.register_table(
            errorlog::TABLE,
            Arc::new(ErrorLogTable::new(
                self.source.clone(),
                layout.clone(),
                self.settings.clone(),
            )),
        )?;
        self.error_layout = layout;
        Ok(self)
    }

    /// Splits a script into statements (`;`-separated), parsed as Athena writes them.
    pub fn statements(sql: &str) -> Result<Vec<Statement>> {
        Ok(DFParser::parse_sql_with_dialect(sql, &AthenaDialect)?
            .into_iter()
            .collect())
    }

    /// Plans one statement; anything that would write or register is refused.
    pub async fn plan(&self, mut statement: Statement) -> Result<LogicalPlan> {
        athena::translate(&mut statement)?;
        let mut plan = self.ctx.state().statement_to_plan(statement).await?;
        // DESCRIBE in Athena's types: planned as the rows it shows.
        if let LogicalPlan::DescribeTable(describe) = &plan {
            // The partition columns of the table described, told apart by its schema.
            let layout = match describe.schema.column_with_name(errorlog::RAW_RECORD) {
                Some(_) => &self.error_layout,
                None => &self.layout,
            };
            let sql = athena::describe::describe_sql(&describe.schema, &layout.partition_columns());
            let mut statements = Self::statements(&sql)?;
            plan = self
                .ctx
                .state()
                .statement_to_plan(statements.remove(0))
                .await?;
        }
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|_| Error::ReadOnly)?;
        Ok(athena_names(plan)?)
    }

    /// Runs the scans of this engine's queries on `workers` from now on, once each of them
    /// has been reached. `s3`: how the workers reach an S3 source (their credentials are
    /// their own).
    pub async fn distribute(&mut self, workers: Workers, s3: &S3Settings) -> Result<()> {
        workers.check().await?;
        let options = SourceOptions::of(&self.source, self.tier.as_deref(), s3)?;
        let state = cluster::coordinating(self.ctx.state(), &workers, options);
        self.ctx = SessionContext::new_with_state(state);
        // Building the state again put DataFusion's own functions back over seslog's
        // (`element_at` resolved to DataFusion's map-only one).
        athena::register(&self.ctx);
        self.progress.on_workers.store(true, Ordering::Relaxed);
        let read = workers
            .names()
            .iter()
            .map(|w| (w.clone(), (0, 0)))
            .collect();
        self.cluster = Some(Cluster {
            workers: Arc::new(workers),
            tally: Arc::new(Mutex::new(Totals { read, shipped: 0 })),
        });
        Ok(())
    }

    /// Per worker (`host:port`), the objects and bytes its scans read, and the bytes sent
    /// between the processes, when the engine runs its scans on workers.
    pub fn worker_totals(&self) -> Option<Totals> {
        let cluster = self.cluster.as_ref()?;
        Some(cluster.tally.lock().expect("workers' tally lock").clone())
    }

    /// Runs a plan. The scan learns which nested fields the plan reads (a session
    /// extension of this query only), so it decodes no others. On workers, the stream
    /// ends only once what their scans collected has been folded into `diagnostics` and
    /// the source's counters.
    pub async fn execute(&self, plan: LogicalPlan) -> Result<SendableRecordBatchStream> {
        let mut state = self.ctx.state();
        state
            .config_mut()
            .set_extension(Arc::new(ReadPaths::of_plan(&plan)));
        if let (Some(_), LogicalPlan::Explain(explain)) = (&self.cluster, &plan) {
            return cluster::explain(&state, explain).await;
        }
        let physical = state.create_physical_plan(&plan).await?;
        let stream = execute_stream(Arc::clone(&physical), state.task_ctx())?;
        let Some(cluster) = &self.cluster else {
            return Ok(stream);
        };
        let schema = stream.schema();
        let diagnostics = self.diagnostics.clone();
        let counters = Arc::clone(&self.source.counters);
        let tally = Arc::clone(&cluster.tally);
        let tier = self.tier.clone();
        let gather = async move {
            Gathered::of(physical).await?.fold_into(
                &diagnostics,
                &counters,
                tier.as_deref(),
                &tally,
            );
            Ok(())
        };
        let tail = futures::stream::once(gather)
            .filter_map(|done: datafusion::error::Result<()>| async move { done.err().map(Err) });
        let workers = Arc::clone(&cluster.workers);
        let stream = stream.chain(tail).then(move |batch| {
            let workers = Arc::clone(&workers);
            async move {
                match batch {
                    Err(e) => Err(cluster::blame(e, &workers).await),
                    ok => ok,
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    /// After an empty answer: a note when the source holds nothing where the layout says
    /// (see `listing::misplaced`).
    pub async fn misplaced_source(&self) -> Option<String> {
        crate::table::listing::misplaced(&self.source, &self.layout).await
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

/// Names result columns the way Athena does: `SELECT mail.commonheaders.subject` gives a
/// column `subject`, not DataFusion's `seslogs.mail[commonheaders][subject]`. A name that
/// would then clash with another column keeps DataFusion's form.
fn athena_names(plan: LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
    if matches!(
        plan,
        LogicalPlan::Explain(_) | LogicalPlan::Analyze(_) | LogicalPlan::DescribeTable(_)
    ) {
        return Ok(plan);
    }
    let schema = plan.schema().clone();
    let short = |name: &str| -> Option<String> {
        let inner = name.strip_suffix(']')?;
        let last = inner.rsplit_once('[')?.1;
        let head = inner.split('[').next()?;
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        };
        (plain(head) && plain(last)).then(|| last.to_string())
    };
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let renamed: Vec<Option<String>> = names.iter().map(|n| short(n)).collect();
    if renamed.iter().all(Option::is_none) {
        return Ok(plan);
    }
    let exprs: Vec<Expr> = schema
        .iter()
        .zip(&renamed)
        .map(|((qualifier, field), new)| {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            match new {
                Some(n)
                    if names
                        .iter()
                        .chain(renamed.iter().flatten())
                        .filter(|x| *x == n)
                        .count()
                        == 1 =>
                {
                    column.alias(n)
                }
                _ => column,
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(exprs)?.build()
}
