//! `seslog worker`: a datafusion-distributed worker that runs the parts of seslog scans
//! (and whatever stages the coordinator places on it) with seslog's functions. It opens
//! each source a query names once, with its own credential chain, and keeps it for the
//! queries after.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::config::ExtensionOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionContext;
use datafusion_distributed::{DistributedExt, Worker, WorkerQueryContext, WorkerSessionBuilder};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::cluster::SourceOptions;
use crate::cluster::codec::SesCodec;
use crate::source::{Location, ObjectCache, Source};
use crate::tier::Tier;

/// What a query's tasks on this worker read from: the source the coordinator named. A
/// session config extension, for `SesCodec` to find.
#[derive(Debug)]
pub(crate) struct Session {
    source: Source,
    /// The Parquet tier the query reads from where it holds a folder, if any.
    tier: Option<Arc<Tier>>,
}

impl Session {
    pub(crate) fn source(&self) -> (Source, Option<Arc<Tier>>) {
        (self.source.clone(), self.tier.clone())
    }
}

/// A source as a worker opened it: with its tier, and a runtime that has its store.
type Opened = (Source, Option<Arc<Tier>>, Arc<RuntimeEnv>);

/// The sources this worker has opened, by where they are and how they are reached, each
/// with a runtime that has its store.
#[derive(Debug, Default)]
struct Sources {
    /// Where objects fetched from S3 are kept, if anywhere (the worker's own cache).
    cache: Option<Arc<ObjectCache>>,
    /// The address it listens on, to name it in an error before any scan has its name.
    listening: String,
    opened: Mutex<HashMap<String, Opened>>,
}

impl Sources {
    async fn open(&self, options: &SourceOptions) -> Result<Opened> {
        // Every option, so a source opened one way is never reused for a query that asks
        // for it another way (a field added to `SourceOptions` is in the key by itself).
        let key = options
            .entries()
            .into_iter()
            .map(|e| format!("{}={}\n", e.key, e.value.unwrap_or_default()))
            .collect::<String>();
        let mut opened = self.opened.lock().await;
        if let Some(source) = opened.get(&key) {
            return Ok(source.clone());
        }
        let (location, tier, mut s3) = options.settings()?;
        if matches!(location, Location::S3 { .. }) {
            s3.cache = self.cache.clone();
        }
        let source = Source::open(location, &s3).await?;
        let tier = match tier {
            Some(tier) => Some(Arc::new(Tier::open(tier, &s3, false).await?)),
            None => None,
        };
        let runtime = RuntimeEnvBuilder::new().build_arc()?;
        runtime.register_object_store(source.url.as_ref(), Arc::clone(&source.store));
        let done = (source, tier, runtime);
        opened.insert(key, done.clone());
        Ok(done)
    }
}

#[async_trait]
impl WorkerSessionBuilder for Sources {
    async fn build_session_state(&self, ctx: WorkerQueryContext) -> Result<SessionState> {
        let state = ctx
            .builder
            .with_distributed_option_extension_from_headers::<SourceOptions>(&ctx.headers)?
            .with_distributed_user_codec(SesCodec)
            .build();
        let options = state
            .config()
            .options()
            .extensions
            .get::<SourceOptions>()
            .cloned()
            .ok_or_else(|| {
                DataFusionError::Plan("a query without a seslog source reached a worker".into())
            })?;
        let (source, tier, runtime) = self
            .open(&options)
            .await
            .map_err(|e| super::carry(e, &self.listening))?;
        let mut config = state.config().clone();
        config.set_extension(Arc::new(Session { source, tier }));
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .with_runtime_env(runtime)
            .build();
        // seslog's functions (Athena's), for the stages that evaluate them here.
        let ctx = SessionContext::new_with_state(state);
        crate::athena::register(&ctx);
        Ok(ctx.state())
    }
}

/// Serves queries on `listener` until the process is stopped, keeping the S3 objects it
/// fetches in `cache`, if given.
pub async fn serve(listener: TcpListener, cache: Option<Arc<ObjectCache>>) -> crate::Result<()> {
    let listening = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "(address unknown)".into());
    let worker = Worker::from_session_builder(Sources {
        cache,
        listening,
        ..Sources::default()
    });
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(worker.into_worker_server())
        .serve_with_incoming(incoming)
        .await
        .map_err(|e| crate::Error::Source(format!("the worker stopped: {e}")))
}
