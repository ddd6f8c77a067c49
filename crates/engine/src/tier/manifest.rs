//! A tier folder's manifest: which source objects its Parquet files were made from (key,
//! size, ETag, modification time), which objects of the folder were left raw and why, and
//! the files. It is written last, in one put, after the files it names are complete: a
//! compaction stopped at any point leaves either the old manifest or the new one, never a
//! manifest naming a half-written file.
//!
//! A query uses a folder's files only while every object they were made from is still in
//! the folder's listing, unchanged; everything else the listing holds (objects that arrived
//! after compaction, objects left raw) is read raw beside them. So the answer is the raw
//! objects' answer, whatever happened to the bucket since.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt, PutPayload};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::tier::{Tier, storage_schema};

/// The manifest's file name in each tier folder (see `Stored` for its layout: a line of
/// JSON, then the object list gzipped, as a folder's objects share most of their names).
pub const MANIFEST: &str = "_seslog_manifest";
/// Bumped whenever what a compacted record holds changes meaning (how a record is decoded,
/// how a derived column is made): a manifest of another format is not used, and
/// compaction makes the folder again.
pub const FORMAT: u32 = 1;

/// One source object of the folder, as a listing describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// Its name in the folder.
    pub name: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    /// Last modified, in milliseconds since the epoch: a local file has no ETag, and one
    /// rewritten at the same size is still a changed object.
    pub modified: i64,
}

impl Entry {
    pub fn of(meta: &ObjectMeta) -> Self {
        Entry {
            name: meta.location.filename().unwrap_or_default().to_string(),
            size: meta.size,
            e_tag: meta.e_tag.clone(),
            modified: meta.last_modified.timestamp_millis(),
        }
    }
}

/// An object of the folder that is not in the files: it could not be read cleanly, so it
/// is read raw by every query (which then reports it exactly as a raw scan does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEntry {
    #[serde(flatten)]
    pub entry: Entry,
    /// What compaction found wrong with it (the first problems, as a scan names them).
    pub problems: Vec<String>,
}

/// One Parquet file of the folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The file's name in the tier folder.
    pub name: String,
    pub size: u64,
    pub rows: u64,
    pub row_groups: u64,
}

/// `O` is the object list: `Vec<Entry>`, or `IgnoredAny` for a query that only needs the
/// rest (a folder whose stamp stands for its listing never looks at the list, the bulk of
/// the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest<O = Vec<Entry>> {
    pub format: u32,
    /// A fingerprint of the stored schema: files of another schema are not read.
    pub schema: String,
    /// The source folder, relative to the source's root (for people reading the file).
    pub folder: String,
    pub made_at: DateTime<Utc>,
    pub made_by: String,
    /// The source folder's stamp (`Source::folder_stamp`) when it was listed for this
    /// manifest: while the folder's stamp is the same, its names are the same, and a query
    /// need not list it (a local folder of thousands of objects costs a `stat` each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<i64>,
    /// The objects whose records are in `files`.
    pub objects: O,
    pub raw: Vec<RawEntry>,
    pub files: Vec<FileEntry>,
}

/// What the tier's files of a folder hold; the stored schema's fingerprint.
pub fn schema_fingerprint() -> String {
    let digest = Sha256::digest(format!("{:?}", storage_schema()).as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// How a query reads one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The tier's files, and the objects of the listing they do not hold, raw.
    Tier {
        files: Vec<FileEntry>,
        raw: Vec<ObjectMeta>,
    },
    /// Every object of the listing, raw: no usable manifest, or a compacted object is gone
    /// or changed.
    Raw(Vec<ObjectMeta>),
}

/// What compaction has to do for one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Every object is in the manifest as it is now.
    None,
    /// The compacted objects are all as they were: decode `new` into one more file, keep
    /// the objects left raw that are `still_raw`.
    Append {
        new: Vec<ObjectMeta>,
        still_raw: Vec<RawEntry>,
    },
    /// Make the folder again from every object.
    Rebuild,
}

/// Folders that have been appended to this often are made again whole, into one file.
const MAX_FILES: usize = 4;

impl<O> Manifest<O> {
    /// Whether this seslog can read what the manifest describes.
    pub fn usable(&self) -> bool {
        self.format == FORMAT && self.schema == schema_fingerprint()
    }

    /// How a query reads the folder `folder` (in the source's store) when its stamp is the
    /// one this manifest was made with: the files, and the objects left raw, as the
    /// manifest describes them (`None` when the stamps differ: list the folder).
    pub fn reading_unlisted(&self, folder: &Path, stamp: Option<i64>) -> Option<Reading> {
        if !self.usable() || stamp.is_none() || self.stamp != stamp {
            return None;
        }
        let raw = self
            .raw
            .iter()
            .map(|r| ObjectMeta {
                location: folder
                    .parts()
                    .chain(Path::from(r.entry.name.as_str()).parts())
                    .collect(),
                last_modified: DateTime::from_timestamp_millis(r.entry.modified)
                    .unwrap_or_default(),
                size: r.entry.size,
                e_tag: r.entry.e_tag.clone(),
                version: None,
            })
            .collect();
        Some(Reading::Tier {
            files: self.files.clone(),
            raw,
        })
    }
}

impl Manifest {
    /// How a query reads a folder whose listing (as of now) is `listed`.
    pub fn reading(&self, listed: Vec<ObjectMeta>) -> Reading {
        if !self.usable() {
            return Reading::Raw(listed);
        }
        let now: HashSet<Entry> = listed.iter().map(Entry::of).collect();
        if !self.objects.iter().all(|e| now.contains(e)) {
            return Reading::Raw(listed);
        }
        let compacted: HashSet<&Entry> = self.objects.iter().collect();
        let raw = listed
            .into_iter()
            .filter(|m| !compacted.contains(&Entry::of(m)))
            .collect();
        Reading::Tier {
            files: self.files.clone(),
            raw,
        }
    }

    /// What compacting a folder whose listing is `listed` takes, given this manifest.
    pub fn change(&self, listed: &[ObjectMeta]) -> Change {
        if !self.usable() {
            return Change::Rebuild;
        }
        let now: HashMap<Entry, &ObjectMeta> = listed.iter().map(|m| (Entry::of(m), m)).collect();
        if !self.objects.iter().all(|e| now.contains_key(e)) {
            return Change::Rebuild;
        }
        let known: HashSet<&Entry> = self
            .objects
            .iter()
            .chain(self.raw.iter().map(|r| &r.entry))
            .collect();
        let still_raw: Vec<RawEntry> = self
            .raw
            .iter()
            .filter(|r| now.contains_key(&r.entry))
            .cloned()
            .collect();
        let new: Vec<ObjectMeta> = listed
            .iter()
            .filter(|m| !known.contains(&Entry::of(m)))
            .cloned()
            .collect();
        if new.is_empty() && still_raw.len() == self.raw.len() {
            return Change::None;
        }
        if !new.is_empty() && self.files.len() >= MAX_FILES {
            return Change::Rebuild;
        }
        Change::Append { new, still_raw }
    }
}

/// The folder's manifest in the tier, if there is one it can read. A manifest that cannot
/// be parsed is as good as none (the folder is read raw and made again); one that cannot
/// be fetched is an error.
pub async fn read(tier: &Tier, folder: &Path) -> Result<Option<Stored>> {
    let path: Path = folder.parts().chain(Path::from(MANIFEST).parts()).collect();
    let got = match tier.store.get(&path).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(tier.error(&path, e)),
    };
    let bytes = got.bytes().await.map_err(|e| tier.error(&path, e))?;
    Ok(Some(Stored { bytes }))
}

/// A manifest as fetched, parsed as far as the reader needs. The file is the manifest
/// without its object list, as one line of JSON, then the object list as gzipped JSON: a
/// query whose folders' stamps stand for their listings reads the line alone.
#[derive(Debug)]
pub struct Stored {
    bytes: bytes::Bytes,
}

impl Stored {
    fn parts(&self) -> Option<(&[u8], &[u8])> {
        let end = memchr::memchr(b'\n', &self.bytes)?;
        Some((&self.bytes[..end], &self.bytes[end + 1..]))
    }

    /// All but the object list.
    pub fn head(&self) -> Option<Manifest<IgnoredAny>> {
        serde_json::from_slice(self.parts()?.0).ok()
    }

    pub fn full(&self) -> Option<Manifest> {
        let (head, objects) = self.parts()?;
        let head: Manifest<IgnoredAny> = serde_json::from_slice(head).ok()?;
        // Inflated whole, then parsed: serde_json reads a reader a byte at a time.
        let mut json = Vec::with_capacity(objects.len() * 8);
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(objects), &mut json).ok()?;
        Some(head.with_objects(serde_json::from_slice(&json).ok()?))
    }
}

impl<O> Manifest<O> {
    fn with_objects<P>(self, objects: P) -> Manifest<P> {
        Manifest {
            format: self.format,
            schema: self.schema,
            folder: self.folder,
            made_at: self.made_at,
            made_by: self.made_by,
            stamp: self.stamp,
            objects,
            raw: self.raw,
            files: self.files,
        }
    }
}

/// A manifest as `Stored` reads it.
fn encode(manifest: &Manifest) -> std::io::Result<Vec<u8>> {
    let head = manifest.clone().with_objects(());
    let mut bytes = serde_json::to_vec(&head)?;
    bytes.push(b'\n');
    let mut gz = flate2::write::GzEncoder::new(bytes, flate2::Compression::default());
    serde_json::to_writer(&mut gz, &manifest.objects)?;
    gz.finish()
}

/// Puts the folder's manifest in place (one put: it is there whole or not at all).
pub async fn write(tier: &Tier, folder: &Path, manifest: &Manifest) -> Result<()> {
    let path: Path = folder.parts().chain(Path::from(MANIFEST).parts()).collect();
    let failed = |e: &dyn std::fmt::Display| tier.error(&path, e);
    let bytes = encode(manifest).map_err(|e| failed(&e))?;
    tier.writer
        .put(&path, PutPayload::from(bytes))
        .await
        .map_err(|e| failed(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, size: u64) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(key),
            last_modified: DateTime::from_timestamp_millis(1_730_000_000_000).unwrap(),
            size,
            e_tag: Some(format!("\"{key}-{size}\"")),
            version: None,
        }
    }

    fn manifest(objects: &[ObjectMeta], raw: &[ObjectMeta]) -> Manifest {
        Manifest {
            format: FORMAT,
            schema: schema_fingerprint(),
            folder: "partitioned/Bounce/2024/11/05".into(),
            made_at: Utc::now(),
            made_by: "test".into(),
            stamp: Some(7),
            objects: objects.iter().map(Entry::of).collect(),
            raw: raw
                .iter()
                .map(|m| RawEntry {
                    entry: Entry::of(m),
                    problems: vec!["damaged".into()],
                })
                .collect(),
            files: vec![FileEntry {
                name: "part-1.parquet".into(),
                size: 10,
                rows: 2,
                row_groups: 1,
            }],
        }
    }

    #[test]
    fn files_are_read_only_while_every_compacted_object_is_unchanged() {
        let (a, b, bad, late) = (meta("a", 1), meta("b", 2), meta("bad", 3), meta("late", 4));
        let m = manifest(&[a.clone(), b.clone()], std::slice::from_ref(&bad));
        let listed = vec![a.clone(), b.clone(), bad.clone(), late.clone()];
        assert_eq!(
            m.reading(listed.clone()),
            Reading::Tier {
                files: m.files.clone(),
                raw: vec![bad.clone(), late.clone()]
            }
        );
        // `b` rewritten (new size and ETag), or gone: every object raw.
        let changed = vec![a.clone(), meta("b", 5), bad.clone()];
        assert_eq!(m.reading(changed.clone()), Reading::Raw(changed));
        assert_eq!(m.reading(vec![a.clone()]), Reading::Raw(vec![a.clone()]));
        let mut touched = b.clone();
        touched.last_modified += chrono::Duration::seconds(1);
        touched.e_tag = None;
        let listed2 = vec![a.clone(), touched];
        assert_eq!(m.reading(listed2.clone()), Reading::Raw(listed2));
        let mut other = m.clone();
        other.format += 1;
        assert_eq!(other.reading(listed.clone()), Reading::Raw(listed.clone()));
    }

    #[test]
    fn a_stored_manifest_reads_back_whole_or_without_its_objects() {
        let m = manifest(&[meta("a", 1), meta("b", 2)], &[meta("bad", 3)]);
        let stored = Stored {
            bytes: encode(&m).unwrap().into(),
        };
        assert_eq!(stored.full(), Some(m.clone()));
        let head = stored.head().expect("a head");
        assert_eq!(head.files, m.files);
        assert_eq!(head.raw, m.raw);
        assert_eq!(head.stamp, m.stamp);
        let cut = Stored {
            bytes: encode(&m).unwrap()[..40].to_vec().into(),
        };
        assert_eq!(cut.full(), None);
    }

    #[test]
    fn an_unchanged_stamp_stands_for_the_listing() {
        let (a, bad) = (meta("a", 1), meta("x/bad", 3));
        let m = manifest(&[a], std::slice::from_ref(&bad));
        let folder = Path::from("x");
        assert_eq!(
            m.reading_unlisted(&folder, Some(7)),
            Some(Reading::Tier {
                files: m.files.clone(),
                raw: vec![bad]
            })
        );
        assert_eq!(m.reading_unlisted(&folder, Some(8)), None);
        assert_eq!(m.reading_unlisted(&folder, None), None);
        let mut unstamped = m.clone();
        unstamped.stamp = None;
        assert_eq!(unstamped.reading_unlisted(&folder, None), None);
    }

    #[test]
    fn compaction_appends_late_objects_and_rebuilds_changed_folders() {
        let (a, b, bad, late) = (meta("a", 1), meta("b", 2), meta("bad", 3), meta("late", 4));
        let m = manifest(&[a.clone(), b.clone()], std::slice::from_ref(&bad));
        assert_eq!(m.change(&[a.clone(), b.clone(), bad.clone()]), Change::None);
        assert_eq!(
            m.change(&[a.clone(), b.clone(), bad.clone(), late.clone()]),
            Change::Append {
                new: vec![late.clone()],
                still_raw: m.raw.clone()
            }
        );
        // The damaged object was replaced: it is new again.
        let fixed = meta("bad", 30);
        assert_eq!(
            m.change(&[a.clone(), b.clone(), fixed.clone()]),
            Change::Append {
                new: vec![fixed],
                still_raw: vec![]
            }
        );
        assert_eq!(m.change(&[a.clone(), meta("b", 9)]), Change::Rebuild);
        let mut full = m.clone();
        full.files = vec![m.files[0].clone(); MAX_FILES];
        assert_eq!(full.change(&[a, b, bad, late]), Change::Rebuild);
    }
}
