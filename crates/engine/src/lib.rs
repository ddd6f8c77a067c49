//! seslog-engine: Amazon SES event logs (Firehose -> S3, gzipped JSON) as the SQL table
//! `seslogs`, for any program: no command line, no terminal.
//!
//! Data flows one way: `source` (where the objects are) -> `table` (layout, listing, scan,
//! decoding, schema, diagnostics) -> `engine` (a DataFusion session speaking Athena's SQL,
//! from `athena`) -> the caller's stream of batches. `report` holds the canned reports and
//! their time windows; `ddl` prints the Athena table over the same objects.

pub mod athena;
pub mod cluster;
pub mod ddl;
pub mod engine;
pub mod error;
pub mod report;
pub mod source;
pub mod table;
pub mod tier;

pub use engine::{Engine, TABLE};
pub use error::{Error, Result};
