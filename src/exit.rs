//! Every exit code seslog ends with, in one place (the README's "Exit codes" lists them).

/// The command did what was asked; an empty answer is a success too.
pub const SUCCESS: u8 = 0;
/// A runtime error: the source, a query, an object, a damaged record under `--strict`.
pub const ERROR: u8 = 1;
/// A usage error: a bad flag or value (clap's own errors also exit 2).
pub const USAGE: u8 = 2;
/// `seslog check`: a bounce or complaint rate crossed its threshold.
pub const THRESHOLD_CROSSED: u8 = 3;
/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;
