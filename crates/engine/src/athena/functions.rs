//! Trino (Athena) functions that DataFusion lacks or defines differently, registered on
//! every session so pasted Athena SQL runs: `element_at` (DataFusion's is map-only),
//! `contains` (DataFusion's is the string one), `regexp_extract`, `json_extract_scalar`,
//! `json_extract`, and the date and time functions of `datetime`. Renames and rewrites
//! (`count_if`, `filter`, `try`, ...) are in `rewrite`.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{ScalarValue, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::functions_nested::array_has::array_has_udf;
use datafusion::functions_nested::extract::array_element_udf;
use datafusion::functions_nested::map_extract::map_extract_udf;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::datetime;
use super::dialect::LENIENT;
use super::udf::{RowUdf, is_string, string, strings, text, with_regex};

/// Registers seslog's Trino-compatible functions, and the lenient `try_` twins that
/// `athena` puts in place inside `try(...)`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(ElementAt::new()));
    ctx.register_udf(ScalarUDF::from(Contains::new()));
    let mut row_functions = vec![
        RowUdf::new(
            "regexp_extract",
            regexp_types,
            |_| Ok(DataType::Utf8),
            regexp_extract,
        ),
        RowUdf::new(
            "json_extract_scalar",
            json_types,
            |_| Ok(DataType::Utf8),
            |a, _| json_extract(a, true),
        ),
        RowUdf::new(
            "json_extract",
            json_types,
            |_| Ok(DataType::Utf8),
            |a, _| json_extract(a, false),
        ),
    ];
    row_functions.extend(datetime::functions());
    for f in row_functions {
        if LENIENT.contains(&f.name.as_str()) {
            ctx.register_udf(ScalarUDF::from(f.lenient()));
        }
        ctx.register_udf(ScalarUDF::from(f));
    }
}

fn regexp_types(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    match arg_types {
        [_, _] => strings(arg_types, &["string", "pattern"]),
        [s, p, g] if g.is_integer() || g.is_null() => Ok(vec![
            string(s, "string")?,
            string(p, "pattern")?,
            DataType::Int64,
        ]),
        _ => plan_err!("takes (string, pattern) or (string, pattern, group)"),
    }
}

/// `regexp_extract(s, pattern[, group])`: the first match (or its group), NULL if none.
fn regexp_extract(args: &[ScalarValue], _: &DataType) -> Result<ScalarValue> {
    let s = text(&args[0])?;
    let group = match args.get(2) {
        Some(ScalarValue::Int64(Some(g))) => usize::try_from(*g)
            .map_err(|_| DataFusionError::Execution(format!("group {g} is negative")))?,
        _ => 0,
    };
    let found = with_regex(text(&args[1])?, |re| {
        if group >= re.captures_len() {
            return Err(DataFusionError::Execution(format!(
                "pattern has {} groups, not {group}",
                re.captures_len() - 1
            )));
        }
        Ok(re
            .captures(s)
            .and_then(|c| c.get(group))
            .map(|m| m.as_str().to_string()))
    })??;
    Ok(ScalarValue::Utf8(found))
}

fn json_types(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    if let [t, _] = arg_types
        && matches!(
            t,
            DataType::Struct(_) | DataType::List(_) | DataType::Map(_, _)
        )
    {
        let kind = match t {
            DataType::Struct(_) => "a struct",
            DataType::List(_) => "an array",
            _ => "a map",
        };
        return plan_err!(
            "the first argument is {kind}, not JSON text: seslog decodes the SES record \
             already, so read the field directly (mail.commonheaders.subject, \
             element_at(bounce.bouncedrecipients, 1).emailaddress)"
        );
    }
    strings(arg_types, &["json", "json_path"])
}

/// One step of a JSONPath as Trino reads it: `.name`, `["name"]`, `['name']`, `[n]`.
enum Step {
    Key(String),
    Index(usize),
}

fn json_path(path: &str) -> Result<Vec<Step>> {
    let bad = || DataFusionError::Execution(format!("invalid JSON path {path:?}"));
    let mut rest = path.trim().strip_prefix('$').ok_or_else(bad)?;
    let mut steps = vec![];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad());
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            let inner = r[..end].trim();
            let quoted = inner
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| inner.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')));
            steps.push(match quoted {
                Some(key) => Step::Key(key.to_string()),
                None => Step::Index(inner.parse().map_err(|_| bad())?),
            });
            rest = &r[end + 1..];
        } else {
            return Err(bad());
        }
    }
    Ok(steps)
}

/// `json_extract_scalar` (`scalar`: a string, number or boolean as text; NULL for objects,
/// arrays and JSON null) and `json_extract` (the JSON text of the value). Text that is not
/// JSON, or a path that leads nowhere, gives NULL, as in Trino.
fn json_extract(args: &[ScalarValue], scalar: bool) -> Result<ScalarValue> {
    let steps = json_path(text(&args[1])?)?;
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text(&args[0])?) else {
        return Ok(ScalarValue::Utf8(None));
    };
    for step in steps {
        let next = match (&step, &mut value) {
            (Step::Key(k), serde_json::Value::Object(o)) => o.remove(k),
            (Step::Index(i), serde_json::Value::Array(a)) if *i < a.len() => {
                Some(a.swap_remove(*i))
            }
            _ => None,
        };
        let Some(next) = next else {
            return Ok(ScalarValue::Utf8(None));
        };
        value = next;
    }
    Ok(ScalarValue::Utf8(match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if scalar => Some(s),
        serde_json::Value::Object(_) | serde_json::Value::Array(_) if scalar => None,
        other => Some(other.to_string()),
    }))
}

/// Trino's `contains(array, element)`; `contains(string, substring)` stays DataFusion's.
/// Both delegate to DataFusion's kernels (`array_has`, string `contains`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Contains {
    signature: Signature,
}

impl Contains {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Contains {
    fn name(&self) -> &str {
        "contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::List(f) | DataType::LargeList(f), _] => {
                Ok(vec![DataType::List(Arc::clone(f)), f.data_type().clone()])
            }
            [a, b] if is_string(a) && is_string(b) => Ok(vec![DataType::Utf8, DataType::Utf8]),
            _ => plan_err!(
                "contains takes (array, element) or (string, substring), not ({})",
                arg_types
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args[0].data_type() {
            DataType::List(_) => array_has_udf().invoke_with_args(args),
            _ => datafusion::functions::string::contains().invoke_with_args(args),
        }
    }
}

/// `element_at(array, index)` (1-based; negative counts from the end; out of range is NULL)
/// and `element_at(map, key)` (the value, or NULL), as in Trino. Both delegate to
/// DataFusion's own kernels (`array_element`, `map_extract`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ElementAt {
    signature: Signature,
}

impl ElementAt {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn map_value_type(map: &DataType) -> Option<(DataType, DataType)> {
    let DataType::Map(entries, _) = map else {
        return None;
    };
    let DataType::Struct(fields) = entries.data_type() else {
        return None;
    };
    Some((
        fields.first()?.data_type().clone(),
        fields.get(1)?.data_type().clone(),
    ))
}

impl ScalarUDFImpl for ElementAt {
    fn name(&self) -> &str {
        "element_at"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [container, _] = arg_types else {
            return plan_err!("element_at takes two arguments: (array, index) or (map, key)");
        };
        match container {
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => {
                Ok(vec![container.clone(), DataType::Int64])
            }
            DataType::Map(_, _) => {
                let (key, _) = map_value_type(container).expect("a map has key and value");
                Ok(vec![container.clone(), key])
            }
            DataType::Null => Ok(arg_types.to_vec()),
            other => plan_err!("element_at expects an array or a map, not {other}"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                Ok(f.data_type().clone())
            }
            map @ DataType::Map(_, _) => {
                Ok(map_value_type(map).expect("a map has key and value").1)
            }
            DataType::Null => Ok(DataType::Null),
            other => plan_err!("element_at expects an array or a map, not {other}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args[0].data_type() {
            DataType::Map(_, _) => {
                // map_extract gives a one-element list of the value (or an empty list).
                let value_field = Arc::clone(&args.return_field);
                let list_field = Arc::new(Field::new(
                    "element_at",
                    DataType::List(Arc::new(Field::new_list_field(
                        value_field.data_type().clone(),
                        true,
                    ))),
                    true,
                ));
                let number_rows = args.number_rows;
                let config_options = Arc::clone(&args.config_options);
                let extracted = map_extract_udf().invoke_with_args(ScalarFunctionArgs {
                    return_field: Arc::clone(&list_field),
                    ..args
                })?;
                let one = ColumnarValue::Scalar(ScalarValue::Int64(Some(1)));
                array_element_udf().invoke_with_args(ScalarFunctionArgs {
                    args: vec![extracted, one],
                    arg_fields: vec![
                        list_field,
                        Arc::new(Field::new("i", DataType::Int64, false)),
                    ],
                    number_rows,
                    return_field: value_field,
                    config_options,
                })
            }
            DataType::Null => Ok(ColumnarValue::Scalar(ScalarValue::Null)),
            _ => array_element_udf().invoke_with_args(args),
        }
    }
}
