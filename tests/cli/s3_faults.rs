//! S3 misbehaving, through the fault layer in front of the test server: a transient fault
//! ends in the right answer, a persistent one in exit 1 naming the folder or object, and
//! never a different answer with exit 0.

use seslog_gen::{self as testgen, Mail, Object};

use super::util::s3::{Fault, S3Server, Target};
use super::util::{Output, Workdir, row};

/// A folder of 1,200 objects (two LIST pages of at most 1,000) and a small one.
const BIG_FOLDER: usize = 1_200;
const QUERY: &str = "SELECT day, count(*) FROM seslogs WHERE event_type = 'Send' AND day IN ('2024/11/20', '2024/11/21') GROUP BY 1 ORDER BY 1";

fn tree() -> (Workdir, S3Server) {
    let w = Workdir::empty();
    let bucket = w.path().join("faults");
    let object = |day: &str, i: usize| {
        let mail = Mail::new(
            &format!("fault-{i:05}"),
            "2024-11-20T10:00:00.000Z",
            &["a@example.com"],
            "s",
        );
        Object {
            key: format!("partitioned/Send/{day}/obj-{i:05}.gz"),
            bytes: testgen::gzip(format!("{}\n", mail.send().record).as_bytes()),
        }
    };
    let mut objects: Vec<Object> = (0..BIG_FOLDER).map(|i| object("2024/11/20", i)).collect();
    objects.extend((0..3).map(|i| object("2024/11/21", i)));
    testgen::write_tree(&bucket, &objects).unwrap();
    let server = S3Server::start(w.path());
    (w, server)
}

fn query(server: &S3Server) -> Output {
    server.seslog(
        "s3://faults",
        &[
            "--s3-retries",
            "2",
            "--s3-timeout",
            "1",
            "--format",
            "csv",
            "sql",
            QUERY,
        ],
    )
}

fn right(out: &Output) {
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.rows(),
        vec![
            row(&["2024/11/20", &BIG_FOLDER.to_string()]),
            row(&["2024/11/21", "3"])
        ],
        "{}",
        out.stderr
    );
}

fn refused(out: &Output, names: &str, cause: &str) {
    assert_eq!(out.code, 1, "exit 0 with:\n{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "", "a failed run writes nothing to stdout");
    assert!(
        out.stderr.contains(names),
        "does not name {names}:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(cause),
        "does not say {cause}:\n{}",
        out.stderr
    );
}

#[test]
fn transient_list_faults_are_retried_to_the_right_answer() {
    let (_w, server) = tree();
    for target in [Target::List, Target::ListPage2] {
        for fault in [
            Fault::Status(500),
            Fault::Status(503),
            Fault::Reset,
            Fault::CutBody,
            Fault::ErrorDocument,
            Fault::HtmlPage,
            Fault::EmptyBody,
            Fault::ShortBody,
            Fault::TruncatedWithoutToken,
        ] {
            server.fault(target, fault, Some(1));
            let out = query(&server);
            assert_eq!(
                server.clear_faults(),
                1,
                "{target:?} {fault:?} was not applied"
            );
            right(&out);
        }
    }
}

#[test]
fn persistent_list_faults_name_the_folder() {
    let (_w, server) = tree();
    let folder = "listing s3://faults/partitioned/Send/2024/11/20/";
    for (fault, cause) in [
        (
            Fault::ErrorDocument,
            "S3 answered 200 with an error document (InternalError: We encountered an internal error. Please try again.) (gave up after 2 retries)",
        ),
        (Fault::HtmlPage, "an HTML page, not a listing"),
        (Fault::EmptyBody, "the body is empty"),
        (Fault::ShortBody, "not a complete listing"),
        (
            Fault::TruncatedWithoutToken,
            "IsTruncated=true but gives no NextContinuationToken",
        ),
        (Fault::CutBody, "after 2 retries"),
        (Fault::Reset, "after 2 retries"),
        (
            Fault::Status(500),
            "S3 kept failing (S3 error InternalError: injected) (gave up after 2 retries)",
        ),
    ] {
        // The second page of the big folder: the first 1,000 objects alone are no answer.
        server.fault(Target::ListPage2, fault, None);
        let out = query(&server);
        assert!(server.clear_faults() >= 3, "{fault:?}: retried");
        refused(&out, folder, cause);
    }
}

#[test]
fn transient_get_faults_are_retried_to_the_right_answer() {
    let (_w, server) = tree();
    for fault in [
        Fault::Status(500),
        Fault::Status(503),
        Fault::Reset,
        Fault::CutBody,
        Fault::ShortBody,
        Fault::EmptyBody,
        Fault::ErrorDocument,
        Fault::HtmlPage,
    ] {
        server.fault(Target::Get, fault, Some(1));
        let out = query(&server);
        assert_eq!(server.clear_faults(), 1, "{fault:?} was not applied");
        right(&out);
    }
}

/// S3 asking to slow down (503 SlowDown) is retried to the right answer, and counted. (That
/// the scan then fetches fewer objects ahead is the engine's `ahead_at_most`, tested there:
/// how many were in flight when the first 503 came back is not the test's to choose.)
#[test]
fn slowdowns_are_retried_and_counted() {
    let (_w, server) = tree();
    server.fault(Target::Get, Fault::Status(503), Some(3));
    let out = server.seslog(
        "s3://faults",
        &[
            "--stats",
            "--s3-retries",
            "2",
            "--format",
            "csv",
            "sql",
            QUERY,
        ],
    );
    assert_eq!(server.clear_faults(), 3);
    right(&out);
    assert_eq!(out.stat("slowdowns"), 3, "{}", out.stderr);
    assert_eq!(out.stat("get_requests"), BIG_FOLDER as u64 + 3);
    // Without any, none is counted.
    let out = server.seslog("s3://faults", &["--stats", "--format", "csv", "sql", QUERY]);
    right(&out);
    assert_eq!(out.stat("slowdowns"), 0, "{}", out.stderr);
}

#[test]
fn persistent_get_faults_name_the_object() {
    let (_w, server) = tree();
    for (fault, cause) in [
        (Fault::ShortBody, "bytes arrived where the listing said"),
        (Fault::EmptyBody, "0 bytes arrived where the listing said"),
        (Fault::ErrorDocument, "bytes arrived where the listing said"),
        (
            Fault::Status(503),
            "S3 kept failing (S3 error SlowDown: injected) (gave up after 2 retries)",
        ),
        (Fault::CutBody, "after 2 retries"),
    ] {
        server.fault(Target::Get, fault, None);
        let out = query(&server);
        server.clear_faults();
        refused(
            &out,
            "reading s3://faults/partitioned/Send/2024/11/2",
            cause,
        );
        assert!(
            out.stderr.contains("/obj-"),
            "names the object: {}",
            out.stderr
        );
    }
}

/// A server that never answers: a GET once is retried; a LIST that never answers fails
/// after the timeout and the retries given.
#[test]
fn silence_is_a_timeout() {
    let (_w, server) = tree();
    server.fault(Target::Get, Fault::Silent, Some(1));
    right(&query(&server));
    server.clear_faults();

    server.fault(Target::List, Fault::Silent, None);
    let out = query(&server);
    server.clear_faults();
    refused(
        &out,
        "listing s3://faults/partitioned/Send/2024/11/2",
        "S3 did not answer within 1s (gave up after 2 retries)",
    );
}
