//! Objects fetched ahead of decoding, for a scan of S3.
//!
//! DataFusion opens one object at a time per partition, so a scan on two cores had about two
//! GETs in flight: a GET's latency (tens of milliseconds on S3) is far longer than decoding
//! a Firehose object of a few KB, and the cores waited on the network. Here the scan's
//! objects, in the order the partitions take them (the file groups one after another, the
//! order of DataFusion's shared work queue), are fetched up to `AHEAD` at a time and up to
//! `AHEAD_BYTES` of them; each object's bytes go to whichever partition opens it.
//!
//! Nothing is fetched twice and nothing is lost: an object opened before its turn is
//! fetched by its opener and never fetched ahead; a failed fetch ahead is the error of the
//! open that takes it. Fetches still running when the scan is dropped (a `LIMIT` satisfied,
//! an error) are cancelled.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use datafusion::error::Result;
use futures::FutureExt;
use futures::future::{BoxFuture, RemoteHandle};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

use crate::table::scan::{Keep, ScanSettings, fetch};

/// Objects fetched ahead at most: enough to hide S3's latency behind decoding on a few
/// cores; `AHEAD_BYTES` bounds the memory whatever the count. A 7-day lookup over 16,588
/// objects, with 20 ms added to every request: 5.45 s with 64 ahead, 3.21 s with 128,
/// 2.11 s with 256 (peak memory 107, 116 and 115 MiB); with 10 ms, 256 ahead took it to
/// about the time with none added. Above about 5,500 GETs a second on one prefix S3 may
/// answer 503 SlowDown: the client retries after a pause, and the scan then fetches fewer
/// ahead (`ahead_at_most`).
pub const AHEAD: usize = 256;
/// Bytes (as listed) of the objects fetched ahead, at most; one object is always allowed.
const AHEAD_BYTES: u64 = 64 << 20;

pub struct Prefetch {
    store: Arc<dyn ObjectStore>,
    settings: ScanSettings,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Objects not fetched yet, in the order they will be opened.
    waiting: VecDeque<ObjectMeta>,
    /// Fetched or being fetched, not yet opened (dropping a handle cancels its fetch).
    ahead: HashMap<Path, (u64, RemoteHandle<Result<Bytes>>)>,
    ahead_bytes: u64,
    /// Opened before their turn and still in `waiting`.
    opened: HashSet<Path>,
}

impl Prefetch {
    pub fn new(
        objects: impl IntoIterator<Item = ObjectMeta>,
        store: Arc<dyn ObjectStore>,
        settings: ScanSettings,
    ) -> Self {
        Self {
            store,
            settings,
            state: Mutex::new(State {
                waiting: objects.into_iter().collect(),
                ..State::default()
            }),
        }
    }

    /// The object's bytes: fetched ahead, or fetched now; and the next objects started.
    pub async fn open(&self, object: &ObjectMeta, name: &str) -> Result<Bytes> {
        let ahead = {
            let mut state = self.lock();
            let ahead = state.ahead.remove(&object.location);
            match &ahead {
                Some((size, _)) => state.ahead_bytes -= size,
                // Opened before its turn: still waiting, to be passed over at its turn.
                None => {
                    state.opened.insert(object.location.clone());
                }
            }
            self.start_more(&mut state);
            ahead
        };
        match ahead {
            Some((_, fetched)) => fetched.await,
            None => {
                let store = Arc::clone(&self.store);
                fetch(store.as_ref(), object, name, &self.settings, Keep::InCache).await
            }
        }
    }

    fn start_more(&self, state: &mut State) {
        let most = ahead_at_most(self.settings.source.counters.slowdowns());
        while state.ahead.len() < most {
            let Some(next) = state.waiting.front() else {
                break;
            };
            if state.opened.remove(&next.location) {
                state.waiting.pop_front();
                continue;
            }
            if !state.ahead.is_empty() && state.ahead_bytes + next.size > AHEAD_BYTES {
                break;
            }
            let object = state.waiting.pop_front().expect("a front");
            let (size, location) = (object.size, object.location.clone());
            let (run, handle) = self.fetch_ahead(object).remote_handle();
            tokio::spawn(run);
            state.ahead_bytes += size;
            state.ahead.insert(location, (size, handle));
        }
    }

    fn fetch_ahead(&self, object: ObjectMeta) -> BoxFuture<'static, Result<Bytes>> {
        let store = Arc::clone(&self.store);
        let settings = self.settings.clone();
        async move {
            let name = settings.source.location.object_name(&object.location);
            fetch(store.as_ref(), &object, &name, &settings, Keep::InCache).await
        }
        .boxed()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Objects fetched ahead at most, once S3 has asked `slowdowns` times to slow down: half
/// as many after the first, a quarter after the second (64, the number before
/// `AHEAD` was raised). Each answer asking to slow down was retried with a pause; fetching
/// fewer at once keeps the retries few enough that none runs out.
fn ahead_at_most(slowdowns: u64) -> usize {
    AHEAD >> slowdowns.min(2)
}

impl std::fmt::Debug for Prefetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Prefetch")
            .field("waiting", &state.waiting.len())
            .field("ahead", &state.ahead.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_are_fetched_ahead_once_s3_asks_to_slow_down() {
        let most: Vec<usize> = (0..5).map(ahead_at_most).collect();
        assert_eq!(most, [256, 128, 64, 64, 64]);
    }
}
