//! The app's errors: a usage error (exit 2, like clap's own) and, in one place, how an
//! error from the engine is put in the user's words.

use anyhow::anyhow;
use seslog_engine::Error;
use seslog_engine::error::WindowError;
use seslog_engine::table::diagnostics::{Choice, Problem};

/// A bad flag value or a missing setting: exit code 2, like clap's own usage errors.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// An error from the engine in the user's words, with the flag that gave the value where
/// there is one: the only place engine errors meet flag names. Bad values the user typed
/// (a window bound, a report parameter, a projection day) are usage errors.
pub fn explain(e: impl Into<Error>) -> anyhow::Error {
    let usage = |text: String| anyhow::Error::new(UsageError(text));
    match e.into() {
        Error::Strict { problem, unit } => anyhow!(
            "{} (--strict: no {unit} may be skipped)",
            problem_text(&problem)
        ),
        Error::NoObjects {
            folder,
            holder: Some(holder),
            ..
        } => anyhow!(
            "no objects under {folder}: --source is one level off; {holder} holds the layout's \
             first folder: try --source {}",
            holder.trim_end_matches('/')
        ),
        Error::NoObjects { folder, layout, .. } => anyhow!(
            "no objects under {folder}: check --source (the root that holds the layout's first \
             folder) and --layout (now `{layout}`)"
        ),
        Error::Window(window) => usage(match window {
            WindowError::Start(why) => format!("--from: {why}"),
            WindowError::End(why) => format!("--to: {why}"),
            WindowError::Span(why) => format!("--since: {why}"),
            WindowError::StartAndSpan => "give --from or --since, not both".into(),
            WindowError::Empty { from, to } => {
                format!("the window is empty: --from {from} is not before --to {to}")
            }
        }),
        Error::NoReport { name, known } => usage(format!(
            "no report named `{name}` (there are: {}; `seslog reports` describes them)",
            known.join(", ")
        )),
        Error::FirstDay(day) => usage(format!("--first-day {day:?} is not a day like 2024/01/31")),
        e @ (Error::Param(_) | Error::Projection(_)) => usage(e.to_string()),
        Error::Offline { what } => anyhow!(
            "--offline: {what} is not in the cache (run the query once without --offline to \
             cache what it reads)"
        ),
        e @ Error::ReadOnly => anyhow!(
            "{e}; to export a result, use --output FILE (csv, tsv, json, ndjson or parquet) or \
             --format"
        ),
        e => anyhow::Error::new(e),
    }
}

/// A skipped record or damaged object in the user's words: the engine's summary, and the
/// flag that decided what became of a damaged object's records.
pub fn problem_text(problem: &Problem) -> String {
    let choice = match problem.choice {
        Some(Choice::Kept) => " (--keep-damaged)",
        Some(Choice::Dropped) => "; --keep-damaged keeps them",
        None => "",
    };
    format!("{}{choice}", problem.summary())
}
