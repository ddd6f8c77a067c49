//! Compaction: closed folders of the source, decoded once into the tier's Parquet.
//!
//! A folder is closed when the time its objects are named by has ended (a day folder at
//! midnight after it): the caller says up to when, because Firehose still delivers into a
//! folder for a while after it ends. Each closed folder is compared with its manifest:
//! nothing to do, objects that arrived since (decoded into one more file), or made again
//! whole when a compacted object changed or vanished. An object that cannot be read
//! cleanly (a skipped record, a damaged gzip stream, not event data) is not compacted: it
//! stays raw, recorded in the manifest, and every query reads it raw and reports it exactly
//! as a scan of the raw objects does, under whatever `--strict` or `--keep-damaged` it runs
//! with.
//!
//! Rows are written a row group at a time, each sorted by its first recipient, so the pages
//! of `recipients` cover narrow ranges of addresses and a lookup reads a page or two per row
//! group (`read.rs`). Files are written under a new name and only then named by the new
//! manifest, put in one request: a run stopped at any point leaves the old manifest and its
//! files, or the new ones, never a half-written file in use.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::compute::{SortColumn, SortOptions, concat_batches, lexsort_to_indices};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt};

use crate::error::{Error, Result};
use crate::source::Source;
use crate::table::decode::{DecodePlan, Tolerance};
use crate::table::diagnostics::{Diagnostics, Problem, Progress};
use crate::table::layout::FirehoseLayout;
use crate::table::listing::{self, Constraints, Leaf};
use crate::table::nested::ReadPaths;
use crate::table::reader::ObjectReader;
use crate::table::scan::{Keep, ScanSettings, fetch};
use crate::table::schema::{self, EVENT_TIME, RECIPIENTS};
use crate::tier::keys::{self, KeysBuilder};
use crate::tier::manifest::{self, Change, Entry, FileEntry, Manifest, RawEntry};
use crate::tier::{Tier, storage_schema, to_storage};

/// Rows per row group: each is sorted on its own, so this is also what compaction holds in
/// memory at once (about 2 KB a row decoded).
pub const ROW_GROUP_ROWS: usize = 32 * 1024;
/// Rows per data page: a lookup decodes a whole page of each column it reads for each row
/// that matches, and small pages compress less. On 28 days of generated volume: 1024 rows,
/// 0.96x the gzipped size and a 28-day lookup in 0.055 s; 2048, 0.92x and 0.07 s; 8192,
/// 0.87x and 0.085 s.
const PAGE_ROWS: usize = 2048;
/// A file no manifest names (left by a run that was stopped) is removed once it is this
/// old: younger, it may be another compaction's, still being written.
const ORPHAN_AGE: Duration = Duration::hours(1);

/// Which folders to compact.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// The first day to compact (`None`: from the first there is).
    pub from: Option<NaiveDate>,
    /// Folders whose time ended at or before this are compacted.
    pub until: DateTime<Utc>,
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Closed folders looked at.
    pub folders: u64,
    /// Folders made (again) whole.
    pub made: u64,
    /// Folders given one more file for objects that arrived since.
    pub appended: u64,
    pub unchanged: u64,
    /// Objects decoded, and of those the ones left raw (not read cleanly).
    pub objects: u64,
    pub objects_raw: u64,
    pub rows: u64,
    /// Bytes of the objects decoded, and of the Parquet written.
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub files_written: u64,
    pub files_removed: u64,
}

/// Compacts every closed folder of the source in `options`' range into the tier. Objects
/// that cannot be read cleanly are reported to `diagnostics`, as a scan would.
pub async fn compact(
    source: &Source,
    layout: &FirehoseLayout,
    tier: &Tier,
    options: &CompactOptions,
    diagnostics: &Diagnostics,
    progress: &Arc<Progress>,
) -> Result<CompactReport> {
    let store = source.store.as_ref();
    let last_day = (options.until - Duration::milliseconds(1)).date_naive();
    let constraints = Constraints {
        day_lo: options.from.map(|d| d.format("%Y/%m/%d").to_string()),
        day_hi: Some(last_day.format("%Y/%m/%d").to_string()),
        ..Default::default()
    };
    let leaves: Vec<Leaf> = listing::find_leaves(store, &source.root, layout, &constraints, source)
        .await?
        .into_iter()
        .filter(|leaf| listing::closes_at(&leaf.values).is_some_and(|t| t <= options.until))
        .collect();
    // Stamped before they are listed: an object that arrives after the listing moves the
    // stamp on, and queries then list the folder.
    let stamps: Vec<Option<i64>> = leaves
        .iter()
        .map(|leaf| source.folder_stamp(&leaf.prefix))
        .collect();
    let folders = listing::list_folders(store, leaves, source).await?;
    // A folder with a name the listing left out is always listed, so every query names it.
    let rejected: Vec<String> = source
        .rejected
        .lock()
        .expect("rejected names lock")
        .keys()
        .cloned()
        .collect();
    for problem in crate::table::rejected_names(source) {
        diagnostics.push(problem);
    }

    // Every folder's manifest first, so the progress line knows the whole job.
    let planned: Vec<Planned> = stream::iter(folders.into_iter().zip(stamps).map(
        |((leaf, objects), stamp)| {
            let shown = crate::tier::relative(&source.root, &leaf.prefix).to_string();
            let stamp = stamp.filter(|_| !rejected.iter().any(|k| k.starts_with(&shown)));
            async move {
                let folder = tier.folder(source, &leaf.prefix);
                let manifest = manifest::read(tier, &folder).await?.and_then(|m| m.full());
                let change = match &manifest {
                    Some(m) => m.change(&objects),
                    None => Change::Rebuild,
                };
                Ok::<_, Error>(Planned {
                    leaf,
                    objects,
                    manifest,
                    change,
                    stamp,
                })
            }
        },
    ))
    .buffered(32)
    .try_collect()
    .await?;
    let mut report = CompactReport {
        folders: planned.len() as u64,
        ..Default::default()
    };
    let to_read = |objects: &[ObjectMeta], change: &Change| -> Vec<ObjectMeta> {
        match change {
            Change::None => Vec::new(),
            Change::Append { new, .. } => new.clone(),
            Change::Rebuild => objects.to_vec(),
        }
    };
    for p in &planned {
        let read = to_read(&p.objects, &p.change);
        progress.planned(read.len() as u64, read.iter().map(|o| o.size).sum());
    }
    let job = Job::new(source, tier, diagnostics, progress);
    let mut unchanged = Vec::new();
    for p in planned {
        match (&p.change, p.manifest) {
            (Change::None, Some(mut manifest)) => {
                report.unchanged += 1;
                // Nothing to write but the stamp, when the folder's moved on (a file
                // touched, one added and taken away): else every query lists it.
                if manifest.stamp != p.stamp {
                    manifest.stamp = p.stamp;
                    manifest::write(tier, &tier.folder(source, &p.leaf.prefix), &manifest).await?;
                }
                unchanged.push((tier.folder(source, &p.leaf.prefix), manifest));
            }
            (change, old) => {
                match change {
                    Change::Append { .. } => report.appended += 1,
                    _ => report.made += 1,
                }
                let read = to_read(&p.objects, change);
                job.folder(&p.leaf, read, old, p.change.clone(), p.stamp, &mut report)
                    .await?;
            }
        }
    }
    // A run stopped after a folder's manifest was written, before the files it replaced
    // were removed, leaves them in a folder that is unchanged from then on: swept here.
    let job = &job;
    report.files_removed += stream::iter(unchanged)
        .map(|(folder, manifest)| async move { job.remove_unnamed(&folder, &manifest, &[]).await })
        .buffer_unordered(32)
        .try_fold(0, |sum, n| async move { Ok(sum + n) })
        .await?;
    Ok(report)
}

/// One closed folder and what compacting it takes.
struct Planned {
    leaf: Leaf,
    objects: Vec<ObjectMeta>,
    manifest: Option<Manifest>,
    change: Change,
    /// The folder's stamp from before it was listed.
    stamp: Option<i64>,
}

/// What every folder of one compaction shares.
struct Job<'a> {
    source: &'a Source,
    tier: &'a Tier,
    diagnostics: &'a Diagnostics,
    progress: &'a Arc<Progress>,
    settings: ScanSettings,
    plan: Arc<DecodePlan>,
    storage: SchemaRef,
}

impl<'a> Job<'a> {
    fn new(
        source: &'a Source,
        tier: &'a Tier,
        diagnostics: &'a Diagnostics,
        progress: &'a Arc<Progress>,
    ) -> Self {
        let settings = ScanSettings {
            tolerance: Tolerance::default(),
            diagnostics: Diagnostics::new(),
            source: source.clone(),
            progress: Arc::clone(progress),
            prefilter: false,
            tier: None,
        };
        let plan = DecodePlan::new(
            schema::file_schema(),
            8192,
            Tolerance::default(),
            &ReadPaths::default(),
        )
        .expect("the whole file schema decodes");
        Job {
            source,
            tier,
            diagnostics,
            progress,
            settings,
            plan: Arc::new(plan),
            storage: storage_schema(),
        }
    }

    /// Compacts one folder: decodes `objects` (in listing order) into one new file, then puts
    /// the manifest that names it, then removes what no manifest names any more.
    async fn folder(
        &self,
        leaf: &Leaf,
        objects: Vec<ObjectMeta>,
        old: Option<Manifest>,
        change: Change,
        stamp: Option<i64>,
        report: &mut CompactReport,
    ) -> Result<()> {
        let root = &self.source.root;
        let folder = self.tier.folder(self.source, &leaf.prefix);
        let (mut manifest, previous_files) = match (old, &change) {
            (Some(mut m), Change::Append { still_raw, .. }) => {
                m.raw = still_raw.clone();
                (m, Vec::new())
            }
            (old, _) => (
                Manifest {
                    format: manifest::FORMAT,
                    schema: manifest::schema_fingerprint(),
                    folder: crate::tier::relative(root, &leaf.prefix).to_string(),
                    made_at: Utc::now(),
                    made_by: format!("seslog {}", env!("CARGO_PKG_VERSION")),
                    stamp: None,
                    objects: Vec::new(),
                    raw: Vec::new(),
                    files: Vec::new(),
                },
                old.map(|m| m.files).unwrap_or_default(),
            ),
        };
        manifest.made_at = Utc::now();
        manifest.stamp = stamp;
        let name = file_name();
        let path: Path = folder
            .parts()
            .chain(Path::from(name.as_str()).parts())
            .collect();
        let mut writer = RowGroups::new(self, &path)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut decoded =
            stream::iter(objects.into_iter().map(|meta| self.decode(meta))).buffered(cores);
        while let Some(next) = decoded.next().await {
            let (meta, batches, problems) = next?;
            report.objects += 1;
            report.bytes_in += meta.size;
            if problems.is_empty() {
                manifest.objects.push(Entry::of(&meta));
                for batch in batches {
                    report.rows += batch.num_rows() as u64;
                    self.progress
                        .rows
                        .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                    writer.push(batch).await?;
                }
            } else {
                report.objects_raw += 1;
                manifest.raw.push(RawEntry {
                    entry: Entry::of(&meta),
                    problems: problems.iter().take(3).map(Problem::summary).collect(),
                });
                for problem in problems {
                    self.diagnostics.push(problem);
                }
            }
        }
        if let Some(file) = writer.finish(name).await? {
            report.bytes_out += file.size;
            report.files_written += 1;
            manifest.files.push(file);
        }
        manifest::write(self.tier, &folder, &manifest).await?;
        report.files_removed += self
            .remove_unnamed(&folder, &manifest, &previous_files)
            .await?;
        Ok(())
    }

    /// Fetches and decodes one object; its batches and what could not be read cleanly.
    async fn decode(
        &self,
        meta: ObjectMeta,
    ) -> Result<(ObjectMeta, Vec<RecordBatch>, Vec<Problem>)> {
        let name = self.source.location.object_name(&meta.location);
        let bytes = fetch(
            self.source.store.as_ref(),
            &meta,
            &name,
            &self.settings,
            Keep::NotAgain,
        )
        .await?;
        self.progress.read(meta.size);
        let plan = Arc::clone(&self.plan);
        // Decoded on a worker of the runtime, as a scan decodes (on the blocking pool, whose
        // threads come and go, each left its allocator's pages behind: a 14-day compaction
        // peaked at 800 MB, growing with every folder; here 270 MB).
        let (batches, problems) = tokio::spawn(async move {
            let diagnostics = Diagnostics::new();
            let reader = ObjectReader::new(plan, bytes, name, diagnostics.clone());
            let batches = reader.collect::<datafusion::error::Result<Vec<_>>>();
            (batches, diagnostics)
        })
        .await
        .map_err(|e| Error::Source(format!("a decoding task failed: {e}")))?;
        // An object with any problem is left raw: its first problems are enough to say
        // why (every query names them again, each time it reads the object).
        Ok((meta, batches?, problems.problems()))
    }

    /// Removes the files of the folder no manifest names: the ones the new manifest
    /// replaced, at once; others (left by a stopped run) once they are `ORPHAN_AGE` old.
    async fn remove_unnamed(
        &self,
        folder: &Path,
        manifest: &Manifest,
        replaced: &[FileEntry],
    ) -> Result<u64> {
        let store = &self.tier.writer;
        // A file's keys go with it.
        let named: std::collections::HashSet<&str> =
            manifest.files.iter().map(|f| f.name.as_str()).collect();
        let file_of = |name: &'_ str| name.strip_suffix(".keys").unwrap_or(name).to_string();
        let listed = store
            .list_with_delimiter(Some(folder))
            .await
            .map_err(|e| self.tier.error(folder, e))?;
        let mut removed = 0;
        for object in listed.objects {
            let Some(name) = object.location.filename() else {
                continue;
            };
            let file = file_of(name);
            let stale = replaced.iter().any(|f| f.name == file)
                || object.last_modified < Utc::now() - ORPHAN_AGE;
            let ours = file.starts_with("part-") && file.ends_with(".parquet");
            if ours && !named.contains(file.as_str()) && stale {
                store
                    .delete(&object.location)
                    .await
                    .map_err(|e| self.tier.error(&object.location, e))?;
                removed += u64::from(name.ends_with(".parquet"));
            }
        }
        Ok(removed)
    }
}

/// A new file's name: never one a manifest names, nor another run's.
fn file_name() -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    format!(
        "part-{}-{}-{}.parquet",
        Utc::now().timestamp_millis(),
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// How the tier's files are written: zstd (level 9: 0.87x the size of level 3 with
/// dictionaries on; written once, read often) and no dictionaries (most of a record is ids,
/// addresses and times that never repeat: a dictionary only added to them, 0.68x without
/// on a day of generated volume); statistics on every column chunk and, for
/// `recipients`, on every page (the lookup's index); a bloom filter on the message id,
/// which is in no order, sized for `ids` values (a filter sized for a full row group would
/// be most of a small folder's file); small pages, so a lookup reads few rows.
fn writer_properties(ids: usize) -> WriterProperties {
    let recipients = ColumnPath::new(vec![RECIPIENTS.into(), "list".into(), "item".into()]);
    let message_id = ColumnPath::new(vec!["mail".into(), "messageid".into()]);
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(9).expect("9 is a zstd level"),
        ))
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(PAGE_ROWS)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_column_statistics_enabled(recipients, EnabledStatistics::Page)
        .set_column_bloom_filter_enabled(message_id.clone(), true)
        .set_column_bloom_filter_fpp(message_id.clone(), 0.01)
        .set_column_bloom_filter_max_ndv(message_id, ids.max(1) as u64)
        .set_created_by(format!("seslog {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// One new file, written a sorted row group at a time; created with its first row.
struct RowGroups<'j, 'a> {
    job: &'j Job<'a>,
    path: Path,
    writer: Option<AsyncArrowWriter<BufWriter>>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    rows: u64,
    row_groups: u64,
    keys: KeysBuilder,
}

impl<'j, 'a> RowGroups<'j, 'a> {
    fn new(job: &'j Job<'a>, path: &Path) -> Result<Self> {
        Ok(RowGroups {
            job,
            path: path.clone(),
            writer: None,
            pending: Vec::new(),
            pending_rows: 0,
            rows: 0,
            row_groups: 0,
            keys: KeysBuilder::default(),
        })
    }

    async fn push(&mut self, batch: RecordBatch) -> Result<()> {
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        while self.pending_rows >= ROW_GROUP_ROWS {
            self.write_group(ROW_GROUP_ROWS).await?;
        }
        Ok(())
    }

    /// Writes the first `rows` pending rows, sorted, as one row group.
    async fn write_group(&mut self, rows: usize) -> Result<()> {
        let job = self.job;
        let failed = |e: &dyn std::fmt::Display| job.tier.error(&self.path, e);
        // One copy of the rows at a time beside the sorted group: the pieces go as soon as
        // they are concatenated, and the few rows left over are copied out of the whole.
        let schema = schema::file_schema();
        let all =
            concat_batches(&schema, &std::mem::take(&mut self.pending)).map_err(|e| failed(&e))?;
        let group = sorted(&all.slice(0, rows)).map_err(|e| failed(&e))?;
        let left = all.num_rows() - rows;
        if left > 0 {
            let rest = concat_batches(&schema, &[all.slice(rows, left)]).map_err(|e| failed(&e))?;
            self.pending.push(rest);
        }
        drop(all);
        self.pending_rows = left;
        if self.writer.is_none() {
            let out = BufWriter::new(Arc::clone(&job.tier.writer), self.path.clone());
            // The first row group is a full one unless it is the only one.
            let writer = AsyncArrowWriter::try_new(
                out,
                Arc::clone(&job.storage),
                Some(writer_properties(rows)),
            )
            .map_err(|e| failed(&e))?;
            self.writer = Some(writer);
        }
        let writer = self.writer.as_mut().expect("made above");
        self.keys.add(&group);
        let stored = to_storage(&group, &job.storage).map_err(|e| failed(&e))?;
        writer.write(&stored).await.map_err(|e| failed(&e))?;
        writer.flush().await.map_err(|e| failed(&e))?;
        self.rows += rows as u64;
        self.row_groups += 1;
        Ok(())
    }

    /// Writes what is pending and completes the file; `None` when there were no rows.
    async fn finish(mut self, name: String) -> Result<Option<FileEntry>> {
        if self.pending_rows > 0 {
            self.write_group(self.pending_rows).await?;
        }
        let Some(mut writer) = self.writer.take() else {
            return Ok(None);
        };
        let failed = |e: &dyn std::fmt::Display| self.job.tier.error(&self.path, e);
        writer.finish().await.map_err(|e| failed(&e))?;
        let size = writer.bytes_written() as u64;
        keys::write(self.job.tier, &self.path, self.keys.finish()).await?;
        Ok(Some(FileEntry {
            name,
            size,
            rows: self.rows,
            row_groups: self.row_groups,
        }))
    }
}

/// A row group's rows in the order the lookup index needs: by first recipient (rows
/// without one last), then by event time.
fn sorted(batch: &RecordBatch) -> datafusion::error::Result<RecordBatch> {
    let recipients = batch
        .column_by_name(RECIPIENTS)
        .expect("the file schema has recipients")
        .as_list::<i32>();
    let values = recipients.values().as_string::<i32>();
    let mut first = StringBuilder::new();
    for row in 0..recipients.len() {
        let (start, end) = (
            recipients.value_offsets()[row] as usize,
            recipients.value_offsets()[row + 1] as usize,
        );
        if recipients.is_valid(row) && start < end && values.is_valid(start) {
            first.append_value(values.value(start));
        } else {
            first.append_null();
        }
    }
    let order = SortOptions {
        descending: false,
        nulls_first: false,
    };
    let key: ArrayRef = Arc::new(first.finish());
    let time = Arc::clone(
        batch
            .column_by_name(EVENT_TIME)
            .expect("the file schema has event_time"),
    );
    let indices = lexsort_to_indices(
        &[
            SortColumn {
                values: key,
                options: Some(order),
            },
            SortColumn {
                values: time,
                options: Some(order),
            },
        ],
        None,
    )?;
    Ok(take_record_batch(batch, &indices)?)
}
