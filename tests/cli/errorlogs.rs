//! `errorlogs` and `seslog errors`: what Firehose could not deliver, read from its error
//! prefix beside the events, with the failed record decoded; `dt` and `error_output_type`
//! prune the folders listed and read.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use seslog_gen::{self as testgen, Event, Object};

use super::util::{Workdir, row};

/// (error output type, error code, message) as Firehose writes them.
const FAILURES: [(&str, &str, &str); 3] = [
    (
        "processing-failed",
        "DynamicPartitioning.MetadataExtractionFailed",
        "Non JSON record provided",
    ),
    (
        "processing-failed",
        "Lambda.FunctionError",
        "The Lambda function was successfully invoked but it returned an error result.",
    ),
    (
        "format-conversion-failed",
        "DataFormatConversion.MalformedData",
        "The record is not valid JSON, \"quoted\", and long",
    ),
];
const NOVEMBER: [&str; 4] = ["--from", "2024-11-01", "--to", "2024-11-30"];
const OBJECTS_PER_FOLDER: usize = 20;
const RECORDS_PER_OBJECT: usize = 3;

/// One failed record: its failure, the event it carried, its object's key.
struct Failed {
    failure: usize,
    event: Event,
    key: String,
}

/// Error objects for 2024-11-04..06: every failure, 20 objects a day each, 3 records an
/// object, each record a distinct delivery.
fn failed_records(key: impl Fn(&str, DateTime<Utc>, u64) -> String) -> Vec<Failed> {
    let mut out = Vec::new();
    let mut seq = 0;
    for day in 4..=6 {
        for (f, _) in FAILURES.iter().enumerate() {
            for o in 0..OBJECTS_PER_FOLDER {
                seq += 1;
                let first = testgen::at(&format!("2024-11-{day:02}T{:02}:{o:02}:00.000Z", 8 + f));
                let key = key(FAILURES[f].0, first, seq);
                for r in 0..RECORDS_PER_OBJECT {
                    let id = format!("0100019e-fail-{seq:04}-{r}");
                    let to = format!("r{seq}.{r}@example.com");
                    let sent = testgen::ts(first - Duration::seconds(30));
                    let mail = testgen::Mail::new(&id, &sent, &[&to], "Failed");
                    let mut event =
                        mail.delivery(&[&to], &testgen::ts(first - Duration::seconds(20)));
                    event.arrival = first + Duration::seconds(r as i64);
                    out.push(Failed {
                        failure: f,
                        event,
                        key: key.clone(),
                    });
                }
            }
        }
    }
    out
}

fn write_errors(w: &Workdir, failed: &[Failed]) {
    let mut objects: BTreeMap<&str, String> = BTreeMap::new();
    for f in failed {
        let (_, code, message) = FAILURES[f.failure];
        let text = objects.entry(&f.key).or_default();
        text.push_str(&testgen::error_record(&f.event, code, message, 4).to_string());
        text.push('\n');
    }
    let objects: Vec<Object> = objects
        .into_iter()
        .map(|(key, text)| Object {
            key: key.to_string(),
            bytes: testgen::gzip(text.as_bytes()),
        })
        .collect();
    testgen::write_tree(w.path(), &objects).unwrap();
}

fn tree() -> (Workdir, Vec<Failed>) {
    let w = Workdir::empty();
    let failed = failed_records(testgen::error_key);
    write_errors(&w, &failed);
    (w, failed)
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What `seslog errors` must print for the failed records arriving in [from, to).
fn expected_summary(failed: &[Failed], from: &str, to: &str) -> Vec<Vec<String>> {
    let (from, to) = (testgen::at(from), testgen::at(to));
    let mut groups: BTreeMap<usize, Vec<DateTime<Utc>>> = BTreeMap::new();
    for f in failed
        .iter()
        .filter(|f| f.event.arrival >= from && f.event.arrival < to)
    {
        groups.entry(f.failure).or_default().push(f.event.arrival);
    }
    let mut rows: Vec<(usize, Vec<String>)> = groups
        .into_iter()
        .map(|(f, times)| {
            let (output_type, code, message) = FAILURES[f];
            let first = times.iter().min().unwrap();
            let last = times.iter().max().unwrap();
            let n = times.len();
            (
                n,
                row(&[
                    output_type,
                    code,
                    message,
                    &n.to_string(),
                    &time(*first),
                    &time(*last),
                ]),
            )
        })
        .collect();
    // By count, then type, code and message.
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    rows.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn errors_counts_per_output_type_code_and_message_in_the_window() {
    let (w, failed) = tree();
    let out = w
        .seslog(&[&["--format", "csv", "errors"][..], &NOVEMBER].concat())
        .ok();
    assert_eq!(
        out.csv()[0],
        row(&[
            "error_output_type",
            "error_code",
            "error_message",
            "records",
            "first_arrival",
            "last_arrival"
        ])
    );
    let all = expected_summary(&failed, "2024-11-01T00:00:00Z", "2024-12-01T00:00:00Z");
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|r| r[3] == "180"), "{all:?}");
    assert_eq!(out.rows(), all);
    assert_eq!(out.warnings(), Vec::<&str>::new());

    // A window of a few hours of one day: the records that arrived in it, no others.
    let out = w
        .seslog(&[
            "--format",
            "csv",
            "errors",
            "--from",
            "2024-11-05T08:10:00Z",
            "--to",
            "2024-11-05T09:05:00Z",
        ])
        .ok();
    let some = expected_summary(&failed, "2024-11-05T08:10:00Z", "2024-11-05T09:05:00Z");
    assert_eq!(some.len(), 2, "{some:?}");
    assert_eq!(out.rows(), some);
}

#[test]
fn errorlogs_decodes_raw_data_to_the_record_firehose_received() {
    let (w, failed) = tree();
    let out = w
        .seslog(&[
            "--format",
            "json",
            "sql",
            "SELECT mail_id, raw_record, rawdata, attemptsmade, arrivaltimestamp, errorcode, \
             error_output_type, dt FROM (SELECT *, json_extract_scalar(raw_record, '$.mail.messageId') AS mail_id \
             FROM errorlogs) WHERE dt = '2024-11-05' ORDER BY mail_id",
        ])
        .ok();
    let rows = out.json();
    let mut expected: Vec<&Failed> = failed
        .iter()
        .filter(|f| f.key.contains("/dt=2024-11-05/"))
        .collect();
    expected.sort_by_key(|f| {
        f.event.record["mail"]["messageId"]
            .as_str()
            .unwrap()
            .to_string()
    });
    assert_eq!(rows.len(), expected.len());
    assert_eq!(rows.len(), 3 * OBJECTS_PER_FOLDER * RECORDS_PER_OBJECT);
    for (got, want) in rows.iter().zip(expected) {
        let (output_type, code, _) = FAILURES[want.failure];
        assert_eq!(got["raw_record"], want.event.record.to_string());
        assert_eq!(got["mail_id"], want.event.record["mail"]["messageId"]);
        assert_eq!(got["attemptsmade"], 4);
        assert_eq!(
            got["arrivaltimestamp"],
            want.event.arrival.timestamp_millis()
        );
        assert_eq!(got["errorcode"], code);
        assert_eq!(got["error_output_type"], output_type);
        assert_eq!(got["dt"], "2024-11-05");
    }
}

/// `seslog --stats --format csv ARGS`, which must succeed.
fn stats(w: &Workdir, args: &[&str]) -> super::util::Output {
    w.seslog(&[&["--stats", "--format", "csv"][..], args].concat())
        .ok()
}

#[test]
fn dt_and_error_output_type_prune_what_is_listed_and_read() {
    let (w, failed) = tree();
    let objects_in = |day: &str, output_type: Option<&str>| {
        let mut keys: Vec<&str> = failed
            .iter()
            .filter(|f| f.key.contains(&format!("/dt={day}/")))
            .filter(|f| output_type.is_none_or(|t| f.key.starts_with(&format!("errorLog/{t}/"))))
            .map(|f| f.key.as_str())
            .collect();
        keys.dedup();
        keys.len() as u64
    };
    let out = stats(
        &w,
        &[
            "sql",
            "SELECT count(*) FROM errorlogs WHERE dt = '2024-11-05' AND error_output_type = 'format-conversion-failed'",
        ],
    );
    let n = objects_in("2024-11-05", Some("format-conversion-failed"));
    assert_eq!(n, OBJECTS_PER_FOLDER as u64);
    assert_eq!(
        out.rows(),
        vec![row(&[&(n as usize * RECORDS_PER_OBJECT).to_string()])]
    );
    assert_eq!(out.stat("objects_read"), n);
    // Both partition values named: the one folder is listed, nothing above it.
    assert_eq!(out.stat("list_requests"), 1);

    // A range of dt, as `seslog errors` asks: the days in it, every output type.
    let out = stats(
        &w,
        &[
            "sql",
            "SELECT count(*) FROM errorlogs WHERE dt BETWEEN '2024-11-05' AND '2024-11-06'",
        ],
    );
    let n = objects_in("2024-11-05", None) + objects_in("2024-11-06", None);
    assert_eq!(out.stat("objects_read"), n);

    // `seslog errors` for one day reads that day's folders and the days either side.
    let out = stats(
        &w,
        &["errors", "--from", "2024-11-06", "--to", "2024-11-06"],
    );
    assert_eq!(
        out.stat("objects_read"),
        objects_in("2024-11-05", None) + objects_in("2024-11-06", None)
    );
    assert_eq!(out.rows().len(), 3);
}

#[test]
fn the_error_layout_is_configurable_like_the_layout() {
    let w = Workdir::empty();
    let failed = failed_records(|output_type, arrival, seq| {
        format!(
            "failures/{}/{output_type}/err-{seq}.gz",
            arrival.format("%Y/%m/%d")
        )
    });
    write_errors(&w, &failed);
    let layout = "failures/!{timestamp:yyyy/MM/dd}/!{firehose:error-output-type}/";
    let out = w
        .seslog(
            &[
                &["--error-layout", layout, "--format", "csv", "errors"][..],
                &NOVEMBER,
            ]
            .concat(),
        )
        .ok();
    assert_eq!(
        out.rows(),
        expected_summary(&failed, "2024-11-01T00:00:00Z", "2024-12-01T00:00:00Z")
    );
    let out = w
        .seslog(&[
            "--error-layout",
            layout,
            "--format",
            "csv",
            "sql",
            "SELECT dt, count(*) FROM errorlogs GROUP BY dt ORDER BY dt",
        ])
        .ok();
    let per_day = (3 * OBJECTS_PER_FOLDER * RECORDS_PER_OBJECT).to_string();
    assert_eq!(
        out.rows(),
        vec![
            row(&["2024-11-04", &per_day]),
            row(&["2024-11-05", &per_day]),
            row(&["2024-11-06", &per_day]),
        ]
    );
    // Under the default error layout nothing is there: an empty answer, not an error.
    let out = w
        .seslog(&["--format", "csv", "sql", "SELECT count(*) FROM errorlogs"])
        .ok();
    assert_eq!(out.rows(), vec![row(&["0"])]);
    // The setting shows where it came from.
    let out = w.seslog(&["--error-layout", layout, "config"]).ok();
    assert!(
        out.setting("error_layout").contains("--error-layout"),
        "{}",
        out.stdout
    );
    let out = w.seslog(&["--error-layout", "x/!{firehose:random-string}/", "errors"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("error layout from --error-layout"),
        "{}",
        out.stderr
    );
}

#[test]
fn lines_that_are_not_error_records_are_skipped_and_named() {
    let w = Workdir::empty();
    let failed = failed_records(testgen::error_key);
    let first = &failed[0];
    let (_, code, message) = FAILURES[first.failure];
    let text = format!(
        "{}\n{{\"eventType\":\"Send\"}}\nnot json\n",
        testgen::error_record(&first.event, code, message, 1)
    );
    let key = testgen::error_key("processing-failed", first.event.arrival, 1);
    testgen::write_tree(
        w.path(),
        &[Object {
            key: key.clone(),
            bytes: testgen::gzip(text.as_bytes()),
        }],
    )
    .unwrap();
    let out = w
        .seslog(&["--format", "csv", "sql", "SELECT errorcode FROM errorlogs"])
        .ok();
    assert_eq!(out.rows(), vec![row(&[code])]);
    let object = format!("{}/{key}", w.source());
    assert_eq!(
        out.warnings(),
        vec![
            format!("seslog: warning: skipped record: {object} line 2 (byte {}): not a Firehose error record (no rawData)", text.find("{\"eventType").unwrap()).as_str(),
            format!("seslog: warning: skipped record: {object} line 3 (byte {}): not a JSON object: \"not json\"", text.find("not json").unwrap()).as_str(),
            "seslog: warning: 2 records skipped (use --strict to make this an error)",
        ]
    );
    let out = w.seslog(&["--strict", "sql", "SELECT errorcode FROM errorlogs"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("no rawData"), "{}", out.stderr);
}
