//! The shape of an SES event record, twice: the camelCase schema that SES writes (what the
//! JSON decoder matches against, exactly and case-sensitively) and the all-lowercase schema
//! that `seslogs` exposes, plus the zero-copy conversion from one to the other.
//!
//! Why two schemas: DataFusion lower-cases unquoted identifiers, nested ones too, and looks
//! struct fields up exactly, so `mail.commonHeaders.subject` only resolves against a
//! lowercase schema. Athena (OpenX SerDe) behaves the same way, so the lowercase names are
//! also what users' pasted Athena queries expect.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, ListArray, MapArray, StringBuilder, StructArray, new_null_array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::error::{DataFusionError, Result};

/// Derived column: the event's own time (see `derived.rs`).
pub const EVENT_TIME: &str = "event_time";
/// Derived column: the lower-cased addresses the event is about.
pub const RECIPIENTS: &str = "recipients";
/// Derived column: which of SES's formats the record came in, `event` (event publishing)
/// or `notification` (a feedback notification, `notificationType`).
pub const RECORD_FORMAT: &str = "record_format";

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn list(name: &str, item: DataType) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", item, true))),
        true,
    )
}

fn strukt(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

fn utf8s(names: &[&str]) -> Vec<Field> {
    names.iter().map(|n| utf8(n)).collect()
}

fn string_list_map(name: &str) -> Field {
    map_field(
        name,
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
    )
}

fn map_field(name: &str, value: DataType) -> Field {
    let entries = Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", value, true),
        ])),
        false,
    );
    Field::new(name, DataType::Map(Arc::new(entries), false), true)
}

fn topic_preferences(name: &str) -> Field {
    strukt(
        name,
        vec![
            Field::new("unsubscribeAll", DataType::Boolean, true),
            list(
                "topicSubscriptionStatus",
                DataType::Struct(Fields::from(utf8s(&["topicName", "subscriptionStatus"]))),
            ),
        ],
    )
}

/// The record as SES writes it. Field names must match the JSON keys exactly.
pub fn raw_schema() -> SchemaRef {
    let string_list = DataType::Utf8;
    let mail = strukt(
        "mail",
        vec![
            utf8("timestamp"),
            utf8("messageId"),
            utf8("source"),
            utf8("sourceArn"),
            utf8("sourceIp"),
            utf8("callerIdentity"),
            utf8("sendingAccountId"),
            list("destination", string_list.clone()),
            Field::new("headersTruncated", DataType::Boolean, true),
            list(
                "headers",
                DataType::Struct(Fields::from(utf8s(&["name", "value"]))),
            ),
            strukt(
                "commonHeaders",
                vec![
                    list("from", string_list.clone()),
                    list("to", string_list.clone()),
                    list("cc", string_list.clone()),
                    list("bcc", string_list.clone()),
                    list("replyTo", string_list.clone()),
                    utf8("returnPath"),
                    utf8("messageId"),
                    utf8("date"),
                    utf8("subject"),
                ],
            ),
            string_list_map("tags"),
        ],
    );
    let recipient = |extra: &[&str]| {
        let mut f = vec![utf8("emailAddress")];
        f.extend(utf8s(extra));
        DataType::Struct(Fields::from(f))
    };
    Arc::new(Schema::new(vec![
        utf8("eventType"),
        mail,
        // `send` is always `{}`: a struct with no fields, null for other event types.
        Field::new("send", DataType::Struct(Fields::empty()), true),
        strukt(
            "delivery",
            vec![
                utf8("timestamp"),
                Field::new("processingTimeMillis", DataType::Int64, true),
                list("recipients", DataType::Utf8),
                utf8("smtpResponse"),
                utf8("reportingMTA"),
                utf8("remoteMtaIp"),
            ],
        ),
        strukt(
            "bounce",
            vec![
                utf8("bounceType"),
                utf8("bounceSubType"),
                list(
                    "bouncedRecipients",
                    recipient(&["action", "status", "diagnosticCode"]),
                ),
                utf8("timestamp"),
                utf8("feedbackId"),
                utf8("reportingMTA"),
                utf8("remoteMtaIp"),
            ],
        ),
        strukt(
            "complaint",
            vec![
                list("complainedRecipients", recipient(&[])),
                utf8("timestamp"),
                utf8("feedbackId"),
                utf8("complaintSubType"),
                utf8("userAgent"),
                utf8("complaintFeedbackType"),
                utf8("arrivalDate"),
            ],
        ),
        strukt("reject", vec![utf8("reason")]),
        strukt("open", utf8s(&["ipAddress", "timestamp", "userAgent"])),
        strukt(
            "click",
            vec![
                utf8("ipAddress"),
                utf8("timestamp"),
                utf8("userAgent"),
                utf8("link"),
                string_list_map("linkTags"),
            ],
        ),
        strukt("failure", utf8s(&["templateName", "errorMessage"])),
        strukt(
            "deliveryDelay",
            vec![
                utf8("timestamp"),
                utf8("delayType"),
                utf8("expirationTime"),
                list(
                    "delayedRecipients",
                    recipient(&["status", "diagnosticCode"]),
                ),
                utf8("reportingMTA"),
            ],
        ),
        strukt(
            "subscription",
            vec![
                utf8("contactList"),
                utf8("timestamp"),
                utf8("source"),
                topic_preferences("newTopicPreferences"),
                topic_preferences("oldTopicPreferences"),
            ],
        ),
    ]))
}

/// The columns `seslogs` exposes before the partition columns: the raw record with every
/// name lower-cased, `mail.tags` flattened to Athena-style names, and the derived columns.
pub fn file_schema() -> SchemaRef {
    let raw = raw_schema();
    let mut fields: Vec<Field> = raw.fields().iter().map(|f| expose_field(f, "")).collect();
    fields.push(Field::new(
        EVENT_TIME,
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        true,
    ));
    fields.push(list(RECIPIENTS, DataType::Utf8));
    fields.push(utf8(RECORD_FORMAT));
    Arc::new(Schema::new(fields))
}

/// `mail.tags` is exposed as `map<string, string>` keyed by Athena's safe tag names
/// (`ses:source-ip` -> `ses_source_ip`), so `mail.tags.ses_source_ip` works as in Athena and
/// a custom tag is `mail.tags.campaign` (or `mail.tags['campaign']`).
fn is_tags(path: &str) -> bool {
    path == "mail.tags"
}

fn expose_field(field: &Field, parent: &str) -> Field {
    let path = if parent.is_empty() {
        field.name().to_string()
    } else {
        format!("{parent}.{}", field.name())
    };
    let name = field.name().to_lowercase();
    if is_tags(&path) {
        return map_field(&name, DataType::Utf8);
    }
    let data_type = match field.data_type() {
        DataType::Struct(children) => DataType::Struct(
            children
                .iter()
                .map(|c| Arc::new(expose_field(c, &path)))
                .collect::<Fields>(),
        ),
        DataType::List(item) => DataType::List(Arc::new(expose_field(item, &path))),
        DataType::Map(entries, sorted) => {
            DataType::Map(Arc::new(expose_field(entries, &path)), *sorted)
        }
        other => other.clone(),
    };
    Field::new(name, data_type, field.is_nullable())
}

/// Athena's safe name for a tag key: lower case, every character that is not a letter,
/// digit or `_` replaced by `_` (`ses:configuration-set` -> `ses_configuration_set`).
/// Athena's own DDL maps that one tag to `ses_configurationset`; both names are provided.
pub fn safe_tag_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect::<String>()
        .to_lowercase()
}

/// All-NULL columns of the exposed types, made once per scan and sliced for each batch:
/// made per batch (a struct of lists allocates every child), they cost as much as decoding
/// a small object.
#[derive(Debug, Default)]
pub struct NullColumns(std::sync::Mutex<std::collections::HashMap<DataType, ArrayRef>>);

impl NullColumns {
    /// A column of `len` NULLs of `data_type`.
    pub fn get(&self, data_type: &DataType, len: usize) -> ArrayRef {
        let mut made = self.0.lock().expect("null columns");
        if let Some(column) = made.get(data_type).filter(|c| c.len() >= len) {
            return column.slice(0, len);
        }
        let column = new_null_array(data_type, len.max(8192));
        made.insert(data_type.clone(), Arc::clone(&column));
        column.slice(0, len)
    }
}

/// Converts a decoded column (raw names) to the exposed type (lowercase names) without
/// copying values: only the field names of Struct/List/Map arrays change, except
/// `mail.tags`, which is rebuilt as a flat map. A decoded struct may hold only the fields a
/// query reads (see `nested.rs`): the others are filled with NULLs, so the column keeps
/// its type.
pub fn expose_array(
    array: &ArrayRef,
    target: &DataType,
    path: &str,
    nulls: &NullColumns,
) -> Result<ArrayRef> {
    convert(array, target, Some(path), nulls)
}

/// A column already in the exposed names (as the Parquet tier stores it) in `target`'s
/// shape: the struct fields a reader left out are filled with NULLs, nothing is renamed.
pub fn widen_array(array: &ArrayRef, target: &DataType, nulls: &NullColumns) -> Result<ArrayRef> {
    convert(array, target, None, nulls)
}

/// `expose_array` (`path`: the raw path, for the tags) and `widen_array` (no path: the
/// names are the exposed ones already, the tags flat).
fn convert(
    array: &ArrayRef,
    target: &DataType,
    path: Option<&str>,
    nulls: &NullColumns,
) -> Result<ArrayRef> {
    if path.is_some_and(is_tags) {
        return flatten_tags(array, target);
    }
    Ok(match (array.data_type(), target) {
        (DataType::Struct(_), DataType::Struct(target_fields)) => {
            let source = array.as_struct();
            let columns = target_fields
                .iter()
                .map(|t| {
                    let raw = source
                        .fields()
                        .iter()
                        .position(|f| f.name().eq_ignore_ascii_case(t.name()));
                    match raw {
                        Some(i) => convert(
                            source.column(i),
                            t.data_type(),
                            path.map(|p| format!("{p}.{}", source.fields()[i].name()))
                                .as_deref(),
                            nulls,
                        ),
                        None => Ok(nulls.get(t.data_type(), source.len())),
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            if target_fields.is_empty() {
                Arc::new(StructArray::new_empty_fields(
                    source.len(),
                    source.nulls().cloned(),
                ))
            } else {
                Arc::new(StructArray::try_new(
                    target_fields.clone(),
                    columns,
                    source.nulls().cloned(),
                )?)
            }
        }
        (DataType::List(_), DataType::List(item)) => {
            let source = array.as_list::<i32>();
            let values = convert(source.values(), item.data_type(), path, nulls)?;
            Arc::new(ListArray::try_new(
                item.clone(),
                source.offsets().clone(),
                values,
                source.nulls().cloned(),
            )?)
        }
        (DataType::Map(_, _), DataType::Map(entries, sorted)) => {
            let source = array.as_map();
            let DataType::Struct(entry_fields) = entries.data_type() else {
                return Err(DataFusionError::Internal(
                    "map entries must be a struct".into(),
                ));
            };
            let inner = StructArray::try_new(
                entry_fields.clone(),
                source.entries().columns().to_vec(),
                None,
            )?;
            Arc::new(MapArray::try_new(
                entries.clone(),
                source.offsets().clone(),
                inner,
                source.nulls().cloned(),
                *sorted,
            )?)
        }
        _ => Arc::clone(array),
    })
}

/// `{"ses:source-ip": ["10.0.0.1"], "campaign": ["reset"]}` ->
/// `{ses_source_ip: "10.0.0.1", campaign: "reset"}`. Multi-valued tags are joined with ","
/// so no value is lost. `ses:configuration-set` also appears as `ses_configurationset`,
/// the name Athena's published DDL uses.
fn flatten_tags(array: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    let DataType::Map(entries_field, sorted) = target else {
        return Err(DataFusionError::Internal(
            "tags must be exposed as a map".into(),
        ));
    };
    let DataType::Struct(entry_fields) = entries_field.data_type() else {
        return Err(DataFusionError::Internal(
            "map entries must be a struct".into(),
        ));
    };
    let source = array.as_map();
    let keys = source.keys().as_string::<i32>();
    let values = source.values().as_list::<i32>();
    let mut out_keys = StringBuilder::new();
    let mut out_values = StringBuilder::new();
    let mut offsets = Vec::with_capacity(source.len() + 1);
    offsets.push(0i32);
    let mut count = 0i32;
    let mut joined = String::new();
    for row in 0..source.len() {
        let (start, end) = (source.value_offsets()[row], source.value_offsets()[row + 1]);
        for entry in start as usize..end as usize {
            let name = safe_tag_name(keys.value(entry));
            joined.clear();
            if values.is_valid(entry) {
                let items = values.value(entry);
                let items = items.as_string::<i32>();
                for (i, item) in items.iter().flatten().enumerate() {
                    if i > 0 {
                        joined.push(',');
                    }
                    joined.push_str(item);
                }
            }
            let mut push = |k: &str| {
                out_keys.append_value(k);
                if values.is_valid(entry) {
                    out_values.append_value(&joined);
                } else {
                    out_values.append_null();
                }
                count += 1;
            };
            if name == "ses_configuration_set" {
                push("ses_configurationset");
            }
            push(&name);
        }
        offsets.push(count);
    }
    let keys: ArrayRef = Arc::new(out_keys.finish());
    let values: ArrayRef = Arc::new(out_values.finish());
    let entries = StructArray::try_new(entry_fields.clone(), vec![keys, values], None)?;
    Ok(Arc::new(MapArray::try_new(
        entries_field.clone(),
        OffsetBuffer::new(offsets.into()),
        entries,
        source.nulls().cloned(),
        *sorted,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_names_are_lowercase_all_the_way_down() {
        fn check(fields: &Fields) {
            for f in fields {
                assert_eq!(f.name(), &f.name().to_lowercase(), "{f:?}");
                match f.data_type() {
                    DataType::Struct(c) => check(c),
                    DataType::List(i) => check(&Fields::from(vec![i.clone()])),
                    DataType::Map(e, _) => check(&Fields::from(vec![e.clone()])),
                    _ => {}
                }
            }
        }
        check(file_schema().fields());
    }

    #[test]
    fn tag_names_follow_athena() {
        assert_eq!(safe_tag_name("ses:source-ip"), "ses_source_ip");
        assert_eq!(
            safe_tag_name("ses:configuration-set"),
            "ses_configuration_set"
        );
        assert_eq!(safe_tag_name("Campaign"), "campaign");
    }
}
