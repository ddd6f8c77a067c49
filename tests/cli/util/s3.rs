//! A real S3-compatible server over HTTP for the tests: s3s-fs (an S3 server backed by a
//! directory) served by hyper on 127.0.0.1, in a thread of the test process. seslog talks
//! to it exactly as it talks to AWS: SigV4-signed requests from the credential chain.
//!
//! In front of it sits a fault layer of our own: a test can make LISTs (all, or only the
//! second page) or GETs fail, once, a few times or always, the ways real S3, proxies and
//! networks fail: 5xx, a reset connection, a body cut off mid-way, a 200 whose body is an
//! error document, an HTML page, empty, short, a truncated listing without its token, or no
//! answer at all.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};

pub const ACCESS_KEY: &str = "SESLOGTESTKEY";
pub const SECRET_KEY: &str = "seslog-test-secret-key";

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Every LIST.
    List,
    /// LISTs that ask for a later page (they carry a continuation token).
    ListPage2,
    /// GETs of objects.
    Get,
}

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// This status, with an S3 error document.
    Status(u16),
    /// The connection is closed without an answer.
    Reset,
    /// The status line and the full Content-Length, then half the body and a reset.
    CutBody,
    /// 200 with `<Error><Code>InternalError</Code>...` as the body.
    ErrorDocument,
    /// 200 with an HTML page.
    HtmlPage,
    /// 200 with no body at all.
    EmptyBody,
    /// A listing that says `IsTruncated=true` but has no continuation token.
    TruncatedWithoutToken,
    /// 200 with half the body, and a Content-Length that matches the half.
    ShortBody,
    /// No answer at all (the connection stays open).
    Silent,
}

#[derive(Debug, Clone)]
struct Rule {
    target: Target,
    fault: Fault,
    /// How many more requests it hits; `None`: all of them.
    left: Option<usize>,
}

#[derive(Debug, Default)]
struct Faults {
    rules: Vec<Rule>,
    /// Requests a rule was applied to.
    applied: usize,
}

pub struct S3Server {
    pub addr: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    _runtime: std::thread::JoinHandle<()>,
}

impl S3Server {
    /// Serves the buckets under `root` (each sub-directory is a bucket) until the test
    /// process exits.
    pub fn start(root: &Path) -> Self {
        let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs root");
        let service = {
            let mut b = S3ServiceBuilder::new(fs);
            b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            b.build()
        };
        let faults = Arc::new(Mutex::new(Faults::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = faults.clone();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    // Head and body are separate writes: without this each GET waits
                    // for the client's delayed ACK (40 ms).
                    let _ = socket.set_nodelay(true);
                    let service = service.clone();
                    let faults = shared.clone();
                    let layer = hyper::service::service_fn(move |req| {
                        serve(service.clone(), faults.clone(), req)
                    });
                    let conn = http
                        .serve_connection(TokioIo::new(socket), layer)
                        .into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
        });
        S3Server {
            addr,
            faults,
            _runtime: handle,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The environment a user would set for this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
        ]
    }

    /// `seslog --source SOURCE ARGS` with this server's endpoint and credentials.
    pub fn seslog(&self, source: &str, args: &[&str]) -> super::Output {
        let mut full = vec!["--source".to_string(), source.to_string()];
        full.extend(args.iter().map(|s| s.to_string()));
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        super::run(&full, None, &env)
    }

    /// From now on, `fault` hits `times` requests of `target` (`None`: every one).
    pub fn fault(&self, target: Target, fault: Fault, times: Option<usize>) {
        let mut f = self.faults.lock().unwrap();
        f.rules.push(Rule {
            target,
            fault,
            left: times,
        });
    }

    /// Removes every fault; returns how many requests faults were applied to.
    pub fn clear_faults(&self) -> usize {
        let mut f = self.faults.lock().unwrap();
        f.rules.clear();
        std::mem::take(&mut f.applied)
    }
}

fn classify(req: &hyper::Request<Incoming>) -> Option<Target> {
    if req.method() != hyper::Method::GET {
        return None;
    }
    let query = req.uri().query().unwrap_or_default();
    if query.split('&').any(|kv| kv == "list-type=2") {
        return Some(if query.contains("continuation-token=") {
            Target::ListPage2
        } else {
            Target::List
        });
    }
    // /bucket/key: a GET of an object.
    let path = req.uri().path().trim_start_matches('/');
    path.split_once('/')
        .is_some_and(|(_, key)| !key.is_empty())
        .then_some(Target::Get)
}

fn take_fault(faults: &Mutex<Faults>, target: Option<Target>) -> Option<Fault> {
    let target = target?;
    let mut f = faults.lock().unwrap();
    let applies = |rule: &Rule| {
        rule.left != Some(0)
            && (rule.target == target
                || (rule.target == Target::List && target == Target::ListPage2))
    };
    let rule = f.rules.iter_mut().find(|r| applies(r))?;
    if let Some(left) = &mut rule.left {
        *left -= 1;
    }
    let fault = rule.fault;
    f.applied += 1;
    Some(fault)
}

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> hyper::Response<Body> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(
            Full::new(body.into())
                .map_err(|e: Infallible| match e {})
                .boxed(),
        )
        .unwrap()
}

async fn serve(
    service: S3Service,
    faults: Arc<Mutex<Faults>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, BoxError> {
    let fault = take_fault(&faults, classify(&req));
    match fault {
        Some(Fault::Reset) => return Err("reset by the fault layer".into()),
        Some(Fault::Silent) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Err("silent".into());
        }
        Some(Fault::Status(code)) => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>injected</Message></Error>",
                if code == 503 {
                    "SlowDown"
                } else {
                    "InternalError"
                }
            );
            return Ok(full(code, "application/xml", body));
        }
        _ => {}
    }
    let response = hyper::service::Service::call(&service, req)
        .await
        .map_err(|e| format!("s3s: {e:?}"))?;
    let (mut parts, body) = response.into_parts();
    let bytes = body.collect().await?.to_bytes();
    let half = bytes.slice(..bytes.len() / 2);
    let body = match fault {
        None => {
            let body = Full::new(bytes).map_err(|e: Infallible| match e {}).boxed();
            return Ok(hyper::Response::from_parts(parts, body));
        }
        Some(Fault::ErrorDocument) => Bytes::from_static(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>",
        ),
        Some(Fault::HtmlPage) => {
            Bytes::from_static(b"<!DOCTYPE html><html><body><h1>Proxy login</h1></body></html>")
        }
        Some(Fault::EmptyBody) => Bytes::new(),
        Some(Fault::ShortBody) => half,
        Some(Fault::TruncatedWithoutToken) => {
            let text = String::from_utf8_lossy(&bytes)
                .replace("<IsTruncated>false</IsTruncated>", "<IsTruncated>true</IsTruncated>");
            let text = match (
                text.find("<NextContinuationToken>"),
                text.find("</NextContinuationToken>"),
            ) {
                (Some(a), Some(b)) => format!("{}{}", &text[..a], &text[b + 24..]),
                _ => text,
            };
            Bytes::from(text)
        }
        Some(Fault::CutBody) => {
            // The full length is promised; half arrives, then the connection breaks.
            parts
                .headers
                .insert("content-length", bytes.len().to_string().parse().unwrap());
            let frames: Vec<Result<Frame<Bytes>, BoxError>> =
                vec![Ok(Frame::data(half)), Err("cut by the fault layer".into())];
            let body = StreamBody::new(futures::stream::iter(frames)).boxed();
            return Ok(hyper::Response::from_parts(parts, body));
        }
        Some(Fault::Reset | Fault::Silent | Fault::Status(_)) => unreachable!("answered above"),
    };
    parts.status = hyper::StatusCode::OK;
    parts.headers.remove("transfer-encoding");
    parts
        .headers
        .insert("content-length", body.len().to_string().parse().unwrap());
    let body = Full::new(body).map_err(|e: Infallible| match e {}).boxed();
    Ok(hyper::Response::from_parts(parts, body))
}
