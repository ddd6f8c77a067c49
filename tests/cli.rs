//! End-to-end tests of the `seslog` binary over generated Firehose trees: exact rows,
//! exact counts, and exactly what was listed and read.

mod util;

use std::io::Read;

use util::{Workdir, row, run};

const PER_TYPE_AND_DAY: &str =
    "SELECT event_type, day, count(*) AS n FROM seslogs GROUP BY 1, 2 ORDER BY 1, 2";

fn per_type_and_day() -> Vec<Vec<String>> {
    [
        ("Bounce", "2024/10/31", "1"),
        ("Bounce", "2024/11/05", "1"),
        ("Bounce", "2024/11/07", "2"),
        ("Bounce", "2024/12/01", "1"),
        ("Click", "2024/11/05", "1"),
        ("Complaint", "2024/11/06", "1"),
        ("Delivery", "2024/07/08", "1"),
        ("Delivery", "2024/11/05", "3"),
        ("Delivery", "2024/11/06", "1"),
        ("DeliveryDelay", "2024/11/06", "1"),
        ("Open", "2024/11/05", "1"),
        ("Reject", "2024/11/06", "1"),
        ("Rendering Failure", "2024/11/06", "1"),
        ("Send", "2024/07/08", "1"),
        ("Send", "2024/10/31", "1"),
        ("Send", "2024/11/05", "2"),
        ("Send", "2024/11/06", "2"),
        ("Send", "2024/11/07", "3"),
        ("Send", "2024/11/30", "1"),
        ("Subscription", "2024/11/07", "1"),
    ]
    .iter()
    .map(|(t, d, n)| row(&[t, d, n]))
    .collect()
}

#[test]
fn full_scan_counts_every_record_by_partition() {
    let w = Workdir::scenario();
    let out = w.seslog(&["--stats", "sql", PER_TYPE_AND_DAY]).ok();
    assert_eq!(out.csv()[0], row(&["event_type", "day", "n"]));
    assert_eq!(out.rows(), per_type_and_day());
    assert_eq!(out.stat("rows"), 20);
    // 1 LIST of partitioned/, 10 of years, 10 of months, 15 of days, 20 leaf folders.
    assert_eq!(out.stat("list_requests"), 56);
    assert_eq!(out.stat("objects_read"), 27);
    assert!(out.warnings().is_empty(), "{}", out.stderr);
}

#[test]
fn event_type_column_matches_the_folder() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "sql",
            "SELECT count(*) FROM seslogs WHERE eventtype <> event_type OR eventtype IS NULL",
        ])
        .ok();
    assert_eq!(out.rows(), vec![row(&["0"])]);
}

#[test]
fn athena_delivery_query_reads_one_folder() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "--stats",
            "--format",
            "json",
            "sql",
            "SELECT * FROM seslogs WHERE event_type = 'Delivery' AND day = '2024/07/08';",
        ])
        .ok();
    let rows = out.json();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["eventtype"], "Delivery");
    assert_eq!(r["event_type"], "Delivery");
    assert_eq!(r["day"], "2024/07/08");
    assert_eq!(r["mail"]["messageid"], "0100019a-july-000000");
    assert_eq!(r["mail"]["commonheaders"]["subject"], "Summer sale");
    assert_eq!(
        r["delivery"]["recipients"],
        serde_json::json!(["olivia@example.com", "peggy@example.com"])
    );
    assert_eq!(r["delivery"]["processingtimemillis"], 2000);
    assert_eq!(
        r["recipients"],
        serde_json::json!(["olivia@example.com", "peggy@example.com"])
    );
    assert!(
        r["event_time"]
            .as_str()
            .unwrap()
            .starts_with("2024-07-08T15:00:02"),
        "{}",
        r["event_time"]
    );
    assert!(r["bounce"].is_null());
    // Partition projection: straight to partitioned/Delivery/2024/07/08/, one LIST, one GET.
    assert_eq!(out.stat("list_requests"), 1);
    assert_eq!(out.stat("objects_read"), 1);
}

const ATHENA_BOUNCES: &str =
    "SELECT bounce.bounceType as bouncebounceType, bounce.bouncesubtype as bouncebouncesubtype,
       bounce.feedbackid as bouncefeedbackid, bounce.timestamp as bouncetimestamp,
       bounce.reportingMTA as bouncereportingmta, mail.messageId as messageid,
       mail.timestamp as timestamp, mail.source as source, mail.commonHeaders.subject as subject,
       mail.commonHeaders.to as to, element_at(mail.headers,2) as replyto,
       mail.tags.ses_source_ip as ses_source_ip, mail.tags.ses_outgoing_ip as ses_outgoing_ip
FROM seslogs where event_type = 'Bounce' and day between '2024/11/01' and '2024/11/30'";

#[test]
fn athena_bounce_query_runs_unmodified() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&["--stats", "--format", "json", "sql", ATHENA_BOUNCES])
        .ok();
    let mut rows = out.json();
    rows.sort_by_key(|r| r["bouncetimestamp"].as_str().unwrap().to_string());
    let pick = |r: &serde_json::Value, k: &str| r[k].clone();
    let summary: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                pick(r, "bouncebouncetype").as_str().unwrap().to_string(),
                pick(r, "bouncebouncesubtype").as_str().unwrap().to_string(),
                pick(r, "messageid").as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Filed under November only: the Nov 30 bounce filed under 12/01 and the one filed under
    // 10/31 are outside Athena's `day` range, as they are in Athena.
    assert_eq!(
        summary,
        vec![
            (
                "Permanent".into(),
                "General".into(),
                "0100019a-news-000000".into()
            ),
            (
                "Transient".into(),
                "MailboxFull".into(),
                "0100019a-full-000000".into()
            ),
            (
                "Permanent".into(),
                "OnAccountSuppressionList".into(),
                "0100019a-supp-000000".into()
            ),
        ]
    );
    let carol = &rows[0];
    assert_eq!(
        carol["bouncefeedbackid"],
        "0100019-bounce-0100019a-news-000000"
    );
    assert_eq!(carol["bouncetimestamp"], "2024-11-05T12:00:04.000Z");
    assert_eq!(
        carol["bouncereportingmta"],
        "dns; a8-30.smtp-out.amazonses.com"
    );
    assert_eq!(carol["timestamp"], "2024-11-05T12:00:00.000Z");
    assert_eq!(carol["source"], "Example Shop <no-reply@shop.example.com>");
    assert_eq!(carol["subject"], "Weekly news: 20% off");
    assert_eq!(
        carol["to"],
        serde_json::json!(["Bob@Example.com", "carol@example.net", "dave@example.org"])
    );
    assert_eq!(
        carol["replyto"],
        serde_json::json!({"name": "Reply-To", "value": "support@shop.example.com"})
    );
    assert_eq!(carol["ses_source_ip"], "192.0.2.10");
    assert!(
        carol["ses_outgoing_ip"].is_null(),
        "SES adds ses:outgoing-ip to deliveries only"
    );
    // 30 day folders of one event type, listed without walking the tree; 3 objects read.
    assert_eq!(out.stat("list_requests"), 30);
    assert_eq!(out.stat("objects_read"), 3);
}

#[test]
fn no_day_bound_walks_folder_by_folder() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "--stats",
            "sql",
            "SELECT count(*) FROM seslogs WHERE event_type = 'Bounce'",
        ])
        .ok();
    assert_eq!(out.rows(), vec![row(&["5"])]);
    // years (1) + months of 2024 (1) + days of 10, 11, 12 (3) + the 4 day folders.
    assert_eq!(out.stat("list_requests"), 9);
    assert_eq!(out.stat("objects_read"), 5);
}

#[test]
fn filters_on_partitions_are_exact_and_prune_days() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "--stats",
            "sql",
            "SELECT event_type, count(*) FROM seslogs WHERE day >= '2024/11/06' AND day < '2024/11/07' AND event_type IN ('Reject', 'Complaint', 'Open') GROUP BY 1 ORDER BY 1",
        ])
        .ok();
    assert_eq!(
        out.rows(),
        vec![row(&["Complaint", "1"]), row(&["Reject", "1"])]
    );
    assert_eq!(out.stat("objects_read"), 2);
    // Three types and the days 11/06..11/07 enumerated; the exact filter drops 11/07 before
    // any LIST, so only the three 2024/11/06 folders are listed.
    assert_eq!(out.stat("list_requests"), 3);
}

#[test]
fn names_resolve_case_insensitively_like_athena() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "sql",
            "SELECT bounce.bounceSubType, bounce.bouncesubtype AS again, mail.commonHeaders.subject, mail.commonheaders.\"from\"[1]
             FROM seslogs WHERE event_type = 'Bounce' AND mail.messageId = '0100019a-full-000000'",
        ])
        .ok();
    assert_eq!(
        out.rows(),
        vec![row(&[
            "MailboxFull",
            "MailboxFull",
            "Your order",
            "Example Shop <no-reply@shop.example.com>"
        ])]
    );
}

#[test]
fn tags_are_reachable_by_athena_names_and_custom_names() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "sql",
            "SELECT mail.tags.ses_configurationset, mail.tags.ses_source_ip, mail.tags.ses_from_domain,
                    mail.tags.ses_caller_identity, mail.tags.ses_outgoing_ip, mail.tags.campaign, mail.tags['campaign'] AS by_key
             FROM seslogs WHERE event_type = 'Delivery' AND day = '2024/07/08'",
        ])
        .ok();
    assert_eq!(
        out.rows(),
        vec![row(&[
            "ses-logs",
            "192.0.2.10",
            "shop.example.com",
            "mailer",
            "54.240.8.1",
            "reset",
            "reset"
        ])]
    );
}

#[test]
fn derived_columns_follow_the_event() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "--format",
            "json",
            "sql",
            "SELECT eventtype, event_time, recipients FROM seslogs WHERE mail.messageid = '0100019a-news-000000' ORDER BY event_time",
        ])
        .ok();
    let rows: Vec<(String, String, serde_json::Value)> = out
        .json()
        .iter()
        .map(|r| {
            (
                r["eventtype"].as_str().unwrap().into(),
                r["event_time"].as_str().unwrap().into(),
                r["recipients"].clone(),
            )
        })
        .collect();
    let all = serde_json::json!(["bob@example.com", "carol@example.net", "dave@example.org"]);
    assert_eq!(rows.len(), 4);
    assert_eq!((rows[0].0.as_str(), &rows[0].2), ("Send", &all));
    assert!(rows[0].1.starts_with("2024-11-05T12:00:00"));
    // The delivery is about the two who got it; the bounce and complaint about one each.
    assert_eq!(
        (rows[1].0.as_str(), &rows[1].2),
        (
            "Delivery",
            &serde_json::json!(["bob@example.com", "dave@example.org"])
        )
    );
    assert!(rows[1].1.starts_with("2024-11-05T12:00:03"));
    assert_eq!(
        (rows[2].0.as_str(), &rows[2].2),
        ("Bounce", &serde_json::json!(["carol@example.net"]))
    );
    assert_eq!(
        (rows[3].0.as_str(), &rows[3].2),
        ("Complaint", &serde_json::json!(["dave@example.org"]))
    );
    assert!(rows[3].1.starts_with("2024-11-06T08:00:00"));

    let out = w
        .seslog(&[
            "sql",
            "SELECT eventtype, count(*) FROM seslogs WHERE event_time >= TIMESTAMP '2024-11-01T00:00:00Z' AND event_time < TIMESTAMP '2024-12-01T00:00:00Z' AND eventtype = 'Bounce' GROUP BY 1",
        ])
        .ok();
    // Event time, not folder: all five bounces happened in November.
    assert_eq!(out.rows(), vec![row(&["Bounce", "5"])]);
}

#[test]
fn every_event_type_decodes_its_own_object() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "sql",
            "SELECT eventtype,
                    coalesce(delivery.smtpresponse, bounce.bouncedrecipients[1]['diagnosticcode'],
                             complaint.complaintfeedbacktype, reject.reason, open.useragent, click.link,
                             failure.templatename, deliverydelay.delayedrecipients[1]['diagnosticcode'],
                             subscription.newtopicpreferences.topicsubscriptionstatus[1]['subscriptionstatus'],
                             CASE WHEN send IS NOT NULL THEN 'send' END) AS detail
             FROM seslogs WHERE day BETWEEN '2024/11/05' AND '2024/11/07' AND eventtype <> 'Send' OR (eventtype = 'Send' AND mail.messageid = '0100019a-reset-alice-000000')
             ORDER BY event_time, eventtype",
        ])
        .ok();
    let got: Vec<(String, String)> = out
        .rows()
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let expect = [
        ("Send", "send"),
        ("Delivery", "250 2.0.0 OK  1730801702 d9443c01a7336-2"),
        ("Delivery", "250 2.0.0 OK  1730801702 d9443c01a7336-2"),
        ("Open", "Mozilla/5.0 (iPhone)"),
        ("Click", "https://shop.example.com/reset?token=abc"),
        ("Delivery", "250 2.0.0 OK  1730801702 d9443c01a7336-2"),
        ("Bounce", "smtp; 550 5.1.1 user unknown"),
        ("Complaint", "abuse"),
        (
            "DeliveryDelay",
            "smtp; 421 4.4.1 Unable to connect to remote host",
        ),
        ("Delivery", "250 2.0.0 OK  1730801702 d9443c01a7336-2"),
        ("Reject", "Bad content"),
        ("Rendering Failure", "WelcomeTemplate"),
        ("Subscription", "OptOut"),
        ("Bounce", "smtp; 452 4.2.2 mailbox full"),
        ("Bounce", "smtp; 550 5.1.1 user unknown"),
    ];
    assert_eq!(
        got,
        expect
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn damaged_input_is_skipped_named_and_counted() {
    let w = Workdir::damaged();
    let out = w.seslog(&["sql", "SELECT event_type, count(*) FROM seslogs WHERE day = '2024/11/08' GROUP BY 1 ORDER BY 1"]).ok();
    let kept_clicks = complete_records_before_the_cut(&w);
    assert!(kept_clicks > 0 && kept_clicks < 40, "{kept_clicks}");
    assert_eq!(
        out.rows(),
        vec![
            row(&["Click", &kept_clicks.to_string()]),
            row(&["Delivery", "1"]),
            row(&["Open", "2"]),
            row(&["Send", "2"]),
        ]
    );
    let dir = w.source();
    let day = format!("{dir}/partitioned");
    let warnings = out.warnings();
    let open_line_2 = format!(
        "seslog: warning: skipped record: {day}/Open/2024/11/08/malformed-middle.gz line 2 (byte "
    );
    assert!(
        warnings.iter().any(|l| l.starts_with(&open_line_2)),
        "{}",
        out.stderr
    );
    assert!(
        warnings.iter().any(|l| l.starts_with(&format!(
            "seslog: warning: damaged object: {day}/Click/2024/11/08/truncated.gz: "
        ))),
        "{}",
        out.stderr
    );
    assert!(
        warnings.iter().any(|l| l.starts_with(&format!(
            "seslog: warning: skipped record: {day}/Click/2024/11/08/truncated.gz line {} ",
            kept_clicks + 1
        ))),
        "{}",
        out.stderr
    );
    assert!(warnings.iter().any(|l| *l == format!("seslog: warning: ignored object: {day}/Bounce/2024/11/08/README.txt: not JSON event data (does not start with '{{')")), "{}", out.stderr);
    assert!(warnings.iter().any(|l| *l == format!("seslog: warning: skipped record: {day}/Complaint/2024/11/08/not-ses.gz line 1 (byte 0): not an SES event record (no eventType)")), "{}", out.stderr);
    assert_eq!(
        warnings.last().copied(),
        Some(
            "seslog: warning: 3 records skipped, 1 damaged object, 1 object ignored (use --strict to make this an error)"
        )
    );
    assert_eq!(warnings.len(), 6, "{}", out.stderr);
}

/// What the truncated object really holds: its complete lines before the gzip cut.
fn complete_records_before_the_cut(w: &Workdir) -> usize {
    let bytes = std::fs::read(w.path().join("partitioned/Click/2024/11/08/truncated.gz")).unwrap();
    let mut text = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut text);
    text.iter().filter(|&&b| b == b'\n').count()
}

#[test]
fn strict_turns_a_skipped_record_into_an_error() {
    let w = Workdir::damaged();
    let out = w.seslog(&[
        "--strict",
        "sql",
        "SELECT count(*) FROM seslogs WHERE event_type = 'Open' AND day = '2024/11/08'",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("skipped record:") && out.stderr.contains("malformed-middle.gz line 2"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--strict"), "{}", out.stderr);
}

#[test]
fn firehose_error_output_and_stray_files_never_leak_in() {
    let w = Workdir::damaged();
    let out = w
        .seslog(&["sql", "SELECT mail.messageid, count(*) FROM seslogs WHERE mail.messageid LIKE '0100019b-quirk-%' AND eventtype = 'Send' GROUP BY 1 ORDER BY 1"])
        .ok();
    // Only the two back-to-back records: not errorLog/, not the file at the month level,
    // not the folder that is not a day.
    assert_eq!(
        out.rows(),
        vec![
            row(&["0100019b-quirk-000000", "1"]),
            row(&["0100019b-quirk-000001", "1"])
        ]
    );
}

#[test]
fn back_to_back_records_keep_braces_inside_strings() {
    let w = Workdir::damaged();
    let out = w
        .seslog(&["sql", "SELECT mail.commonheaders.subject FROM seslogs WHERE event_type = 'Send' AND day = '2024/11/08'"])
        .ok();
    assert_eq!(
        out.rows(),
        vec![
            row(&["Braces }{ in the subject"]),
            row(&["Braces }{ in the subject"])
        ]
    );
}

#[test]
fn query_from_stdin_and_from_a_file() {
    let w = Workdir::scenario();
    let args = vec!["--source".to_string(), w.source(), "sql".into(), "-".into()];
    let out = run(
        &args,
        Some("SELECT count(*) AS n FROM seslogs WHERE event_type = 'Open'"),
        &[],
    )
    .ok();
    assert_eq!(out.rows(), vec![row(&["1"])]);

    let file = w.path().join("monthly.sql");
    std::fs::write(
        &file,
        "-- a report\nSELECT count(*) AS n\nFROM seslogs\nWHERE event_type = 'Send';\n",
    )
    .unwrap();
    let out = w
        .seslog(&["sql", "-f", file.to_str().unwrap(), "--format", "csv"])
        .ok();
    assert_eq!(out.stdout, "n\n10\n");
}

#[test]
fn source_from_the_environment() {
    let w = Workdir::scenario();
    let out = run(
        &["sql".into(), "SELECT count(*) FROM seslogs".into()],
        None,
        &[("SESLOG_SOURCE", &w.source())],
    )
    .ok();
    assert_eq!(out.rows(), vec![row(&["27"])]);
}

#[test]
fn errors_name_what_failed_and_exit_non_zero() {
    let w = Workdir::scenario();
    let out = w.seslog(&["sql", "SELECT nosuchcolumn FROM seslogs"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("seslog: ") && out.stderr.contains("nosuchcolumn"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    let out = run(&["sql".into(), "SELECT 1".into()], None, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no source"), "{}", out.stderr);

    let out = run(
        &[
            "--source".into(),
            "/nonexistent/ses".into(),
            "sql".into(),
            "SELECT 1".into(),
        ],
        None,
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("/nonexistent/ses does not exist"),
        "{}",
        out.stderr
    );

    let out = w.seslog(&[
        "--layout",
        "x/!{firehose:random-string}/",
        "sql",
        "SELECT 1",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--layout") && out.stderr.contains("!{firehose:random-string}"),
        "{}",
        out.stderr
    );

    let out = w.seslog(&["--format", "xml", "sql", "SELECT 1"]);
    assert_eq!(out.code, 2);
}

#[test]
fn empty_source_is_an_error_that_names_the_prefix() {
    let w = Workdir::empty();
    let out = w.seslog(&["sql", "SELECT count(*) FROM seslogs"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains(&format!("no objects under {}/partitioned/", w.source())),
        "{}",
        out.stderr
    );
}

#[test]
fn empty_result_is_success_with_a_header() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "sql",
            "SELECT mail.messageid FROM seslogs WHERE event_type = 'Bounce' AND day = '1999/01/01'",
        ])
        .ok();
    assert_eq!(out.stdout, "messageid\n");
    let out = w
        .seslog(&[
            "--format",
            "json",
            "sql",
            "SELECT mail.messageid FROM seslogs WHERE day = '1999/01/01'",
        ])
        .ok();
    assert_eq!(out.stdout.trim(), "[]");
}

#[test]
fn writes_are_refused() {
    let w = Workdir::scenario();
    let out = w.seslog(&["sql", "CREATE TABLE t AS SELECT 1"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("read-only") && out.stderr.contains("--output FILE"),
        "{}",
        out.stderr
    );
    let out = w.seslog(&[
        "sql",
        "COPY (SELECT 1) TO '/tmp/seslog-should-not-exist.csv'",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!std::path::Path::new("/tmp/seslog-should-not-exist.csv").exists());
}

#[test]
fn csv_writes_nested_values_as_json_text() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&["--format", "csv", "sql", "SELECT mail.destination, bounce.bouncedrecipients FROM seslogs WHERE event_type = 'Bounce' AND day = '2024/11/05'"])
        .ok();
    assert_eq!(
        out.rows(),
        vec![row(&[
            r#"["Bob@Example.com","carol@example.net","dave@example.org"]"#,
            r#"[{"emailaddress":"carol@example.net","action":"failed","status":"5.1.1","diagnosticcode":"smtp; 550 5.1.1 user unknown"}]"#,
        ])]
    );
}

#[test]
fn the_shipped_sample_is_the_generator_output() {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ses-logs");
    let objects = seslog_gen::scenario_objects();
    let mut expected: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
    expected.sort();
    let mut found = Vec::new();
    let mut stack = vec![shipped.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.push(
                    p.strip_prefix(&shipped)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    found.sort();
    assert_eq!(
        found, expected,
        "regenerate with: cargo run --bin seslog-gen -- scenario testdata/ses-logs"
    );
    for o in objects {
        assert_eq!(
            std::fs::read(shipped.join(&o.key)).unwrap(),
            o.bytes,
            "{} differs",
            o.key
        );
    }
}

/// The scenario served by a real S3-compatible server over HTTP.
fn s3_scenario() -> (Workdir, util::s3::S3Server) {
    let w = Workdir::empty();
    let bucket = w.path().join("ses-logs-123456789012-us-east-1");
    seslog_gen::write_tree(&bucket, &seslog_gen::scenario_objects()).unwrap();
    let server = util::s3::S3Server::start(w.path());
    (w, server)
}

fn s3_run(server: &util::s3::S3Server, source: &str, args: &[&str]) -> util::Output {
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
    let server = util::s3::S3Server::start(w.path());
    let out = s3_run(
        &server,
        "s3://shared-bucket/ses/prod",
        &["sql", "SELECT count(*) FROM seslogs"],
    )
    .ok();
    assert_eq!(out.rows(), vec![row(&["27"])]);
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
}

/// The scenario filed under another layout; `key(event_type, arrival, seq, message_id)`.
fn scenario_in_layout(
    key: impl Fn(&str, chrono::DateTime<chrono::Utc>, u64, &str) -> String,
) -> Workdir {
    let w = Workdir::empty();
    let events = seslog_gen::scenario_events();
    // One object per event, so each can go to its own sender's folder.
    let objects: Vec<seslog_gen::Object> = events
        .iter()
        .enumerate()
        .map(|(i, e)| seslog_gen::Object {
            key: key(
                e.event_type,
                e.arrival,
                i as u64,
                e.record["mail"]["messageId"].as_str().unwrap(),
            ),
            bytes: seslog_gen::gzip(format!("{}\n", e.record).as_bytes()),
        })
        .collect();
    seslog_gen::write_tree(w.path(), &objects).unwrap();
    w
}

#[test]
fn blog_layout_adds_sender_identity_and_hour() {
    let w = scenario_in_layout(|t, arrival, seq, id| {
        let sender = if id.contains("july") {
            "other.example.com"
        } else {
            "shop.example.com"
        };
        format!(
            "partitioned/{sender}/{t}/{}/obj-{seq}.gz",
            arrival.format("%Y/%m/%d/%H")
        )
    });
    let layout = "partitioned/!{partitionKeyFromQuery:SenderIdentity}/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd/HH}/";
    let out = w
        .seslog(&[
            "--layout",
            layout,
            "--stats",
            "sql",
            "SELECT sender_identity, event_type, day, hour, count(*) FROM seslogs WHERE event_type = 'Bounce' AND day = '2024/11/07' GROUP BY 1, 2, 3, 4 ORDER BY 4",
        ])
        .ok();
    assert_eq!(
        out.rows(),
        vec![row(&[
            "shop.example.com",
            "Bounce",
            "2024/11/07",
            "09",
            "2"
        ])]
    );
    // partitioned/ (1), then per sender the day folder's hours (2), then the one hour found.
    assert_eq!(out.stat("list_requests"), 4);
    assert_eq!(out.stat("objects_read"), 2);

    let out = w
        .seslog(&[
            "--layout",
            layout,
            "sql",
            "SELECT sender_identity, count(*) FROM seslogs GROUP BY 1 ORDER BY 1",
        ])
        .ok();
    assert_eq!(
        out.rows(),
        vec![
            row(&["other.example.com", "2"]),
            row(&["shop.example.com", "24"])
        ]
    );
}

#[test]
fn hive_style_layout_gives_the_same_table() {
    let w = scenario_in_layout(|t, arrival, seq, _| {
        format!(
            "ses/event={t}/dt={}/obj-{seq}.gz",
            arrival.format("%Y-%m-%d")
        )
    });
    let layout = "ses/event=!{partitionKeyFromQuery:EventType}/dt=!{timestamp:yyyy}-!{timestamp:MM}-!{timestamp:dd}/";
    let out = w
        .seslog(&["--layout", layout, "sql", PER_TYPE_AND_DAY])
        .ok();
    // The same rows as the default layout, but for the duplicate delivery (not in this tree).
    let mut expected = per_type_and_day();
    let dup = expected
        .iter_mut()
        .find(|r| r[0] == "Delivery" && r[1] == "2024/11/05")
        .unwrap();
    dup[2] = "2".into();
    assert_eq!(out.rows(), expected);
    let out = w
        .seslog(&["--layout", layout, "--stats", "sql", ATHENA_BOUNCES])
        .ok();
    assert_eq!(out.rows().len(), 3);
    assert_eq!(out.stat("list_requests"), 30);
}

#[test]
fn relative_dates_are_folded_and_prune_the_walk() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&["--stats", "sql", "SELECT count(*) FROM seslogs WHERE day >= date_format(current_date - interval '7' day, '%Y/%m/%d')"])
        .ok();
    assert_eq!(out.rows(), vec![row(&["0"])]);
    // partitioned/ and each type's years; every year (2024) is before the bound.
    assert_eq!(out.stat("list_requests"), 11);
    assert_eq!(out.stat("objects_read"), 0);
}

#[test]
fn element_at_is_trinos_on_arrays_and_maps() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "sql",
            "SELECT element_at(mail.headers, 2)['name'] AS second, element_at(mail.headers, -1)['name'] AS last,
                    element_at(mail.destination, 5) AS missing, element_at(mail.tags, 'campaign') AS campaign,
                    element_at(mail.tags, 'nope') AS no_tag
             FROM seslogs WHERE event_type = 'Delivery' AND day = '2024/07/08'",
        ])
        .ok();
    assert_eq!(
        out.rows(),
        vec![row(&["Reply-To", "Content-Type", "", "reset", ""])]
    );
    let out = w
        .seslog(&["--format", "json", "sql", "SELECT element_at(mail.destination, 5) AS missing FROM seslogs WHERE event_type = 'Delivery' AND day = '2024/07/08'"])
        .ok();
    assert!(out.json()[0]["missing"].is_null());
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::process::{Command, Stdio};
    let w = Workdir::scenario();
    let mut child = Command::new(util::bin())
        .args([
            "--source",
            &w.source(),
            "sql",
            "SELECT * FROM seslogs CROSS JOIN (SELECT * FROM unnest(range(2000)))",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[path = "cli/reports.rs"]
mod reports;

#[path = "cli/output.rs"]
mod output;

#[path = "cli/terminal.rs"]
mod terminal;

#[path = "cli/athena.rs"]
mod athena;

#[path = "cli/trust.rs"]
mod trust;

#[path = "cli/s3_faults.rs"]
mod s3_faults;

#[path = "cli/lookup.rs"]
mod lookup;
