//! Small objects of one folder read as one file of the scan.
//!
//! Firehose writes thousands of small objects a day (a bounce folder's objects hold a few
//! records each). Read one by one, each object became one batch of a few rows, and every
//! operator above the scan paid its per-batch cost (the projection's expressions, the
//! filter, metrics) per object: `seslog bounces` over 7 days (2,558 objects of about 1 KB)
//! took twice as long as the same records in 72 objects. A bundle is one `PartitionedFile`
//! standing for several small objects of one folder (so one set of partition values); the
//! scan reads its members one after another, each checked and reported as its own object,
//! and hands on their rows in batches of the scan's batch size.
//!
//! A bundle is only a way of reading: its members are named everywhere an object is (in
//! problems, in the stats, in the cache and the prefetch), and a plan that crosses to a
//! worker carries the members as plain objects (`unbundle`), bundled again there.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::Poll;

use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileOpenFuture, FileOpener};
use datafusion::error::Result;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::ObjectMeta;

/// Objects larger than this (as listed) are read on their own: their per-object cost is
/// already small next to decoding them.
const SMALL: u64 = 256 << 10;
/// Members of one bundle at most.
const MAX_MEMBERS: usize = 64;
/// Listed bytes of one bundle at most: its rows are handed on a batch at a time, so a
/// query that stops early (a `LIMIT` above a filter) decodes at most this much more.
const MAX_BYTES: u64 = 2 << 20;
/// Bundles wanted per piece of parallelism, so that cores (and workers) stay evenly busy
/// when a query reads only a few folders.
const PER_PARTITION: usize = 4;

/// The mark of a bundle: its members, in the order they are read (the first is the
/// `PartitionedFile`'s own object).
#[derive(Debug, Clone)]
pub(crate) struct Bundle {
    pub members: Arc<[ObjectMeta]>,
}

/// `files` with small objects of the same folder put together, in bundles small enough that
/// there are at least `pieces * PER_PARTITION` files where there are that many objects. Tier
/// files and large objects are left as they are.
pub(crate) fn bundle(files: Vec<PartitionedFile>, pieces: usize) -> Vec<PartitionedFile> {
    let bundles_small = |f: &PartitionedFile| {
        f.extensions.is_empty() && f.range.is_none() && f.object_meta.size <= SMALL
    };
    let small = files.iter().filter(|f| bundles_small(f)).count();
    let most = small
        .div_ceil(pieces.max(1) * PER_PARTITION)
        .clamp(1, MAX_MEMBERS);
    if most == 1 {
        return files;
    }
    let mut out = Vec::with_capacity(files.len() / most + 1);
    // The bundle being filled for each set of partition values, in the order first seen.
    let mut open: HashMap<Vec<ScalarValue>, usize> = HashMap::new();
    let mut filling: Vec<(Vec<ScalarValue>, Vec<ObjectMeta>, u64)> = Vec::new();
    for file in files {
        if !bundles_small(&file) {
            out.push(file);
            continue;
        }
        let size = file.object_meta.size;
        let at = match open.get(&file.partition_values) {
            Some(&at) if filling[at].1.len() < most && filling[at].2 + size <= MAX_BYTES => at,
            _ => {
                filling.push((file.partition_values.clone(), Vec::new(), 0));
                open.insert(file.partition_values.clone(), filling.len() - 1);
                filling.len() - 1
            }
        };
        filling[at].1.push(file.object_meta);
        filling[at].2 += size;
    }
    out.extend(
        filling
            .into_iter()
            .map(|(values, members, size)| one_file(values, members, size)),
    );
    out
}

/// The file of a bundle of `members` (the member itself when it is alone).
fn one_file(values: Vec<ScalarValue>, mut members: Vec<ObjectMeta>, size: u64) -> PartitionedFile {
    if members.len() == 1 {
        let only = members.pop().expect("one member");
        return PartitionedFile::new_from_meta(only).with_partition_values(values);
    }
    let first = &members[0];
    let meta = ObjectMeta {
        location: first.location.clone(),
        last_modified: first.last_modified,
        size,
        e_tag: None,
        version: None,
    };
    PartitionedFile::new_from_meta(meta)
        .with_partition_values(values)
        .with_extension(Bundle {
            members: members.into(),
        })
}

/// `files` with every bundle replaced by its members, as plain objects.
pub(crate) fn unbundle(files: impl IntoIterator<Item = PartitionedFile>) -> Vec<PartitionedFile> {
    let mut out = Vec::new();
    for file in files {
        match file.extension::<Bundle>() {
            Some(bundle) => out.extend(bundle.members.iter().map(|m| {
                PartitionedFile::new_from_meta(m.clone())
                    .with_partition_values(file.partition_values.clone())
            })),
            None => out.push(file),
        }
    }
    out
}

/// The objects `file` reads: a bundle's members, or the file's own object.
pub(crate) fn objects(file: &PartitionedFile) -> &[ObjectMeta] {
    match file.extension::<Bundle>() {
        Some(bundle) => &bundle.members,
        None => std::slice::from_ref(&file.object_meta),
    }
}

/// The rows of `batches` in batches of `rows` (the last may be smaller; one that is already
/// that large is handed on as it is). An error is handed on at once, what was held with it
/// dropped: an error ends the query.
pub(crate) fn coalesced(
    mut batches: BoxStream<'static, Result<RecordBatch>>,
    rows: usize,
) -> BoxStream<'static, Result<RecordBatch>> {
    let rows = rows.max(1);
    futures::stream::poll_fn(move |cx| {
        let mut held: Vec<RecordBatch> = Vec::new();
        let mut count = 0;
        loop {
            match batches.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(batch))) => {
                    count += batch.num_rows();
                    if batch.num_rows() > 0 {
                        held.push(batch);
                    }
                    if count >= rows {
                        return Poll::Ready(Some(joined(held)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    return Poll::Ready(match held.is_empty() {
                        true => None,
                        false => Some(joined(held)),
                    });
                }
                Poll::Pending => {
                    // Nothing can be held across a `Pending`: hand on what there is.
                    return match held.is_empty() {
                        true => Poll::Pending,
                        false => Poll::Ready(Some(joined(held))),
                    };
                }
            }
        }
    })
    .boxed()
}

fn joined(mut held: Vec<RecordBatch>) -> Result<RecordBatch> {
    if held.len() == 1 {
        return Ok(held.pop().expect("one batch"));
    }
    Ok(concat_batches(&held[0].schema(), &held)?)
}

/// An opener that opens a bundle's members one by one with `inner`, each as its own file
/// (for a projection that names the file each row came from, `input_file_name()`).
pub(crate) struct PerMember {
    pub inner: Arc<dyn FileOpener>,
}

impl FileOpener for PerMember {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        if file.extension::<Bundle>().is_none() {
            return self.inner.open(file);
        }
        let openings = unbundle([file])
            .into_iter()
            .map(|member| self.inner.open(member))
            .collect::<Result<Vec<_>>>()?;
        Ok(async move {
            Ok(futures::stream::iter(openings)
                .then(|opening| opening)
                .try_flatten()
                .boxed())
        }
        .boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::error::DataFusionError;

    fn file(folder: &str, name: &str, size: u64) -> PartitionedFile {
        PartitionedFile::new(format!("{folder}/{name}"), size)
            .with_partition_values(vec![ScalarValue::Utf8(Some(folder.into()))])
    }

    /// Each file as its folder and the names of the objects it reads.
    fn shape(files: &[PartitionedFile]) -> Vec<(String, Vec<String>)> {
        files
            .iter()
            .map(|f| {
                let folder = f.partition_values[0].to_string();
                let names = objects(f)
                    .iter()
                    .map(|m| m.location.filename().unwrap().to_string())
                    .collect();
                (folder, names)
            })
            .collect()
    }

    fn owned(rows: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        rows.iter()
            .map(|(f, names)| (f.to_string(), names.iter().map(|n| n.to_string()).collect()))
            .collect()
    }

    #[test]
    fn small_objects_of_one_folder_are_read_together() {
        let mut files: Vec<PartitionedFile> =
            (0..10).map(|i| file("a", &format!("a{i}"), 100)).collect();
        files.insert(3, file("b", "b0", 100));
        files.push(file("b", "b1", 100));
        files.push(file("a", "large", SMALL + 1));
        files.push(file("a", "tier", 100).with_extension(crate::tier::read::TierFile));
        // 12 small objects, one piece: at most 3 to a bundle.
        let bundled = bundle(files, 1);
        assert_eq!(
            shape(&bundled),
            owned(&[
                ("a", &["large"]),
                ("a", &["tier"]),
                ("a", &["a0", "a1", "a2"]),
                ("b", &["b0", "b1"]),
                ("a", &["a3", "a4", "a5"]),
                ("a", &["a6", "a7", "a8"]),
                ("a", &["a9"]),
            ])
        );
        // A bundle weighs what its members weigh; a lone member is a plain object.
        assert_eq!(bundled[2].object_meta.size, 300);
        assert!(bundled[6].extension::<Bundle>().is_none());
        assert!(
            bundled[1]
                .extension::<crate::tier::read::TierFile>()
                .is_some()
        );
        let mut back = shape(&unbundle(bundled));
        back.sort();
        assert_eq!(back.len(), 14);
        assert!(back.iter().all(|(folder, names)| names.len() == 1
            && names[0].starts_with(folder.as_str())
            || names == &["large"]
            || names == &["tier"]));
    }

    #[test]
    fn bundles_stay_under_their_byte_cap_and_spread_over_the_pieces() {
        // 40 objects of 256 KiB, one piece: 10 to a bundle by count, 8 by bytes.
        let files: Vec<PartitionedFile> = (0..40)
            .map(|i| file("a", &format!("o{i:02}"), SMALL))
            .collect();
        let sizes: Vec<usize> = bundle(files, 1).iter().map(|f| objects(f).len()).collect();
        assert_eq!(sizes, [8, 8, 8, 8, 8]);
        // Few objects for the cores: each is read on its own.
        let files: Vec<PartitionedFile> = (0..8).map(|i| file("a", &format!("o{i}"), 10)).collect();
        assert!(
            bundle(files, 2)
                .iter()
                .all(|f| f.extension::<Bundle>().is_none())
        );
    }

    fn batch(rows: i64) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        Ok(RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from_iter_values(0..rows))],
        )?)
    }

    #[tokio::test]
    async fn coalesced_batches_hold_the_same_rows_in_fewer_batches() {
        let input = vec![batch(3), batch(0), batch(3), batch(3), batch(10), batch(2)];
        let out: Vec<RecordBatch> = coalesced(futures::stream::iter(input).boxed(), 8)
            .try_collect()
            .await
            .unwrap();
        let rows: Vec<usize> = out.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(rows, [9, 10, 2]);
        let failing = vec![
            batch(3),
            Err(DataFusionError::Internal("bad object".into())),
            batch(3),
        ];
        let out: Vec<Result<RecordBatch>> = coalesced(futures::stream::iter(failing).boxed(), 8)
            .collect()
            .await;
        assert_eq!(out.len(), 2);
        assert!(
            out[0]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("bad object"))
        );
        assert_eq!(out[1].as_ref().unwrap().num_rows(), 3);
    }
}
