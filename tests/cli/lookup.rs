//! Lookups at speed, answers unchanged: records skipped by their raw bytes and nested
//! fields left undecoded must give exactly the rows a full decode gives.

use seslog_gen::{self as testgen, Mail, Object};

use super::util::{self, Output, Workdir, row};

const DAY: &str = "2024/11/05";

/// Records whose addresses are tricky for a byte search.
fn tricky_tree() -> Workdir {
    let w = Workdir::empty();
    let mail = |id: &str, to: &[&str], subject: &str| {
        Mail::new(id, "2024-11-05T10:00:00.000Z", to, subject)
    };
    let line = |m: &Mail| m.send().record.to_string();
    let mut lines = vec![
        // Only in mixed case.
        line(&mail("m-mixed", &["Mixed.Case@Example.COM"], "hello")),
        // In a subject, but not a recipient.
        line(&mail(
            "m-subject",
            &["someone@example.com"],
            "forwarded from subj@example.com",
        )),
        // A prefix of another address, and the longer one.
        line(&mail("m-long", &["bob@example.com"], "hi")),
        line(&mail("m-short", &["ob@example.com"], "hi")),
    ];
    // Only inside a \u-escaped string: esc@example.com with its @ escaped.
    lines.push(
        line(&mail("m-escaped", &["esc@example.com"], "x"))
            .replace("esc@example.com", "esc\\u0040example.com"),
    );
    // With the Kelvin sign, whose Unicode lower case is an ASCII k: kate@example.com.
    lines.push(line(&mail("m-kelvin", &["\u{212A}ate@example.com"], "x")));
    for i in 0..200 {
        lines.push(line(&mail(
            &format!("m-other-{i}"),
            &[&format!("user{i}@example.org")],
            "x",
        )));
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    testgen::write_tree(
        w.path(),
        &[
            Object {
                key: format!("partitioned/Send/{DAY}/a.gz"),
                bytes: testgen::gzip(text.as_bytes()),
            },
            // The same records, plain and back to back.
            Object {
                key: format!("partitioned/Send/{DAY}/b"),
                bytes: lines.concat().into_bytes(),
            },
        ],
    )
    .unwrap();
    w
}

fn ids(out: &Output) -> Vec<Vec<String>> {
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.rows()
}

#[test]
fn a_lookup_gives_the_same_rows_with_and_without_skipping_by_bytes() {
    let w = tricky_tree();
    for (address, want) in [
        ("mixed.case@example.com", vec!["m-mixed"]),
        ("subj@example.com", vec![]),
        ("ob@example.com", vec!["m-short"]),
        ("bob@example.com", vec!["m-long"]),
        ("esc@example.com", vec!["m-escaped"]),
        ("kate@example.com", vec!["m-kelvin"]),
        ("nobody@example.com", vec![]),
    ] {
        let lookup = format!(
            "SELECT mail.messageid, count(*) FROM seslogs WHERE array_has(recipients, '{address}') GROUP BY 1 ORDER BY 1"
        );
        let expected: Vec<Vec<String>> = want.iter().map(|id| row(&[id, "2"])).collect();
        let fast = w.seslog(&["--format", "csv", "sql", &lookup]);
        assert_eq!(ids(&fast), expected, "{address}");
        let slow = w.seslog(&["--no-prefilter", "--format", "csv", "sql", &lookup]);
        assert_eq!(ids(&slow), expected, "{address} without the prefilter");
        // The same question in a form no prefilter recognises.
        let plain = lookup.replace(
            &format!("array_has(recipients, '{address}')"),
            &format!("array_position(recipients, '{address}') IS NOT NULL"),
        );
        assert_eq!(
            ids(&w.seslog(&["--format", "csv", "sql", &plain])),
            expected,
            "{address}"
        );
    }
}

#[test]
fn explain_shows_the_prefilter_and_the_pruned_decode() {
    let w = tricky_tree();
    let out = w
        .seslog(&[
            "--format",
            "csv",
            "sql",
            "EXPLAIN SELECT mail.commonheaders.subject FROM seslogs WHERE array_has(recipients, 'bob@example.com') AND mail.messageid = 'm-long'",
        ])
        .ok();
    // CSV doubles the quotes inside the plan text.
    assert!(
        out.stdout
            .contains("prefilter=[contains \"\"bob@example.com\"\" and contains \"\"m-long\"\"]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("decodes=[eventType, mail.messageId, "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("mail.commonHeaders.subject"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("mail.tags"), "{}", out.stdout);
    assert!(!out.stdout.contains("mail.headers"), "{}", out.stdout);
}

#[test]
fn a_message_id_lookup_gives_the_same_rows_with_and_without_skipping_by_bytes() {
    let w = tricky_tree();
    let lookup = "SELECT mail.messageid, mail.destination FROM seslogs WHERE mail.messageid = 'm-other-7' ORDER BY 1";
    let fast = w.seslog(&["--format", "csv", "sql", lookup]);
    let slow = w.seslog(&["--no-prefilter", "--format", "csv", "sql", lookup]);
    let want = vec![row(&["m-other-7", "[\"user7@example.org\"]"]); 2];
    assert_eq!(ids(&fast), want);
    assert_eq!(ids(&slow), want);
}

/// Every report over the scenario: the same bytes with and without the prefilter.
#[test]
fn every_report_is_the_same_without_the_prefilter() {
    let w = Workdir::scenario();
    let window = ["--from", "2024-11-01", "--to", "2024-11-30"];
    let mut reports = util::every_report();
    reports.push(vec!["bounces", "--recipient", "NIAJ@example.com"]);
    reports.push(vec!["recipient", "O'Brien@example.com"]);
    for args in reports {
        let mut fast = vec!["--format", "csv"];
        fast.extend(&args);
        fast.extend(window);
        let mut slow = vec!["--no-prefilter"];
        slow.extend(&fast);
        let (a, b) = (w.seslog(&fast), w.seslog(&slow));
        assert_eq!((a.code, &a.stdout), (b.code, &b.stdout), "{args:?}");
        assert!(a.stdout.lines().count() > 1, "{args:?} has rows");
    }
}
