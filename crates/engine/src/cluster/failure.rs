//! When a distributed query fails: which worker, in the user's words. A scan's error on a
//! worker crosses the wire as text (datafusion-distributed keeps an external error's
//! message only), so the worker puts ours in a form the coordinator reads back: a strict
//! scan's refusal comes out as in a local run, any other error of the scan names the worker
//! it happened on. A worker that went away is found by calling each one.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileOpenFuture, FileOpener};
use datafusion::error::{DataFusionError, Result};
use futures::{StreamExt, TryFutureExt};

use crate::cluster::Workers;
use crate::error::{Error, Unit};
use crate::table::diagnostics::Problem;

/// What of a scan's error a worker sends: enough to rebuild a strict refusal exactly.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Sent {
    Strict { problem: Problem, unit: Unit },
    Other { worker: String, why: String },
}

const OPEN: &str = "\u{27ea}seslog:";
const CLOSE: char = '\u{27eb}';

/// The error text that carries `sent` across.
#[derive(Debug)]
struct Carried(String);

impl std::fmt::Display for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Carried {}

/// `e`, as the coordinator reads it back (see `blame`).
pub(crate) fn carry(e: DataFusionError, worker: &str) -> DataFusionError {
    let sent = match Error::from(e) {
        Error::Strict { problem, unit } => Sent::Strict {
            problem: *problem,
            unit,
        },
        other => Sent::Other {
            worker: worker.to_string(),
            why: other.to_string(),
        },
    };
    let json = serde_json::to_vec(&sent).expect("an error is JSON");
    DataFusionError::External(Box::new(Carried(format!(
        "{OPEN}{}{CLOSE}",
        BASE64.encode(json)
    ))))
}

/// The scan's error, if `text` carries one.
fn carried(text: &str) -> Option<Error> {
    let start = text.find(OPEN)? + OPEN.len();
    let end = start + text[start..].find(CLOSE)?;
    let json = BASE64.decode(&text[start..end]).ok()?;
    Some(match serde_json::from_slice(&json).ok()? {
        Sent::Strict { problem, unit } => Error::Strict {
            problem: Box::new(problem),
            unit,
        },
        Sent::Other { worker, why } => Error::Worker { worker, why },
    })
}

/// On a worker: an opener whose errors cross the wire as `carried` reads them.
pub(crate) fn on_worker(opener: Arc<dyn FileOpener>, worker: &str) -> Arc<dyn FileOpener> {
    Arc::new(OnWorker {
        inner: opener,
        worker: worker.into(),
    })
}

struct OnWorker {
    inner: Arc<dyn FileOpener>,
    worker: Arc<str>,
}

impl FileOpener for OnWorker {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let worker = Arc::clone(&self.worker);
        let opening = self.inner.open(file).map_err(|e| carry(e, &worker))?;
        Ok(Box::pin(
            opening
                .map_ok(move |stream| {
                    stream
                        .map(move |batch| batch.map_err(|e| carry(e, &worker)))
                        .boxed()
                })
                .map_err({
                    let worker = Arc::clone(&self.worker);
                    move |e| carry(e, &worker)
                }),
        ))
    }
}

/// How long a worker may take to accept a connection when it is called to see whether it
/// is still there.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A distributed query's error in the user's words: a scan's own error as the worker
/// sent it, else the first worker that no longer answers, named, else the error as it is.
pub(crate) async fn blame(e: DataFusionError, workers: &Workers) -> DataFusionError {
    let text = e.to_string();
    if let Some(error) = carried(&text) {
        return error.into();
    }
    let error = Error::from(e);
    if !matches!(error, Error::Query(_)) {
        return error.into();
    }
    for name in workers.names() {
        if let Err(why) = super::reach(name, PROBE_TIMEOUT).await {
            return Error::Worker {
                worker: name.clone(),
                why: format!("went away during the query ({why}): {error}"),
            }
            .into();
        }
    }
    error.into()
}
