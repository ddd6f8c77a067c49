//! `SesSource`: a DataFusion `FileSource` for SES objects. It plugs the decode path
//! (`decode.rs`) into DataFusion's own `DataSourceExec`/`FileStream` machinery, so plans
//! stay made of stock nodes (limits, metrics, work stealing across partitions, partition
//! columns from the projection DataFusion pushes down). What it adds over `JsonSource`:
//! tolerance (a bad record is skipped and reported, not fatal) and derived columns.

use std::fmt;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileOpenFuture, FileOpener, FileScanConfig, FileSource,
};
use datafusion::datasource::projection::SplitProjection;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::projection::ProjectionExprs;
use datafusion::physical_plan::{DisplayFormatType, PhysicalExpr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::error::Error;
use crate::source::Source;
use crate::table::bundle::{self, Bundle};
use crate::table::decode::{DecodePlan, Tolerance};
use crate::table::diagnostics::{Diagnostics, Progress};
use crate::table::nested::ReadPaths;
use crate::table::prefetch::Prefetch;
use crate::table::prefilter::{Needle, Prefilter};
use crate::table::projection::SharedProjection;
use crate::table::reader::ObjectReader;
use crate::tier::read::{TierFile, TierRead};
use crate::tier::{self, Tier};

/// What every file of one scan shares.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// What to do with bad records and damaged objects.
    pub tolerance: Tolerance,
    pub diagnostics: Diagnostics,
    /// For naming objects and explaining errors in messages.
    pub source: Source,
    pub progress: Arc<Progress>,
    /// Skip records by their raw bytes when a filter allows it, and row groups and pages
    /// of the Parquet tier by their statistics (off only to compare).
    pub prefilter: bool,
    /// The Parquet tier, when the scan reads some folders from it.
    pub tier: Option<Arc<Tier>>,
}

#[derive(Clone)]
pub struct SesSource {
    table_schema: TableSchema,
    /// The parts of nested columns the query reads.
    reads: Arc<ReadPaths>,
    /// What every record the query can keep contains.
    prefilter: Option<Arc<Prefilter>>,
    /// The values a row must hold, for the tier's statistics.
    needles: Arc<Vec<Needle>>,
    batch_size: Option<usize>,
    metrics: ExecutionPlanMetricsSet,
    projection: SplitProjection,
    settings: ScanSettings,
    /// The objects fetched ahead (S3 only), made with the first partition's opener.
    prefetch: Arc<OnceLock<Arc<Prefetch>>>,
    /// The worker (`host:port`) this part of a distributed scan is for.
    worker: Option<String>,
}

/// What a worker needs of a scan besides DataFusion's file scan config (the files, the
/// schema, the projection and the limit cross in DataFusion's own protobuf form).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct ScanWire {
    tolerance: Tolerance,
    prefilter_on: bool,
    reads: ReadPaths,
    prefilter: Option<Vec<String>>,
    needles: Vec<Needle>,
    worker: Option<String>,
}

impl ScanWire {
    /// The worker the scan is for.
    pub(crate) fn worker(&self) -> Option<&str> {
        self.worker.as_deref()
    }
}

impl SesSource {
    pub fn new(table_schema: TableSchema, settings: ScanSettings, reads: Arc<ReadPaths>) -> Self {
        Self {
            projection: SplitProjection::unprojected(&table_schema),
            table_schema,
            reads,
            prefilter: None,
            needles: Arc::default(),
            batch_size: None,
            metrics: ExecutionPlanMetricsSet::new(),
            settings,
            prefetch: Arc::default(),
            worker: None,
        }
    }

    /// What crosses to a worker, beside the file scan config.
    pub(crate) fn wire(&self) -> ScanWire {
        ScanWire {
            tolerance: self.settings.tolerance,
            prefilter_on: self.settings.prefilter,
            reads: self.reads.as_ref().clone(),
            prefilter: self.prefilter.as_ref().map(|p| p.needles().to_vec()),
            needles: self.needles.as_ref().clone(),
            worker: self.worker.clone(),
        }
    }

    /// On a worker: the scan the coordinator planned, reading from `source`, recording
    /// into `metrics` (what `diagnostics` and `progress` forward goes there too).
    pub(crate) fn from_wire(
        table_schema: TableSchema,
        wire: ScanWire,
        (source, tier): (Source, Option<Arc<Tier>>),
        diagnostics: Diagnostics,
        progress: Arc<Progress>,
        metrics: ExecutionPlanMetricsSet,
    ) -> Self {
        let settings = ScanSettings {
            tolerance: wire.tolerance,
            diagnostics,
            source,
            progress,
            prefilter: wire.prefilter_on,
            tier,
        };
        let mut scan = Self::new(table_schema, settings, Arc::new(wire.reads))
            .with_prefilter(wire.prefilter.and_then(Prefilter::of_needles).map(Arc::new))
            .with_needles(wire.needles);
        scan.metrics = metrics;
        scan.worker = wire.worker;
        scan
    }

    /// This scan, as the part of a distributed one that `worker` runs.
    pub(crate) fn for_worker(&self, worker: &str) -> Self {
        let mut scan = self.clone();
        scan.worker = Some(worker.to_string());
        scan.prefetch = Arc::default();
        scan
    }
}

impl SesSource {
    pub fn with_prefilter(mut self, prefilter: Option<Arc<Prefilter>>) -> Self {
        self.prefilter = prefilter;
        self
    }

    pub fn with_needles(mut self, needles: Vec<Needle>) -> Self {
        self.needles = Arc::new(needles);
        self
    }

    /// The projected columns of the file schema: what each file's batches hold.
    fn projected_schema(&self) -> Result<SchemaRef> {
        let file_schema = self.table_schema.file_schema();
        Ok(Arc::new(
            file_schema.project(&self.projection.file_indices)?,
        ))
    }

    fn decode_plan(&self, batch_size: usize) -> Result<DecodePlan> {
        let projected = self.projected_schema()?;
        Ok(
            DecodePlan::new(projected, batch_size, self.settings.tolerance, &self.reads)?
                .with_prefilter(self.prefilter.clone()),
        )
    }
}

impl fmt::Debug for SesSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SesSource")
            .field("tolerance", &self.settings.tolerance)
            .finish()
    }
}

impl FileSource for SesSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        _partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        let file_schema = self.table_schema.file_schema();
        let batch_size = self
            .batch_size
            .expect("batch size is set before openers are made");
        let plan = self.decode_plan(batch_size)?;
        let tier = self.settings.tier.as_ref().map(|tier| {
            let read = TierRead::new(
                self.projected_schema()?,
                &self.reads,
                self.needles.as_ref().clone(),
                batch_size,
            );
            Ok::<_, DataFusionError>((Arc::clone(tier), Arc::new(read)))
        });
        let source = &self.settings.source;
        let prefetch = (source.bucket().is_some() && !source.offline).then(|| {
            let prefetch = self.prefetch.get_or_init(|| {
                // The order of DataFusion's shared work queue: the groups one after another.
                let objects = base_config
                    .file_groups
                    .iter()
                    .flat_map(|group| group.iter())
                    .filter(|f| f.extension::<TierFile>().is_none())
                    .flat_map(|f| bundle::objects(f).iter().cloned());
                Arc::new(Prefetch::new(
                    objects,
                    Arc::clone(&object_store),
                    self.settings.clone(),
                ))
            });
            Arc::clone(prefetch)
        });
        let opener: Arc<dyn FileOpener> = Arc::new(SesOpener {
            prefetch,
            store: object_store,
            plan: Arc::new(plan),
            settings: self.settings.clone(),
            tier: tier.transpose()?,
            bundle_rows: base_config.limit.unwrap_or(batch_size).min(batch_size),
            together: base_config.limit.is_none() && !self.settings.tolerance.strict,
        });
        let opener = match &self.worker {
            Some(worker) => crate::cluster::on_worker(opener, worker),
            None => opener,
        };
        SharedProjection::opener(self.projection.clone(), opener, file_schema)
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    /// Never split an object into byte ranges: a gzip object cannot be entered in the
    /// middle, and an opener that reads whole objects would read a split one once per
    /// range (every record counted twice). Objects are the unit of parallelism.
    fn supports_repartitioning(&self) -> bool {
        false
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
        if let Ok(plan) = self.decode_plan(1) {
            write!(f, ", decodes=[{}]", plan.decoded_paths().join(", "))?;
        }
        if let Some(prefilter) = &self.prefilter {
            write!(f, ", prefilter=[{}]", prefilter.describe())?;
        }
        if self.settings.tolerance.strict {
            write!(f, ", strict=true")?;
        }
        if let Some(worker) = &self.worker {
            write!(f, ", worker={worker}")?;
        }
        Ok(())
    }
}

/// Opens one object: GET it whole (gzip is not splittable), check it is the object the
/// listing named, then decode it batch by batch.
struct SesOpener {
    store: Arc<dyn ObjectStore>,
    prefetch: Option<Arc<Prefetch>>,
    plan: Arc<DecodePlan>,
    settings: ScanSettings,
    /// The tier and what to read of its files, when the scan has any.
    tier: Option<(Arc<Tier>, Arc<TierRead>)>,
    /// Rows handed on at once from a bundle of small objects: the batch size, or the scan's
    /// limit when that is smaller (`LIMIT 10` reads no more objects than it needs).
    bundle_rows: usize,
    /// Whether a bundle's members may be decoded together (`ObjectRead::together`): not
    /// under a limit, which must be able to stop after the first members, nor with
    /// `--strict`, whose first problem must be the one a reading in order meets.
    together: bool,
}

impl FileOpener for SesOpener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        if file.extension::<TierFile>().is_some() {
            let Some((tier, read)) = self.tier.clone() else {
                return Err(DataFusionError::Internal(
                    "a tier file in a scan without the tier".into(),
                ));
            };
            let progress = Arc::clone(&self.settings.progress);
            return Ok(Box::pin(async move {
                let meta = &file.object_meta;
                let stream = match progress.mirrors() {
                    false => tier::read::open(tier, read, meta).await?,
                    // On a worker: what this file's reading reads, counted apart and sent on
                    // when the stream is done with (ended, or dropped under a LIMIT).
                    true => {
                        let apart = Arc::new(tier.counted_apart());
                        let stream = tier::read::open(Arc::clone(&apart), read, meta).await?;
                        let sent = TierReadSent {
                            tier: apart,
                            progress: Arc::clone(&progress),
                        };
                        stream
                            .map(move |batch| {
                                let _ = &sent;
                                batch
                            })
                            .boxed()
                    }
                };
                progress.read_tier_file(meta.size);
                Ok(stream)
            }));
        }
        let read = ObjectRead {
            store: Arc::clone(&self.store),
            prefetch: self.prefetch.clone(),
            plan: Arc::clone(&self.plan),
            settings: self.settings.clone(),
        };
        if let Some(bundle) = file.extension::<Bundle>() {
            let members = bundle.members.to_vec();
            let rows = self.bundle_rows;
            // (A bundle's size is its members' sizes as listed; what is fetched is checked to
            // be that.)
            let joined = file.object_meta.size as usize + members.len() * newline_member().len();
            if self.together && joined <= TOGETHER_AT_MOST {
                return Ok(Box::pin(async move {
                    let mut fetched = Vec::with_capacity(members.len());
                    for meta in members {
                        fetched.push(read.fetch(meta).await?);
                    }
                    let batches = match read.together(&fetched) {
                        Some(batches) => futures::stream::iter(batches.into_iter().map(Ok)).boxed(),
                        None => futures::stream::iter(fetched)
                            .flat_map(move |(name, bytes)| {
                                futures::stream::iter(read.reader(name, bytes))
                            })
                            .boxed(),
                    };
                    Ok(bundle::coalesced(batches, rows))
                }));
            }
            return Ok(Box::pin(async move {
                let batches = futures::stream::iter(members)
                    .then(move |meta| read.clone().open(meta))
                    .flat_map(|reader| match reader {
                        Ok(reader) => futures::stream::iter(reader).boxed(),
                        Err(e) => futures::stream::once(async { Err(e) }).boxed(),
                    })
                    .boxed();
                Ok(bundle::coalesced(batches, rows))
            }));
        }
        Ok(Box::pin(async move {
            if let Some(range) = &file.range {
                let name = read.name(&file.object_meta);
                return Err(DataFusionError::Internal(format!(
                    "{name} was split into byte range {}..{}; objects are read whole",
                    range.start, range.end
                )));
            }
            let reader = read.open(file.object_meta).await?;
            Ok(futures::stream::iter(reader).boxed())
        }))
    }
}

/// What reading one object needs.
#[derive(Clone)]
struct ObjectRead {
    store: Arc<dyn ObjectStore>,
    prefetch: Option<Arc<Prefetch>>,
    plan: Arc<DecodePlan>,
    settings: ScanSettings,
}

impl ObjectRead {
    fn name(&self, meta: &ObjectMeta) -> String {
        self.settings.source.location.object_name(&meta.location)
    }

    /// The object's bytes (fetched ahead, from the cache, or fetched now), to be decoded.
    async fn open(self, meta: ObjectMeta) -> Result<ObjectReader> {
        let (name, bytes) = self.fetch(meta).await?;
        Ok(self.reader(name, bytes))
    }

    /// The object's name and bytes, counted as read.
    async fn fetch(&self, meta: ObjectMeta) -> Result<(String, Bytes)> {
        let name = self.name(&meta);
        let bytes = match &self.prefetch {
            Some(prefetch) => prefetch.open(&meta, &name).await?,
            None => {
                let (store, settings) = (self.store.as_ref(), &self.settings);
                fetch(store, &meta, &name, settings, Keep::InCache).await?
            }
        };
        self.settings.progress.read(bytes.len() as u64);
        Ok((name, bytes))
    }

    fn reader(&self, name: String, bytes: Bytes) -> ObjectReader {
        ObjectReader::new(
            Arc::clone(&self.plan),
            bytes,
            name,
            self.settings.diagnostics.clone(),
        )
    }

    /// The rows of a bundle's gzip members decoded as one gzip stream (one member after
    /// another, each followed by a member holding only a newline, so no record can run from
    /// one into the next): one decode, one conversion and one batch for many objects instead
    /// of one of each per object, which was most of what reading small objects cost.
    /// `None` (read them one by one instead) unless every member is gzip and reading them
    /// together met no problem at all: then every member's checksum matched and every record
    /// decoded, so the rows are those reading them one by one gives. Anything less (a bad
    /// record, a damaged member) is read one by one, so that each problem is found, counted
    /// and named as its own object's.
    fn together(&self, fetched: &[(String, Bytes)]) -> Option<Vec<RecordBatch>> {
        if !fetched.iter().all(|(_, b)| b.starts_with(&[0x1f, 0x8b])) {
            return None;
        }
        let newline = newline_member();
        let size = fetched.iter().map(|(_, b)| b.len() + newline.len()).sum();
        let mut joined = Vec::with_capacity(size);
        for (_, bytes) in fetched {
            joined.extend_from_slice(bytes);
            joined.extend_from_slice(newline);
        }
        let quiet = Diagnostics::new();
        let reader = ObjectReader::new(
            Arc::clone(&self.plan),
            Bytes::from(joined),
            fetched[0].0.clone(),
            quiet.clone(),
        );
        let batches = reader.collect::<Result<Vec<_>>>().ok()?;
        (quiet.total() == 0).then_some(batches)
    }
}

/// Compressed bytes of a bundle read as one stream at most. Its content is inflated into
/// windows made for it, not reused: past about this much (1.5 MB of JSON), mapping fresh
/// memory for them cost more than the per-object work saved (event counts over 25,828
/// objects of 1-8 KB took 1.36x the time with no bound; `seslog bounces` over 2,558 objects
/// of about 1 KB, 0.69x).
const TOGETHER_AT_MOST: usize = 128 << 10;

/// A gzip member whose content is one newline.
fn newline_member() -> &'static [u8] {
    static MEMBER: OnceLock<Vec<u8>> = OnceLock::new();
    MEMBER.get_or_init(|| {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"\n").expect("writing to memory");
        gz.finish().expect("writing to memory")
    })
}

/// What one tier file's reading read, sent on (`Progress::tier_read`) when dropped.
struct TierReadSent {
    tier: Arc<Tier>,
    progress: Arc<Progress>,
}

impl Drop for TierReadSent {
    fn drop(&mut self) {
        let stats = &self.tier.stats;
        self.progress.tier_read(
            tier::TierStats::get(&stats.row_groups_read),
            tier::TierStats::get(&stats.rows_read),
            self.tier.counters.bytes(),
        );
    }
}

/// Whether an object fetched from S3 goes into the object cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    InCache,
    /// Read once and done with (compaction): a year of objects would only push out what
    /// queries read again.
    NotAgain,
}

/// An object's bytes: from the cache when it holds exactly this object, else a GET (kept in
/// the cache when there is one). What a GET brings is checked to be what the listing
/// described: as many bytes as its size, and the same ETag where both have one. A 200
/// with a short or empty body (a proxy, a broken connection that still closed cleanly) is
/// retried, then an error naming the object: never a short read taken for the whole
/// object.
pub(crate) async fn fetch(
    store: &dyn ObjectStore,
    listed: &ObjectMeta,
    name: &str,
    settings: &ScanSettings,
    keep: Keep,
) -> Result<Bytes> {
    let source = &settings.source;
    let cache = source
        .cache
        .clone()
        .zip(source.bucket().map(str::to_string));
    if let Some((cache, bucket)) = cache.clone() {
        let meta = listed.clone();
        let cached = on_disk(listed.size, move || cache.get_object(&bucket, &meta)).await?;
        if let Some(bytes) = cached {
            let counters = &source.counters;
            counters.cached_objects.fetch_add(1, Ordering::Relaxed);
            settings.progress.cached(bytes.len() as u64);
            counters
                .cached_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            return Ok(bytes);
        }
    }
    if source.offline {
        return Err(Error::Offline {
            what: name.to_string(),
        }
        .into());
    }
    let bytes = fetch_checked(store, listed, name, settings).await?;
    if let Some((cache, bucket)) = cache.filter(|_| keep == Keep::InCache) {
        // An object that cannot be kept is fetched again next time: slower, not wrong.
        let (meta, body) = (listed.clone(), bytes.clone());
        let _ = on_disk(listed.size, move || cache.put_object(&bucket, &meta, &body)).await?;
    }
    Ok(bytes)
}

/// Local disk work for an object of `size` bytes: a small one in place (waking a blocking
/// thread per object cost more than reading a few KB from the page cache, as in
/// `localfs`), a large one on the blocking pool.
async fn on_disk<T: Send + 'static>(
    size: u64,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    if size <= crate::source::localfs::READ_IN_PLACE {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

/// The GET itself, checked against the listing and retried.
async fn fetch_checked(
    store: &dyn ObjectStore,
    listed: &ObjectMeta,
    name: &str,
    settings: &ScanSettings,
) -> Result<Bytes> {
    let failed = |why: String| {
        DataFusionError::from(Error::Read {
            object: name.to_string(),
            why,
        })
    };
    let retries = settings.source.retries;
    let mut backoff = Duration::from_millis(100);
    for attempt in 0.. {
        let got = async {
            let result = store.get(&listed.location).await?;
            let e_tag = result.meta.e_tag.clone();
            Ok::<_, object_store::Error>((result.bytes().await?, e_tag))
        }
        .await;
        let (bytes, e_tag) = got.map_err(|e| failed(settings.source.describe_error(&e)))?;
        let mismatch = if bytes.len() as u64 != listed.size {
            Some(format!(
                "{} bytes arrived where the listing said {}",
                bytes.len(),
                listed.size
            ))
        } else {
            match (&listed.e_tag, &e_tag) {
                (Some(said), Some(got)) if said != got => Some(format!(
                    "its ETag is {got} where the listing said {said} (the object changed, or \
                     what arrived is not the object)"
                )),
                _ => None,
            }
        };
        match mismatch {
            None => return Ok(bytes),
            Some(why) if attempt >= retries => {
                return Err(failed(format!("{why} (after {attempt} retries)")));
            }
            Some(_) => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
    unreachable!("the loop returns")
}
