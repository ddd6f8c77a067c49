//! A local directory as an object store. Listings and GETs are our own, not
//! `LocalFileSystem`'s, because that one fails a whole folder on a single name it cannot
//! represent (not UTF-8, a control character), silently skips names like `x.gz#1` and
//! refuses to open them, and follows symbolic links out of the tree. Here such a name is
//! left out of the listing and recorded in `RejectedNames` (the caller names it), a link
//! is followed only when it points inside the source, and every other name is read.
//! seslog never writes to a source: writes are refused.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::{Path, PathPart};
use object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::source::rejected::RejectedNames;

#[derive(Debug)]
pub struct LocalTree {
    folders: Folders,
}

/// What a listing needs, cheap to move to a blocking thread.
#[derive(Debug, Clone)]
struct Folders {
    /// The source directory, canonical (symbolic links resolved).
    root: PathBuf,
    rejected: RejectedNames,
}

impl LocalTree {
    pub fn new(dir: &std::path::Path, rejected: RejectedNames) -> object_store::Result<Self> {
        let root = dir.canonicalize().map_err(|e| generic(e.into()))?;
        Ok(Self {
            folders: Folders { root, rejected },
        })
    }
}

impl Folders {
    fn file_path(&self, location: &Path) -> PathBuf {
        let mut path = self.root.clone();
        path.extend(location.parts().map(|p| p.as_ref().to_string()));
        path
    }

    fn reject(&self, location: String, why: String) {
        self.rejected
            .lock()
            .expect("rejected names lock")
            .insert(location, why);
    }

    /// One folder, as S3 answers a delimited LIST: its files and its sub-folders.
    fn list_folder(&self, prefix: &Path) -> object_store::Result<ListResult> {
        let dir = self.file_path(prefix);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // A folder that is not there holds nothing, as on S3.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ListResult {
                    common_prefixes: Vec::new(),
                    objects: Vec::new(),
                });
            }
            Err(e) => return Err(io_error(&dir, e)),
        };
        let mut common_prefixes = Vec::new();
        let mut objects = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&dir, e))?;
            let raw_name = entry.file_name();
            // How a rejected entry is named (made only for those: thousands are listed).
            let shown = || {
                format!("{prefix}/{}", raw_name.to_string_lossy())
                    .trim_start_matches('/')
                    .to_string()
            };
            let Some(name) = raw_name.to_str() else {
                self.reject(shown(), "its name is not valid UTF-8".into());
                continue;
            };
            let part = match PathPart::parse(name) {
                Ok(part) => part,
                Err(_) => {
                    let why = match name.chars().find(|c| c.is_control()) {
                        Some(c) => {
                            format!("its name holds a control character (U+{:04X})", c as u32)
                        }
                        None => "its name cannot be a path segment".to_string(),
                    };
                    self.reject(shown(), why);
                    continue;
                }
            };
            // The entry's own metadata, as `symlink_metadata` gives it: fstatat relative to
            // the open directory, not a walk of the whole path per object (a listing of
            // thousands of objects spent most of its time walking paths).
            let metadata = match entry.metadata() {
                Ok(m) if m.file_type().is_symlink() => match self.inside(&entry.path()) {
                    Ok(m) => m,
                    Err(why) => {
                        self.reject(shown(), why);
                        continue;
                    }
                },
                Ok(m) => m,
                Err(e) => return Err(io_error(&entry.path(), e)),
            };
            let location = prefix.clone().join(part);
            if metadata.is_dir() {
                common_prefixes.push(location);
            } else if metadata.is_file() {
                objects.push(object_meta(location, &metadata));
            }
        }
        common_prefixes.sort();
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(ListResult {
            common_prefixes,
            objects,
        })
    }

    /// The metadata of what a symbolic link points to, when that is inside the source.
    fn inside(&self, link: &std::path::Path) -> Result<std::fs::Metadata, String> {
        let target = link
            .canonicalize()
            .map_err(|_| "a symbolic link to nothing (broken)".to_string())?;
        if !target.starts_with(&self.root) {
            return Err(format!(
                "a symbolic link to {}, outside the source (not followed)",
                target.display()
            ));
        }
        std::fs::metadata(&target).map_err(|e| e.to_string())
    }

    fn read_range(&self, location: &Path, range: Range<u64>) -> object_store::Result<Bytes> {
        let path = self.file_path(location);
        let mut file = File::open(&path).map_err(|e| io_error(&path, e))?;
        read_span(&mut file, range, &path)
    }
}

/// Objects up to this size are read on the task that asks for them, not in the blocking pool.
pub(crate) const READ_IN_PLACE: u64 = 256 << 10;

fn read_span(
    file: &mut File,
    range: Range<u64>,
    path: &std::path::Path,
) -> object_store::Result<Bytes> {
    let mut buf = Vec::with_capacity((range.end - range.start) as usize);
    file.seek(SeekFrom::Start(range.start))
        .and_then(|_| file.take(range.end - range.start).read_to_end(&mut buf))
        .map_err(|e| io_error(path, e))?;
    Ok(Bytes::from(buf))
}

fn object_meta(location: Path, metadata: &std::fs::Metadata) -> ObjectMeta {
    ObjectMeta {
        location,
        last_modified: metadata
            .modified()
            .map(DateTime::<Utc>::from)
            .unwrap_or_default(),
        size: metadata.len(),
        e_tag: None,
        version: None,
    }
}

fn read_only() -> object_store::Error {
    object_store::Error::NotSupported {
        source: "seslog reads sources and never writes to them".into(),
    }
}

fn generic(source: Box<dyn std::error::Error + Send + Sync>) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalTree",
        source,
    }
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> object_store::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        return object_store::Error::NotFound {
            path: path.display().to_string(),
            source: e.into(),
        };
    }
    generic(format!("{}: {e}", path.display()).into())
}

impl fmt::Display for LocalTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalTree({})", self.folders.root.display())
    }
}

#[async_trait]
impl ObjectStore for LocalTree {
    async fn put_opts(
        &self,
        _: &Path,
        _: PutPayload,
        _: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(read_only())
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(read_only())
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let path = self.folders.file_path(location);
        let location = location.clone();
        // The object is read here, whole: seslog always reads an object whole, and a File
        // payload would cost a blocking task per chunk later. Most Firehose objects are a few
        // KB, read from the page cache in microseconds: handing each to the blocking pool
        // cost more (a thread woken per object, thousands a query) than the read, so only
        // a large object's read goes there.
        let mut file = File::open(&path).map_err(|e| io_error(&path, e))?;
        let metadata = file.metadata().map_err(|e| io_error(&path, e))?;
        let meta = object_meta(location, &metadata);
        options.check_preconditions(&meta)?;
        let range = match &options.range {
            Some(r) => r.as_range(meta.size).map_err(|e| generic(e.into()))?,
            None => 0..meta.size,
        };
        let data = if range.end - range.start <= READ_IN_PLACE {
            read_span(&mut file, range.clone(), &path)?
        } else {
            let span = range.clone();
            tokio::task::spawn_blocking(move || read_span(&mut file, span, &path))
                .await
                .map_err(|e| generic(e.into()))??
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(
                futures::stream::once(async move { Ok(data) }).boxed(),
            ),
            attributes: Attributes::default(),
            range,
            meta,
        })
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        ranges
            .iter()
            .map(|r| self.folders.read_range(location, r.clone()))
            .collect()
    }

    fn delete_stream(
        &self,
        _: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        futures::stream::once(async { Err(read_only()) }).boxed()
    }

    /// seslog lists one folder at a time (`list_with_delimiter`), never recursively.
    fn list(&self, _: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        futures::stream::once(async {
            Err(object_store::Error::NotSupported {
                source: "seslog lists one folder at a time".into(),
            })
        })
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let folders = self.folders.clone();
        let prefix = prefix.cloned().unwrap_or_default();
        tokio::task::spawn_blocking(move || folders.list_folder(&prefix))
            .await
            .map_err(|e| generic(e.into()))?
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
        Err(read_only())
    }
}
