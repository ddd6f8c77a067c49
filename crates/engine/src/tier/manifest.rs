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
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::tier::{Tier, relative, storage_schema};

/// The manifest's file name in each tier folder.
pub const MANIFEST: &str = "_seslog_manifest.json";
/// Bumped whenever what a compacted record holds changes meaning (how a record is decoded,
/// how a derived column is made): a manifest of another format is not used, and
/// compaction makes the folder again.
pub const FORMAT: u32 = 1;

/// One source object, as a listing describes it; `key` is relative to the source's root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    /// Last modified, in milliseconds since the epoch: a local file has no ETag, and one
    /// rewritten at the same size is still a changed object.
    pub modified: i64,
}

impl Entry {
    pub fn of(meta: &ObjectMeta, source_root: &Path) -> Self {
        Entry {
            key: relative(source_root, &meta.location).to_string(),
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// A fingerprint of the stored schema: files of another schema are not read.
    pub schema: String,
    /// The source folder, relative to the source's root (for people reading the file).
    pub folder: String,
    pub made_at: DateTime<Utc>,
    pub made_by: String,
    /// The objects whose records are in `files`.
    pub objects: Vec<Entry>,
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

impl Manifest {
    /// Whether this seslog can read what the manifest describes.
    pub fn usable(&self) -> bool {
        self.format == FORMAT && self.schema == schema_fingerprint()
    }

    /// How a query reads a folder whose listing (as of now) is `listed`.
    pub fn reading(&self, listed: Vec<ObjectMeta>, source_root: &Path) -> Reading {
        if !self.usable() {
            return Reading::Raw(listed);
        }
        let now: HashSet<Entry> = listed.iter().map(|m| Entry::of(m, source_root)).collect();
        if !self.objects.iter().all(|e| now.contains(e)) {
            return Reading::Raw(listed);
        }
        let compacted: HashSet<&Entry> = self.objects.iter().collect();
        let raw = listed
            .into_iter()
            .filter(|m| !compacted.contains(&Entry::of(m, source_root)))
            .collect();
        Reading::Tier {
            files: self.files.clone(),
            raw,
        }
    }

    /// What compacting a folder whose listing is `listed` takes, given this manifest.
    pub fn change(&self, listed: &[ObjectMeta], source_root: &Path) -> Change {
        if !self.usable() {
            return Change::Rebuild;
        }
        let now: HashMap<Entry, &ObjectMeta> = listed
            .iter()
            .map(|m| (Entry::of(m, source_root), m))
            .collect();
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
            .filter(|m| !known.contains(&Entry::of(m, source_root)))
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
pub async fn read(tier: &Tier, folder: &Path) -> Result<Option<Manifest>> {
    let path: Path = folder.parts().chain(Path::from(MANIFEST).parts()).collect();
    let got = match tier.store.get(&path).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(tier.error(&path, e)),
    };
    let bytes = got.bytes().await.map_err(|e| tier.error(&path, e))?;
    Ok(serde_json::from_slice(&bytes).ok())
}

/// Puts the folder's manifest in place (one put: it is there whole or not at all).
pub async fn write(tier: &Tier, folder: &Path, manifest: &Manifest) -> Result<()> {
    let path: Path = folder.parts().chain(Path::from(MANIFEST).parts()).collect();
    let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| tier.error(&path, e))?;
    tier.store
        .put(&path, PutPayload::from(bytes))
        .await
        .map_err(|e| tier.error(&path, e))?;
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
        let root = Path::default();
        Manifest {
            format: FORMAT,
            schema: schema_fingerprint(),
            folder: "partitioned/Bounce/2024/11/05".into(),
            made_at: Utc::now(),
            made_by: "test".into(),
            objects: objects.iter().map(|m| Entry::of(m, &root)).collect(),
            raw: raw
                .iter()
                .map(|m| RawEntry {
                    entry: Entry::of(m, &root),
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
        let root = Path::default();
        let (a, b, bad, late) = (meta("a", 1), meta("b", 2), meta("bad", 3), meta("late", 4));
        let m = manifest(&[a.clone(), b.clone()], std::slice::from_ref(&bad));
        let listed = vec![a.clone(), b.clone(), bad.clone(), late.clone()];
        assert_eq!(
            m.reading(listed.clone(), &root),
            Reading::Tier {
                files: m.files.clone(),
                raw: vec![bad.clone(), late.clone()]
            }
        );
        // `b` rewritten (new size and ETag), or gone: every object raw.
        let changed = vec![a.clone(), meta("b", 5), bad.clone()];
        assert_eq!(m.reading(changed.clone(), &root), Reading::Raw(changed));
        assert_eq!(
            m.reading(vec![a.clone()], &root),
            Reading::Raw(vec![a.clone()])
        );
        let mut touched = b.clone();
        touched.last_modified += chrono::Duration::seconds(1);
        touched.e_tag = None;
        let listed2 = vec![a.clone(), touched];
        assert_eq!(m.reading(listed2.clone(), &root), Reading::Raw(listed2));
        let mut other = m.clone();
        other.format += 1;
        assert_eq!(
            other.reading(listed.clone(), &root),
            Reading::Raw(listed.clone())
        );
    }

    #[test]
    fn compaction_appends_late_objects_and_rebuilds_changed_folders() {
        let root = Path::default();
        let (a, b, bad, late) = (meta("a", 1), meta("b", 2), meta("bad", 3), meta("late", 4));
        let m = manifest(&[a.clone(), b.clone()], std::slice::from_ref(&bad));
        assert_eq!(
            m.change(&[a.clone(), b.clone(), bad.clone()], &root),
            Change::None
        );
        assert_eq!(
            m.change(&[a.clone(), b.clone(), bad.clone(), late.clone()], &root),
            Change::Append {
                new: vec![late.clone()],
                still_raw: m.raw.clone()
            }
        );
        // The damaged object was replaced: it is new again.
        let fixed = meta("bad", 30);
        assert_eq!(
            m.change(&[a.clone(), b.clone(), fixed.clone()], &root),
            Change::Append {
                new: vec![fixed],
                still_raw: vec![]
            }
        );
        assert_eq!(m.change(&[a.clone(), meta("b", 9)], &root), Change::Rebuild);
        let mut full = m.clone();
        full.files = vec![m.files[0].clone(); MAX_FILES];
        assert_eq!(full.change(&[a, b, bad, late], &root), Change::Rebuild);
    }
}
