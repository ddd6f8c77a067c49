//! The Parquet tier: `seslog compact` and `--parquet`. Every answer from the tier is the raw
//! objects' answer, byte for byte (reports, SQL, warnings), also after objects arrived late,
//! changed, or could not be read cleanly; compaction is incremental and can be stopped at
//! any point; lookups read only the row groups and pages that can hold the value.

use std::path::Path;

use super::util::s3::S3Server;
use super::util::{self, Output, Workdir, compact, run};

/// Every built-in report over November, and SQL questions that read every kind of column.
/// (`errors` reads Firehose's error prefix, which the tier does not hold.)
fn questions() -> Vec<Vec<&'static str>> {
    let november = ["--from", "2024-11-01", "--to", "2024-11-30"];
    let mut reports = util::every_report();
    reports.retain(|r| r[0] != "errors");
    reports.push(vec!["recipient", "Carol@Example.NET"]);
    let mut all: Vec<Vec<&'static str>> = reports
        .into_iter()
        .map(|mut args| {
            args.extend(november);
            args
        })
        .collect();
    for sql in [
        "SELECT * FROM seslogs ORDER BY event_time, eventtype, mail.messageid",
        "SELECT event_type, day, eventtype, count(*) AS n FROM seslogs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        "SELECT mail.messageid, mail.tags.ses_source_ip, mail.tags.campaign, mail.commonheaders.subject, send IS NULL AS no_send \
         FROM seslogs ORDER BY 1, 2, 3, 4, 5",
        "SELECT event_time, recipients FROM seslogs WHERE array_has(recipients, 'bob@example.com') ORDER BY 1",
        "SELECT eventtype, bounce.bouncedrecipients, delivery.processingtimemillis FROM seslogs WHERE mail.messageid = '0100019a-news-000000' ORDER BY 1, 2, 3",
        "SELECT count(*) FROM seslogs",
    ] {
        all.push(vec!["sql", sql]);
    }
    all
}

/// `seslog ARGS` with and without the tier: the same exit code, stdout and warnings.
fn same_from_tier(w: &Workdir, tier: &Path, args: &[&str]) -> (Output, Output) {
    let tier = tier.display().to_string();
    let mut raw_args = vec!["--format", "csv", "--stats"];
    raw_args.extend(args);
    let raw = w.seslog(&raw_args);
    let mut tier_args = vec!["--parquet", &tier];
    tier_args.extend(&raw_args);
    let from_tier = w.seslog(&tier_args);
    assert_eq!(from_tier.code, raw.code, "{args:?}: {}", from_tier.stderr);
    assert!(!raw.stdout.is_empty(), "{args:?}");
    assert_eq!(from_tier.stdout, raw.stdout, "{args:?}");
    assert_eq!(from_tier.warnings(), raw.warnings(), "{args:?}");
    (raw, from_tier)
}

#[test]
fn every_report_and_question_is_the_same_from_the_tier() {
    let w = Workdir::damaged();
    let tier = w.path().join("tier");
    let made = compact(&w, &tier, &[]).ok();
    // The damaged objects are named, as a scan names them, and left raw.
    assert!(made.stat("objects_left_raw") > 0, "{}", made.stderr);
    assert!(
        made.warnings()
            .iter()
            .any(|l| l.contains("damaged object") && l.contains("truncated")),
        "{}",
        made.stderr
    );
    let objects_raw = made.stat("objects_left_raw");
    for question in questions() {
        let (_, from_tier) = same_from_tier(&w, &tier, &question);
        assert!(from_tier.stat("parquet_files") > 0, "{question:?}");
    }
    // Whole tree: every raw-left object is read beside the files, and nothing else is.
    let (raw, from_tier) = same_from_tier(&w, &tier, &["sql", "SELECT count(*) FROM seslogs"]);
    assert_eq!(from_tier.stat("objects_read"), objects_raw);
    assert!(raw.stat("objects_read") > objects_raw * 5);
    assert_eq!(from_tier.stat("raw_folders"), 0);
    // The same under the settings that decide what becomes of damaged input.
    same_from_tier(
        &w,
        &tier,
        &["--keep-damaged", "sql", "SELECT count(*) FROM seslogs"],
    );
    for strict in [
        vec!["--strict", "sql", "SELECT count(*) FROM seslogs"],
        vec![
            "--strict",
            "summary",
            "--from",
            "2024-11-01",
            "--to",
            "2024-11-30",
        ],
    ] {
        let raw = w.seslog(&strict);
        let tier_dir = tier.display().to_string();
        let mut args = vec!["--parquet", tier_dir.as_str()];
        args.extend(&strict);
        let from_tier = w.seslog(&args);
        assert_eq!((raw.code, from_tier.code), (1, 1), "{}", from_tier.stderr);
        assert!(
            from_tier.stderr.contains("--strict"),
            "{}",
            from_tier.stderr
        );
    }
}

/// A tree of generated volume: `days` days from 2024-11-01.
fn volume(days: u32, mails: u32) -> Workdir {
    let w = Workdir::empty();
    let first = chrono::NaiveDate::from_ymd_opt(2024, 11, 1).unwrap();
    seslog_gen::write_volume(w.path(), first, days, mails, 7).unwrap();
    w
}

/// All objects of one folder of the tree, sorted.
fn objects_in(w: &Workdir, folder: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(w.path().join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// How many files are below `dir`.
fn walk_files(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() { walk_files(&path) } else { 1 }
        })
        .sum()
}

fn gunzip(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}

const COUNTS: &str = "SELECT event_type, day, count(*) AS n, count(DISTINCT mail.messageid) AS mails, \
     min(event_time) AS first, max(event_time) AS last FROM seslogs GROUP BY 1, 2 ORDER BY 1, 2";

#[test]
fn objects_that_arrive_late_or_change_are_read_raw_and_compacted_next_time() {
    let w = volume(3, 1500);
    let tier = w.path().join("tier");
    let first = compact(&w, &tier, &[]).ok();
    let folders = first.stat("folders");
    assert!(folders >= 24, "{}", first.stderr);
    assert_eq!(first.stat("made"), folders);
    assert_eq!(first.stat("objects_left_raw"), 0);
    let (_, from_tier) = same_from_tier(&w, &tier, &["sql", COUNTS]);
    assert_eq!(from_tier.stat("objects_read"), 0);
    assert_eq!(from_tier.stat("parquet_folders"), folders);

    // Nothing changed: a second run writes nothing.
    let again = compact(&w, &tier, &[]).ok();
    assert_eq!(again.stat("unchanged"), folders);
    assert_eq!(again.stat("files_written"), 0);
    assert_eq!(again.stat("objects_read"), 0);

    // A late object in one folder, another folder's object rewritten.
    let late_folder = "partitioned/Delivery/2024/11/02";
    let copies = objects_in(&w, late_folder);
    let late = w.path().join(late_folder).join("zz-late-delivery.gz");
    std::fs::copy(&copies[0], &late).unwrap();
    let changed_folder = "partitioned/Send/2024/11/03";
    let victim = objects_in(&w, changed_folder)[1].clone();
    let records = gunzip(&std::fs::read(&victim).unwrap());
    let first_line = records.lines().next().unwrap().to_string();
    // Replaced as sync tools replace a file: written beside it, then renamed over it.
    let replacement = w.path().join("replacement.tmp");
    std::fs::write(
        &replacement,
        seslog_gen::gzip(format!("{first_line}\n").as_bytes()),
    )
    .unwrap();
    std::fs::rename(&replacement, &victim).unwrap();

    let (raw, from_tier) = same_from_tier(&w, &tier, &["sql", COUNTS]);
    // The late object beside its folder's files; the changed folder raw, whole.
    let changed_objects = objects_in(&w, changed_folder).len() as u64;
    assert_eq!(from_tier.stat("objects_read"), 1 + changed_objects);
    assert_eq!(from_tier.stat("objects_read_beside"), 1);
    assert_eq!(from_tier.stat("raw_folders"), 1);
    assert_eq!(from_tier.stat("parquet_folders"), folders - 1);
    let all_objects = walk_files(&w.path().join("partitioned"));
    assert_eq!(raw.stat("objects_read"), all_objects);
    for question in [
        vec!["summary", "--from", "2024-11-01", "--to", "2024-11-03"],
        vec!["bounces", "--from", "2024-11-01", "--to", "2024-11-03"],
    ] {
        same_from_tier(&w, &tier, &question);
    }

    let next = compact(&w, &tier, &[]).ok();
    assert_eq!(next.stat("appended"), 1, "{}", next.stderr);
    assert_eq!(next.stat("made"), 1);
    assert_eq!(next.stat("unchanged"), folders - 2);
    assert_eq!(next.stat("objects_read"), 1 + changed_objects);
    // The rewritten folder's old file is gone; the appended folder has two.
    assert_eq!(next.stat("files_removed"), 1);
    let parquet_in = |folder: &str| {
        std::fs::read_dir(tier.join(folder))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "parquet")
            })
            .count()
    };
    assert_eq!(parquet_in(late_folder), 2);
    assert_eq!(parquet_in(changed_folder), 1);
    let (_, from_tier) = same_from_tier(&w, &tier, &["sql", COUNTS]);
    assert_eq!(from_tier.stat("objects_read"), 0);
    assert_eq!(from_tier.stat("parquet_folders"), folders);
}

#[test]
fn a_stopped_compaction_leaves_nothing_in_use() {
    let w = volume(2, 3000);
    let tier = w.path().join("tier");
    let tier_dir = tier.display().to_string();
    let args: Vec<String> = [
        "--source",
        &w.source(),
        "--parquet",
        &tier_dir,
        "compact",
        "--to",
        "2030-01-01",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Stopped part-way through, at several points.
    for after_ms in [150, 400, 900] {
        let mut child = super::util::command(&args, false, &[]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(after_ms));
        let _ = child.kill();
        let _ = child.wait();
        same_from_tier(&w, &tier, &["sql", COUNTS]);
    }
    // A file a stopped run left behind, old enough to be nobody's: not read, then removed.
    let folder = tier.join("partitioned/Send/2024/11/01");
    std::fs::create_dir_all(&folder).unwrap();
    let orphan = folder.join("part-1-2-3.parquet");
    std::fs::write(&orphan, b"not parquet at all").unwrap();
    let file = std::fs::File::options().write(true).open(&orphan).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    let done = compact(&w, &tier, &[]).ok();
    assert!(done.stat("files_removed") >= 1, "{}", done.stderr);
    assert!(!orphan.exists());
    let (_, from_tier) = same_from_tier(&w, &tier, &["sql", COUNTS]);
    assert_eq!(from_tier.stat("objects_read"), 0);
    assert_eq!(compact(&w, &tier, &[]).ok().stat("files_written"), 0);
}

#[test]
fn lookups_read_only_the_row_groups_and_pages_that_can_hold_the_value() {
    let w = volume(3, 6000);
    let tier = w.path().join("tier");
    compact(&w, &tier, &[]).ok();
    // An address and a message id that occur in the data.
    let pick = w
        .seslog(&[
            "--format",
            "csv",
            "sql",
            "SELECT recipients[1], mail.messageid FROM seslogs WHERE event_type = 'Bounce' \
             AND day = '2024/11/02' ORDER BY 1 LIMIT 1",
        ])
        .ok()
        .rows()
        .remove(0);
    let (address, id) = (pick[0].as_str(), pick[1].as_str());
    // (question, whether pages are skipped too: only `recipients` is in order)
    let days = ["--from", "2024-11-01", "--to", "2024-11-03"];
    for (lookup, by_page) in [
        (vec!["recipient", address], true),
        (vec!["message", id], false),
        (vec!["bounces", "--recipient", address], true),
    ] {
        let question: Vec<&str> = lookup.iter().chain(&days).copied().collect();
        let (raw, from_tier) = same_from_tier(&w, &tier, &question);
        assert!(!raw.rows().is_empty(), "{question:?}");
        let (read, all) = (
            from_tier.stat("row_groups_read"),
            from_tier.stat("row_groups"),
        );
        let (rows_read, rows) = (
            from_tier.stat("parquet_rows_read"),
            from_tier.stat("parquet_rows"),
        );
        // (A bounces lookup reads one row group a day: the day's Bounce folder.)
        assert!(read * 3 <= all, "{question:?}: {read} of {all} row groups");
        let page = 1024;
        if by_page {
            // At most a page or two of each row group read.
            assert!(
                rows_read <= 2 * page * read,
                "{question:?}: {rows_read} rows of {read} row groups"
            );
        }
        assert!(
            rows_read * 2 < rows,
            "{question:?}: {rows_read} of {rows} rows"
        );
        assert!(
            from_tier.stat("parquet_bytes_read") < from_tier.stat("parquet_bytes"),
            "{}",
            from_tier.stderr
        );
    }
    // With the statistics not used (as --no-prefilter does for the bytes), every row group
    // is read, and the answer is the same.
    let tier_dir = tier.display().to_string();
    let base = ["--format", "csv", "--stats", "--parquet", tier_dir.as_str()];
    let lookup = [
        "recipient",
        address,
        "--from",
        "2024-11-01",
        "--to",
        "2024-11-03",
    ];
    let with: Vec<&str> = base.iter().chain(&lookup).copied().collect();
    let without: Vec<&str> = base
        .iter()
        .chain(&["--no-prefilter"])
        .chain(&lookup)
        .copied()
        .collect();
    let (a, b) = (w.seslog(&with).ok(), w.seslog(&without).ok());
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(b.stat("row_groups_read"), b.stat("row_groups"));
}

#[test]
fn the_tier_works_on_s3_and_offline_answers_without_it() {
    let w = Workdir::empty();
    let buckets = w.path().join("buckets");
    seslog_gen::write_tree(&buckets.join("ses-logs"), &seslog_gen::scenario_objects()).unwrap();
    std::fs::create_dir_all(buckets.join("ses-parquet")).unwrap();
    let server = S3Server::start(&buckets);
    let source = "s3://ses-logs";
    let made = server
        .seslog(
            source,
            &[
                "--parquet",
                "s3://ses-parquet/tier",
                "--stats",
                "compact",
                "--to",
                "2030-01-01",
            ],
        )
        .ok();
    assert_eq!(made.stat("objects_left_raw"), 0, "{}", made.stderr);
    assert!(
        buckets
            .join("ses-parquet/tier/partitioned/Bounce/2024/11/07")
            .join("_seslog_manifest")
            .exists()
    );
    for question in questions() {
        let mut raw_args = vec!["--format", "csv"];
        raw_args.extend(&question);
        let raw = server.seslog(source, &raw_args);
        let mut tier_args = vec!["--parquet", "s3://ses-parquet/tier", "--stats"];
        tier_args.extend(&raw_args);
        let from_tier = server.seslog(source, &tier_args);
        assert_eq!(
            from_tier.code, raw.code,
            "{question:?}: {}",
            from_tier.stderr
        );
        assert_eq!(from_tier.stdout, raw.stdout, "{question:?}");
        assert_eq!(from_tier.stat("get_requests"), 0, "{question:?}");
    }
    // Offline, a tier on S3 is not read: the answer comes from the cached objects.
    let cache = w.path().join("cache").display().to_string();
    let env = server.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("SESLOG_NO_CACHE", "false"));
    let args = |offline: bool| -> Vec<String> {
        let mut a = vec![
            "--source",
            source,
            "--cache-dir",
            &cache,
            "--parquet",
            "s3://ses-parquet/tier",
            "--format",
            "csv",
        ];
        if offline {
            a.push("--offline");
        }
        a.extend(["sql", "SELECT count(*) FROM seslogs"]);
        a.iter().map(|s| s.to_string()).collect()
    };
    let online = run(&args(false), None, &env);
    assert_eq!(online.code, 0, "{}", online.stderr);
    let raw_everything = run(
        &[
            "--source",
            source,
            "--cache-dir",
            &cache,
            "--format",
            "csv",
            "sql",
            "SELECT count(*) FROM seslogs",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
        None,
        &env,
    );
    assert_eq!(raw_everything.code, 0);
    let offline = run(&args(true), None, &env);
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    assert_eq!(offline.stdout, online.stdout);
    assert!(
        offline
            .stderr
            .contains("offline: the Parquet tier s3://ses-parquet/tier is not read"),
        "{}",
        offline.stderr
    );
}

#[test]
fn compact_needs_a_tier_of_its_own() {
    let w = Workdir::scenario();
    let out = w.seslog(&["compact"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--parquet"), "{}", out.stderr);
    let source = w.source();
    let out = w.seslog(&["--parquet", &source, "compact"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("is the source itself"),
        "{}",
        out.stderr
    );
    let missing = w.path().join("no-such-tier").display().to_string();
    let out = w.seslog(&["--parquet", &missing, "sql", "SELECT 1"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("does not exist (run `seslog compact`"),
        "{}",
        out.stderr
    );
    // Only closed days: a --to before every folder compacts nothing.
    let tier = w.path().join("tier");
    let none = compact(&w, &tier, &[]).ok();
    assert!(none.stat("folders") > 0);
    let tier_dir = tier.display().to_string();
    let early = w
        .seslog(&[
            "--parquet",
            &tier_dir,
            "--stats",
            "compact",
            "--to",
            "2024-01-01",
        ])
        .ok();
    assert_eq!(early.stat("folders"), 0);
    let shown = w.seslog(&["--parquet", &tier_dir, "config"]).ok();
    assert!(
        shown.setting("parquet").contains(&tier_dir),
        "{}",
        shown.stdout
    );
}
