//! The helpers every row-at-a-time function is built from: `RowUdf` (a Trino function
//! computed on one row's `ScalarValue`s, with its lenient `try_` twin), the argument checks
//! (`string`, `strings`, `text`) and the compiled-pattern cache. Both `functions` and
//! `datetime` build on this file; it imports neither.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

type Coerce = fn(&[DataType]) -> Result<Vec<DataType>>;
type Returns = fn(&[DataType]) -> Result<DataType>;
type Eval = fn(&[ScalarValue], &DataType) -> Result<ScalarValue>;

/// A function computed one row at a time on `ScalarValue`s. Trino's parsing and calendar
/// functions are per-value work (a parse, a format) on the rows a query returns or groups
/// by; writing each against every Arrow array type would multiply code, not speed. A NULL
/// argument gives NULL without calling `eval`.
#[derive(Debug)]
pub struct RowUdf {
    pub name: String,
    signature: Signature,
    coerce: Coerce,
    returns: Returns,
    eval: Eval,
    /// `try_<name>`: an error in a row gives NULL instead of failing the query.
    lenient: bool,
}

impl PartialEq for RowUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for RowUdf {}
impl std::hash::Hash for RowUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl RowUdf {
    pub fn new(name: &str, coerce: Coerce, returns: Returns, eval: Eval) -> Self {
        Self {
            name: name.to_string(),
            signature: Signature::user_defined(Volatility::Immutable),
            coerce,
            returns,
            eval,
            lenient: false,
        }
    }

    pub fn lenient(&self) -> Self {
        Self {
            name: format!("try_{}", self.name),
            signature: self.signature.clone(),
            lenient: true,
            ..*self
        }
    }
}

impl ScalarUDFImpl for RowUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // A wrong argument type is reported by return_type: DataFusion buries a coercion
        // error under its own candidate-signature text.
        Ok((self.coerce)(arg_types).unwrap_or_else(|_| arg_types.to_vec()))
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let name = self.name.trim_start_matches("try_");
        let types = (self.coerce)(arg_types)
            .map_err(|e| DataFusionError::Plan(format!("{name}: {}", message(e))))?;
        (self.returns)(&types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let returns = args.return_field.data_type().clone();
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let rows = if all_scalar { 1 } else { args.number_rows };
        let mut out = Vec::with_capacity(rows);
        let mut row = Vec::with_capacity(arrays.len());
        for i in 0..rows {
            row.clear();
            for a in &arrays {
                row.push(ScalarValue::try_from_array(a, i)?);
            }
            let value = if row.iter().any(ScalarValue::is_null) {
                ScalarValue::try_from(&returns)?
            } else {
                match (self.eval)(&row, &returns) {
                    Ok(v) => v,
                    Err(_) if self.lenient => ScalarValue::try_from(&returns)?,
                    Err(e) => {
                        let name = self.name.as_str();
                        return Err(DataFusionError::Execution(format!(
                            "{name}: {}",
                            message(e)
                        )));
                    }
                }
            };
            out.push(value);
        }
        if all_scalar {
            return Ok(ColumnarValue::Scalar(out.pop().expect("one row")));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    }
}

/// An error's own words, without DataFusion's "Execution error: " in front.
fn message(e: DataFusionError) -> String {
    match e {
        DataFusionError::Execution(m) | DataFusionError::Plan(m) => m,
        other => other.strip_backtrace(),
    }
}

/// The text of a string argument (callers coerce string arguments to Utf8).
pub fn text(v: &ScalarValue) -> Result<&str> {
    match v {
        ScalarValue::Utf8(Some(s)) => Ok(s),
        other => exec_err!("expected a string, got {other}"),
    }
}

pub fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

/// Checks that every argument is a string (or NULL) and asks for Utf8.
pub fn strings(arg_types: &[DataType], names: &[&str]) -> Result<Vec<DataType>> {
    if arg_types.len() != names.len() {
        return plan_err!("takes ({})", names.join(", "));
    }
    arg_types
        .iter()
        .zip(names)
        .map(|(t, n)| string(t, n))
        .collect()
}

/// Checks that the argument `name` is a string (or NULL) and asks for Utf8.
pub fn string(arg_type: &DataType, name: &str) -> Result<DataType> {
    if !is_string(arg_type) {
        return plan_err!("{name} must be a string (varchar), not {arg_type}");
    }
    Ok(DataType::Utf8)
}

thread_local! {
    /// Compiled patterns: a query passes the same pattern for every row.
    static PATTERNS: std::cell::RefCell<Vec<(String, regex::Regex)>> = const {
        std::cell::RefCell::new(Vec::new())
    };
}

/// Runs `f` with the compiled `pattern`.
pub fn with_regex<T>(pattern: &str, f: impl FnOnce(&regex::Regex) -> T) -> Result<T> {
    PATTERNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, re)) = cache.iter().find(|(p, _)| p == pattern) {
            return Ok(f(re));
        }
        let re = regex::Regex::new(pattern)
            .map_err(|e| DataFusionError::Execution(format!("invalid pattern: {e}")))?;
        let out = f(&re);
        if cache.len() >= 16 {
            cache.remove(0);
        }
        cache.push((pattern.to_string(), re));
        Ok(out)
    })
}
