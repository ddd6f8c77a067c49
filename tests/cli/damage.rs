//! Damaged and odd input: skipped records named and counted, `--strict`, Firehose's error
//! output and stray files kept out, records written back to back.

use std::io::Read;

use super::util::{self, Workdir, row};

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
    out.assert_warned(&open_line_2);
    out.assert_warned(&format!(
        "seslog: warning: damaged object: {day}/Click/2024/11/08/truncated.gz: "
    ));
    out.assert_warned(&format!(
        "seslog: warning: skipped record: {day}/Click/2024/11/08/truncated.gz line {} ",
        kept_clicks + 1
    ));
    assert!(warnings.iter().any(|l| *l == format!("seslog: warning: ignored object: {day}/Bounce/2024/11/08/README.txt: not JSON event data (does not start with '{{')")), "{}", out.stderr);
    assert!(warnings.iter().any(|l| *l == format!("seslog: warning: skipped record: {day}/Complaint/2024/11/08/not-ses.gz line 1 (byte 0): not an SES record (neither eventType nor notificationType, nor an SNS notification)")), "{}", out.stderr);
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

/// A folder of many small objects is read a bundle of objects at a time (fewer files opened
/// than objects), and each object is still checked, named and counted on its own: a checksum
/// failure drops that object's records only, a malformed record is named with its own
/// object and line, and every row keeps the object it came from.
#[test]
fn small_objects_read_together_are_each_checked_and_named() {
    let w = Workdir::empty();
    let expected = util::small_objects(&w);

    let out = w
        .seslog(&[
            "--stats",
            "sql",
            "SELECT input_file_name() AS f, count(*) AS n FROM seslogs GROUP BY 1 ORDER BY 1",
        ])
        .ok();
    let got: std::collections::BTreeMap<String, u64> = out
        .rows()
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(out.stat("objects_read"), 300);
    let folder = format!("{}/partitioned/Open/2024/11/08", w.source());
    out.assert_warned(&format!(
        "seslog: warning: damaged object: {folder}/o-0100.gz: "
    ));
    out.assert_warned(&format!(
        "seslog: warning: skipped record: {folder}/o-0200.gz line 2 (byte "
    ));

    // The same without `input_file_name()` (objects read together, their rows in one
    // batch): the same total, and fewer files opened than objects read.
    let out = w
        .seslog(&[
            "--stats",
            "sql",
            "EXPLAIN ANALYZE SELECT count(*) FROM seslogs",
        ])
        .ok();
    let plan = out.stdout.replace('\n', " ");
    let files_opened: u64 = plan
        .split("files_opened=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no files_opened in {plan}"));
    assert!(files_opened < 100, "{files_opened} files opened: {plan}");
    // A limit stops within a bundle: no more objects are read than its rows need.
    let out = w
        .seslog(&[
            "--stats",
            "sql",
            "SELECT mail.messageid FROM seslogs LIMIT 3",
        ])
        .ok();
    assert_eq!(out.rows().len(), 3);
    assert!(out.stat("objects_read") <= 6, "{}", out.stderr);
    // Read together (sound members decoded as one stream), the damaged object and the bad
    // record are still found and named as their own objects': a bundle that meets a problem
    // is read again one object at a time.
    let total = w
        .seslog(&["--stats", "sql", "SELECT count(*) FROM seslogs"])
        .ok();
    assert_eq!(
        total.rows(),
        vec![row(&[&expected.values().sum::<u64>().to_string()])]
    );
    assert_eq!(total.stat("objects_read"), 300);
    total.assert_warned(&format!(
        "seslog: warning: damaged object: {folder}/o-0100.gz: "
    ));
    total.assert_warned(&format!(
        "seslog: warning: skipped record: {folder}/o-0200.gz line 2 (byte "
    ));
}
