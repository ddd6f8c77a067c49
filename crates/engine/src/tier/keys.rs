//! A tier file's keys: bloom filters of the recipients and the message ids its rows hold, in
//! a small file beside it (`part-....parquet.keys`). A lookup reads them first and passes
//! over every file that cannot hold the value without opening it: over hundreds of folders,
//! a Parquet file's footer, page index and statistics cost more than the lookup itself.
//!
//! A bloom filter never says "no" of a value it was given, so a file passed over holds no
//! row that could match; a "maybe" is settled by the file's own statistics and rows. A keys
//! file that is missing or cannot be read is a "maybe" for every value.
//!
//! Layout: `SESLOGK1`, then for the recipients and then the message ids, a little-endian u32
//! length and that many bytes of a split-block bloom filter (Parquet's own, `Sbbf`).

use std::collections::HashSet;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::parquet::bloom_filter::Sbbf;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use crate::error::Result;
use crate::table::prefilter::{Column, Needle};
use crate::table::schema::RECIPIENTS;
use crate::tier::Tier;

const MAGIC: &[u8] = b"SESLOGK1";
/// One value in a hundred not in the file is taken for a "maybe".
const FPP: f64 = 0.01;

/// The keys file of a tier file.
pub fn path_of(file: &Path) -> Path {
    Path::from(format!("{file}.keys"))
}

/// The values of a file's rows, collected as its row groups are written.
#[derive(Debug, Default)]
pub struct KeysBuilder {
    recipients: HashSet<String>,
    message_ids: HashSet<String>,
}

impl KeysBuilder {
    /// Adds the values of a batch of the table's file schema.
    pub fn add(&mut self, batch: &RecordBatch) {
        if let Some(list) = batch.column_by_name(RECIPIENTS) {
            let values = list.as_list::<i32>().values().as_string::<i32>();
            self.recipients
                .extend(values.iter().flatten().map(str::to_string));
        }
        let ids = batch
            .column_by_name("mail")
            .and_then(|mail| mail.as_struct().column_by_name("messageid").cloned());
        if let Some(ids) = ids {
            self.message_ids
                .extend(ids.as_string::<i32>().iter().flatten().map(str::to_string));
        }
    }

    /// The keys file's bytes.
    pub fn finish(self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for values in [self.recipients, self.message_ids] {
            let mut filter = Sbbf::new_with_ndv_fpp(values.len().max(1) as u64, FPP)
                .expect("a valid false-positive rate");
            for value in &values {
                filter.insert(value.as_bytes());
            }
            let mut bits = Vec::new();
            filter
                .write_bitset(&mut bits)
                .expect("writing to memory does not fail");
            out.extend_from_slice(&(bits.len() as u32).to_le_bytes());
            out.extend_from_slice(&bits);
        }
        out
    }
}

/// A tier file's keys, read back.
#[derive(Debug)]
pub struct Keys {
    recipients: Sbbf,
    message_ids: Sbbf,
}

impl Keys {
    /// `None` for bytes that are not a keys file.
    pub fn parse(bytes: &[u8]) -> Option<Keys> {
        let mut rest = bytes.strip_prefix(MAGIC)?;
        let mut next = || {
            let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let bits = rest.get(4..4 + len)?;
            rest = &rest[4 + len..];
            // A bitset of whole 32-byte blocks, as Parquet writes them.
            (len > 0 && len.is_multiple_of(32)).then(|| Sbbf::new(bits))
        };
        Some(Keys {
            recipients: next()?,
            message_ids: next()?,
        })
    }

    /// Whether the file may hold a row with the needle's value (always, for a column the
    /// keys do not cover).
    pub fn may_hold(&self, needle: &Needle) -> bool {
        let value = needle.value.as_bytes();
        match needle.column {
            Column::Recipients => self.recipients.check(value),
            Column::MessageId => self.message_ids.check(value),
            Column::Destination => true,
        }
    }
}

/// Puts a file's keys beside it.
pub async fn write(tier: &Tier, file: &Path, keys: Vec<u8>) -> Result<()> {
    let path = path_of(file);
    tier.writer
        .put(&path, PutPayload::from(keys))
        .await
        .map_err(|e| tier.error(&path, e))?;
    Ok(())
}

/// A file's keys, if it has readable ones.
pub async fn read(tier: &Tier, file: &Path) -> Option<Keys> {
    let bytes = tier
        .store
        .get(&path_of(file))
        .await
        .ok()?
        .bytes()
        .await
        .ok()?;
    Keys::parse(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema;
    use datafusion::arrow::array::{ArrayRef, new_null_array};

    #[test]
    fn keys_never_say_no_to_a_value_they_were_given() {
        let file_schema = schema::file_schema();
        let mut builder = KeysBuilder::default();
        // A batch of NULLs but for recipients and mail.messageid.
        let rows = 3;
        let columns: Vec<ArrayRef> = file_schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), rows))
            .collect();
        let batch = RecordBatch::try_new(file_schema.clone(), columns).unwrap();
        builder.add(&batch);
        for i in 0..2000 {
            builder.recipients.insert(format!("user{i}@example.com"));
            builder.message_ids.insert(format!("0100-{i:06}"));
        }
        let keys = Keys::parse(&builder.finish()).expect("keys");
        let needle = |column, value: String| Needle { column, value };
        for i in 0..2000 {
            assert!(keys.may_hold(&needle(Column::Recipients, format!("user{i}@example.com"))));
            assert!(keys.may_hold(&needle(Column::MessageId, format!("0100-{i:06}"))));
        }
        let misses = (0..2000)
            .filter(|i| keys.may_hold(&needle(Column::Recipients, format!("other{i}@example.com"))))
            .count();
        assert!(
            misses < 100,
            "{misses} of 2000 absent values taken for a maybe"
        );
        assert!(keys.may_hold(&needle(Column::Destination, "x".into())));
        assert!(Keys::parse(b"SESLOGK1\x05\x00\x00\x00abc").is_none());
        assert!(Keys::parse(b"not keys").is_none());
    }
}
