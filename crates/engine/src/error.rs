//! The engine's errors: one enum, each variant saying what is wrong with what (an object, a
//! folder, a value), never how the value was given. A front end that knows its flags puts
//! their names on them (seslog's app does it in one place, its `error.rs`).
//!
//! Inside a scan, DataFusion's traits speak `DataFusionError`: ours travel through them as
//! `DataFusionError::External` and come back out whole in `Error::from`.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

use crate::table::diagnostics::Problem;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub enum Error {
    /// A source that is neither a local directory nor `s3://bucket[/prefix]`.
    Location { text: String, why: String },
    /// The source cannot be opened: a missing directory, an S3 client that cannot be built.
    Source(String),
    /// A Firehose `Prefix` expression seslog cannot read.
    Layout(LayoutError),
    /// Nothing at all under the layout's first folder: the source is one level off, or the
    /// objects were written with another layout.
    NoObjects {
        folder: String,
        layout: String,
        /// The folder that holds the layout's first folder, when the source is one level off.
        holder: Option<String>,
    },
    /// A folder that could not be listed.
    List { folder: String, why: String },
    /// An object that could not be read whole: the request failed, or what arrived is not
    /// the object the listing named.
    Read { object: String, why: String },
    /// Offline, something the query needs is not in the cache: `what` names it (an object,
    /// a folder's listing).
    Offline { what: String },
    /// A record or an object a strict scan may not skip.
    Strict { problem: Box<Problem>, unit: Unit },
    /// A bound of a report's time window.
    Window(WindowError),
    /// A report that cannot be read: its file, its directory, its header.
    Report(String),
    /// No report of that name.
    NoReport { name: String, known: Vec<String> },
    /// A report parameter without a value, with a value of the wrong kind, or unknown.
    Param(String),
    /// A layout Athena's partition projection cannot follow.
    Projection(String),
    /// The first day of the projection is not a day like `2024/01/31`.
    FirstDay(String),
    /// The Parquet tier could not be opened, read or written: `what` names the place (the
    /// tier, a file, a folder's manifest).
    Tier { what: String, why: String },
    /// A statement that would write or register something: seslog's SQL is read-only.
    ReadOnly,
    /// A worker (`host:port`) that cannot be reached, or that failed or went away during a
    /// query.
    Worker { worker: String, why: String },
    /// What DataFusion (or arrow, or the object store) reported: the SQL, the plan, a read.
    /// (Shared, so that an error DataFusion hands to several partitions comes out whole.)
    Query(Arc<DataFusionError>),
}

/// What a strict scan refused to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Unit {
    Record,
    Object,
}

/// Which bound of a time window is wrong, with the value's own complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowError {
    Start(String),
    End(String),
    Span(String),
    /// A start and a span were both given.
    StartAndSpan,
    /// The start is not before the end (both RFC 3339).
    Empty {
        from: String,
        to: String,
    },
}

/// Why an expression was refused; names the part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutError {
    pub part: String,
    pub why: String,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot use layout part `{}`: {}", self.part, self.why)
    }
}

impl std::error::Error for LayoutError {}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Record => "record",
            Unit::Object => "object",
        })
    }
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowError::Start(why) => write!(f, "the window's start: {why}"),
            WindowError::End(why) => write!(f, "the window's end: {why}"),
            WindowError::Span(why) => write!(f, "the window's length: {why}"),
            WindowError::StartAndSpan => {
                f.write_str("give the window's start or its length, not both")
            }
            WindowError::Empty { from, to } => {
                write!(
                    f,
                    "the window is empty: its start {from} is not before its end {to}"
                )
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Location { why, .. } => f.write_str(why),
            Error::Source(why)
            | Error::Report(why)
            | Error::Param(why)
            | Error::Projection(why) => f.write_str(why),
            Error::Layout(e) => write!(f, "{e}"),
            Error::NoObjects {
                folder,
                holder: Some(holder),
                ..
            } => write!(
                f,
                "no objects under {folder}: the source is one level off; {holder} holds the \
                 layout's first folder"
            ),
            Error::NoObjects { folder, layout, .. } => write!(
                f,
                "no objects under {folder}: the source is not the root that holds the layout's \
                 first folder, or the objects were written with another layout than `{layout}`"
            ),
            Error::List { folder, why } => write!(f, "listing {folder}: {why}"),
            Error::Read { object, why } => write!(f, "reading {object}: {why}"),
            Error::Tier { what, why } => write!(f, "{what}: {why}"),
            Error::Worker { worker, why } => write!(f, "worker {worker}: {why}"),
            Error::Offline { what } => write!(
                f,
                "{what} is not in the cache, and nothing is fetched offline (run the query once \
                 online to cache what it reads)"
            ),
            Error::Strict { problem, unit } => {
                write!(f, "{problem} (strict: no {unit} may be skipped)")
            }
            Error::Window(e) => write!(f, "{e}"),
            Error::FirstDay(day) => write!(
                f,
                "the first day of the projection, {day:?}, is not a day like 2024/01/31"
            ),
            Error::NoReport { name, known } => {
                write!(
                    f,
                    "no report named `{name}` (there are: {})",
                    known.join(", ")
                )
            }
            Error::ReadOnly => f.write_str(
                "seslog's SQL is read-only: statements that write or register anything (COPY, \
                 INSERT, CREATE, DROP, SET) are refused",
            ),
            Error::Query(e) => f.write_str(&datafusion_message(e)),
        }
    }
}

impl std::error::Error for Error {}

impl From<WindowError> for Error {
    fn from(e: WindowError) -> Self {
        Error::Window(e)
    }
}

/// Into DataFusion's error, to travel through its traits (a scan, a UDF).
impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        match e {
            Error::Query(inner) => match Arc::try_unwrap(inner) {
                Ok(owned) => owned,
                Err(shared) => DataFusionError::Shared(shared),
            },
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

/// Out of DataFusion's error: ours, found under the wrappers DataFusion and arrow put around
/// it (an External inside an arrow error inside a context, shared between partitions...),
/// or DataFusion's own.
impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        match ours(&e) {
            Some(ours) => ours.clone(),
            None => Error::Query(Arc::new(e)),
        }
    }
}

fn ours(e: &DataFusionError) -> Option<&Error> {
    match e {
        DataFusionError::External(inner) => ours_boxed(inner.as_ref()),
        DataFusionError::ArrowError(inner, _) => match inner.as_ref() {
            ArrowError::ExternalError(inner) => ours_boxed(inner.as_ref()),
            _ => None,
        },
        DataFusionError::Context(_, inner) => ours(inner),
        DataFusionError::Shared(inner) => ours(inner),
        _ => None,
    }
}

fn ours_boxed<'a>(inner: &'a (dyn std::error::Error + Send + Sync + 'static)) -> Option<&'a Error> {
    if let Some(ours) = inner.downcast_ref::<Error>() {
        return Some(ours);
    }
    inner.downcast_ref::<DataFusionError>().and_then(ours)
}

/// DataFusion's message without the kind it puts in front ("Error during planning: ",
/// "Execution error: ", "External error: "...): the user wants what is wrong, not where in
/// DataFusion it was found.
fn datafusion_message(e: &DataFusionError) -> String {
    match e {
        DataFusionError::Plan(m) | DataFusionError::Execution(m) => m.clone(),
        DataFusionError::External(inner) => inner.to_string(),
        DataFusionError::ObjectStore(inner) => inner.to_string(),
        DataFusionError::ArrowError(inner, _) => match inner.as_ref() {
            ArrowError::ExternalError(inner) => inner.to_string(),
            other => other.to_string(),
        },
        DataFusionError::Shared(inner) => datafusion_message(inner),
        other => other.strip_backtrace(),
    }
}
