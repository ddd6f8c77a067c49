//! Athena's SQL (Trino's dialect) on DataFusion: the dialect sqlparser reads it with
//! (`dialect`), the rewrite of a parsed statement before planning (`rewrite`), and the Trino
//! functions DataFusion lacks (`functions`, the date and time ones in `datetime`, both built
//! on the row-at-a-time helpers of `udf`).

mod datetime;
pub mod describe;
mod dialect;
mod functions;
mod rewrite;
mod udf;

pub use dialect::AthenaDialect;
pub use functions::register;
pub use rewrite::translate;
