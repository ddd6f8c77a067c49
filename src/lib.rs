//! seslog: Amazon SES event logs (Firehose -> S3, gzipped JSON) as the SQL table `seslogs`.
//!
//! Data flows one way: `cli` (what was typed) -> `config` (decisions) -> `source` (where the
//! objects are) -> `table`/`listing`/`scan`/`decode` (the table) -> `engine` (SQL) ->
//! `output` (printing). The engine knows nothing of clap or the terminal.

pub mod athena;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod datetime;
pub mod ddl;
pub mod decode;
#[cfg(test)]
mod decode_properties;
pub mod derived;
pub mod diagnostics;
pub mod engine;
pub mod exit;
pub mod functions;
pub mod layout;
pub mod listing;
pub mod localfs;
pub mod nested;
pub mod output;
pub mod prefilter;
mod prune;
pub mod reader;
pub mod records;
pub mod report;
pub mod s3http;
pub mod scan;
pub mod schema;
pub mod settings;
pub mod source;
pub mod table;
pub mod testgen;
pub mod window;
