//! A lean S3 server over a folder: ListObjectsV2, GetObject and HeadObject, answered from
//! the file system directly.
//!
//! Why not only s3s-fs: it is the tests' server, made to be complete, not cheap. On this
//! 2-core machine it shares the cores with seslog, and its cost became the benchmark's:
//! every LIST walks the whole subtree below the prefix (and each type folder is listed
//! down to its days), every file operation is a hop to tokio's blocking pool, and every
//! GET reads the object twice (once for its MD5 ETag). Over 25,828 objects it used more
//! CPU than seslog did. S3 itself spends none of the client's CPU; this server spends
//! little: one directory read per LIST, one file read per GET, the ETag from size and
//! modification time (S3's ETag is opaque to clients; multipart ETags are no MD5 either).

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

#[derive(Debug)]
pub struct Folder {
    root: PathBuf,
    /// Added before every answer: S3's request latency, without spending the CPU a proxy
    /// would (a sleeping task costs nothing).
    latency: Duration,
}

impl Folder {
    pub fn new(root: &str, latency: Duration) -> Self {
        Self {
            root: PathBuf::from(root),
            latency,
        }
    }

    async fn wait(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    fn bucket(&self, bucket: &str) -> S3Result<PathBuf> {
        let path = self.root.join(bucket);
        if bucket.contains('/') || !path.is_dir() {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(path)
    }

    fn object(&self, bucket: &str, key: &str) -> S3Result<PathBuf> {
        let relative = Path::new(key);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(s3_error!(NoSuchKey));
        }
        Ok(self.bucket(bucket)?.join(relative))
    }

    /// The file of `key` and its metadata, after S3's latency; NoSuchKey for a folder.
    async fn file(&self, bucket: &str, key: &str) -> S3Result<(PathBuf, std::fs::Metadata)> {
        self.wait().await;
        let path = self.object(bucket, key)?;
        let meta = std::fs::metadata(&path).map_err(|_| s3_error!(NoSuchKey))?;
        if meta.is_dir() {
            return Err(s3_error!(NoSuchKey));
        }
        Ok((path, meta))
    }
}

/// What a LIST answers with: an object, or (with the delimiter) a common prefix.
enum Entry {
    Object(Box<Object>),
    Prefix(String),
}

impl Entry {
    fn key(&self) -> &str {
        match self {
            Entry::Object(o) => o.key.as_deref().unwrap_or_default(),
            Entry::Prefix(p) => p,
        }
    }
}

fn e_tag(meta: &std::fs::Metadata) -> ETag {
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    ETag::Strong(format!("{modified:x}-{:x}", meta.len()))
}

fn object(key: String, meta: &std::fs::Metadata) -> Box<Object> {
    Box::new(Object {
        key: Some(key),
        size: Some(meta.len() as i64),
        last_modified: meta.modified().ok().map(Timestamp::from),
        e_tag: Some(e_tag(meta)),
        ..Default::default()
    })
}

/// Every file below `dir` (whose key is `key`, ending in `/` unless empty).
fn walk(dir: &Path, key: &str, out: &mut Vec<Entry>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(&entry.path(), &format!("{key}{name}/"), out)?;
        } else {
            out.push(Entry::Object(object(format!("{key}{name}"), &meta)));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl S3 for Folder {
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.wait().await;
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone();
        // The folder the prefix ends in, and the start of the names in it.
        let (dir_key, stem) = match prefix.rfind('/') {
            Some(at) => (&prefix[..=at], &prefix[at + 1..]),
            None => ("", prefix.as_str()),
        };
        let mut entries = Vec::new();
        let dir = bucket.join(dir_key);
        if let Ok(listing) = std::fs::read_dir(&dir) {
            for entry in listing {
                let entry = entry.map_err(|e| s3_error!(e, InternalError))?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if !name.starts_with(stem) {
                    continue;
                }
                let meta = entry.metadata().map_err(|e| s3_error!(e, InternalError))?;
                let key = format!("{dir_key}{name}");
                match (meta.is_dir(), delimiter.as_deref()) {
                    (false, _) => entries.push(Entry::Object(object(key, &meta))),
                    (true, Some("/")) => entries.push(Entry::Prefix(format!("{key}/"))),
                    (true, _) => walk(&entry.path(), &format!("{key}/"), &mut entries)
                        .map_err(|e| s3_error!(e, InternalError))?,
                }
            }
        }
        // Another delimiter than `/`: roll keys up by it, as S3 does.
        if let Some(d) = delimiter.as_deref().filter(|d| *d != "/" && !d.is_empty()) {
            let mut rolled: Vec<Entry> = Vec::new();
            for entry in entries {
                match entry.key()[prefix.len()..].find(d) {
                    Some(at) => {
                        let p = entry.key()[..prefix.len() + at + d.len()].to_owned();
                        if !rolled.iter().any(|e| e.key() == p) {
                            rolled.push(Entry::Prefix(p));
                        }
                    }
                    None => rolled.push(entry),
                }
            }
            entries = rolled;
        }
        entries.sort_by(|a, b| a.key().cmp(b.key()));
        let after = match (&input.continuation_token, &input.start_after) {
            (Some(token), _) => Some(token.clone()),
            (None, after) => after.clone(),
        };
        if let Some(after) = &after {
            entries.retain(|e| e.key() > after.as_str());
        }
        let max_keys = input.max_keys.unwrap_or(1000).max(0) as usize;
        let truncated = entries.len() > max_keys;
        entries.truncate(max_keys);
        let next = truncated
            .then(|| entries.last().map(|e| e.key().to_owned()))
            .flatten();
        let key_count = entries.len() as i32;
        let (mut contents, mut prefixes) = (Vec::new(), Vec::new());
        for entry in entries {
            match entry {
                Entry::Object(o) => contents.push(*o),
                Entry::Prefix(p) => prefixes.push(CommonPrefix { prefix: Some(p) }),
            }
        }
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            max_keys: Some(max_keys as i32),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            is_truncated: Some(truncated),
            next_continuation_token: next,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let (path, meta) = self.file(&input.bucket, &input.key).await?;
        let whole = Bytes::from(std::fs::read(&path).map_err(|_| s3_error!(NoSuchKey))?);
        let len = whole.len() as u64;
        let (body, content_range) = match input.range {
            None => (whole, None),
            Some(range) => {
                let r = range.check(len)?;
                let content_range = format!("bytes {}-{}/{len}", r.start, r.end - 1);
                (
                    whole.slice(r.start as usize..r.end as usize),
                    Some(content_range),
                )
            }
        };
        Ok(S3Response::new(GetObjectOutput {
            content_length: Some(body.len() as i64),
            content_range,
            last_modified: meta.modified().ok().map(Timestamp::from),
            e_tag: Some(e_tag(&meta)),
            body: Some(StreamingBlob::from(s3s::Body::from(body))),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let (_, meta) = self.file(&input.bucket, &input.key).await?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(meta.len() as i64),
            last_modified: meta.modified().ok().map(Timestamp::from),
            e_tag: Some(e_tag(&meta)),
            ..Default::default()
        }))
    }
}
