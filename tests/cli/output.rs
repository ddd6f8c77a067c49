//! Output formats, `--output`, the table view's limits and escaping, shell integration.

use std::process::{Command, Stdio};

use super::util::{Workdir, run};

const BOUNCES: &str = "SELECT mail.messageid AS id, bounce.bouncesubtype AS sub_type, bounce.bouncedrecipients AS r FROM seslogs WHERE event_type = 'Bounce' ORDER BY id";

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".seslog-"))
        .collect()
}

#[test]
fn parquet_output_keeps_nested_types() {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let w = Workdir::scenario();
    let file = w.path().join("bounces.parquet");
    w.seslog(&["--output", file.to_str().unwrap(), "sql", BOUNCES])
        .ok();
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap()).unwrap();
    let schema = reader.schema().clone();
    assert!(matches!(
        schema.field_with_name("r").unwrap().data_type(),
        datafusion::arrow::datatypes::DataType::List(_)
    ));
    let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 5);
    assert!(leftovers(w.path()).is_empty());
}

#[test]
fn tsv_and_no_header() {
    let w = Workdir::scenario();
    let out = w.seslog(&["--format", "tsv", "sql", "SELECT mail.messageid AS id, bounce.bouncesubtype AS sub_type FROM seslogs WHERE event_type = 'Bounce' ORDER BY id LIMIT 2"]).ok();
    assert_eq!(
        out.stdout,
        "id\tsub_type\n0100019a-early-000000\tGeneral\n0100019a-full-000000\tMailboxFull\n"
    );
    let out = w
        .seslog(&[
            "--format",
            "csv",
            "--no-header",
            "sql",
            "SELECT count(*) FROM seslogs",
        ])
        .ok();
    assert_eq!(out.stdout, "27\n");
}

#[test]
fn output_file_is_written_whole_or_not_at_all() {
    let w = Workdir::damaged();
    let file = w.path().join("out.csv");
    let ok = w
        .seslog(&[
            "--output",
            file.to_str().unwrap(),
            "sql",
            "SELECT count(*) AS n FROM seslogs WHERE event_type = 'Bounce' AND day < '2024/11/08'",
        ])
        .ok();
    assert!(
        ok.stdout.is_empty(),
        "the result goes to the file, not stdout"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "n\n4\n");

    // A run that fails part-way (--strict meets a bad record) leaves no file behind, not
    // even the temporary one.
    let failed = w.path().join("failed.csv");
    let out = w.seslog(&[
        "--strict",
        "--output",
        failed.to_str().unwrap(),
        "sql",
        "SELECT * FROM seslogs",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!failed.exists());
    assert_eq!(leftovers(w.path()), Vec::<String>::new());

    let out = w.seslog(&[
        "--output",
        w.path().join("out.xyz").to_str().unwrap(),
        "sql",
        "SELECT 1",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--format"), "{}", out.stderr);
}

#[test]
fn interrupt_exits_130_and_leaves_no_file() {
    let w = Workdir::scenario();
    let file = w.path().join("big.csv");
    let child = Command::new(super::util::bin())
        .args([
            "--source",
            &w.source(),
            "--output",
            file.to_str().unwrap(),
            "sql",
        ])
        // 27^6 rows: minutes of work, none of it done at planning time.
        .arg(
            "SELECT count(*) FROM seslogs a, seslogs b, seslogs c, seslogs d, seslogs e, seslogs f",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the run is writing its output (so its Ctrl-C handler is in place).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while leftovers(w.path()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        leftovers(w.path()).len(),
        1,
        "the run never started writing"
    );
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!file.exists());
    assert!(leftovers(w.path()).is_empty());
}

#[test]
fn table_view_limits_rows_and_escapes_log_text() {
    let w = Workdir::empty();
    let mut evil = seslog_gen::Mail::new(
        "0100019d-evil-000000",
        "2024-11-09T10:00:00.000Z",
        &["x@example.com"],
        "pay\u{202e}fdp.exe\u{1b}[31m\nnow",
    );
    evil.tags.clear();
    let events: Vec<_> = (0..3).map(|_| evil.send()).collect();
    seslog_gen::write_tree(w.path(), &seslog_gen::firehose_objects(&events, 300)).unwrap();
    let out = w
        .seslog(&[
            "--format",
            "table",
            "--max-rows",
            "2",
            "sql",
            "SELECT mail.commonheaders.subject FROM seslogs",
        ])
        .ok();
    assert!(
        out.stdout.contains("pay\\u{202e}fdp.exe\\u{1b}[31m\\nnow"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains('\u{202e}') && !out.stdout.contains('\u{1b}'));
    assert_eq!(out.stdout.matches("pay").count(), 2);
    assert!(
        out.stderr.contains("2 rows shown, 1 more not shown"),
        "{}",
        out.stderr
    );
    // Machine formats carry the value exactly.
    let out = w
        .seslog(&[
            "--format",
            "json",
            "sql",
            "SELECT mail.commonheaders.subject AS s FROM seslogs LIMIT 1",
        ])
        .ok();
    assert_eq!(out.json()[0]["s"], "pay\u{202e}fdp.exe\u{1b}[31m\nnow");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let w = Workdir::scenario();
    let q = ["sql", "SELECT count(*) AS n FROM seslogs"];
    let plain = w
        .seslog(&[&["--format", "table"][..], &q[..]].concat())
        .ok();
    assert!(
        !plain.stdout.contains('\u{1b}'),
        "not a terminal: no colour"
    );
    let forced = w
        .seslog(&[&["--format", "table", "--color", "always"][..], &q[..]].concat())
        .ok();
    assert!(forced.stdout.contains('\u{1b}'), "{}", forced.stdout);
    let csv = w
        .seslog(&[&["--format", "csv", "--color", "always"][..], &q[..]].concat())
        .ok();
    assert_eq!(csv.stdout, "n\n27\n", "machine formats are never coloured");
}

#[test]
fn stats_say_what_athena_would_have_billed() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&["--stats", "sql", "SELECT count(*) FROM seslogs"])
        .ok();
    // A scan this small pays Athena's 10 MB minimum: 10 MiB at $5/TB.
    assert!(
        out.stderr.contains("athena_would_bill_usd=0.000052"),
        "{}",
        out.stderr
    );
}

#[test]
fn completions_for_every_shell_and_a_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run(&["completions".into(), shell.into()], None, &[]).ok();
        assert!(
            out.stdout.contains("seslog") && out.stdout.contains("bounces"),
            "{shell}"
        );
    }
    let man = run(&["man".into()], None, &[]).ok();
    assert!(
        man.stdout.contains(".TH seslog"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
    let out = run(&["completions".into(), "tcsh".into()], None, &[]);
    assert_eq!(out.code, 2);
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in [
        "sql",
        "shell",
        "bounces",
        "complaints",
        "recipient",
        "message",
        "delays",
        "rejects",
        "failures",
        "summary",
        "domains",
        "suppression",
        "check",
        "reports",
        "run",
        "completions",
        "man",
        "config",
        "cache",
    ] {
        let out = run(&[command.into(), "--help".into()], None, &[]).ok();
        assert!(
            out.stdout.contains("Example"),
            "{command} --help has no example:\n{}",
            out.stdout
        );
    }
}

#[test]
fn the_table_view_fits_the_width_with_wide_characters() {
    use unicode_width::UnicodeWidthStr;
    let w = Workdir::scenario();
    let query = "SELECT mail.messageid, mail.commonheaders.subject, mail.source FROM seslogs WHERE event_type = 'Delivery' AND day = '2024/11/06'";
    let out = run(
        &[
            "--source".into(),
            w.source(),
            "--format".into(),
            "table".into(),
            "sql".into(),
            query.into(),
        ],
        None,
        &[("COLUMNS", "48")],
    )
    .ok();
    for line in out.stdout.lines() {
        assert!(
            line.width() <= 48,
            "{} columns: {line}\n{}",
            line.width(),
            out.stdout
        );
    }
    // Three columns of this width cannot fit 48: the vertical view, its values wrapped
    // rather than cut, the Japanese subject all there.
    assert!(out.stdout.starts_with("-[ RECORD 1 ]"), "{}", out.stdout);
    assert!(
        out.stdout.contains("\nsubject   | パスワードの再設定\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("\nsource    | Example Shop\n          | <no-reply@shop.example.com>\n"),
        "{}",
        out.stdout
    );
}

fn config_file(w: &Workdir, text: &str) -> String {
    let path = w.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn named_sources_from_the_config_file_with_flags_first() {
    let w = Workdir::scenario();
    let config = config_file(
        &w,
        &format!(
            "default_source = \"prod\"\nformat = \"json\"\n\n[sources.prod]\nurl = \"{}\"\nformat = \"csv\"\n\n[sources.other]\nurl = \"/nonexistent\"\n",
            w.source()
        ),
    );
    let q = "SELECT count(*) AS n FROM seslogs WHERE event_type = 'Open'";
    // default_source, and the named source's format.
    let out = run(
        &["--config".into(), config.clone(), "sql".into(), q.into()],
        None,
        &[],
    )
    .ok();
    assert_eq!(out.stdout, "n\n1\n");
    // --source picks a name; a flag beats the config file.
    let out = run(
        &[
            "--config".into(),
            config.clone(),
            "--source".into(),
            "prod".into(),
            "--format".into(),
            "ndjson".into(),
            "sql".into(),
            q.into(),
        ],
        None,
        &[],
    )
    .ok();
    assert_eq!(out.stdout, "{\"n\":1}\n");
    // The environment beats the config file.
    let out = run(
        &["--config".into(), config.clone(), "sql".into(), q.into()],
        None,
        &[("SESLOG_SOURCE", "other")],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("/nonexistent"), "{}", out.stderr);
    // `seslog config` says where each value came from.
    let shown = run(
        &["--config".into(), config.clone(), "config".into()],
        None,
        &[(
            "SESLOG_LAYOUT",
            "x/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd}/",
        )],
    )
    .ok();
    let line = |key: &str| shown.setting(key);
    assert!(
        line("source").contains(&w.source())
            && line("source").contains("[sources.prod] url")
            && line("source").contains("default_source"),
        "{}",
        shown.stdout
    );
    assert!(
        line("layout").ends_with("# from environment SESLOG_LAYOUT"),
        "{}",
        shown.stdout
    );
    assert!(
        line("format").contains("csv") && line("format").contains("[sources.prod] format"),
        "{}",
        shown.stdout
    );
    assert!(
        line("config").contains(&config) && line("config").ends_with("--config"),
        "{}",
        shown.stdout
    );
}

#[test]
fn config_file_errors_name_the_key_and_the_file() {
    let w = Workdir::scenario();
    let config = config_file(
        &w,
        "[sources.prod]\nurl = \"s3://x\"\nregoin = \"us-east-1\"\n",
    );
    let out = run(
        &["--config".into(), config.clone(), "config".into()],
        None,
        &[],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(&config) && out.stderr.contains("regoin"),
        "{}",
        out.stderr
    );
    let out = run(
        &[
            "--config".into(),
            w.path().join("missing.toml").display().to_string(),
            "config".into(),
        ],
        None,
        &[],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("missing.toml"), "{}", out.stderr);
}

#[test]
fn times_are_shown_in_a_zone_when_asked() {
    let w = Workdir::scenario();
    let q = "SELECT event_time, mail.timestamp AS sent FROM seslogs \
             WHERE mail.messageid = '0100019a-reset-alice-000000' AND eventtype = 'Send'";
    let csv = |args: &[&str], env: &[(&str, &str)]| {
        let mut full = vec!["--source".to_string(), w.source()];
        full.extend(args.iter().map(|s| s.to_string()));
        full.extend(["--format", "csv", "sql", q].map(String::from));
        run(&full, None, env)
    };
    // UTC unless asked; the text SES wrote stays as written.
    assert_eq!(
        csv(&[], &[]).ok().stdout,
        "event_time,sent\n2024-11-05T10:15:00Z,2024-11-05T10:15:00.000Z\n"
    );
    assert_eq!(
        csv(&["--tz", "Europe/Berlin"], &[]).ok().stdout,
        "event_time,sent\n2024-11-05T11:15:00+01:00,2024-11-05T10:15:00.000Z\n"
    );
    assert_eq!(
        csv(&[], &[("SESLOG_TZ", "+09:00")]).ok().stdout,
        "event_time,sent\n2024-11-05T19:15:00+09:00,2024-11-05T10:15:00.000Z\n"
    );
    // From the config file, and the flag over it.
    let config = config_file(&w, "tz = \"America/New_York\"\n");
    assert_eq!(
        csv(&["--config", &config], &[]).ok().stdout,
        "event_time,sent\n2024-11-05T05:15:00-05:00,2024-11-05T10:15:00.000Z\n"
    );
    assert_eq!(
        csv(&["--config", &config, "--tz", "UTC"], &[]).ok().stdout,
        "event_time,sent\n2024-11-05T10:15:00Z,2024-11-05T10:15:00.000Z\n"
    );
    // A report's times too.
    let out = w
        .seslog(&[
            "--tz",
            "Asia/Tokyo",
            "--format",
            "csv",
            "recipient",
            "alice@example.com",
            "--from",
            "2024-11-01",
            "--to",
            "2024-11-30",
        ])
        .ok();
    assert_eq!(out.rows()[0][0], "2024-11-05T19:15:00+09:00");
    // A zone that does not exist: exit 2, naming the flag.
    let out = csv(&["--tz", "Mars/Olympus"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--tz: `Mars/Olympus` is not a time zone"),
        "{}",
        out.stderr
    );
}

#[test]
fn wide_reports_pick_their_columns_on_a_narrow_terminal() {
    use unicode_width::UnicodeWidthStr;
    let w = Workdir::scenario();
    let table = |columns: &str, report: &str| {
        run(
            &[
                "--source".into(),
                w.source(),
                "--format".into(),
                "table".into(),
                report.into(),
                "--from".into(),
                "2024-11-01".into(),
                "--to".into(),
                "2024-11-30".into(),
            ],
            None,
            &[("COLUMNS", columns)],
        )
        .ok()
    };
    let header = |out: &super::util::Output| -> Vec<String> {
        out.stdout
            .lines()
            .nth(1)
            .unwrap()
            .split(['│', '┆'])
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect()
    };
    let out = table("80", "summary");
    assert_eq!(
        header(&out),
        [
            "day",
            "sends",
            "hard_bounces",
            "bounce_rate_pct",
            "complaint_rate_pct"
        ]
    );
    assert!(
        out.stdout.lines().all(|l| l.width() <= 80),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        "seslog: 5 of 12 columns shown to fit the terminal (not deliveries, soft_bounces, \
         complaints, rejects, delays, opens, clicks): --format vertical or csv shows them all\n"
    );
    let out = table("80", "bounces");
    assert_eq!(
        header(&out),
        ["time", "recipient", "status", "diagnostic_code"]
    );
    assert!(
        out.stdout.lines().all(|l| l.width() <= 80),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("mallory@example.com"), "{}", out.stdout);
    // Wide enough: every column, and nothing said.
    let out = table("400", "summary");
    assert_eq!(header(&out).len(), 12);
    assert_eq!(out.stderr, "");
    // Too narrow even for the chosen few: the vertical view, every column.
    let out = table("40", "summary");
    assert!(out.stdout.starts_with("-[ RECORD 1 ]"), "{}", out.stdout);
    assert!(out.stdout.contains("\ndeliveries "), "{}", out.stdout);
}
