//! Where the objects are: a local directory or `s3://bucket[/prefix]`, opened as an
//! `ObjectStore` rooted at the folder that contains `partitioned/`. S3 credentials come from
//! the AWS SDK's own chain (env, profiles and SSO from `~/.aws/config`, web identity,
//! container and instance metadata), which `object_store` alone does not provide. Every
//! store is wrapped in `CountingStore`, so a run can say (and a test can assert) exactly how
//! many LIST and GET requests it made.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use datafusion::execution::object_store::ObjectStoreUrl;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, CopyOptions, CredentialProvider, GetOptions, GetResult,
    ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions,
    PutPayload, PutResult, RetryConfig,
};
use tokio::sync::Mutex;

use crate::error::{Error, Result};

pub mod cache;
pub mod localfs;
pub mod rejected;
pub mod s3http;

pub use cache::{CacheSettings, ObjectCache};
use localfs::LocalTree;
pub use rejected::RejectedNames;
use s3http::{GuardedConnector, S3Fault};

/// Where the logs are, as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Location {
    /// `s3://bucket[/prefix]` or a directory path. Anything else with a scheme is refused.
    pub fn parse(text: &str) -> Result<Self> {
        let refuse = |why: String| Error::Location {
            text: text.to_string(),
            why,
        };
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(refuse(format!(
                    "`{text}` has no bucket name (expected s3://bucket[/prefix])"
                )));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(refuse(format!(
                "`{scheme}://` sources are not supported; use a local directory or s3://bucket[/prefix]"
            )));
        }
        Ok(Location::Local(PathBuf::from(text)))
    }
}

impl Location {
    /// The user-facing name of an object: `s3://bucket/key` or the local file path.
    pub fn object_name(&self, path: &Path) -> String {
        match self {
            Location::Local(dir) => dir.join(path.as_ref()).display().to_string(),
            Location::S3 { bucket, .. } => format!("s3://{bucket}/{path}"),
        }
    }

    /// The user-facing name of a folder of the tree.
    pub fn folder_name(&self, path: &Path) -> String {
        let name = self.object_name(path);
        if name.ends_with('/') {
            name
        } else {
            format!("{name}/")
        }
    }
}

/// The text of `<tag>...</tag>` in an error's text (S3's error documents).
fn xml_text<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let start = text.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].trim())
}

/// The first error of type `T` in the source chain of an object_store error.
fn in_chain<T: std::error::Error + 'static>(e: &object_store::Error) -> Option<&T> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        next = err.source();
    }
    None
}

/// The innermost cause in an error's source chain (hyper's "connection closed before
/// message completed" under object_store's "error sending request").
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut err = e;
    while let Some(next) = err.source() {
        err = next;
    }
    err.to_string()
}

/// An object-store error in a user's words, and whether it is S3 refusing the credentials.
/// S3's error code is kept (`InvalidAccessKeyId` and `SignatureDoesNotMatch` are both 403s
/// but mean different things).
fn explain(e: &object_store::Error) -> (String, bool) {
    let text = e.to_string();
    let retried = text
        .split_once(", after ")
        .and_then(|(_, rest)| rest.split_once(" retries"))
        .map(|(n, _)| format!(" (gave up after {n} retries)"))
        .unwrap_or_default();
    if let Some(fault) = in_chain::<S3Fault>(e) {
        return (format!("{fault}{retried}"), false);
    }
    if let Some(http) = in_chain::<object_store::client::HttpError>(e) {
        use object_store::client::HttpErrorKind;
        let what = match http.kind() {
            HttpErrorKind::Connect => "could not connect to S3",
            HttpErrorKind::Timeout => "S3 timed out",
            _ => "the connection to S3 failed",
        };
        return (format!("{what} ({}){retried}", root_cause(http)), false);
    }
    let code = xml_text(&text, "Code");
    let (meaning, refused) = match code {
        Some("NoSuchBucket") => ("no such bucket", false),
        Some("AccessDenied") => ("access denied", true),
        Some("InvalidAccessKeyId") => ("the access key id is not known to S3", true),
        // What S3-compatible servers (and S3 for an account without S3) say instead.
        Some("NotSignedUp") => (
            "the access key id is not known to this S3 server (or its account may not use S3)",
            true,
        ),
        Some("SignatureDoesNotMatch") => (
            "the secret key does not match the access key id (or the request was altered on the way)",
            true,
        ),
        Some("ExpiredToken" | "TokenRefreshRequired") => (
            "the session token has expired (run `aws sso login` or refresh the credentials)",
            true,
        ),
        Some("InvalidToken") => ("the session token is not valid", true),
        Some("NoSuchKey") => ("not found", false),
        Some("InternalError" | "SlowDown" | "ServiceUnavailable") => ("S3 kept failing", false),
        _ if text.contains("403 Forbidden") => ("access denied", true),
        _ if matches!(e, object_store::Error::NotFound { .. }) => ("not found", false),
        _ => {
            let first = text.lines().next().unwrap_or_default();
            return (first.chars().take(400).collect(), false);
        }
    };
    let detail = match (code, xml_text(&text, "Message")) {
        (Some(c), Some(m)) => format!(" (S3 error {c}: {m})"),
        (Some(c), None) => format!(" (S3 error {c})"),
        _ => String::new(),
    };
    (format!("{meaning}{detail}{retried}"), refused)
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// How to reach S3, resolved by the front end from flags and environment.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// How long S3 may stay silent: before a response starts, and in the middle of a body.
    pub timeout: Duration,
    /// How often a failed request (a 5xx, a reset, a malformed or short answer) is retried.
    pub retries: usize,
    /// Where objects and listings fetched from S3 are kept (`None`: fetched every time).
    pub cache: Option<Arc<ObjectCache>>,
    /// Answer from the cache alone: no request of any kind, not even for credentials.
    pub offline: bool,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: None,
            profile: None,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            cache: None,
            offline: false,
        }
    }
}

/// S3's first byte normally comes within tens of milliseconds; 10 s of silence is a
/// server (or network) that is not going to answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_RETRIES: usize = 3;

/// Request counts for one run; shared by every clone of the store.
#[derive(Debug, Default)]
pub struct Counters {
    pub list_requests: AtomicU64,
    pub get_requests: AtomicU64,
    pub bytes_read: AtomicU64,
    /// Objects (and their bytes) read from the local cache instead of a GET.
    pub cached_objects: AtomicU64,
    pub cached_bytes: AtomicU64,
    /// Folder listings taken from the local cache instead of a LIST.
    pub cached_listings: AtomicU64,
    /// GETs waiting for their answer now, and the most there were at once.
    pub gets_in_flight: AtomicU64,
    pub get_concurrency: AtomicU64,
    /// Answers asking to slow down (503: S3's SlowDown), each retried by the client; the
    /// scan fetches fewer objects ahead once there are any.
    pub slowdowns: AtomicU64,
}

impl Counters {
    pub fn lists(&self) -> u64 {
        self.list_requests.load(Ordering::Relaxed)
    }
    pub fn gets(&self) -> u64 {
        self.get_requests.load(Ordering::Relaxed)
    }
    /// Bytes of the objects read, fetched or from the cache.
    pub fn bytes(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed) + self.cached_bytes.load(Ordering::Relaxed)
    }
    /// Objects read, fetched or from the cache.
    pub fn objects(&self) -> u64 {
        self.gets() + self.cached_objects.load(Ordering::Relaxed)
    }
    pub fn cached_objects(&self) -> u64 {
        self.cached_objects.load(Ordering::Relaxed)
    }
    pub fn cached_listings(&self) -> u64 {
        self.cached_listings.load(Ordering::Relaxed)
    }
    /// The most GETs that were waiting for their answers at once.
    pub fn get_concurrency(&self) -> u64 {
        self.get_concurrency.load(Ordering::Relaxed)
    }
    pub fn slowdowns(&self) -> u64 {
        self.slowdowns.load(Ordering::Relaxed)
    }
}

/// One GET waiting for its answer, for as long as it lives (a cancelled GET included).
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn start(counters: &'a Counters) -> Self {
        let now = counters.gets_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counters.get_concurrency.fetch_max(now, Ordering::Relaxed);
        Self(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.gets_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An opened source.
#[derive(Debug, Clone)]
pub struct Source {
    pub location: Location,
    /// What DataFusion knows the store as.
    pub url: ObjectStoreUrl,
    pub store: Arc<dyn ObjectStore>,
    /// The folder that contains the layout (`partitioned/...`), inside `store`.
    pub root: Path,
    pub counters: Arc<Counters>,
    /// Where the S3 credentials came from (never the secret), for error messages.
    pub credential_source: CredentialSource,
    /// Names left out of listings, for the scan to report.
    pub rejected: RejectedNames,
    /// How often to retry an object whose body does not match its listing.
    pub retries: usize,
    /// The local copy of an S3 source's objects and listings, if one is used.
    pub cache: Option<Arc<ObjectCache>>,
    /// No requests: everything comes from `cache`, or the query fails naming what is not.
    pub offline: bool,
    /// Things the user should know about the answer that are not problems with the data
    /// (a listing used offline that may since have changed), for the front end to print.
    pub notices: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

impl Source {
    pub async fn open(location: Location, s3: &S3Settings) -> Result<Self> {
        let failed = |e: &dyn std::fmt::Display| Error::Source(e.to_string());
        let counters = Arc::new(Counters::default());
        let rejected = RejectedNames::default();
        match &location {
            Location::Local(dir) => {
                if !dir.is_dir() {
                    return Err(Error::Source(format!(
                        "source directory {} does not exist (or is not a directory)",
                        dir.display()
                    )));
                }
                let inner = LocalTree::new(dir, rejected.clone()).map_err(|e| failed(&e))?;
                Ok(Source {
                    url: ObjectStoreUrl::parse("file://seslog-local")?,
                    store: Arc::new(CountingStore {
                        inner: Arc::new(inner),
                        counters: counters.clone(),
                    }),
                    root: Path::default(),
                    location,
                    counters,
                    credential_source: CredentialSource::default(),
                    rejected,
                    retries: s3.retries,
                    cache: None,
                    // Reading a directory makes no request: offline holds nothing back.
                    offline: false,
                    notices: Default::default(),
                })
            }
            Location::S3 { bucket, prefix } => {
                let (inner, credential_source): (Arc<dyn ObjectStore>, _) = if s3.offline {
                    if s3.cache.is_none() {
                        return Err(Error::Source(format!(
                            "s3://{bucket} cannot be read offline without the object cache"
                        )));
                    }
                    (Arc::new(OfflineStore), CredentialSource::default())
                } else {
                    s3_store(bucket, s3, &rejected, &counters).await?
                };
                Ok(Source {
                    url: ObjectStoreUrl::parse(format!("s3://{bucket}"))?,
                    store: Arc::new(CountingStore {
                        inner,
                        counters: counters.clone(),
                    }),
                    root: Path::parse(prefix).map_err(|e| failed(&e))?,
                    location: location.clone(),
                    counters,
                    credential_source,
                    rejected,
                    retries: s3.retries,
                    cache: s3.cache.clone(),
                    offline: s3.offline,
                    notices: Default::default(),
                })
            }
        }
    }
}

impl Source {
    /// An error from this source's store in a user's words; a refusal also says which
    /// credentials were used (the provider's name, never the key).
    pub fn describe_error(&self, e: &object_store::Error) -> String {
        let (text, refused) = explain(e);
        let used = self
            .credential_source
            .lock()
            .expect("credential source lock")
            .clone();
        match (refused, used, &self.location) {
            (true, Some(name), _) => format!("{text}; credentials from: {name}"),
            (true, None, Location::S3 { .. }) => {
                format!("{text}; no credentials were found (requests were unsigned)")
            }
            _ => text,
        }
    }

    /// When a local folder's entries last changed (its modification time, in nanoseconds),
    /// if that was long enough ago to be told apart from a change still to come: an entry
    /// added, removed or renamed into it moves the time on, so a folder stamped the same
    /// holds the same names. `None` for S3 (a LIST says what is there) and for a folder
    /// changed in the last seconds (the clock that stamps it is coarse).
    pub fn folder_stamp(&self, folder: &Path) -> Option<i64> {
        let Location::Local(dir) = &self.location else {
            return None;
        };
        let mut path = dir.clone();
        path.extend(folder.parts().map(|p| p.as_ref().to_string()));
        let modified = std::fs::metadata(path).ok()?.modified().ok()?;
        let settled = SystemTime::now().duration_since(modified).ok()? > Duration::from_secs(2);
        let since_epoch = modified.duration_since(SystemTime::UNIX_EPOCH).ok()?;
        settled.then(|| i64::try_from(since_epoch.as_nanos()).ok())?
    }

    /// The bucket, for an S3 source.
    pub fn bucket(&self) -> Option<&str> {
        match &self.location {
            Location::S3 { bucket, .. } => Some(bucket),
            Location::Local(_) => None,
        }
    }

    /// Notes a fact about the answer for the front end to print once.
    pub fn notice(&self, text: String) {
        self.notices.lock().expect("notices lock").insert(text);
    }

    /// The notices so far, in order.
    pub fn notices(&self) -> Vec<String> {
        let notices = self.notices.lock().expect("notices lock");
        notices.iter().cloned().collect()
    }

    /// The user-facing name of an object or folder left out of a listing.
    pub fn rejected_name(&self, key: &str) -> String {
        match &self.location {
            Location::Local(dir) => dir.join(key).display().to_string(),
            Location::S3 { bucket, .. } => format!("s3://{bucket}/{key}"),
        }
    }
}

/// An S3 bucket as a store: the AWS credential chain, the guarded HTTP client (silence is
/// a failure, listed names are checked), retries as configured.
pub(crate) async fn s3_store(
    bucket: &str,
    s3: &S3Settings,
    rejected: &RejectedNames,
    counters: &Arc<Counters>,
) -> Result<(Arc<dyn ObjectStore>, CredentialSource)> {
    let (builder, credential_source) = s3_builder(bucket, s3).await;
    let store = builder
        .with_http_connector(GuardedConnector {
            timeout: s3.timeout,
            rejected: rejected.clone(),
            counters: Arc::clone(counters),
        })
        .build()
        .map_err(|e| Error::Source(e.to_string()))?;
    Ok((Arc::new(store), credential_source))
}

async fn s3_builder(bucket: &str, s3: &S3Settings) -> (AmazonS3Builder, CredentialSource) {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = &s3.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &s3.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    // Silence is timed by the guarded client (first byte, then between body bytes), not
    // as a total: a slow but moving download of a large object is never cut.
    let client = ClientOptions::new()
        .with_connect_timeout(s3.timeout)
        .with_timeout_disabled();
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: s3.retries,
        // The count decides; this only bounds the sum of many slow attempts.
        retry_timeout: s3.timeout * (s3.retries as u32 + 1) * 2 + Duration::from_secs(30),
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_client_options(client)
        .with_retry(retry);
    let region = match (s3.region.clone(), sdk.region()) {
        (Some(r), _) => r,
        (None, Some(r)) => r.to_string(),
        (None, None) if s3.endpoint.is_none() => {
            // Ask S3 where the bucket lives, as the AWS CLI does.
            object_store::aws::resolve_bucket_region(bucket, &Default::default())
                .await
                .unwrap_or_else(|_| "us-east-1".to_string())
        }
        (None, None) => "us-east-1".to_string(),
    };
    builder = builder.with_region(region);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    let source = CredentialSource::default();
    match sdk.credentials_provider() {
        Some(provider) => {
            let chain = AwsChain {
                provider,
                cached: Mutex::new(None),
                source_name: source.clone(),
            };
            builder = builder.with_credentials(Arc::new(chain));
        }
        None => builder = builder.with_skip_signature(true),
    }
    (builder, source)
}

/// The AWS SDK's credential chain as an `object_store` credential provider, with the
/// credentials cached until five minutes before they expire.
#[derive(Debug)]
struct AwsChain {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
    source_name: CredentialSource,
}

/// The name of the credential provider that answered, once one has.
pub type CredentialSource = Arc<std::sync::Mutex<Option<String>>>;

/// `Credentials` names the provider of the chain that answered only in its Debug output
/// (which redacts the secret); that name is all we keep, for "access denied" messages.
fn provider_name(creds: &aws_credential_types::Credentials) -> Option<String> {
    let debug = format!("{creds:?}");
    let rest = debug.split("provider_name: \"").nth(1)?;
    rest.split('"').next().map(str::to_string)
}

#[async_trait]
impl CredentialProvider for AwsChain {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((cred, expiry)) = cached.as_ref() {
            let fresh = expiry.is_none_or(|e| e > SystemTime::now() + Duration::from_secs(300));
            if fresh {
                return Ok(Arc::clone(cred));
            }
        }
        let creds = self.provider.provide_credentials().await.map_err(|e| {
            object_store::Error::Generic {
                store: "S3",
                source: format!("no AWS credentials: {e} (set AWS_PROFILE, run `aws sso login`, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)").into(),
            }
        })?;
        let cred = Arc::new(AwsCredential {
            key_id: creds.access_key_id().to_string(),
            secret_key: creds.secret_access_key().to_string(),
            token: creds.session_token().map(str::to_string),
        });
        *cached = Some((Arc::clone(&cred), creds.expiry()));
        *self.source_name.lock().expect("credential source lock") = provider_name(&creds);
        Ok(cred)
    }
}

/// The store of an S3 source read offline: every request is refused (the cache answers
/// before any reaches it; one that does is a bug, and fails rather than goes out).
#[derive(Debug)]
struct OfflineStore;

impl fmt::Display for OfflineStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Offline")
    }
}

fn offline_refusal() -> object_store::Error {
    object_store::Error::NotSupported {
        source: "no requests are made offline".into(),
    }
}

#[async_trait]
impl ObjectStore for OfflineStore {
    async fn put_opts(
        &self,
        _: &Path,
        _: PutPayload,
        _: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(offline_refusal())
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(offline_refusal())
    }

    async fn get_opts(&self, _: &Path, _: GetOptions) -> object_store::Result<GetResult> {
        Err(offline_refusal())
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        locations.map(|_| Err(offline_refusal())).boxed()
    }

    fn list(&self, _: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        futures::stream::once(async { Err(offline_refusal()) }).boxed()
    }

    async fn list_with_delimiter(&self, _: Option<&Path>) -> object_store::Result<ListResult> {
        Err(offline_refusal())
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
        Err(offline_refusal())
    }
}

/// Counts the requests that matter for cost and for proving partition pruning.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    counters: Arc<Counters>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn ObjectStore>, counters: Arc<Counters>) -> Self {
        CountingStore { inner, counters }
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.counters.get_requests.fetch_add(1, Ordering::Relaxed);
        let waiting = InFlight::start(&self.counters);
        let result = self.inner.get_opts(location, options).await?;
        drop(waiting);
        let len = result.range.end - result.range.start;
        self.counters.bytes_read.fetch_add(len, Ordering::Relaxed);
        Ok(result)
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.counters
            .get_requests
            .fetch_add(ranges.len() as u64, Ordering::Relaxed);
        let len: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        self.counters.bytes_read.fetch_add(len, Ordering::Relaxed);
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.counters.list_requests.fetch_add(1, Ordering::Relaxed);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.counters.list_requests.fetch_add(1, Ordering::Relaxed);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_error_codes_keep_their_meaning() {
        let error = |code: &str| {
            object_store::Error::Generic {
            store: "S3",
            source: format!(
                "Error performing GET http://x in 1ms, after 3 retries, max_retries: 3, retry_timeout: 60s  - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\n<Error><Code>{code}</Code><Message>m</Message></Error>"
            )
            .into(),
        }
        };
        for (code, meaning, refused) in [
            (
                "InvalidAccessKeyId",
                "the access key id is not known to S3 (S3 error InvalidAccessKeyId: m) (gave up after 3 retries)",
                true,
            ),
            (
                "SignatureDoesNotMatch",
                "the secret key does not match the access key id (or the request was altered on the way) (S3 error SignatureDoesNotMatch: m) (gave up after 3 retries)",
                true,
            ),
            (
                "AccessDenied",
                "access denied (S3 error AccessDenied: m) (gave up after 3 retries)",
                true,
            ),
            (
                "SomethingNew",
                "access denied (S3 error SomethingNew: m) (gave up after 3 retries)",
                true,
            ),
        ] {
            assert_eq!(
                explain(&error(code)),
                (meaning.to_string(), refused),
                "{code}"
            );
        }
    }

    #[test]
    fn parses_sources() {
        assert_eq!(
            Location::parse("s3://logs/ses/").unwrap(),
            Location::S3 {
                bucket: "logs".into(),
                prefix: "ses".into()
            }
        );
        assert_eq!(
            Location::parse("s3://logs").unwrap(),
            Location::S3 {
                bucket: "logs".into(),
                prefix: String::new()
            }
        );
        assert!(
            Location::parse("s3://")
                .unwrap_err()
                .to_string()
                .contains("no bucket")
        );
        assert!(
            Location::parse("gs://x")
                .unwrap_err()
                .to_string()
                .contains("gs://")
        );
        assert_eq!(
            Location::parse("./logs").unwrap(),
            Location::Local("./logs".into())
        );
    }
}
