//! The table itself: every record counted once per partition, partition pruning proved by
//! what was listed and read, Athena's names and the derived columns.

use super::util::{Workdir, row};

pub const PER_TYPE_AND_DAY: &str =
    "SELECT event_type, day, count(*) AS n FROM seslogs GROUP BY 1, 2 ORDER BY 1, 2";

pub fn per_type_and_day() -> Vec<Vec<String>> {
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

pub const ATHENA_BOUNCES: &str =
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
fn a_question_that_cannot_match_says_why() {
    let w = Workdir::scenario();
    let count = |filter: &str| {
        w.seslog(&[
            "--format",
            "csv",
            "sql",
            &format!("SELECT count(*) AS n FROM seslogs WHERE {filter}"),
        ])
        .ok()
    };
    let out =
        count("day = '2024-11-05' OR event_type = 'bounce' OR eventtype IN ('rendering_failure')");
    assert_eq!(out.stdout, "n\n0\n");
    assert_eq!(
        out.stderr,
        "seslog: note: `day` is written '2024/11/05', as the folders are named: '2024-11-05' matches no day\n\
         seslog: note: `event_type` 'bounce' matches no event: did you mean 'Bounce'?\n\
         seslog: note: `eventtype` 'rendering_failure' matches no event: did you mean 'Rendering Failure'?\n"
    );
    let out = count("event_type = 'Unsubscribe'");
    assert!(
        out.stderr.contains(
            "'Unsubscribe' matches no event: SES's types are 'Send', 'Delivery', 'Bounce'"
        ),
        "{}",
        out.stderr
    );
    // The same questions in the folders' forms: an answer, and no note.
    let out =
        count("day = '2024/11/05' AND event_type = 'Bounce' OR eventtype = 'Rendering Failure'");
    assert_ne!(out.stdout, "n\n0\n");
    assert_eq!(out.stderr, "");
}

#[test]
fn describe_and_show_tables_speak_athena() {
    let w = Workdir::scenario();
    let out = w.seslog(&["--format", "csv", "sql", "SHOW TABLES"]).ok();
    assert_eq!(out.stdout, "tab_name\nerrorlogs\nseslogs\n");
    let out = w
        .seslog(&["--format", "csv", "sql", "DESCRIBE seslogs"])
        .ok();
    let rows = out.rows();
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "eventtype",
            "mail",
            "send",
            "delivery",
            "bounce",
            "complaint",
            "reject",
            "open",
            "click",
            "failure",
            "deliverydelay",
            "subscription",
            "event_time",
            "recipients",
            "record_format",
            "event_type",
            "day"
        ]
    );
    let row_of = |name: &str| rows.iter().find(|r| r[0] == name).unwrap().clone();
    assert_eq!(row_of("eventtype"), ["eventtype", "varchar", ""]);
    assert_eq!(row_of("recipients"), ["recipients", "array(varchar)", ""]);
    assert_eq!(
        row_of("bounce")[1],
        "row(bouncetype varchar, bouncesubtype varchar, bouncedrecipients array(row(emailaddress \
         varchar, action varchar, status varchar, diagnosticcode varchar)), timestamp varchar, \
         feedbackid varchar, reportingmta varchar, remotemtaip varchar)"
    );
    assert!(row_of("mail")[1].ends_with(", tags map(varchar, varchar))"));
    assert_eq!(
        row_of("event_time"),
        ["event_time", "timestamp with time zone", ""]
    );
    assert_eq!(row_of("day"), ["day", "varchar", "partition key"]);
    assert_eq!(
        row_of("event_type"),
        ["event_type", "varchar", "partition key"]
    );
}

/// Partition values and `input_file_name()` are per object, while the scan's projection is
/// made once per (event type, day): every row names its own object and that object's folder.
#[test]
fn each_row_carries_its_own_objects_partition_values() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "--stats",
            "sql",
            "SELECT input_file_name() AS f, event_type, day, count(*) AS n FROM seslogs \
             GROUP BY 1, 2, 3 ORDER BY 1",
        ])
        .ok();
    let rows = out.rows();
    assert_eq!(
        rows.len() as u64,
        out.stat("objects_read"),
        "{}",
        out.stdout
    );
    for r in &rows {
        let folder = format!("partitioned/{}/{}/", r[1], r[2]);
        assert!(r[0].starts_with(&folder), "{r:?}");
    }
    let total: u64 = rows.iter().map(|r| r[3].parse::<u64>().unwrap()).sum();
    let all: u64 = per_type_and_day()
        .iter()
        .map(|r| r[2].parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, all);
}
