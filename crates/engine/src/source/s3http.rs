//! The HTTP client under seslog's S3 store: object_store's own (reqwest), wrapped so that
//! what S3 sends is checked before object_store believes it. Left alone, object_store takes
//! any 200 LIST body as a listing (an `<Error>` document, an HTML page, a body cut short or
//! `IsTruncated` without a token all read as "no more objects": a short answer, exit 0),
//! reads a LIST body outside its retry loop (one reset connection fails the query), and
//! waits 30 s on a silent server, ten times. Here:
//! - a LIST body is read whole inside the request and checked: a complete, well-formed
//!   `ListBucketResult`, with a continuation token when it says it is truncated and as many
//!   entries as its `KeyCount` says. Anything else is a failed request, which object_store
//!   retries like a 503 and then reports with our cause (`S3Fault`) in its source chain;
//! - silence is a timeout: no response for `timeout`, or no body bytes for `timeout` in
//!   the middle of a body (a slow but moving download is never cut);
//! - keys object_store cannot represent (a control character, an empty segment) are taken
//!   out of the listing and recorded in `RejectedNames`, instead of failing the folder.

use std::borrow::Cow;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService, ReqwestConnector,
};
use quick_xml::events::Event;

use crate::source::Counters;
use crate::source::rejected::RejectedNames;

/// What seslog refused in an S3 answer; found in the source chain of object_store's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Fault {
    /// A 200 LIST answer that is not a complete listing.
    BadListing(String),
    /// No response at all within the timeout.
    Silent(Duration),
    /// A response body that stopped arriving for the timeout.
    Stalled(Duration),
}

impl std::fmt::Display for S3Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            S3Fault::BadListing(why) => {
                write!(f, "S3's answer to a LIST is not a complete listing: {why}")
            }
            S3Fault::Silent(t) => write!(f, "S3 did not answer within {}s", t.as_secs_f64()),
            S3Fault::Stalled(t) => write!(f, "S3 stopped sending data for {}s", t.as_secs_f64()),
        }
    }
}

impl std::error::Error for S3Fault {}

/// Makes object_store's reqwest client, wrapped in the checks above.
#[derive(Debug)]
pub struct GuardedConnector {
    pub timeout: Duration,
    pub rejected: RejectedNames,
    /// Where answers asking to slow down are counted.
    pub counters: Arc<Counters>,
}

impl HttpConnector for GuardedConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(GuardedService {
            inner,
            timeout: self.timeout,
            rejected: self.rejected.clone(),
            counters: Arc::clone(&self.counters),
        }))
    }
}

#[derive(Debug)]
struct GuardedService {
    inner: HttpClient,
    timeout: Duration,
    rejected: RejectedNames,
    counters: Arc<Counters>,
}

fn is_list(req: &HttpRequest) -> bool {
    req.method() == http::Method::GET
        && req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "list-type=2"))
}

#[async_trait]
impl HttpService for GuardedService {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let list = is_list(&req);
        let response = tokio::time::timeout(self.timeout, self.inner.execute(req))
            .await
            .map_err(|_| HttpError::new(HttpErrorKind::Timeout, S3Fault::Silent(self.timeout)))??;
        let (parts, body) = response.into_parts();
        if parts.status == http::StatusCode::SERVICE_UNAVAILABLE {
            self.counters.slowdowns.fetch_add(1, Ordering::Relaxed);
        }
        let body = HttpResponseBody::new(IdleTimeout::new(body, self.timeout));
        if !list || !parts.status.is_success() {
            return Ok(HttpResponse::from_parts(parts, body));
        }
        // A body cut off or reset is a failed request (retried), not a short listing.
        let bytes = body
            .bytes()
            .await
            .map_err(|e| HttpError::new(HttpErrorKind::Interrupted, e))?;
        let checked = check_listing(&bytes, parts.status.as_u16())
            .map_err(|why| HttpError::new(HttpErrorKind::Request, S3Fault::BadListing(why)))?;
        if !checked.rejected.is_empty() {
            let mut rejected = self.rejected.lock().expect("rejected names lock");
            rejected.extend(checked.rejected);
        }
        Ok(HttpResponse::from_parts(parts, checked.body.into()))
    }
}

/// A response body that fails with a timeout when no bytes arrive for `timeout`.
struct IdleTimeout {
    inner: HttpResponseBody,
    timeout: Duration,
    // A Mutex only to make the body Sync, as object_store requires; never contended.
    deadline: Mutex<Pin<Box<tokio::time::Sleep>>>,
}

impl IdleTimeout {
    fn new(inner: HttpResponseBody, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: Mutex::new(Box::pin(tokio::time::sleep(timeout))),
        }
    }
}

impl Body for IdleTimeout {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = self.get_mut();
        let mut deadline = this.deadline.lock().expect("deadline lock");
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.timeout;
                deadline.as_mut().reset(next);
                Poll::Ready(frame)
            }
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::new(
                    HttpErrorKind::Timeout,
                    S3Fault::Stalled(this.timeout),
                )))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A listing that passed, with the entries object_store could not represent cut out.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckedListing {
    pub body: Bytes,
    /// (key, why) of each entry taken out.
    pub rejected: Vec<(String, String)>,
}

/// Why object_store could not take a key as a path, in a user's words; `None` if it can.
pub fn unreadable_name(key: &str) -> Option<String> {
    object_store::path::Path::parse(key).err()?;
    Some(if let Some(c) = key.chars().find(|c| c.is_control()) {
        format!("its name holds a control character (U+{:04X})", c as u32)
    } else if key.contains("//") {
        "its name holds an empty path segment (`//`)".to_string()
    } else {
        "its name holds a `.` or `..` segment".to_string()
    })
}

/// The text of `<tag>...</tag>` in a body, for naming S3's error code and message.
fn element_text<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].trim())
}

/// What a body is, when it is not a listing.
fn not_a_listing(body: &[u8], root: &str, status: u16) -> String {
    let text = String::from_utf8_lossy(body);
    match root {
        "Error" => format!(
            "S3 answered {status} with an error document ({}: {})",
            element_text(&text, "Code").unwrap_or("no code"),
            element_text(&text, "Message").unwrap_or("no message")
        ),
        r if r.eq_ignore_ascii_case("html") => {
            "an HTML page, not a listing (a proxy or a captive portal in the way?)".into()
        }
        r => format!("an XML document whose root is <{r}>, not <ListBucketResult>"),
    }
}

fn not_xml(body: &[u8]) -> String {
    let start = String::from_utf8_lossy(&body[..body.len().min(40)]).to_string();
    format!("not XML (it starts {start:?})")
}

fn describe_xml_error(body: &[u8], e: &quick_xml::Error) -> String {
    if body.trim_ascii_start().starts_with(b"<") {
        format!("not well-formed XML ({e})")
    } else {
        not_xml(body)
    }
}

/// Checks that `body` is a whole `ListBucketResult` (see the module comment).
pub(crate) fn check_listing(body: &[u8], status: u16) -> Result<CheckedListing, String> {
    if body.trim_ascii().is_empty() {
        return Err("the body is empty".into());
    }
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut depth = 0usize;
    let (mut root_seen, mut root_closed) = (false, false);
    // The element at depth 2 (a child of the root) and where it started, and at depth 3.
    let (mut child, mut child_start, mut grandchild) = (String::new(), 0usize, String::new());
    let mut text = String::new();
    let mut key: Option<String> = None;
    let (mut truncated, mut token, mut key_count) = (None, None, None);
    let mut entries = 0usize;
    let mut cut: Vec<Range<usize>> = Vec::new();
    let mut rejected = Vec::new();
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| describe_xml_error(body, &e))?;
        let (start, empty) = match &event {
            Event::Eof => break,
            Event::Start(e) => (Some(e.local_name().as_ref().to_vec()), false),
            Event::Empty(e) => (Some(e.local_name().as_ref().to_vec()), true),
            Event::Text(t) => {
                text.push_str(&t.xml_content().map_err(|e| format!("not UTF-8 ({e})"))?);
                (None, false)
            }
            Event::CData(t) => {
                text.push_str(&String::from_utf8_lossy(t));
                (None, false)
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| format!("not UTF-8 ({e})"))?;
                match r.resolve_char_ref() {
                    Ok(Some(c)) => text.push(c),
                    _ => match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => text.push_str(s),
                        None => return Err(format!("unknown XML entity &{name};")),
                    },
                }
                (None, false)
            }
            Event::End(_) => (None, false),
            _ => continue,
        };
        if let Some(name) = start {
            let name = String::from_utf8_lossy(&name).into_owned();
            if depth == 0 {
                if root_seen {
                    return Err("more than one root element".into());
                }
                root_seen = true;
                if name != "ListBucketResult" {
                    return Err(not_a_listing(body, &name, status));
                }
            } else if depth == 1 {
                (child, child_start) = (name, before);
            } else if depth == 2 {
                grandchild = name;
            }
            text.clear();
            if !empty {
                depth += 1;
                continue;
            }
            // `<X/>` opens and closes: fall through to the end handling at its depth.
            depth += 1;
        } else if !matches!(event, Event::End(_)) {
            continue;
        }
        // An element ends at `depth`.
        match depth {
            1 => root_closed = true,
            2 => match child.as_str() {
                "IsTruncated" => truncated = Some(text.trim() == "true"),
                "NextContinuationToken" => token = Some(text.trim().to_string()),
                "KeyCount" => key_count = text.trim().parse::<usize>().ok(),
                "Contents" | "CommonPrefixes" => {
                    entries += 1;
                    let name = key.take().unwrap_or_default();
                    if let Some(why) = unreadable_name(&name) {
                        cut.push(child_start..reader.buffer_position() as usize);
                        rejected.push((name, why));
                    }
                }
                _ => {}
            },
            3 if matches!(
                (child.as_str(), grandchild.as_str()),
                ("Contents", "Key") | ("CommonPrefixes", "Prefix")
            ) =>
            {
                key = Some(std::mem::take(&mut text));
            }
            _ => {}
        }
        depth -= 1;
    }
    if !root_seen {
        return Err(not_xml(body));
    }
    if !root_closed || depth != 0 {
        return Err("the listing is cut off (<ListBucketResult> is never closed)".into());
    }
    let truncated = truncated.ok_or("it has no <IsTruncated>")?;
    if truncated && token.as_deref().is_none_or(str::is_empty) {
        return Err(
            "it says IsTruncated=true but gives no NextContinuationToken, so the rest of the \
             folder cannot be asked for"
                .into(),
        );
    }
    if let Some(n) = key_count
        && n != entries
    {
        return Err(format!("it says KeyCount={n} but holds {entries} entries"));
    }
    let body: Cow<[u8]> = if cut.is_empty() {
        Cow::Borrowed(body)
    } else {
        let mut kept = Vec::with_capacity(body.len());
        let mut at = 0;
        for range in &cut {
            kept.extend_from_slice(&body[at..range.start]);
            at = range.end;
        }
        kept.extend_from_slice(&body[at..]);
        Cow::Owned(kept)
    };
    Ok(CheckedListing {
        body: Bytes::from(body.into_owned()),
        rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(entries: &str, truncated: &str, extra: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p/</Prefix>{extra}<IsTruncated>{truncated}</IsTruncated>{entries}</ListBucketResult>"
        )
    }

    fn contents(key: &str) -> String {
        format!("<Contents><Key>{key}</Key><Size>3</Size></Contents>")
    }

    #[test]
    fn a_complete_listing_passes_unchanged() {
        let body = listing(
            &format!(
                "{}<CommonPrefixes><Prefix>p/x/</Prefix></CommonPrefixes>",
                contents("p/a&amp;b.gz")
            ),
            "false",
            "<KeyCount>2</KeyCount>",
        );
        let checked = check_listing(body.as_bytes(), 200).unwrap();
        assert_eq!(checked.body, body.as_bytes());
        assert!(checked.rejected.is_empty());
        let empty = listing("", "false", "<KeyCount>0</KeyCount>");
        assert!(check_listing(empty.as_bytes(), 200).is_ok());
        let page = listing(
            &contents("p/a"),
            "true",
            "<NextContinuationToken>t1</NextContinuationToken>",
        );
        assert!(check_listing(page.as_bytes(), 200).is_ok());
    }

    #[test]
    fn what_is_not_a_listing_says_what_it_is() {
        let cases = [
            ("", "the body is empty"),
            (
                "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
                "error document (InternalError: We encountered an internal error.)",
            ),
            (
                "<!DOCTYPE html><html><body>Login</body></html>",
                "an HTML page",
            ),
            ("Service Unavailable", "not XML"),
            (
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a",
                "cut off",
            ),
            (
                &listing(&contents("p/a"), "true", ""),
                "no NextContinuationToken",
            ),
            (
                &listing(
                    &contents("p/a"),
                    "true",
                    "<NextContinuationToken></NextContinuationToken>",
                ),
                "no NextContinuationToken",
            ),
            (
                &listing(&contents("p/a"), "false", "<KeyCount>2</KeyCount>"),
                "KeyCount=2 but holds 1",
            ),
            ("<ListBucketResult></ListBucketResult>", "no <IsTruncated>"),
            (
                "<ListAllMyBucketsResult></ListAllMyBucketsResult>",
                "root is <ListAllMyBucketsResult>",
            ),
        ];
        for (body, want) in cases {
            let err = check_listing(body.as_bytes(), 200).unwrap_err();
            assert!(err.contains(want), "{body:?}: {err}");
        }
    }

    #[test]
    fn unreadable_keys_are_cut_out_and_named() {
        let body = listing(
            &format!(
                "{}{}{}<CommonPrefixes><Prefix>p/bad&#10;dir/</Prefix></CommonPrefixes>",
                contents("p/good.gz"),
                contents("p/new\nline.gz"),
                contents("p//double.gz")
            ),
            "false",
            "<KeyCount>4</KeyCount>",
        );
        let checked = check_listing(body.as_bytes(), 200).unwrap();
        let text = String::from_utf8(checked.body.to_vec()).unwrap();
        assert!(text.contains("p/good.gz"));
        assert!(!text.contains("line.gz") && !text.contains("double") && !text.contains("dir/"));
        let names: Vec<&str> = checked.rejected.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["p/new\nline.gz", "p//double.gz", "p/bad\ndir/"]);
        assert!(checked.rejected[0].1.contains("control character (U+000A)"));
        assert!(checked.rejected[1].1.contains("empty path segment"));
    }
}
