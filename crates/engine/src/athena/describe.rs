//! `DESCRIBE seslogs` and `SHOW TABLES` as Athena shows them: column types in its SQL
//! (`varchar`, `array(row(...))`, `map(varchar, varchar)`), partition columns marked, and the
//! tables by name only (not DataFusion's information_schema views).

use datafusion::arrow::datatypes::{DataType, Schema};

/// What `SHOW TABLES` runs instead: seslog's tables, as Athena lists them (`tab_name`).
pub const SHOW_TABLES: &str = "SELECT table_name AS tab_name FROM information_schema.tables \
     WHERE table_schema = 'public' ORDER BY table_name";

/// A column's type in Athena's SQL.
pub fn sql_type(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::List(item) | DataType::LargeList(item) => {
            format!("array({})", sql_type(item.data_type()))
        }
        DataType::Struct(fields) => format!(
            "row({})",
            fields
                .iter()
                .map(|f| format!("{} {}", f.name(), sql_type(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map({}, {})",
                sql_type(kv[0].data_type()),
                sql_type(kv[1].data_type())
            ),
            other => other.to_string(),
        },
        DataType::Dictionary(_, value) => sql_type(value),
        other => other.to_string().to_lowercase(),
    }
}

/// What `DESCRIBE table` runs instead: one row per column, `col_name`, `data_type` and a
/// `comment` that marks the partition columns.
pub fn describe_sql(schema: &Schema, partitions: &[String]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let rows: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let comment = if partitions.iter().any(|p| p == f.name()) {
                "partition key"
            } else {
                ""
            };
            format!(
                "({}, {}, {})",
                quote(f.name()),
                quote(&sql_type(f.data_type())),
                quote(comment)
            )
        })
        .collect();
    format!(
        "SELECT * FROM (VALUES {}) AS t(col_name, data_type, comment)",
        rows.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Fields};
    use std::sync::Arc;

    #[test]
    fn nested_types_read_as_athena_writes_them() {
        let recipient = Fields::from(vec![
            Field::new("emailaddress", DataType::Utf8, true),
            Field::new("status", DataType::Utf8, true),
        ]);
        let list = DataType::List(Arc::new(Field::new_struct("item", recipient, true)));
        assert_eq!(
            sql_type(&list),
            "array(row(emailaddress varchar, status varchar))"
        );
        let map = DataType::Map(
            Arc::new(Field::new_struct(
                "entries",
                vec![
                    Field::new("key", DataType::Utf8, false),
                    Field::new("value", DataType::Utf8, true),
                ],
                false,
            )),
            false,
        );
        assert_eq!(sql_type(&map), "map(varchar, varchar)");
        assert_eq!(sql_type(&DataType::Int64), "bigint");
    }
}
