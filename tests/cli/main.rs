//! End-to-end tests of the `seslog` binary over generated Firehose trees: exact rows, exact
//! counts, and exactly what was listed and read. One test binary; this file is its table of
//! contents, the harness is `util`.

mod util;

// The table: partitions, pruning, Athena's names, derived columns.
mod table;
// Other Firehose layouts.
mod layouts;
// Damaged and odd input, and `--strict`.
mod damage;
// Trust: no record counted twice, no short answer taken for a whole one.
mod trust;
// The same table on S3, and S3 misbehaving.
mod s3;
mod s3_faults;
// The local cache of S3 objects and listings, and `--offline`.
mod cache;
// The Parquet tier: `compact` and `--parquet`.
mod tier;
// Lookups by recipient and message id, with the prefilter on and off.
mod lookup;
// The canned reports.
mod reports;
// Athena's SQL: the corpus in tests/athena/ and Trino's functions.
mod athena;
// How seslog is called and how it ends.
mod invocation;
// Output formats and `--output`.
mod output;
// What a person at a terminal sees.
mod terminal;

// SES feedback notifications read as events.
mod notifications;

// Firehose's error prefix: errorlogs and `seslog errors`.
mod errorlogs;

// The same queries on workers: `--workers` and `seslog worker`.
mod cluster;
