//! Trino (Athena) functions that DataFusion lacks or defines differently, registered on
//! every session so pasted Athena SQL runs. For now: `element_at`, which DataFusion only
//! has as a map alias; Trino's works on arrays too (1-based, negative from the end).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{ScalarValue, plan_err};
use datafusion::error::Result;
use datafusion::functions_nested::extract::array_element_udf;
use datafusion::functions_nested::map_extract::map_extract_udf;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// Registers seslog's Trino-compatible functions.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(ElementAt::new()));
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
