//! The Parquet tier: closed folders of the raw objects, decoded once into Parquet
//! (`compact.rs`) and read back by any query in their place (`read.rs`). A folder of the tier
//! is used only where its manifest (`manifest.rs`) still describes the objects the source
//! holds, so an answer from the tier is always the answer the raw objects give: an object
//! that arrived late, or one that could not be read cleanly, is read raw beside the tier's
//! files, and a folder whose compacted objects changed is read raw whole.
//!
//! What is stored is the `seslogs` record as a scan of the raw objects produces it (the
//! exposed, lower-case columns, Athena's tag names, the derived `event_time` and
//! `recipients`), so reading it back takes no decoding decision of its own. Parquet cannot
//! hold a struct without fields: `send` (always `{}`) is stored as a boolean, true where
//! the record has one.

pub mod compact;
pub mod keys;
pub mod manifest;
pub mod read;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StructArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result as DfResult};
use futures::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

use crate::error::{Error, Result};
use crate::source::localfs::LocalTree;
use crate::source::{Counters, CountingStore, Location, RejectedNames, S3Settings, Source};
use crate::table::layout::Assignment;
use crate::table::listing::{self, Leaf};
use crate::table::prefilter::{Column, Needle};
use crate::table::schema;
use manifest::Reading;

/// The tier's column for `send` (see the module comment).
const SEND: &str = "send";

/// An opened tier: where it is, and a store that counts what is read of it.
#[derive(Debug)]
pub struct Tier {
    pub location: Location,
    /// What queries read through (a local tier as a local source is read: small ranges in
    /// place, not a blocking task each).
    pub store: Arc<dyn ObjectStore>,
    /// What compaction writes through.
    pub(crate) writer: Arc<dyn ObjectStore>,
    /// The tier's folder inside `store` (an S3 prefix; empty for a local directory).
    pub root: Path,
    /// Requests made of the tier, apart from the source's.
    pub counters: Arc<Counters>,
    pub stats: Arc<TierStats>,
}

/// What one run read of the tier, for `--stats`.
#[derive(Debug, Default)]
pub struct TierStats {
    /// Folders answered from the tier's files (with any objects read raw beside them).
    pub folders: AtomicU64,
    /// Folders read raw although a tier is used: never compacted, or changed since.
    pub folders_raw: AtomicU64,
    /// Objects of tier folders read raw (late arrivals, objects with problems).
    pub objects_raw: AtomicU64,
    pub files: AtomicU64,
    /// The bytes of the files planned, and their row groups and rows, and how many of
    /// those the lookups' statistics left to read.
    pub bytes: AtomicU64,
    pub row_groups: AtomicU64,
    pub row_groups_read: AtomicU64,
    pub rows: AtomicU64,
    pub rows_read: AtomicU64,
}

impl TierStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl Tier {
    /// The same tier, with what is read through it counted apart (stats and bytes): a
    /// worker's figures for one file, to send back to the coordinator.
    pub(crate) fn counted_apart(&self) -> Tier {
        let counters = Arc::new(Counters::default());
        Tier {
            location: self.location.clone(),
            store: Arc::new(CountingStore::new(
                Arc::clone(&self.store),
                counters.clone(),
            )),
            writer: Arc::clone(&self.writer),
            root: self.root.clone(),
            counters,
            stats: Arc::default(),
        }
    }

    /// Opens the tier at `location`; `create`: make a local directory that is not there yet
    /// (compaction), else a missing one is an error (a mistyped path must not quietly
    /// turn every query into a raw scan).
    pub async fn open(location: Location, s3: &S3Settings, create: bool) -> Result<Self> {
        let refuse = |why: String| Error::Tier {
            what: format!("the Parquet tier {location}"),
            why,
        };
        let counters = Arc::new(Counters::default());
        let (reader, writer, root): (Arc<dyn ObjectStore>, Arc<dyn ObjectStore>, Path) =
            match &location {
                Location::Local(dir) => {
                    if create {
                        std::fs::create_dir_all(dir).map_err(|e| refuse(e.to_string()))?;
                    } else if !dir.is_dir() {
                        return Err(refuse(
                            "does not exist (run `seslog compact` to make it)".to_string(),
                        ));
                    }
                    let writer = object_store::local::LocalFileSystem::new_with_prefix(dir)
                        .map_err(|e| refuse(e.to_string()))?;
                    let reader = LocalTree::new(dir, RejectedNames::default())
                        .map_err(|e| refuse(e.to_string()))?;
                    (Arc::new(reader), Arc::new(writer), Path::default())
                }
                Location::S3 { bucket, prefix } => {
                    let (store, _) =
                        crate::source::s3_store(bucket, s3, &RejectedNames::default(), &counters)
                            .await?;
                    let root = Path::parse(prefix).map_err(|e| refuse(e.to_string()))?;
                    (Arc::clone(&store), store, root)
                }
            };
        Ok(Tier {
            store: Arc::new(CountingStore::new(reader, counters.clone())),
            writer,
            location,
            root,
            counters,
            stats: Arc::default(),
        })
    }

    /// The tier's folder for a folder of the source (`folder` is inside the source's store,
    /// under its root).
    pub fn folder(&self, source: &Source, folder: &Path) -> Path {
        let relative = relative(&source.root, folder);
        self.root.parts().chain(relative.parts()).collect()
    }

    /// The user-facing name of a path in the tier.
    pub fn name(&self, path: &Path) -> String {
        self.location.object_name(&relative(&self.root, path))
    }

    /// An error about something in the tier, by its name.
    fn error(&self, path: &Path, why: impl ToString) -> Error {
        Error::Tier {
            what: self.name(path),
            why: why.to_string(),
        }
    }
}

/// An object to read raw, or a tier file, with the values its folder assigned.
pub type Planned = Vec<(ObjectMeta, Assignment)>;

/// How a scan reads each of its folders: the tier's files where a folder's manifest still
/// holds (and the objects it does not hold, raw), every object raw elsewhere. A folder
/// whose stamp is the manifest's is not listed at all. Returns (objects to read raw, tier
/// files).
pub async fn readings(
    tier: &Tier,
    source: &Source,
    leaves: Vec<Leaf>,
    needles: &[Needle],
) -> DfResult<(Planned, Planned)> {
    let store = source.store.as_ref();
    let read: Vec<(Leaf, Reading, Path)> =
        stream::iter(leaves.into_iter().map(|leaf| async move {
            let folder = tier.folder(source, &leaf.prefix);
            let stored = manifest::read(tier, &folder).await?;
            let stamp = source.folder_stamp(&leaf.prefix);
            let unlisted = stored
                .as_ref()
                .and_then(|m| m.head()?.reading_unlisted(&leaf.prefix, stamp));
            let reading = match unlisted {
                Some(reading) => reading,
                None => {
                    let objects = listing::list_folder(store, source, &leaf).await?.objects;
                    match stored.and_then(|m| m.full()) {
                        Some(m) => m.reading(objects),
                        None => Reading::Raw(objects),
                    }
                }
            };
            let reading = pass_over(tier, &folder, reading, needles).await;
            Ok::<_, DataFusionError>((leaf, reading, folder))
        }))
        .buffered(32)
        .try_collect()
        .await?;
    let stats = &tier.stats;
    let (mut raw, mut files) = (Vec::new(), Vec::new());
    for (leaf, reading, folder) in read {
        match reading {
            Reading::Raw(objects) => {
                TierStats::add(&stats.folders_raw, u64::from(!objects.is_empty()));
                raw.extend(objects.into_iter().map(|o| (o, leaf.values.clone())));
            }
            Reading::Tier {
                files: in_tier,
                raw: beside,
            } => {
                TierStats::add(&stats.folders, 1);
                TierStats::add(&stats.objects_raw, beside.len() as u64);
                raw.extend(beside.into_iter().map(|o| (o, leaf.values.clone())));
                for file in in_tier {
                    TierStats::add(&stats.files, 1);
                    TierStats::add(&stats.bytes, file.size);
                    TierStats::add(&stats.row_groups, file.row_groups);
                    TierStats::add(&stats.rows, file.rows);
                    let meta = ObjectMeta {
                        location: folder
                            .parts()
                            .chain(Path::from(file.name.as_str()).parts())
                            .collect(),
                        last_modified: chrono::DateTime::UNIX_EPOCH,
                        size: file.size,
                        e_tag: None,
                        version: None,
                    };
                    files.push((meta, leaf.values.clone()));
                }
            }
        }
    }
    Ok((raw, files))
}

/// A lookup's reading of a folder without the files whose keys say they cannot hold the
/// value (counted as planned, never as read).
async fn pass_over(tier: &Tier, folder: &Path, reading: Reading, needles: &[Needle]) -> Reading {
    let Reading::Tier { files, raw } = reading else {
        return reading;
    };
    if !needles.iter().any(|n| n.column != Column::Destination) {
        return Reading::Tier { files, raw };
    }
    let mut kept = Vec::with_capacity(files.len());
    for file in files {
        let path: Path = folder
            .parts()
            .chain(Path::from(file.name.as_str()).parts())
            .collect();
        let may_hold = match keys::read(tier, &path).await {
            Some(keys) => needles.iter().all(|n| keys.may_hold(n)),
            None => true,
        };
        if may_hold {
            kept.push(file);
        } else {
            let stats = &tier.stats;
            TierStats::add(&stats.files, 1);
            TierStats::add(&stats.bytes, file.size);
            TierStats::add(&stats.row_groups, file.row_groups);
            TierStats::add(&stats.rows, file.rows);
        }
    }
    Reading::Tier { files: kept, raw }
}

/// `path` without the leading `root` (as it is when it does not start with it).
pub(crate) fn relative(root: &Path, path: &Path) -> Path {
    match path.prefix_match(root) {
        Some(parts) => parts.collect(),
        None => path.clone(),
    }
}

/// The schema of the tier's files: the table's file schema with `send` as a boolean.
pub fn storage_schema() -> SchemaRef {
    let fields: Vec<Field> = schema::file_schema()
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            SEND => Field::new(SEND, DataType::Boolean, true),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// A batch of the table's file schema as the tier stores it.
fn to_storage(batch: &RecordBatch, storage: &SchemaRef) -> DfResult<RecordBatch> {
    let columns = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| match field.name().as_str() {
            SEND => {
                // Every row that has a `send` has the empty struct: true; the others NULL.
                let present = BooleanArray::new(
                    BooleanBuffer::new_set(column.len()),
                    column.nulls().cloned(),
                );
                Arc::new(present) as ArrayRef
            }
            _ => Arc::clone(column),
        })
        .collect();
    Ok(RecordBatch::try_new(Arc::clone(storage), columns)?)
}

/// A stored column back as the table's: `send` from its boolean, a nested column with the
/// fields that were not read filled with NULLs (as a raw scan leaves them).
fn from_storage(
    name: &str,
    column: &ArrayRef,
    target: &DataType,
    nulls: &schema::NullColumns,
) -> DfResult<ArrayRef> {
    if name == SEND {
        let present = column.as_boolean();
        return Ok(Arc::new(StructArray::new_empty_fields(
            present.len(),
            present.nulls().cloned(),
        )));
    }
    schema::widen_array(column, target, nulls)
}
