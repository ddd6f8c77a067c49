//! The two derived columns, computed from a decoded batch (raw names):
//! - `event_time`: the event's own time. Bounce, delivery, complaint, open, click, delay and
//!   subscription events carry their own timestamp; send, reject and rendering failure use
//!   `mail.timestamp` (the send time). A record holds only its own event object, so the
//!   first non-null of those timestamps is the right one, whatever `eventType` says.
//! - `recipients`: the lower-cased addresses the event is about: the event's own recipient
//!   list where it has one, else `mail.destination`. For a message to three people where
//!   one bounced, the Delivery event is about the other two.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, ListArray, ListBuilder, RecordBatch, StringArray, StringBuilder,
    StructArray,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::error::Result;

/// Raw paths `event_time` reads, in order of preference (the first non-null wins).
pub const EVENT_TIME_SOURCES: &[&[&str]] = &[
    &["delivery", "timestamp"],
    &["bounce", "timestamp"],
    &["complaint", "timestamp"],
    &["open", "timestamp"],
    &["click", "timestamp"],
    &["deliveryDelay", "timestamp"],
    &["subscription", "timestamp"],
    &["mail", "timestamp"],
];

/// Raw paths `recipients` reads: (event object, its list, the address field of an item or
/// none when the list holds plain strings), then `mail.destination` as the fallback.
const OWN_RECIPIENT_LISTS: &[(&str, &str, Option<&str>)] = &[
    ("delivery", "recipients", None),
    ("bounce", "bouncedRecipients", Some("emailAddress")),
    ("complaint", "complainedRecipients", Some("emailAddress")),
    ("deliveryDelay", "delayedRecipients", Some("emailAddress")),
];

pub const RECIPIENT_SOURCES: &[&[&str]] = &[
    &["delivery", "recipients"],
    &["bounce", "bouncedRecipients", "emailAddress"],
    &["complaint", "complainedRecipients", "emailAddress"],
    &["deliveryDelay", "delayedRecipients", "emailAddress"],
    &["mail", "destination"],
];

/// A nested string column by raw path, when it was decoded.
fn string_at<'a>(batch: &'a RecordBatch, path: &[&str]) -> Option<&'a StringArray> {
    let (first, rest) = path.split_first()?;
    let mut array: &ArrayRef = batch.column_by_name(first)?;
    for name in rest {
        array = array.as_struct_opt()?.column_by_name(name)?;
    }
    array.as_string_opt::<i32>()
}

fn struct_at<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StructArray> {
    batch.column_by_name(name)?.as_struct_opt()
}

pub fn event_time(batch: &RecordBatch) -> Result<ArrayRef> {
    let sources: Vec<&StringArray> = EVENT_TIME_SOURCES
        .iter()
        .filter_map(|p| string_at(batch, p))
        .collect();
    let mut chosen = StringBuilder::with_capacity(batch.num_rows(), batch.num_rows() * 24);
    for row in 0..batch.num_rows() {
        match sources.iter().find(|s| s.is_valid(row)) {
            Some(s) => chosen.append_value(s.value(row)),
            None => chosen.append_null(),
        }
    }
    let chosen: ArrayRef = Arc::new(chosen.finish());
    // arrow's ISO-8601 parser; an unparseable time becomes NULL rather than failing the scan.
    Ok(cast_with_options(
        &chosen,
        &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        &CastOptions {
            safe: true,
            ..Default::default()
        },
    )?)
}

pub fn recipients(batch: &RecordBatch) -> Result<ArrayRef> {
    // For each own list: the list array and, for lists of structs, the address column.
    let own: Vec<(&ListArray, &StringArray)> = OWN_RECIPIENT_LISTS
        .iter()
        .filter_map(|(object, list, field)| {
            let list = struct_at(batch, object)?
                .column_by_name(list)?
                .as_list_opt::<i32>()?;
            let values = match field {
                None => list.values().as_string_opt::<i32>()?,
                Some(f) => list
                    .values()
                    .as_struct_opt()?
                    .column_by_name(f)?
                    .as_string_opt::<i32>()?,
            };
            Some((list, values))
        })
        .collect();
    let destination = struct_at(batch, "mail")
        .and_then(|m| m.column_by_name("destination"))
        .and_then(|d| d.as_list_opt::<i32>());

    let mut out = ListBuilder::new(StringBuilder::new());
    let mut lowered = String::new();
    let mut append_items = |out: &mut ListBuilder<StringBuilder>,
                            list: &ListArray,
                            values: &StringArray,
                            row: usize| {
        let offsets = list.value_offsets();
        for i in offsets[row] as usize..offsets[row + 1] as usize {
            if values.is_valid(i) {
                lowered.clear();
                lowered.push_str(values.value(i));
                lowered.make_ascii_lowercase();
                if !lowered.is_ascii() {
                    lowered = lowered.to_lowercase();
                }
                out.values().append_value(&lowered);
            }
        }
    };
    for row in 0..batch.num_rows() {
        match own.iter().find(|(list, _)| list.is_valid(row)) {
            Some((list, values)) => append_items(&mut out, list, values, row),
            None => match destination {
                Some(dest) if dest.is_valid(row) => {
                    append_items(&mut out, dest, dest.values().as_string::<i32>(), row)
                }
                _ => {}
            },
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}
