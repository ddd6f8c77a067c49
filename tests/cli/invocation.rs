//! How seslog is called and how it ends: queries from arguments, files and stdin, the
//! environment, errors and exit codes, read-only SQL, a closed pipe, the shipped sample.

use std::io::Read;

use super::util::{Workdir, row, run};
use seslog_gen as testgen;

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
fn a_source_one_level_off_is_named_with_the_right_one() {
    let w = Workdir::empty();
    let logs = w.path().join("ses-logs");
    testgen::write_tree(&logs, &testgen::scenario_objects()).unwrap();
    // One level up: a folder of the source holds partitioned/.
    let out = w.seslog(&["sql", "SELECT count(*) FROM seslogs"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&format!(
            "--source is one level off; {}/ holds the layout's first folder: try --source {}",
            logs.display(),
            logs.display()
        )),
        "{}",
        out.stderr
    );
    // A report whose window names its folders lists no first folder: its empty answer
    // says the same.
    let out = w.seslog(&["bounces", "--from", "2024-11-01", "--to", "2024-11-30"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains(&format!(
            "seslog: note: there are no objects under {}/partitioned/: --source is one level off; \
             {}/ holds the layout's first folder: try --source {}\n",
            w.source(),
            logs.display(),
            logs.display()
        )),
        "{}",
        out.stderr
    );
    // One level down: the source is partitioned/ itself.
    let inside = logs.join("partitioned").display().to_string();
    let out = run(
        &[
            "--source".into(),
            inside,
            "sql".into(),
            "SELECT count(*) FROM seslogs".into(),
        ],
        None,
        &[],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains(&format!("try --source {}\n", logs.display())),
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

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::process::{Command, Stdio};
    let w = Workdir::scenario();
    let mut child = Command::new(super::util::bin())
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
