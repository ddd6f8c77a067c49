//! A local copy of what was fetched from S3. A Firehose object never changes once written,
//! so an object fetched once (keyed by bucket, key, size and ETag: a rewritten object is
//! another entry) is read from disk ever after. Folder listings are kept too; a folder's
//! listing is used instead of a LIST only once the folder can no longer change (its time
//! ended more than `LATE_DELIVERY` before the listing was made), and by `--offline` always.
//!
//! Two seslog processes may share a cache, and either may be killed at any point: an entry is
//! written to a file of its own under `tmp/` and renamed into place only when all of it is
//! there, so no one ever reads half an entry. Each entry starts with a line naming what it
//! holds (checked on every read, so a hash collision or a stray file is a miss, never another
//! object's bytes). Least recently used entries (by modification time, touched on each hit)
//! are removed when the cache grows past its cap.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ListResult, ObjectMeta};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The cap when none is given.
pub const DEFAULT_MAX_BYTES: u64 = 4_000_000_000;

/// Firehose retries a failed delivery to S3 for up to 24 hours, and names an object by the
/// arrival of its oldest record: a folder can still gain objects that long after its time
/// has ended (plus the buffering interval). Its listing is final only after this.
pub const LATE_DELIVERY: Duration = Duration::from_secs(26 * 3600);

/// Where the cache is and how large it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    pub dir: PathBuf,
    pub max_bytes: u64,
}

/// What is in the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub objects: u64,
    /// Bytes of the cached objects' entries, as they take on disk (file sizes).
    pub object_bytes: u64,
    pub listings: u64,
}

/// A folder's listing as it was when it was made.
#[derive(Debug)]
pub struct CachedListing {
    pub listing: ListResult,
    pub fetched_at: DateTime<Utc>,
}

impl CachedListing {
    /// Whether the folder could still change when this listing was made, given the time
    /// its contents end (`None`: a folder not bounded in time, which can always change).
    pub fn is_final(&self, closes_at: Option<DateTime<Utc>>) -> bool {
        let late = chrono::Duration::from_std(LATE_DELIVERY).expect("a day and a bit");
        closes_at.is_some_and(|end| self.fetched_at >= end + late)
    }
}

#[derive(Debug)]
pub struct ObjectCache {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes of object entries, counted on the first write of this run and kept up to date
    /// by this process's own writes and removals.
    used: Mutex<Option<u64>>,
    seq: AtomicU64,
}

/// The first line of an object entry.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct EntryHeader {
    bucket: String,
    key: String,
    size: u64,
    e_tag: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ListingFile {
    bucket: String,
    prefix: String,
    /// Microseconds since the epoch (chrono's serde support is not built in).
    fetched_at: i64,
    objects: Vec<ListedObject>,
    prefixes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ListedObject {
    key: String,
    size: u64,
    e_tag: Option<String>,
    /// Microseconds since the epoch.
    last_modified: i64,
    version: Option<String>,
}

const OBJECTS: &str = "objects";
const LISTINGS: &str = "listings";
const TMP: &str = "tmp";
/// A temporary file this old was left by a process that died: removed when trimming.
const STALE_TMP: Duration = Duration::from_secs(24 * 3600);

impl ObjectCache {
    /// Opens (creating it if need be) the cache at `settings.dir`.
    pub fn open(settings: &CacheSettings) -> io::Result<Self> {
        for sub in [OBJECTS, LISTINGS, TMP] {
            fs::create_dir_all(settings.dir.join(sub))?;
        }
        // A cache that cannot be written to is found out now, not on the first object.
        let probe = settings
            .dir
            .join(TMP)
            .join(format!("probe-{}", std::process::id()));
        fs::write(&probe, b"")?;
        fs::remove_file(&probe)?;
        Ok(Self {
            dir: settings.dir.clone(),
            max_bytes: settings.max_bytes,
            used: Mutex::new(None),
            seq: AtomicU64::new(0),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn header(bucket: &str, meta: &ObjectMeta) -> EntryHeader {
        EntryHeader {
            bucket: bucket.to_string(),
            key: meta.location.to_string(),
            size: meta.size,
            e_tag: meta.e_tag.clone(),
        }
    }

    fn object_path(&self, header: &EntryHeader) -> PathBuf {
        let line = serde_json::to_string(header).expect("a header serialises");
        hashed(&self.dir.join(OBJECTS), &line)
    }

    /// The object as it was cached, when an entry for exactly this bucket, key, size and
    /// ETag is there and whole.
    pub fn get_object(&self, bucket: &str, meta: &ObjectMeta) -> Option<Bytes> {
        let want = Self::header(bucket, meta);
        let mut file = fs::File::open(self.object_path(&want)).ok()?;
        let stat = file.metadata().ok()?;
        let mut data = Vec::with_capacity(stat.len() as usize);
        file.read_to_end(&mut data).ok()?;
        let end = memchr::memchr(b'\n', &data)?;
        let header: EntryHeader = serde_json::from_slice(&data[..end]).ok()?;
        if header != want || (data.len() - end - 1) as u64 != meta.size {
            return None;
        }
        // Recently used: eviction goes by modification time, set through the descriptor
        // already open for reading (reopening it to write cost a fifth of a cached scan).
        let _ = file.set_modified(SystemTime::now());
        Some(Bytes::from(data).slice(end + 1..))
    }

    /// Keeps `bytes` as the object `meta` names (the caller has checked that they are).
    pub fn put_object(&self, bucket: &str, meta: &ObjectMeta, bytes: &[u8]) -> io::Result<()> {
        let header = Self::header(bucket, meta);
        let mut line = serde_json::to_vec(&header).expect("a header serialises");
        line.push(b'\n');
        let path = self.object_path(&header);
        let written = self.write_entry(&path, &[&line, bytes])?;
        self.account(written as i64)
    }

    /// The listing of `prefix` last made, if any.
    pub fn get_listing(&self, bucket: &str, prefix: &ObjectPath) -> Option<CachedListing> {
        let path = self.listing_path(bucket, prefix);
        let file: ListingFile = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
        if file.bucket != bucket || file.prefix != prefix.as_ref() {
            return None;
        }
        // Keys are kept as the listing gave them (`Path`'s own form): parsed back as they
        // are, never encoded again (`Path::from` would turn a `%` or `{` in a key into
        // another key). One that does not parse makes the listing a miss.
        let objects = file
            .objects
            .into_iter()
            .map(|o| {
                Some(ObjectMeta {
                    location: ObjectPath::parse(o.key).ok()?,
                    last_modified: DateTime::from_timestamp_micros(o.last_modified)
                        .unwrap_or_default(),
                    size: o.size,
                    e_tag: o.e_tag,
                    version: o.version,
                })
            })
            .collect::<Option<_>>()?;
        let common_prefixes = file
            .prefixes
            .into_iter()
            .map(|p| ObjectPath::parse(p).ok())
            .collect::<Option<_>>()?;
        Some(CachedListing {
            listing: ListResult {
                common_prefixes,
                objects,
            },
            fetched_at: DateTime::from_timestamp_micros(file.fetched_at)?,
        })
    }

    /// Keeps the listing of `prefix` made at `fetched_at`.
    pub fn put_listing(
        &self,
        bucket: &str,
        prefix: &ObjectPath,
        listing: &ListResult,
        fetched_at: DateTime<Utc>,
    ) -> io::Result<()> {
        let file = ListingFile {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            fetched_at: fetched_at.timestamp_micros(),
            objects: listing
                .objects
                .iter()
                .map(|o| ListedObject {
                    key: o.location.to_string(),
                    size: o.size,
                    e_tag: o.e_tag.clone(),
                    last_modified: o.last_modified.timestamp_micros(),
                    version: o.version.clone(),
                })
                .collect(),
            prefixes: listing
                .common_prefixes
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        let text = serde_json::to_vec(&file).expect("a listing serialises");
        let path = self.listing_path(bucket, prefix);
        self.write_entry(&path, &[&text]).map(|_| ())
    }

    fn listing_path(&self, bucket: &str, prefix: &ObjectPath) -> PathBuf {
        hashed(&self.dir.join(LISTINGS), &format!("{bucket}\n{prefix}"))
    }

    /// Writes the parts to a temporary file and renames it to `path` once complete; the
    /// bytes written.
    fn write_entry(&self, path: &Path, parts: &[&[u8]]) -> io::Result<u64> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(TMP)
            .join(format!("{}-{n}", std::process::id()));
        let result = (|| {
            let mut file = fs::File::create(&tmp)?;
            for part in parts {
                file.write_all(part)?;
            }
            let want: u64 = parts.iter().map(|p| p.len() as u64).sum();
            if file.metadata()?.len() != want {
                return Err(io::Error::other("the entry was not written whole"));
            }
            if let Some(folder) = path.parent() {
                fs::create_dir_all(folder)?;
            }
            fs::rename(&tmp, path)?;
            Ok(want)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Adds `delta` bytes to what the cache holds, and trims it when past its cap.
    fn account(&self, delta: i64) -> io::Result<()> {
        let mut used = self.used.lock().expect("cache lock");
        let now = match *used {
            Some(n) => n.saturating_add_signed(delta),
            // Counted once per run, on the first write (reads alone never walk the cache).
            None => self.usage()?.object_bytes,
        };
        *used = Some(now);
        if now > self.max_bytes {
            // Down to nine tenths, so that every later write does not trim again.
            *used = Some(self.trim(self.max_bytes / 10 * 9)?);
        }
        Ok(())
    }

    /// Removes least recently used entries until at most `target` bytes are left; what is
    /// left.
    fn trim(&self, target: u64) -> io::Result<u64> {
        let mut entries = Vec::new();
        walk(&self.dir.join(OBJECTS), &mut |path, meta| {
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            entries.push((used, meta.len(), path.to_path_buf()));
        })?;
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= target {
                break;
            }
            // Another process may have removed it first: gone either way.
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        let stale = SystemTime::now() - STALE_TMP;
        walk(&self.dir.join(TMP), &mut |path, meta| {
            if meta.modified().is_ok_and(|m| m < stale) {
                let _ = fs::remove_file(path);
            }
        })?;
        Ok(total)
    }

    /// What the cache holds now.
    pub fn usage(&self) -> io::Result<Usage> {
        let mut usage = Usage::default();
        walk(&self.dir.join(OBJECTS), &mut |_, meta| {
            usage.objects += 1;
            usage.object_bytes += meta.len();
        })?;
        walk(&self.dir.join(LISTINGS), &mut |_, _| usage.listings += 1)?;
        Ok(usage)
    }

    /// Removes every entry; what was removed.
    pub fn clear(&self) -> io::Result<Usage> {
        let usage = self.usage()?;
        for sub in [OBJECTS, LISTINGS, TMP] {
            let path = self.dir.join(sub);
            match fs::remove_dir_all(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => fs::create_dir_all(&path)?,
            }
        }
        *self.used.lock().expect("cache lock") = Some(0);
        Ok(usage)
    }
}

/// `root/ab/cdef...`: the SHA-256 of `name`, two levels deep so no folder gets huge.
fn hashed(root: &Path, name: &str) -> PathBuf {
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    root.join(&hex[..2]).join(&hex[2..])
}

/// Calls `f` for every file under `dir` (missing folders and files that vanish meanwhile
/// are skipped: another process may be trimming).
fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &fs::Metadata)) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let Ok(entry) = entry else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            walk(&entry.path(), f)?;
        } else {
            f(&entry.path(), &meta);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, size: u64, e_tag: &str) -> ObjectMeta {
        ObjectMeta {
            location: ObjectPath::from(key),
            last_modified: DateTime::from_timestamp(1_730_000_000, 0).unwrap(),
            size,
            e_tag: Some(e_tag.to_string()),
            version: None,
        }
    }

    fn cache(dir: &Path, max_bytes: u64) -> ObjectCache {
        ObjectCache::open(&CacheSettings {
            dir: dir.to_path_buf(),
            max_bytes,
        })
        .unwrap()
    }

    #[test]
    fn an_entry_is_found_only_by_its_bucket_key_size_and_etag() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), 1 << 20);
        let m = meta("partitioned/Send/2024/11/05/a.gz", 5, "\"e1\"");
        c.put_object("b", &m, b"hello").unwrap();
        assert_eq!(c.get_object("b", &m).as_deref(), Some(&b"hello"[..]));
        assert_eq!(c.get_object("other", &m), None);
        assert_eq!(
            c.get_object("b", &meta("partitioned/Send/2024/11/05/a.gz", 5, "\"e2\"")),
            None
        );
        assert_eq!(
            c.get_object("b", &meta("partitioned/Send/2024/11/05/a.gz", 6, "\"e1\"")),
            None
        );
        assert_eq!(
            c.get_object("b", &meta("partitioned/Send/2024/11/05/b.gz", 5, "\"e1\"")),
            None
        );
        let usage = c.usage().unwrap();
        assert_eq!((usage.objects, usage.listings), (1, 0));
        // Nothing is left behind in tmp/.
        assert_eq!(fs::read_dir(dir.path().join(TMP)).unwrap().count(), 0);
    }

    #[test]
    fn a_damaged_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), 1 << 20);
        let m = meta("k", 5, "\"e\"");
        c.put_object("b", &m, b"hello").unwrap();
        let path = c.object_path(&ObjectCache::header("b", &m));
        let mut text = fs::read(&path).unwrap();
        text.pop();
        fs::write(&path, &text).unwrap();
        assert_eq!(c.get_object("b", &m), None);
        fs::write(&path, b"not an entry").unwrap();
        assert_eq!(c.get_object("b", &m), None);
    }

    #[test]
    fn least_recently_used_entries_go_first_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), 3_000);
        let body = vec![b'x'; 900];
        let m = |i: u64| meta(&format!("k{i}"), 900, "\"e\"");
        for i in 0..3 {
            c.put_object("b", &m(i), &body).unwrap();
            // Modification times a second apart, oldest first; k0 then used again.
            let path = c.object_path(&ObjectCache::header("b", &m(i)));
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 + i);
            fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(at)
                .unwrap();
        }
        assert!(c.get_object("b", &m(0)).is_some());
        // A fourth entry passes 3,000 bytes: trimmed to 2,700, so two go, k1 and k2.
        c.put_object("b", &m(3), &body).unwrap();
        let left: Vec<bool> = (0..4).map(|i| c.get_object("b", &m(i)).is_some()).collect();
        assert_eq!(left, vec![true, false, false, true]);
        assert_eq!(c.usage().unwrap().objects, 2);
    }

    #[test]
    fn listings_round_trip_and_are_final_only_after_late_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), 1 << 20);
        let prefix = ObjectPath::from("partitioned/Bounce/2024/11/05");
        let listing = ListResult {
            common_prefixes: vec![ObjectPath::from("partitioned/Bounce/2024/11/05/x")],
            objects: vec![meta("partitioned/Bounce/2024/11/05/a.gz", 10, "\"e\"")],
        };
        let day_end = DateTime::parse_from_rfc3339("2024-11-06T00:00:00Z")
            .unwrap()
            .to_utc();
        c.put_listing("b", &prefix, &listing, day_end + chrono::Duration::hours(2))
            .unwrap();
        let got = c.get_listing("b", &prefix).unwrap();
        assert_eq!(got.listing.objects, listing.objects);
        assert_eq!(got.listing.common_prefixes, listing.common_prefixes);
        assert!(!got.is_final(Some(day_end)));
        assert!(!got.is_final(None));
        c.put_listing(
            "b",
            &prefix,
            &listing,
            day_end + chrono::Duration::hours(27),
        )
        .unwrap();
        assert!(c.get_listing("b", &prefix).unwrap().is_final(Some(day_end)));
        assert!(c.get_listing("other", &prefix).is_none());
        // A key with characters object_store keeps percent-encoded comes back as the same key.
        let odd = ListResult {
            common_prefixes: vec![ObjectPath::parse("p/a%20b{1}").unwrap()],
            objects: vec![ObjectMeta {
                location: ObjectPath::parse("p/x%25y^{z}.gz").unwrap(),
                ..meta("unused", 3, "\"e\"")
            }],
        };
        c.put_listing("b", &prefix, &odd, day_end).unwrap();
        let back = c.get_listing("b", &prefix).unwrap().listing;
        assert_eq!(back.objects, odd.objects);
        assert_eq!(back.common_prefixes, odd.common_prefixes);
        let cleared = c.clear().unwrap();
        assert_eq!(cleared.listings, 1);
        assert!(c.get_listing("b", &prefix).is_none());
    }
}
