//! What a worker's scan collected, brought back to the coordinator in the task metrics
//! datafusion-distributed sends when a query ends (counts with labels are what its wire
//! carries). A worker counts each problem under its cause and wording, names the first
//! ones of each cause as they come, and counts the objects and bytes it read; the
//! coordinator folds all of it into its own diagnostics and counters, so warnings, their
//! counts and `--stats` read as in a local run.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::error::Result;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, Label, MetricBuilder};
use datafusion_distributed::{DistributedMetricsFormat, rewrite_distributed_plan_with_metrics};

use crate::source::Counters;
use crate::table::diagnostics::{Cause, Diagnostics, Forward, Mirror, Problem, Progress};
use crate::tier::Tier;

/// An object's count of one cause: labelled with `[object, [kind, cause], wording]` as JSON.
const TALLY: &str = "seslog_problems";
/// One problem among the first of its cause: labelled with the problem as JSON.
const NAMED: &str = "seslog_problem";
const OBJECTS: &str = "seslog_objects_read";
const BYTES: &str = "seslog_bytes_read";
const CACHED_OBJECTS: &str = "seslog_cached_objects";
const CACHED_BYTES: &str = "seslog_cached_bytes";
const TIER_ROW_GROUPS: &str = "seslog_tier_row_groups_read";
const TIER_ROWS: &str = "seslog_tier_rows_read";
const TIER_BYTES: &str = "seslog_tier_bytes_read";
/// The label that says which worker read (`host:port`, as the user named it).
const WORKER: &str = "seslog_worker";

/// A worker scan's diagnostics and progress, recording into its metrics.
#[derive(Debug)]
pub(crate) struct Recorder {
    metrics: ExecutionPlanMetricsSet,
    worker: String,
    tallies: Mutex<HashMap<(String, Cause, String), Count>>,
}

impl Recorder {
    /// Diagnostics and progress for a scan on `worker` that record into `metrics`.
    pub(crate) fn scan(
        metrics: &ExecutionPlanMetricsSet,
        worker: &str,
    ) -> (Diagnostics, Arc<Progress>) {
        let recorder = Arc::new(Recorder {
            metrics: metrics.clone(),
            worker: worker.to_string(),
            tallies: Mutex::default(),
        });
        let progress = Progress::mirrored(Mirror {
            objects: recorder.count(OBJECTS),
            bytes: recorder.count(BYTES),
            cached_objects: recorder.count(CACHED_OBJECTS),
            cached_bytes: recorder.count(CACHED_BYTES),
            tier_row_groups: recorder.count(TIER_ROW_GROUPS),
            tier_rows: recorder.count(TIER_ROWS),
            tier_bytes: recorder.count(TIER_BYTES),
        });
        (Diagnostics::forwarding(recorder), Arc::new(progress))
    }

    fn count(&self, name: &'static str) -> Count {
        MetricBuilder::new(&self.metrics)
            .with_label(Label::new(WORKER, self.worker.clone()))
            .counter(name, 0)
    }

    fn labelled(&self, name: &'static str, key: &'static str, value: String) -> Count {
        MetricBuilder::new(&self.metrics)
            .with_label(Label::new(WORKER, self.worker.clone()))
            .with_label(Label::new(key, value))
            .counter(name, 0)
    }
}

impl Forward for Recorder {
    fn counted(&self, object: &str, cause: &Cause, head: &str) {
        let mut tallies = self.tallies.lock().expect("tallies lock");
        let key = (object.to_string(), cause.clone(), head.to_string());
        tallies
            .entry(key)
            .or_insert_with(|| {
                let label = serde_json::to_string(&(object, cause, head)).expect("JSON");
                self.labelled(TALLY, TALLY, label)
            })
            .add(1);
    }

    fn named(&self, problem: &Problem) {
        let label = serde_json::to_string(problem).expect("a problem is JSON");
        self.labelled(NAMED, NAMED, label).add(1);
    }
}

/// What the workers' scans of one query collected.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Per object, cause and wording, the count: the most any one scan of the object
    /// counted (two scans of one query that read an object find the same problems in it).
    tallies: HashMap<(String, Cause, String), u64>,
    named: Vec<Problem>,
    /// Objects and bytes read, per worker.
    read: BTreeMap<String, (u64, u64)>,
    /// Bytes sent between the processes: the plans sent to workers, and the rows (Arrow
    /// IPC) that crossed between them and back.
    shipped: u64,
    /// What the workers read of the Parquet tier: row groups, rows, bytes.
    tier: (u64, u64, u64),
    /// Of the objects read, those the workers' object caches held, and their bytes.
    cached: (u64, u64),
}

/// The distributed engine's own measures of what crossed the network.
const SHIPPED: [&str; 3] = ["plan_bytes_sent", "bytes_transferred", "work_unit_bytes"];

impl Gathered {
    /// Waits for every task's metrics of `plan` (run to its end) and reads what the
    /// workers' scans put there.
    pub(crate) async fn of(plan: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let plan =
            rewrite_distributed_plan_with_metrics(plan, DistributedMetricsFormat::Aggregated)
                .await?;
        let mut gathered = Gathered::default();
        let mut nodes = vec![plan];
        while let Some(node) = nodes.pop() {
            if let Some(metrics) = node.metrics() {
                for metric in metrics.iter() {
                    gathered.take(metric);
                }
            }
            nodes.extend(node.children().into_iter().cloned());
        }
        Ok(gathered)
    }

    fn take(&mut self, metric: &datafusion::physical_plan::metrics::Metric) {
        let name = metric.value().name();
        if SHIPPED.contains(&name) {
            self.shipped += metric.value().as_usize() as u64;
            return;
        }
        let label = |key: &str| {
            metric
                .labels()
                .iter()
                .find(|l| l.name() == key)
                .map(|l| l.value().to_string())
        };
        let (Some(worker), count) = (label(WORKER), metric.value().as_usize() as u64) else {
            return;
        };
        match name {
            CACHED_OBJECTS => self.cached.0 += count,
            CACHED_BYTES => self.cached.1 += count,
            TIER_ROW_GROUPS => self.tier.0 += count,
            TIER_ROWS => self.tier.1 += count,
            TIER_BYTES => self.tier.2 += count,
            OBJECTS => self.read.entry(worker).or_default().0 += count,
            BYTES => self.read.entry(worker).or_default().1 += count,
            TALLY => {
                if let Some(Ok(key)) =
                    label(TALLY).map(|l| serde_json::from_str::<(String, Cause, String)>(&l))
                {
                    let most = self.tallies.entry(key).or_default();
                    *most = (*most).max(count);
                }
            }
            NAMED => {
                if let Some(Ok(problem)) = label(NAMED).map(|l| serde_json::from_str(&l)) {
                    self.named.push(problem);
                }
            }
            _ => {}
        }
    }

    /// Into the coordinator's diagnostics and counters, as if its own scan had read it,
    /// and into `tally`.
    pub(crate) fn fold_into(
        self,
        diagnostics: &Diagnostics,
        counters: &Counters,
        tier: Option<&Tier>,
        tally: &Tally,
    ) {
        let add = |counter: &AtomicU64, n: u64| {
            counter.fetch_add(n, Ordering::Relaxed);
        };
        if let Some(tier) = tier {
            let (row_groups, rows, bytes) = self.tier;
            add(&tier.stats.row_groups_read, row_groups);
            add(&tier.stats.rows_read, rows);
            add(&tier.counters.bytes_read, bytes);
        }
        let mut by_cause: BTreeMap<(Cause, String), u64> = BTreeMap::new();
        for ((_, cause, head), count) in self.tallies {
            *by_cause.entry((cause, head)).or_default() += count;
        }
        let tallies = by_cause
            .into_iter()
            .map(|((cause, head), count)| (cause, head, count));
        diagnostics.absorb(tallies, self.named);
        // Objects read are fetched or cached, as in `Counters::objects` and `bytes`.
        let (cached_objects, cached_bytes) = self.cached;
        let (objects, bytes) = self
            .read
            .values()
            .fold((0, 0), |(o, b), (objects, bytes)| (o + objects, b + bytes));
        add(
            &counters.get_requests,
            objects.saturating_sub(cached_objects),
        );
        add(&counters.bytes_read, bytes.saturating_sub(cached_bytes));
        add(&counters.cached_objects, cached_objects);
        add(&counters.cached_bytes, cached_bytes);
        let mut tally = tally.lock().expect("workers' tally lock");
        for (worker, (objects, bytes)) in self.read {
            let sum = tally.read.entry(worker).or_default();
            sum.0 += objects;
            sum.1 += bytes;
        }
        tally.shipped += self.shipped;
    }
}

/// What the workers did for the queries of one engine, summed.
pub type Tally = Mutex<Totals>;

#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Objects and bytes read, per worker (`host:port`).
    pub read: BTreeMap<String, (u64, u64)>,
    /// Bytes sent between the processes (plans out, rows between them and back).
    pub shipped: u64,
}
