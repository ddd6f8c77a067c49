//! SES's older feedback notifications (`notificationType`, through SNS) read as events: the
//! same report rows as the event-publishing tree that tells the same story, the format kept
//! in `record_format`, and records of neither format skipped, named and counted per cause.

use seslog_gen::{self as testgen, Event, Object};

use super::util::{self, Workdir, row};

const NOVEMBER: [&str; 4] = ["--from", "2024-11-01", "--to", "2024-11-30"];

/// The scenario's Bounce, Complaint and Delivery events (what SES also notifies), each
/// made into a record by `shape`, filed as Firehose files the events.
fn tree(shape: impl Fn(&Event) -> Event) -> Workdir {
    let events: Vec<Event> = testgen::scenario_events()
        .iter()
        .filter(|e| testgen::NOTIFIED.contains(&e.event_type))
        .map(shape)
        .collect();
    let w = Workdir::empty();
    testgen::write_tree(w.path(), &testgen::firehose_objects(&events, 300)).unwrap();
    w
}

fn notification(e: &Event) -> Event {
    testgen::notification(e).expect("only notified types")
}

fn trees() -> [(&'static str, Workdir); 3] {
    [
        ("events", tree(testgen::without_tags)),
        ("notifications", tree(notification)),
        (
            "SNS envelopes",
            tree(|e| testgen::sns_envelope(&notification(e))),
        ),
    ]
}

#[test]
fn notifications_raw_or_in_sns_envelopes_give_the_event_trees_report_rows() {
    let [(_, events), raw, sns] = trees();
    let mut answered = 0;
    for report in util::every_report() {
        let mut args = vec!["--format", "csv"];
        args.extend(&report);
        args.extend(NOVEMBER);
        let expected = events.seslog(&args);
        assert!(
            expected.code == 0 || expected.code == 3,
            "{report:?}: {}",
            expected.stderr
        );
        assert_eq!(expected.warnings(), Vec::<&str>::new(), "{report:?}");
        answered += usize::from(!expected.rows().is_empty());
        for (name, w) in [&raw, &sns] {
            let out = w.seslog(&args);
            assert_eq!(out.code, expected.code, "{name} {report:?}: {}", out.stderr);
            assert_eq!(out.stdout, expected.stdout, "{name} {report:?}");
            assert_eq!(out.warnings(), Vec::<&str>::new(), "{name} {report:?}");
        }
    }
    // Not a comparison of empty answers: the reports about bounces, complaints,
    // deliveries, a recipient, a message, the summary, domains and suppression have rows.
    assert!(answered >= 8, "{answered}");
}

#[test]
fn bounce_fields_read_from_notifications_are_the_events_values() {
    let [(_, events), raw, sns] = trees();
    let query = "SELECT eventtype, mail.messageid, bounce.bouncetype, bounce.bouncesubtype, \
                 bounce.bouncedrecipients[1].emailaddress, bounce.bouncedrecipients[1].diagnosticcode, \
                 bounce.feedbackid, event_time, event_type, day \
                 FROM seslogs WHERE eventtype = 'Bounce' ORDER BY event_time, 2";
    let expected = events.seslog(&["--format", "csv", "sql", query]).ok();
    let bounces = testgen::scenario_events()
        .iter()
        .filter(|e| e.event_type == "Bounce")
        .count();
    assert_eq!(expected.rows().len(), bounces);
    assert!(
        expected
            .rows()
            .iter()
            .all(|r| r[0] == "Bounce" && r[4].contains('@'))
    );
    for (name, w) in [raw, sns] {
        let out = w.seslog(&["--format", "csv", "sql", query]).ok();
        assert_eq!(out.stdout, expected.stdout, "{name}");
    }
}

#[test]
fn record_format_tells_the_formats_apart_and_only_notifications_carry_source_ip() {
    let [(_, events), (_, raw), (_, sns)] = trees();
    let query = "SELECT record_format, eventtype, count(*), count(mail.sourceip), \
                 count(mail.calleridentity), count(mail.tags) \
                 FROM seslogs GROUP BY 1, 2 ORDER BY 1, 2";
    let expected = |format: &str, with_source_ip: bool| -> Vec<Vec<String>> {
        let per_type = |t: &str| {
            testgen::scenario_events()
                .iter()
                .filter(|e| e.event_type == t)
                .count()
                .to_string()
        };
        ["Bounce", "Complaint", "Delivery"]
            .iter()
            .map(|t| {
                let n = per_type(t);
                let ip = if with_source_ip {
                    n.clone()
                } else {
                    "0".into()
                };
                row(&[format, t, &n, &ip, &ip, "0"])
            })
            .collect()
    };
    let out = events.seslog(&["--format", "csv", "sql", query]).ok();
    assert_eq!(out.rows(), expected("event", false));
    for w in [raw, sns] {
        let out = w.seslog(&["--format", "csv", "sql", query]).ok();
        assert_eq!(out.rows(), expected("notification", true));
    }
}

#[test]
fn an_sns_envelope_around_an_event_record_is_an_event() {
    let w = tree(testgen::sns_envelope);
    let out = w
        .seslog(&[
            "--format",
            "csv",
            "sql",
            "SELECT record_format, count(*), count(mail.tags) FROM seslogs GROUP BY 1",
        ])
        .ok();
    let n = testgen::scenario_events()
        .iter()
        .filter(|e| testgen::NOTIFIED.contains(&e.event_type))
        .count()
        .to_string();
    assert_eq!(out.rows(), vec![row(&["event", &n, &n])]);
}

#[test]
fn thousands_of_records_of_neither_format_are_named_a_few_and_counted_per_cause() {
    let w = Workdir::empty();
    let m = testgen::Mail::new(
        "0100019d-noise-000000",
        "2024-11-05T10:00:00.000Z",
        &["alice@example.com"],
        "Noise",
    );
    let delivery = m.delivery(&["alice@example.com"], "2024-11-05T10:00:02.000Z");
    let mut text = String::new();
    text.push_str(&notification(&delivery).record.to_string());
    text.push('\n');
    for i in 0..2_000 {
        // SES's inbound-mail notification: real SES, but no event of sending.
        text.push_str(&format!(
            "{{\"notificationType\":\"Received\",\"mail\":{{\"messageId\":\"in-{i}\"}}}}\n"
        ));
        // Some other system's log line in the same bucket.
        text.push_str(&format!("{{\"level\":\"info\",\"request\":{i}}}\n"));
        // SNS's subscription handshake, archived with the notifications.
        text.push_str(&format!(
            "{{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"You have chosen {i}\"}}\n"
        ));
    }
    for i in 0..1_000 {
        text.push_str(&format!("{{\"eventType\": broken {i}}}\n"));
    }
    testgen::write_tree(
        w.path(),
        &[Object {
            key: testgen::object_key("Delivery", delivery.arrival, 1),
            bytes: testgen::gzip(text.as_bytes()),
        }],
    )
    .unwrap();
    let out = w
        .seslog(&[
            "--format",
            "csv",
            "sql",
            "SELECT eventtype, record_format, count(*) FROM seslogs GROUP BY 1, 2",
        ])
        .ok();
    assert_eq!(out.rows(), vec![row(&["Delivery", "notification", "1"])]);
    let warnings = out.warnings();
    let named = |needle: &str| {
        warnings
            .iter()
            .filter(|w| w.contains("skipped record:") && w.contains(needle))
            .count()
    };
    assert_eq!(
        named("an SES `Received` notification, which has no event"),
        5
    );
    assert_eq!(named("neither eventType nor notificationType"), 5);
    assert_eq!(named("an SNS `SubscriptionConfirmation` message"), 5);
    assert_eq!(named("whilst parsing value"), 5);
    let counted: Vec<&str> = warnings
        .iter()
        .copied()
        .filter(|w| w.contains("(not named one by one)"))
        .collect();
    assert_eq!(counted.len(), 4, "{}", out.stderr);
    // A cause whose records all said the same keeps its words.
    assert!(
        counted
            .iter()
            .any(|w| w.contains("an SES `Received` notification")),
        "{}",
        out.stderr
    );
    for w in &counted {
        let n = if w.contains("broken") || w.contains("parsing") {
            995
        } else {
            1_995
        };
        assert!(
            w.starts_with(&format!("seslog: warning: {n} more records skipped: ")),
            "{w}"
        );
    }
    assert_eq!(
        warnings.last().copied(),
        Some("seslog: warning: 7000 records skipped (use --strict to make this an error)")
    );
    assert_eq!(warnings.len(), 4 * 5 + 4 + 1, "{}", out.stderr);
}
