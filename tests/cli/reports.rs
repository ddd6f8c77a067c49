//! The canned reports over the scenario, with exact rows.

use super::util::{Output, Workdir, row};
use seslog_gen as testgen;

const NOVEMBER: [&str; 4] = ["--from", "2024-11-01", "--to", "2024-11-30"];

/// `seslog --format csv ARGS`, which must succeed.
fn run_csv(w: &Workdir, args: &[&str]) -> Output {
    let mut full = vec!["--format", "csv"];
    full.extend_from_slice(args);
    w.seslog(&full).ok()
}

/// A report's CSV rows over November 2024 (`--from 2024-11-01 --to 2024-11-30`).
fn november(w: &Workdir, args: &[&str]) -> Output {
    run_csv(w, &[args, &NOVEMBER[..]].concat())
}

fn report(w: &Workdir, args: &[&str]) -> Vec<Vec<String>> {
    run_csv(w, args).rows()
}

fn cols(rows: &[Vec<String>], which: &[usize]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| which.iter().map(|&i| r[i].clone()).collect())
        .collect()
}

#[test]
fn bounces_are_filtered_on_event_time_across_midnight() {
    let w = Workdir::scenario();
    let out = november(&w, &["bounces"]);
    assert_eq!(
        out.csv()[0],
        row(&[
            "time",
            "recipient",
            "bounce_type",
            "bounce_subtype",
            "status",
            "diagnostic_code",
            "message_id",
            "subject",
            "sender",
            "sent",
            "feedback_id",
            "reporting_mta"
        ])
    );
    let rows = out.rows();
    assert_eq!(
        cols(&rows, &[0, 1, 2, 3, 4, 5, 6]),
        vec![
            // Filed under 2024/10/31, but it happened in November.
            row(&[
                "2024-11-01T00:00:03Z",
                "niaj@example.com",
                "Permanent",
                "General",
                "5.1.1",
                "smtp; 550 5.1.1 user unknown",
                "0100019a-early-000000"
            ]),
            row(&[
                "2024-11-05T12:00:04Z",
                "carol@example.net",
                "Permanent",
                "General",
                "5.1.1",
                "smtp; 550 5.1.1 user unknown",
                "0100019a-news-000000"
            ]),
            row(&[
                "2024-11-07T09:00:05Z",
                "ivan@example.com",
                "Transient",
                "MailboxFull",
                "4.2.2",
                "smtp; 452 4.2.2 mailbox full",
                "0100019a-full-000000"
            ]),
            row(&[
                "2024-11-07T09:30:01Z",
                "judy@example.com",
                "Permanent",
                "OnAccountSuppressionList",
                "5.1.1",
                "smtp; 550 5.1.1 user unknown",
                "0100019a-supp-000000"
            ]),
            // Filed under 2024/12/01, but it happened on November 30th.
            row(&[
                "2024-11-30T23:59:58Z",
                "mallory@example.com",
                "Permanent",
                "NoEmail",
                "5.1.1",
                "smtp; 550 5.1.1 user unknown",
                "0100019a-late-000000"
            ]),
        ]
    );
    assert_eq!(
        rows[1][7..].to_vec(),
        row(&[
            "Weekly news: 20% off",
            "Example Shop <no-reply@shop.example.com>",
            "2024-11-05T12:00:00.000Z",
            "0100019-bounce-0100019a-news-000000",
            "dns; a8-30.smtp-out.amazonses.com"
        ])
    );
}

#[test]
fn bounces_filters_and_window_edges() {
    let w = Workdir::scenario();
    let recipients = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["bounces"];
        full.extend_from_slice(args);
        report(&w, &full)
            .into_iter()
            .map(|r| r[1].clone())
            .collect()
    };
    assert_eq!(
        recipients(&[&NOVEMBER[..], &["--type", "permanent"]].concat()),
        vec![
            "niaj@example.com",
            "carol@example.net",
            "judy@example.com",
            "mallory@example.com"
        ]
    );
    assert_eq!(
        recipients(&[&NOVEMBER[..], &["--type", "transient"]].concat()),
        vec!["ivan@example.com"]
    );
    assert_eq!(
        recipients(&[&NOVEMBER[..], &["--domain", "Example.NET"]].concat()),
        vec!["carol@example.net"]
    );
    assert_eq!(
        recipients(&[&NOVEMBER[..], &["--recipient", "Carol@Example.net"]].concat()),
        vec!["carol@example.net"]
    );
    assert_eq!(
        recipients(&["--from", "2024-11-02", "--to", "2024-11-29"]),
        vec!["carol@example.net", "ivan@example.com", "judy@example.com"]
    );
    let out = w.seslog(&["bounces", "--from", "2024-11-30T23:00:00Z", "--since", "1h"]);
    assert_eq!(out.code, 2, "--from and --since conflict: {}", out.stderr);
}

#[test]
fn window_flags_are_checked() {
    let w = Workdir::scenario();
    let out = w.seslog(&["bounces", "--from", "last tuesday"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--from") && out.stderr.contains("2024-11-01"),
        "{}",
        out.stderr
    );
    let out = w.seslog(&["bounces", "--since", "7 days"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("7d"), "{}", out.stderr);
    let out = w.seslog(&["bounces", "--type", "soft"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn since_ends_at_to() {
    let w = Workdir::scenario();
    let rows = report(
        &w,
        &["bounces", "--to", "2024-11-30T23:59:59Z", "--since", "2h"],
    );
    assert_eq!(cols(&rows, &[1]), vec![row(&["mallory@example.com"])]);
}

#[test]
fn complaints_one_row_per_recipient() {
    let w = Workdir::scenario();
    let out = november(&w, &["complaints"]);
    assert_eq!(
        out.csv()[0],
        row(&[
            "time",
            "recipient",
            "feedback_type",
            "sub_type",
            "user_agent",
            "arrival_date",
            "message_id",
            "subject"
        ])
    );
    assert_eq!(
        out.rows(),
        vec![row(&[
            "2024-11-06T08:00:00Z",
            "dave@example.org",
            "abuse",
            "",
            "Yahoo!-Mail-Feedback/2.0",
            "2024-11-06T07:59:58.000Z",
            "0100019a-news-000000",
            "Weekly news: 20% off"
        ])]
    );
}

#[test]
fn recipient_timeline_with_verdicts() {
    let w = Workdir::scenario();
    // Mixed case; the duplicated Delivery record counts once.
    let rows = report(
        &w,
        &[&["recipient", "Alice@Example.com"][..], &NOVEMBER[..]].concat(),
    );
    assert_eq!(
        rows,
        vec![
            row(&[
                "2024-11-05T10:15:00Z",
                "Send",
                "0100019a-reset-alice-000000",
                "Reset your password",
                "",
                "delivered"
            ]),
            row(&[
                "2024-11-05T10:15:02.500Z",
                "Delivery",
                "0100019a-reset-alice-000000",
                "Reset your password",
                "250 2.0.0 OK  1730801702 d9443c01a7336-2",
                "delivered"
            ]),
            row(&[
                "2024-11-05T10:20:00Z",
                "Open",
                "0100019a-reset-alice-000000",
                "Reset your password",
                "Mozilla/5.0 (iPhone)",
                "delivered"
            ]),
            row(&[
                "2024-11-05T10:21:00Z",
                "Click",
                "0100019a-reset-alice-000000",
                "Reset your password",
                "https://shop.example.com/reset?token=abc",
                "delivered"
            ]),
        ]
    );
    let verdict = |address: &str| -> Vec<Vec<String>> {
        let rows = report(&w, &[&["recipient", address][..], &NOVEMBER[..]].concat());
        cols(&rows, &[1, 4, 5])
    };
    // Three recipients, one bounced: the delivery is not hers.
    assert_eq!(
        verdict("carol@example.net"),
        vec![
            row(&["Send", "", "bounced"]),
            row(&[
                "Bounce",
                "Permanent/General: smtp; 550 5.1.1 user unknown",
                "bounced"
            ])
        ]
    );
    assert_eq!(
        verdict("o'brien@example.com"),
        vec![
            row(&["Send", "", "delivered"]),
            row(&[
                "DeliveryDelay",
                "TransientCommunicationFailure: smtp; 421 4.4.1 Unable to connect to remote host",
                "delivered"
            ]),
            row(&[
                "Delivery",
                "250 2.0.0 OK  1730801702 d9443c01a7336-2",
                "delivered"
            ]),
        ]
    );
    assert_eq!(
        cols(&verdict("dave@example.org"), &[0, 2]),
        vec![
            row(&["Send", "complained"]),
            row(&["Delivery", "complained"]),
            row(&["Complaint", "complained"])
        ]
    );
    assert_eq!(
        cols(&verdict("frank@example.com"), &[0, 1, 2]),
        vec![
            row(&["Send", "", "rejected"]),
            row(&["Reject", "rejected: Bad content", "rejected"])
        ]
    );
    assert_eq!(
        cols(&verdict("heidi@example.com"), &[0, 2]),
        vec![
            row(&["Send", "sent-no-outcome-yet"]),
            row(&["Subscription", "sent-no-outcome-yet"])
        ]
    );
    assert_eq!(
        cols(&verdict("mallory@example.com"), &[0, 2]),
        vec![row(&["Send", "bounced"]), row(&["Bounce", "bounced"])]
    );
}

#[test]
fn addresses_are_taken_as_people_paste_them() {
    let w = Workdir::scenario();
    let timeline =
        |address: &str| report(&w, &[&["recipient", address][..], &NOVEMBER[..]].concat());
    let plain = timeline("alice@example.com");
    assert_eq!(plain.len(), 4);
    for pasted in [
        "Alice Smith <Alice@Example.com>",
        " alice@example.com\n",
        "mailto:alice@example.com",
    ] {
        assert_eq!(timeline(pasted), plain, "{pasted:?}");
    }
    let bounced = report(
        &w,
        &[
            &["bounces", "--recipient", "Carol <carol@example.net> "][..],
            &NOVEMBER[..],
        ]
        .concat(),
    );
    assert_eq!(cols(&bounced, &[1]), vec![row(&["carol@example.net"])]);
    // Not an address: refused by name, not an empty answer that reads "never mailed".
    let out = w.seslog(&["recipient", "alice"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("`alice` is not an email address"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn an_empty_report_says_where_it_looked() {
    let w = Workdir::scenario();
    let out = run_csv(
        &w,
        &["bounces", "--from", "2024-01-01", "--to", "2024-01-31"],
    );
    assert_eq!(out.rows().len(), 0);
    assert_eq!(
        out.stderr,
        "seslog: note: no rows: the report looked at events from 2024-01-01 00:00 UTC up to \
         2024-02-01 00:00 UTC (event time)\n"
    );
    // Without a window: the default span, and its dates.
    let out = run_csv(&w, &["recipient", "nobody@example.com"]);
    assert_eq!(out.rows().len(), 0);
    assert!(
        out.stderr.starts_with("seslog: note: no rows: the report looked at events from 20")
            && out.stderr.ends_with(
                "UTC (the report's default 30 days; --from, --to or --since choose another window)\n"
            ),
        "{}",
        out.stderr
    );
    // A report that finds something says nothing of the kind.
    let out = november(&w, &["bounces"]);
    assert!(!out.rows().is_empty());
    assert_eq!(out.stderr, "");
}

#[test]
fn recipient_table_view_prints_verdicts_after_the_timeline() {
    let w = Workdir::scenario();
    let out = w
        .seslog(
            &[
                &["--format", "table", "recipient", "bob@example.com"][..],
                &NOVEMBER[..],
            ]
            .concat(),
        )
        .ok();
    let last = out.stdout.trim_end().lines().last().unwrap();
    assert_eq!(last, "0100019a-news-000000: delivered");
    assert!(!out.stdout.contains("verdict"), "{}", out.stdout);
}

#[test]
fn message_trace_covers_every_recipient() {
    let w = Workdir::scenario();
    let out = november(&w, &["message", "0100019a-news-000000"]);
    assert_eq!(
        out.csv()[0],
        row(&["time", "event", "recipients", "detail", "subject"])
    );
    let news = "Weekly news: 20% off";
    assert_eq!(
        out.rows(),
        vec![
            row(&[
                "2024-11-05T12:00:00Z",
                "Send",
                "bob@example.com, carol@example.net, dave@example.org",
                "",
                news
            ]),
            row(&[
                "2024-11-05T12:00:03Z",
                "Delivery",
                "bob@example.com, dave@example.org",
                "250 2.0.0 OK  1730801702 d9443c01a7336-2",
                news
            ]),
            row(&[
                "2024-11-05T12:00:04Z",
                "Bounce",
                "carol@example.net",
                "Permanent/General: smtp; 550 5.1.1 user unknown",
                news
            ]),
            row(&[
                "2024-11-06T08:00:00Z",
                "Complaint",
                "dave@example.org",
                "complaint: abuse",
                news
            ]),
        ]
    );
}

#[test]
fn delays_rejects_and_failures() {
    let w = Workdir::scenario();
    assert_eq!(
        report(&w, &[&["delays"][..], &NOVEMBER[..]].concat()),
        vec![row(&[
            "2024-11-06T09:10:00Z",
            "o'brien@example.com",
            "TransientCommunicationFailure",
            "4.4.1",
            "smtp; 421 4.4.1 Unable to connect to remote host",
            "2024-11-06T21:10:00.000Z",
            "0100019a-obrien-000000",
            "パスワードの再設定"
        ])]
    );
    assert_eq!(
        report(&w, &[&["rejects"][..], &NOVEMBER[..]].concat()),
        vec![row(&[
            "2024-11-06T10:00:00Z",
            "Bad content",
            "0100019a-virus-000000",
            "Example Shop <no-reply@shop.example.com>",
            "frank@example.com",
            "Invoice"
        ])]
    );
    assert_eq!(
        report(&w, &[&["failures"][..], &NOVEMBER[..]].concat()),
        vec![row(&[
            "2024-11-06T11:00:00Z",
            "WelcomeTemplate",
            "Attribute 'name' is not present in the rendering data.",
            "0100019a-tmpl-000000",
            "Example Shop <no-reply@shop.example.com>",
            "grace@example.com"
        ])]
    );
}

#[test]
fn summary_per_day_with_ses_rates() {
    let w = Workdir::scenario();
    let out = run_csv(
        &w,
        &["summary", "--from", "2024-11-05", "--to", "2024-11-07"],
    );
    assert_eq!(
        out.csv()[0],
        row(&[
            "day",
            "sends",
            "deliveries",
            "hard_bounces",
            "soft_bounces",
            "complaints",
            "rejects",
            "delays",
            "opens",
            "clicks",
            "bounce_rate_pct",
            "complaint_rate_pct"
        ])
    );
    assert_eq!(
        out.rows(),
        vec![
            // The duplicated delivery counts once; sends count recipients, as SES does.
            row(&[
                "2024-11-05",
                "4",
                "3",
                "1",
                "0",
                "0",
                "0",
                "0",
                "1",
                "1",
                "25.0",
                "0.0"
            ]),
            row(&[
                "2024-11-06",
                "2",
                "1",
                "0",
                "0",
                "1",
                "1",
                "1",
                "0",
                "0",
                "0.0",
                "50.0"
            ]),
            // judy's OnAccountSuppressionList bounce is hard but not counted in the rate.
            row(&[
                "2024-11-07",
                "3",
                "0",
                "1",
                "1",
                "0",
                "0",
                "0",
                "0",
                "0",
                "0.0",
                "0.0"
            ]),
        ]
    );
}

#[test]
fn domains_per_recipient_domain() {
    let w = Workdir::scenario();
    let out = run_csv(
        &w,
        &["domains", "--from", "2024-11-05", "--to", "2024-11-05"],
    );
    assert_eq!(
        out.rows(),
        vec![
            row(&["example.com", "2", "2", "0", "0", "0", "0.0", "0.0", "2750"]),
            row(&["example.net", "1", "0", "1", "0", "0", "100.0", "0.0", ""]),
            row(&["example.org", "1", "1", "0", "0", "0", "0.0", "0.0", "3000"]),
        ]
    );
}

#[test]
fn suppression_lists_addresses_to_stop_mailing() {
    let w = Workdir::scenario();
    let rows = report(&w, &[&["suppression"][..], &NOVEMBER[..]].concat());
    assert_eq!(
        rows,
        vec![
            row(&[
                "carol@example.net",
                "BOUNCE",
                "General: smtp; 550 5.1.1 user unknown",
                "2024-11-05T12:00:04Z"
            ]),
            row(&[
                "dave@example.org",
                "COMPLAINT",
                "complaint: abuse",
                "2024-11-06T08:00:00Z"
            ]),
            row(&[
                "judy@example.com",
                "BOUNCE",
                "OnAccountSuppressionList: smtp; 550 5.1.1 user unknown",
                "2024-11-07T09:30:01Z"
            ]),
            row(&[
                "mallory@example.com",
                "BOUNCE",
                "NoEmail: smtp; 550 5.1.1 user unknown",
                "2024-11-30T23:59:58Z"
            ]),
            row(&[
                "niaj@example.com",
                "BOUNCE",
                "General: smtp; 550 5.1.1 user unknown",
                "2024-11-01T00:00:03Z"
            ]),
        ]
    );
}

#[test]
fn check_exits_3_when_a_rate_crosses_its_threshold() {
    let w = Workdir::scenario();
    let check = |args: &[&str]| w.seslog(&[&["--format", "csv", "check"][..], args].concat());
    let out = check(&["--from", "2024-11-05", "--to", "2024-11-07"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.rows(),
        vec![
            row(&["bounce_rate", "11.111", "5.0", "1", "9", "OVER"]),
            row(&["complaint_rate", "11.111", "0.1", "1", "9", "OVER"]),
        ]
    );
    let out = check(&[
        "--from",
        "2024-11-05",
        "--to",
        "2024-11-07",
        "--max-bounce-rate",
        "20%",
        "--max-complaint-rate",
        "0.2",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        cols(&out.rows(), &[0, 2, 5]),
        vec![
            row(&["bounce_rate", "20.0", "ok"]),
            row(&["complaint_rate", "20.0", "ok"])
        ]
    );
    let out = check(&["--from", "2024-07-01", "--to", "2024-07-31"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        cols(&out.rows(), &[1, 4, 5]),
        vec![row(&["0.0", "2", "ok"]), row(&["0.0", "2", "ok"])]
    );
    let out = w.seslog(&["check", "--max-bounce-rate", "120%"]);
    assert_eq!(out.code, 2);
}

#[test]
fn every_query_file_is_a_listed_report() {
    let w = Workdir::scenario();
    let listed = w.seslog(&["reports"]).ok().stdout;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        files += 1;
        assert!(
            listed
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name.as_str())),
            "queries/{name}.sql is not listed by `seslog reports`:\n{listed}"
        );
    }
    assert_eq!(
        files,
        seslog_engine::report::BUILTIN.len(),
        "a file in queries/ is not registered in report::BUILTIN"
    );
    // The tests that run every report run them all.
    let mut run: Vec<&str> = super::util::every_report().iter().map(|r| r[0]).collect();
    let mut builtin: Vec<&str> = seslog_engine::report::BUILTIN.iter().map(|r| r.0).collect();
    run.sort();
    builtin.sort();
    assert_eq!(run, builtin, "util::every_report() misses a report");
}

#[test]
fn a_users_report_runs_by_name_with_parameters_bound_as_values() {
    let w = Workdir::scenario();
    let dir = w.path().join("my-queries");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("campaign.sql"),
        "-- name: campaign-sends\n-- description: Sends of one campaign.\n-- window: 30d\n-- param: campaign text -- the campaign tag\nSELECT count(*) AS sends FROM seslogs\nWHERE event_type = 'Send' AND day BETWEEN $day_from AND $day_to AND event_time >= $from AND event_time < $to\n  AND mail.tags.campaign = $campaign\n",
    )
    .unwrap();
    let queries = dir.to_str().unwrap();
    let out = w
        .seslog(&[
            "--queries",
            queries,
            "--format",
            "csv",
            "run",
            "campaign-sends",
            "--param",
            "campaign=reset",
            "--from",
            "2024-11-01",
            "--to",
            "2024-11-30",
        ])
        .ok();
    assert_eq!(out.rows(), vec![row(&["8"])]);
    // A quote in a value is a value, not SQL.
    let out = w
        .seslog(&[
            "--queries",
            queries,
            "--format",
            "csv",
            "run",
            "campaign-sends",
            "--param",
            "campaign=o'brien'; DROP TABLE x; --",
            "--from",
            "2024-11-01",
            "--to",
            "2024-11-30",
        ])
        .ok();
    assert_eq!(out.rows(), vec![row(&["0"])]);
    let listed = w.seslog(&["--queries", queries, "reports"]).ok().stdout;
    assert!(listed.contains("campaign-sends ["), "{listed}");
    let out = w.seslog(&["--queries", queries, "run", "campaign-sends"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("needs a value for `campaign`"),
        "{}",
        out.stderr
    );
    let out = w.seslog(&["run", "nope"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no report named `nope`"),
        "{}",
        out.stderr
    );
    // Built-in reports run by name too.
    let out = run_csv(
        &w,
        &[
            "run",
            "recipient",
            "--param",
            "address=bob@example.com",
            "--from",
            "2024-11-01",
            "--to",
            "2024-11-30",
        ],
    );
    assert_eq!(out.rows().len(), 2);
}

/// Each report reads every object of the folders it needs exactly once: a CTE used twice
/// (a self-join, a UNION ALL of one CTE) is planned twice and would read them twice.
#[test]
fn every_report_reads_each_object_once() {
    let w = Workdir::scenario();
    let objects = seslog_gen::scenario_objects();
    // The folders a November window reads: one day of margin each side.
    // `types`: the event types read (none: all), or `errorLog` for Firehose's error prefix.
    let read = |types: &[&str]| {
        objects
            .iter()
            .filter(|o| {
                let parts: Vec<&str> = o.key.split('/').collect();
                let (folder, day) = match parts[0] {
                    "errorLog" => (
                        "errorLog",
                        parts[2].trim_start_matches("dt=").replace('-', "/"),
                    ),
                    _ if types == ["errorLog"] => return false,
                    _ => (parts[1], parts[2..5].join("/")),
                };
                (types.is_empty() || types.contains(&folder))
                    && (folder != "errorLog" || types == ["errorLog"])
                    && ("2024/10/31"..="2024/12/01").contains(&day.as_str())
                    && !o.bytes.is_empty()
            })
            .count() as u64
    };
    for (args, types) in [
        (vec!["bounces"], vec!["Bounce"]),
        (vec!["complaints"], vec!["Complaint"]),
        (vec!["recipient", "bob@example.com"], vec![]),
        (vec!["message", "0100019a-news-000000"], vec![]),
        (vec!["delays"], vec!["DeliveryDelay"]),
        (vec!["rejects"], vec!["Reject"]),
        (vec!["failures"], vec!["Rendering Failure"]),
        (vec!["summary"], vec![]),
        (vec!["domains"], vec![]),
        (vec!["suppression"], vec!["Bounce", "Complaint"]),
        (vec!["check"], vec![]),
        (vec!["errors"], vec!["errorLog"]),
    ] {
        let mut full = vec!["--stats"];
        full.extend(&args);
        full.extend(NOVEMBER);
        let out = w.seslog(&full);
        assert!(
            out.code == 0 || (args[0] == "check" && out.code == 3),
            "{args:?}: {}",
            out.stderr
        );
        assert_eq!(out.stat("objects_read"), read(&types), "{args:?}");
    }
    // Every built-in report is in the list above.
    assert_eq!(seslog_engine::report::BUILTIN.len(), 12);
}

/// Three senders over November: one bounces 10% of 200 sends, one 1% of 200 with a
/// campaign tag on half, one 5 of 10 (too few sends to judge).
fn senders_tree() -> Workdir {
    let w = Workdir::empty();
    let mut events = Vec::new();
    let senders = [
        ("a@x.example", 200, 20),
        ("b@y.example", 200, 2),
        ("Shop C <C@Z.example>", 10, 5),
    ];
    for (s, (source, sends, bounces)) in senders.iter().enumerate() {
        for i in 0..*sends {
            let to = format!("r{i}@example.com");
            let mut m = testgen::Mail::new(
                &format!("0100019c-{s}-{i:06}"),
                &format!("2024-11-{:02}T10:{:02}:00.000Z", 2 + i % 20, i % 60),
                &[to.as_str()],
                "Hello",
            );
            m.source = source.to_string();
            m.tags = vec![("Campaign".into(), format!("c{}", i % 2))];
            events.push(m.send());
            if i < *bounces {
                let when = format!("2024-11-{:02}T11:00:00.000Z", 2 + i % 20);
                events.push(m.bounce(&to, "Permanent", "General", &when, &when));
            }
        }
    }
    testgen::write_tree(w.path(), &testgen::firehose_objects(&events, 300)).unwrap();
    w
}

#[test]
fn check_by_key_judges_each_key_on_its_own() {
    let w = senders_tree();
    let check = |args: &[&str]| {
        let full = [&["--format", "csv", "check"][..], args, &NOVEMBER[..]].concat();
        w.seslog(&full)
    };
    let out = check(&["--by", "sender"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.rows(),
        vec![
            row(&[
                "sender",
                "a@x.example",
                "200",
                "20",
                "10.0",
                "0",
                "0.0",
                "OVER",
                "bounce rate"
            ]),
            row(&[
                "sender",
                "c@z.example",
                "10",
                "5",
                "50.0",
                "0",
                "0.0",
                "few sends",
                ""
            ]),
            row(&[
                "sender",
                "b@y.example",
                "200",
                "2",
                "1.0",
                "0",
                "0.0",
                "ok",
                ""
            ]),
        ]
    );
    // The floor and the threshold are the user's.
    let out = check(&[
        "--by",
        "sender",
        "--min-sends",
        "10",
        "--max-bounce-rate",
        "20%",
    ]);
    assert_eq!(out.code, 3);
    assert_eq!(
        cols(&out.rows(), &[1, 7]),
        vec![
            row(&["c@z.example", "OVER"]),
            row(&["a@x.example", "ok"]),
            row(&["b@y.example", "ok"]),
        ]
    );
    // Nobody over: exit 0.
    let out = check(&["--by", "sender", "--max-bounce-rate", "20%"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // By tag (any case, as SES's keys are), filtered first.
    let out = check(&[
        "--by",
        "tag:campaign",
        "--where",
        "lower(mail.source) LIKE '%x.example'",
    ]);
    assert_eq!(
        out.rows(),
        vec![
            row(&[
                "tag:campaign",
                "c0",
                "100",
                "10",
                "10.0",
                "0",
                "0.0",
                "OVER",
                "bounce rate"
            ]),
            row(&[
                "tag:campaign",
                "c1",
                "100",
                "10",
                "10.0",
                "0",
                "0.0",
                "OVER",
                "bounce rate"
            ]),
        ]
    );
    // Machine-readable for alerting scripts.
    let out = w.seslog(
        &[
            &["--format", "json", "check", "--by", "domain"][..],
            &NOVEMBER[..],
        ]
        .concat(),
    );
    assert_eq!(out.code, 3);
    let rows = out.json();
    assert_eq!(rows.len(), 1, "one sending domain: {rows:?}");
    assert_eq!(rows[0]["key"], "shop.example.com");
    assert_eq!(rows[0]["sends"], 410);
    assert_eq!(rows[0]["status"], "OVER");
    // A key that is not one: exit 2, naming it.
    let out = check(&["--by", "recipient"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`recipient` is not a key"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_rules_from_the_config_file_are_each_judged() {
    let w = senders_tree();
    let config = w.path().join("config.toml");
    std::fs::write(
        &config,
        "[[check]]\nname = \"senders\"\nby = \"sender\"\nmin_sends = 50\nmax_bounce_rate = \"5%\"\n\n\
         [[check]]\nname = \"account\"\nmax_bounce_rate = 0.2\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let check = |args: &[&str]| {
        let full = [
            &["--config", &config, "--format", "csv", "check"][..],
            args,
            &NOVEMBER[..],
        ]
        .concat();
        w.seslog(&full)
    };
    let out = check(&[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.stdout.lines().next(),
        Some(
            "rule,by,key,sends,bounces,bounce_rate_pct,complaints,complaint_rate_pct,status,crossed"
        )
    );
    assert_eq!(
        out.rows(),
        vec![
            row(&[
                "senders",
                "sender",
                "a@x.example",
                "200",
                "20",
                "10.0",
                "0",
                "0.0",
                "OVER",
                "bounce rate"
            ]),
            row(&[
                "account", "account", "all", "410", "27", "6.585", "0", "0.0", "ok", ""
            ]),
            row(&[
                "senders",
                "sender",
                "c@z.example",
                "10",
                "5",
                "50.0",
                "0",
                "0.0",
                "few sends",
                ""
            ]),
            row(&[
                "senders",
                "sender",
                "b@y.example",
                "200",
                "2",
                "1.0",
                "0",
                "0.0",
                "ok",
                ""
            ]),
        ]
    );
    // A threshold on the command line is every rule's.
    assert_eq!(check(&["--max-bounce-rate", "50%"]).code, 0);
    // --by asks its own question: the rules are left aside.
    let out = check(&["--by", "tag:campaign", "--min-sends", "1"]);
    assert_eq!(out.rows().len(), 2);
    assert!(out.stdout.starts_with("by,key,"), "{}", out.stdout);
    // A rule that cannot be run is named.
    std::fs::write(
        w.path().join("config.toml"),
        "[[check]]\nby = \"sender\"\n\n[[check]]\nby = \"recipient\"\n",
    )
    .unwrap();
    let out = check(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("config.toml: [[check]] number 2: by: `recipient` is not a key"),
        "{}",
        out.stderr
    );
}
