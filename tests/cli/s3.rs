//! The same table on S3, served over HTTP by s3s-fs: the same answers and the same
//! requests as local disk, a prefix inside a bucket, errors that name the bucket.

use super::table::{ATHENA_BOUNCES, PER_TYPE_AND_DAY};
use super::util::{Workdir, row, run};

/// The scenario served by a real S3-compatible server over HTTP.
fn s3_scenario() -> (Workdir, super::util::s3::S3Server) {
    let w = Workdir::empty();
    let bucket = w.path().join("ses-logs-123456789012-us-east-1");
    seslog_gen::write_tree(&bucket, &seslog_gen::scenario_objects()).unwrap();
    let server = super::util::s3::S3Server::start(w.path());
    (w, server)
}

fn s3_run(server: &super::util::s3::S3Server, source: &str, args: &[&str]) -> super::util::Output {
    let mut full = vec!["--source".to_string(), source.to_string()];
    full.extend(args.iter().map(|s| s.to_string()));
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run(&full, None, &env)
}

#[test]
fn s3_gives_the_same_answers_and_the_same_requests_as_local_disk() {
    let (_w, server) = s3_scenario();
    let local = Workdir::scenario();
    let bucket = "s3://ses-logs-123456789012-us-east-1";
    for (query, lists, gets) in [
        (PER_TYPE_AND_DAY, 56, 27),
        (
            "SELECT count(*) FROM seslogs WHERE event_type = 'Bounce'",
            9,
            5,
        ),
        (ATHENA_BOUNCES, 30, 3),
    ] {
        let remote = s3_run(
            &server,
            bucket,
            &["--stats", "--format", "ndjson", "sql", query],
        )
        .ok();
        let disk = local
            .seslog(&["--stats", "--format", "ndjson", "sql", query])
            .ok();
        let sorted = |text: &str| {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines.sort();
            lines
        };
        assert_eq!(sorted(&remote.stdout), sorted(&disk.stdout), "{query}");
        assert_eq!(remote.stat("list_requests"), lists, "{query}");
        assert_eq!(remote.stat("objects_read"), gets, "{query}");
        assert_eq!(
            remote.stat("list_requests"),
            disk.stat("list_requests"),
            "{query}"
        );
    }
}

#[test]
fn s3_prefix_inside_a_bucket() {
    let w = Workdir::empty();
    seslog_gen::write_tree(
        &w.path().join("shared-bucket/ses/prod"),
        &seslog_gen::scenario_objects(),
    )
    .unwrap();
    let server = super::util::s3::S3Server::start(w.path());
    let out = s3_run(
        &server,
        "s3://shared-bucket/ses/prod",
        &["sql", "SELECT count(*) FROM seslogs"],
    )
    .ok();
    assert_eq!(out.rows(), vec![row(&["27"])]);
    // Firehose's error prefix beside it, read through the same prefix.
    let args = [
        "--format",
        "csv",
        "--stats",
        "errors",
        "--from",
        "2024-11-01",
        "--to",
        "2024-11-30",
    ];
    let out = s3_run(&server, "s3://shared-bucket/ses/prod", &args).ok();
    let local = Workdir::scenario();
    let disk = local.seslog(&args).ok();
    assert_eq!(out.stdout, disk.stdout);
    assert_eq!(out.rows().len(), 2, "{}", out.stdout);
    assert_eq!(out.stat("objects_read"), 2);
}

#[test]
fn s3_errors_name_the_bucket_and_the_cause() {
    let (_w, server) = s3_scenario();
    let out = s3_run(
        &server,
        "s3://no-such-bucket",
        &["sql", "SELECT count(*) FROM seslogs"],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("s3://no-such-bucket/partitioned/"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("no such bucket"), "{}", out.stderr);

    let mut full = vec![
        "--source".to_string(),
        "s3://ses-logs-123456789012-us-east-1".into(),
        "sql".into(),
        "SELECT count(*) FROM seslogs".into(),
    ];
    full.insert(0, "--endpoint".into());
    full.insert(1, server.endpoint());
    let out = run(
        &full,
        None,
        &[
            ("AWS_ACCESS_KEY_ID", "WRONGKEY"),
            ("AWS_SECRET_ACCESS_KEY", "wrong-secret"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("s3://ses-logs-123456789012-us-east-1/partitioned/"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("EnvironmentVariable"),
        "names the credential source: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("wrong-secret"),
        "never the secret: {}",
        out.stderr
    );

    let (_w2, server) = s3_scenario();
    let out = s3_run(
        &server,
        "s3://ses-logs-123456789012-us-east-1/nothing-here",
        &["sql", "SELECT count(*) FROM seslogs"],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "no objects under s3://ses-logs-123456789012-us-east-1/nothing-here/partitioned/"
        ),
        "{}",
        out.stderr
    );
    // The source named the layout's first folder itself: its parent is named.
    let out = s3_run(
        &server,
        "s3://ses-logs-123456789012-us-east-1/partitioned",
        &["sql", "SELECT count(*) FROM seslogs"],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("try --source s3://ses-logs-123456789012-us-east-1\n"),
        "{}",
        out.stderr
    );
}

/// Objects are fetched ahead of decoding: many GETs in flight at once where DataFusion alone
/// opens one object at a time per partition, each object fetched exactly once, and the same
/// answers as local disk.
#[test]
fn s3_fetches_objects_ahead_and_each_once() {
    let w = super::util::Workdir::empty();
    let first = chrono::NaiveDate::from_ymd_opt(2024, 11, 1).unwrap();
    seslog_gen::write_volume(&w.path().join("volume"), first, 2, 1500, 7).unwrap();
    let server = super::util::s3::S3Server::start(w.path());
    let local_source = w.path().join("volume");
    let args = ["--stats", "--format", "csv", "sql", PER_TYPE_AND_DAY];
    let remote = s3_run(&server, "s3://volume", &args).ok();
    let mut local_args = vec!["--source".to_string(), local_source.display().to_string()];
    local_args.extend(args.iter().map(|s| s.to_string()));
    let disk = run(&local_args, None, &[]).ok();
    assert_eq!(remote.stdout, disk.stdout);
    let objects = disk.stat("objects_read");
    assert!(
        objects > 200,
        "{objects} objects: too few to need fetching ahead"
    );
    assert_eq!(
        remote.stat("get_requests"),
        objects,
        "each object fetched once"
    );
    assert_eq!(remote.stat("objects_read"), objects);
    let concurrency = remote.stat("get_concurrency");
    assert!(
        concurrency >= 16,
        "at most {concurrency} GETs in flight at once: {}",
        remote.stderr
    );
}
