//! Athena compatibility: the corpus of Athena-style queries in `tests/athena/` with their
//! exact results on the shipped testdata, Trino's functions at the example values of
//! Trino's documentation, the errors for what is not supported, and `athena-ddl`.

use std::path::Path;

use super::util::{Output, Workdir, run};

fn testdata() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/ses-logs")
        .display()
        .to_string()
}

fn seslog(args: &[&str]) -> Output {
    let mut full = vec!["--source".to_string(), testdata()];
    full.extend(args.iter().map(|s| s.to_string()));
    run(&full, None, &[])
}

/// Every `tests/athena/*.sql` runs unchanged and prints exactly the CSV under its
/// `-- expect:` line, with nothing on stderr.
#[test]
fn athena_corpus_gives_the_expected_results() {
    let files = super::util::athena_corpus();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let (_, expect) = text
            .split_once("-- expect:\n")
            .unwrap_or_else(|| panic!("{} has no `-- expect:` section", file.display()));
        let expected: String = expect
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix("-- ").unwrap_or(l)))
            .collect();
        let out = seslog(&["--format", "csv", "sql", "-f", file.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{}: {}", file.display(), out.stderr);
        assert_eq!(out.stdout, expected, "{}", file.display());
        assert_eq!(out.stderr, "", "{}", file.display());
    }
}

/// Each expression with the value Trino's documentation gives for it (as seslog's CSV
/// writes it: NULL is empty, arrays are JSON, timestamps ISO 8601).
#[test]
fn trino_functions_give_documented_values() {
    let cases: &[(&str, &str)] = &[
        // Dates and times.
        (
            "date_format(TIMESTAMP '2024-11-05 10:15:02', '%Y/%m/%d %H:%i')",
            "2024/11/05 10:15",
        ),
        (
            "date_format(TIMESTAMP '2022-10-20 05:10:00', '%m-%d-%Y %H')",
            "10-20-2022 05",
        ),
        (
            "date_format(TIMESTAMP '2024-11-05 10:15:02', '%Y-%m-%d %H:%i:%s %W %M %e %j %p')",
            "2024-11-05 10:15:02 Tuesday November 5 310 AM",
        ),
        (
            "date_parse('2022/10/20/05', '%Y/%m/%d/%H')",
            "2022-10-20T05:00:00",
        ),
        (
            "date_parse('2024-11-05 10:15:02', '%Y-%m-%d %H:%i:%s')",
            "2024-11-05T10:15:02",
        ),
        ("date_parse('2024', '%Y')", "2024-01-01T00:00:00"),
        (
            "from_iso8601_timestamp('2020-05-11T11:15:05')",
            "2020-05-11T11:15:05Z",
        ),
        (
            "from_iso8601_timestamp('2020-05-11T11:15:05.055+01:00')",
            "2020-05-11T10:15:05.055Z",
        ),
        ("from_iso8601_date('2020-05-11')", "2020-05-11"),
        ("from_iso8601_date('2020-W10')", "2020-03-02"),
        ("from_iso8601_date('2020-123')", "2020-05-02"),
        (
            "to_iso8601(from_iso8601_timestamp('2020-05-11T11:15:05.055Z'))",
            "2020-05-11T11:15:05.055Z",
        ),
        ("to_iso8601(DATE '2020-05-11')", "2020-05-11"),
        ("parse_duration('42.8ms')", "0.043000000 secs"),
        (
            "parse_duration('3.81 d')",
            "3 days 19 hours 26 mins 24.000000000 secs",
        ),
        ("parse_duration('5m')", "5 mins"),
        ("now() > TIMESTAMP '2024-01-01 00:00:00'", "true"),
        (
            "current_timestamp > TIMESTAMP '2024-01-01 00:00:00'",
            "true",
        ),
        (
            "TIMESTAMP '2024-11-05 10:15:02' AT TIME ZONE 'UTC'",
            "2024-11-05T10:15:02Z",
        ),
        (
            "date_add('second', 86, TIMESTAMP '2020-03-01 00:00:00')",
            "2020-03-01T00:01:26",
        ),
        (
            "date_add('hour', 9, TIMESTAMP '2020-03-01 00:00:00')",
            "2020-03-01T09:00:00",
        ),
        (
            "date_add('day', -1, TIMESTAMP '2020-03-01 00:00:00')",
            "2020-02-29T00:00:00",
        ),
        ("date_add('month', 1, DATE '2024-01-31')", "2024-02-29"),
        (
            "date_diff('second', TIMESTAMP '2020-03-01 00:00:00', TIMESTAMP '2020-03-02 00:00:00')",
            "86400",
        ),
        (
            "date_diff('hour', TIMESTAMP '2020-03-01 00:00:00', TIMESTAMP '2020-03-02 00:00:00')",
            "24",
        ),
        (
            "date_diff('day', DATE '2020-03-01', DATE '2020-03-02')",
            "1",
        ),
        (
            "date_diff('millisecond', TIMESTAMP '2020-06-01 12:30:45.000000000', TIMESTAMP '2020-06-02 12:30:45.123456789')",
            "86400123",
        ),
        (
            "date_diff('month', DATE '2024-01-31', DATE '2024-02-29')",
            "0",
        ),
        ("hour(TIMESTAMP '2024-11-05 10:15:02')", "10"),
        ("day_of_week(DATE '2024-11-03')", "7"),
        ("date(TIMESTAMP '2024-11-05 10:15:02')", "2024-11-05"),
        (
            "to_unixtime(TIMESTAMP '2024-11-05 10:15:02')",
            "1730801702.0",
        ),
        // Arrays and maps.
        ("contains(ARRAY[1, 2, 3], 2)", "true"),
        ("contains(ARRAY['a'], 'b')", "false"),
        ("contains('the quick brown fox', 'row')", "true"),
        ("element_at(ARRAY['a', 'b', 'c'], -1)", "c"),
        ("element_at(MAP(ARRAY['k'], ARRAY['v']), 'k')", "v"),
        ("cardinality(ARRAY[1, 2, 3])", "3"),
        ("array_join(ARRAY[1, NULL, 2], ',', '0')", "1,0,2"),
        ("filter(ARRAY[5, -6, NULL, 7], x -> x > 0)", "[5,7]"),
        ("transform(ARRAY[5, 6], x -> x + 1)", "[6,7]"),
        ("any_match(ARRAY[1, 2, 3], x -> x > 2)", "true"),
        ("all_match(ARRAY[1, 2, 3], x -> x > 2)", "false"),
        ("none_match(ARRAY[1, 2, 3], x -> x > 5)", "true"),
        (
            "map_keys(MAP(ARRAY['a', 'b'], ARRAY[1, 2]))",
            "[\"a\",\"b\"]",
        ),
        // Strings and regular expressions.
        ("regexp_like('1a 2b 14m', '\\d+b')", "true"),
        ("regexp_extract('1a 2b 14m', '\\d+')", "1"),
        ("regexp_extract('1a 2b 14m', '(\\d+)([a-z]+)', 2)", "a"),
        ("regexp_extract('abc', '\\d+')", ""),
        ("split_part('a@example.com', '@', 2)", "example.com"),
        ("lower('Alice@Example.COM')", "alice@example.com"),
        ("upper('abc')", "ABC"),
        ("try_cast('abc' AS BIGINT)", ""),
        ("try_cast('12' AS BIGINT)", "12"),
        ("try(CAST('x' AS INTEGER))", ""),
        ("COALESCE(TRY(10 / 0), 0)", "0"),
        ("try(from_iso8601_timestamp('not a time'))", ""),
        // JSON.
        ("json_extract_scalar('[1, 2, 3]', '$[2]')", "3"),
        (
            "json_extract_scalar('{\"store\": {\"book\": [{\"author\": \"Nigel Rees\"}]}}', '$.store.book[0].author')",
            "Nigel Rees",
        ),
        ("json_extract_scalar('{\"a\": {\"b\": 1}}', '$.a')", ""),
        ("json_extract('{\"a\": {\"b\": 1}}', '$.a')", "{\"b\":1}"),
        ("json_extract('{\"a\": [1, 2]}', '$[\"a\"]')", "[1,2]"),
        ("json_extract_scalar('not json', '$.a')", ""),
    ];
    let select = cases
        .iter()
        .map(|(e, _)| *e)
        .collect::<Vec<_>>()
        .join(",\n  ");
    let out = seslog(&["--format", "csv", "sql", &format!("SELECT {select}")]).ok();
    let rows = out.csv();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    let names: Vec<String> = (0..cases.len()).map(|i| format!("_col{i}")).collect();
    assert_eq!(rows[0], names, "Athena's column names");
    for ((expr, expected), got) in cases.iter().zip(&rows[1]) {
        assert_eq!(got, expected, "{expr}");
    }

    let aggregates = seslog(&[
        "--format",
        "csv",
        "sql",
        "SELECT count_if(x > 1), arbitrary(k), approx_distinct(x), approx_percentile(x, 0.5), \
         max_by(x, y), min_by(x, y), array_agg(x ORDER BY x) \
         FROM (VALUES (1, 'c', 'same'), (2, 'a', 'same'), (3, 'b', 'same')) AS t(x, y, k)",
    ])
    .ok();
    assert_eq!(
        aggregates.rows(),
        vec![vec!["2", "same", "3", "2.0", "1", "2", "[1,2,3]"]]
    );
}

/// What cannot be supported fails with the construct's name and the SQL to use instead.
#[test]
fn unsupported_trino_says_what_to_write_instead() {
    for (sql, names, instead) in [
        (
            "SELECT reduce(ARRAY[1, 2], 0, (s, x) -> s + x, s -> s)",
            "reduce()",
            "array_sum",
        ),
        (
            "SELECT r.emailaddress FROM seslogs LEFT JOIN UNNEST(bounce.bouncedrecipients) AS t(r) ON true",
            "LEFT JOIN UNNEST",
            "CROSS JOIN UNNEST",
        ),
        (
            "SELECT approx_percentile(x, ARRAY[0.5, 0.9]) FROM (VALUES (1)) AS t(x)",
            "approx_percentile(x, ARRAY[...])",
            "one approx_percentile(x, p) per percentile",
        ),
        (
            "SELECT k FROM seslogs CROSS JOIN UNNEST(mail.tags) AS t(k, v)",
            "UNNEST of 1 array(s) with 2 column name(s)",
            "UNNEST(map_keys(m), map_values(m)) AS t(k, v)",
        ),
        (
            "SELECT format_datetime(event_time, 'yyyy-MM-dd') FROM seslogs",
            "format_datetime()",
            "date_format(ts, '%Y-%m-%d %H:%i:%s')",
        ),
        (
            "SELECT json_extract_scalar(mail, '$.source') FROM seslogs",
            "json_extract_scalar: the first argument is a struct",
            "mail.commonheaders.subject",
        ),
        (
            "SELECT count_if(event_type = 'Send') FILTER (WHERE day > '2024/11/01') FROM seslogs",
            "count_if(...) with DISTINCT, ORDER BY, FILTER or OVER",
            "count(CASE WHEN p THEN 1 END)",
        ),
        (
            "SELECT date_format(TIMESTAMP '2024-11-05 10:15:02', '%Q')",
            "date_format: format specifier %Q",
            "not supported",
        ),
    ] {
        let out = seslog(&["sql", sql]);
        assert_eq!(out.code, 1, "{sql}: {}", out.stderr);
        assert!(out.stderr.contains(names), "{sql}: {}", out.stderr);
        assert!(out.stderr.contains(instead), "{sql}: {}", out.stderr);
        assert!(
            !out.stderr.contains("Error during planning"),
            "{}",
            out.stderr
        );
    }
}

/// A CROSS JOIN UNNEST keeps the partition pruning of the plain query: the same folders
/// listed and objects read.
#[test]
fn unnest_keeps_partition_pruning() {
    let w = Workdir::scenario();
    let plain = w
        .seslog(&[
            "--stats",
            "--format",
            "csv",
            "sql",
            "SELECT bounce.bouncedrecipients FROM seslogs \
             WHERE event_type = 'Bounce' AND day BETWEEN '2024/11/01' AND '2024/11/30'",
        ])
        .ok();
    let unnested = w
        .seslog(&[
            "--stats",
            "--format",
            "csv",
            "sql",
            "SELECT r.emailaddress, r.status FROM seslogs \
             CROSS JOIN UNNEST(bounce.bouncedrecipients) AS t(r) \
             WHERE event_type = 'Bounce' AND day BETWEEN '2024/11/01' AND '2024/11/30' \
             ORDER BY 1",
        ])
        .ok();
    assert_eq!(
        unnested.rows(),
        vec![
            vec!["carol@example.net", "5.1.1"],
            vec!["ivan@example.com", "4.2.2"],
            vec!["judy@example.com", "5.1.1"],
        ]
    );
    for stat in ["list_requests", "objects_read"] {
        assert_eq!(unnested.stat(stat), plain.stat(stat), "{stat}");
    }
    assert_eq!(unnested.stat("objects_read"), 3);
}

fn ddl_property<'a>(ddl: &'a str, key: &str) -> &'a str {
    let prefix = format!("  '{key}'='");
    ddl.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|l| l.trim_end_matches(',').strip_suffix('\''))
        .unwrap_or_else(|| panic!("no {key} in\n{ddl}"))
}

/// The DDL for the default layout, and the round trip: its location template, read back
/// as a Firehose layout, makes seslog read exactly the same objects as the original.
#[test]
fn athena_ddl_round_trips_through_the_layout_parser() {
    let out = seslog(&["athena-ddl", "--bucket", "s3://my-ses-logs/firehose"]).ok();
    let ddl = &out.stdout;
    assert!(ddl.contains("CREATE EXTERNAL TABLE IF NOT EXISTS `seslogs` ("));
    assert!(ddl.contains("PARTITIONED BY (\n  `event_type` string,\n  `day` string\n)"));
    assert!(ddl.contains("ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'"));
    assert!(ddl.contains("LOCATION 's3://my-ses-logs/firehose/'"));
    assert!(ddl.contains("'mapping.ses_configurationset'='ses:configuration-set'"));
    assert_eq!(ddl_property(ddl, "projection.enabled"), "true");
    assert_eq!(ddl_property(ddl, "projection.event_type.type"), "enum");
    assert_eq!(
        ddl_property(ddl, "projection.event_type.values"),
        "Send,Delivery,Bounce,Complaint,Reject,Open,Click,Rendering Failure,DeliveryDelay,Subscription"
    );
    assert_eq!(ddl_property(ddl, "projection.day.type"), "date");
    let format = ddl_property(ddl, "projection.day.format");
    assert_eq!(format, "yyyy/MM/dd");
    assert_eq!(ddl_property(ddl, "projection.day.range"), "2020/01/01,NOW");
    let template = ddl_property(ddl, "storage.location.template");
    assert_eq!(
        template,
        "s3://my-ses-logs/firehose/partitioned/${event_type}/${day}/"
    );

    // Back to a Firehose Prefix expression, as the team's Firehose would be configured.
    let relative = template.strip_prefix("s3://my-ses-logs/firehose/").unwrap();
    let layout = relative
        .replace("${event_type}", "!{partitionKeyFromQuery:EventType}")
        .replace("${day}", &format!("!{{timestamp:{format}}}"));
    let query = "SELECT event_type, count(*) AS n FROM seslogs \
                 WHERE day BETWEEN '2024/11/01' AND '2024/11/30' GROUP BY 1 ORDER BY 1";
    let original = seslog(&["--stats", "--format", "csv", "sql", query]).ok();
    let read_back = seslog(&[
        "--layout", &layout, "--stats", "--format", "csv", "sql", query,
    ])
    .ok();
    assert_eq!(read_back.stdout, original.stdout);
    assert_eq!(original.rows().len(), 10, "{}", original.stdout);
    for stat in ["list_requests", "objects_read"] {
        assert_eq!(read_back.stat(stat), original.stat(stat), "{stat}");
    }
}

/// Other layouts: keys become injected or enum projections, the hour an integer one, and
/// the date format quotes the layout's literal text.
#[test]
fn athena_ddl_follows_other_layouts() {
    let blog = "partitioned/!{partitionKeyFromQuery:SenderIdentity}/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd/HH}/";
    let out = seslog(&["--layout", blog, "athena-ddl", "--bucket", "s3://b"]).ok();
    assert!(out.stdout.contains(
        "PARTITIONED BY (\n  `sender_identity` string,\n  `event_type` string,\n  `day` string,\n  `hour` string\n)"
    ));
    assert_eq!(
        ddl_property(&out.stdout, "projection.sender_identity.type"),
        "injected"
    );
    assert_eq!(ddl_property(&out.stdout, "projection.hour.range"), "0,23");
    assert_eq!(ddl_property(&out.stdout, "projection.hour.digits"), "2");
    assert_eq!(
        ddl_property(&out.stdout, "storage.location.template"),
        "s3://b/partitioned/${sender_identity}/${event_type}/${day}/${hour}/"
    );

    let hive = "logs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/!{partitionKeyFromQuery:EventType}/";
    let out = seslog(&[
        "--layout",
        hive,
        "athena-ddl",
        "--bucket",
        "s3://b/p",
        "--table",
        "ses_events",
        "--first-day",
        "2024/06/01",
    ])
    .ok();
    assert!(
        out.stdout
            .contains("CREATE EXTERNAL TABLE IF NOT EXISTS `ses_events` (")
    );
    assert_eq!(
        ddl_property(&out.stdout, "projection.day.format"),
        "yyyy/'month='MM/'day='dd"
    );
    assert_eq!(
        ddl_property(&out.stdout, "projection.day.range"),
        "2024/month=06/day=01,NOW"
    );
    assert_eq!(
        ddl_property(&out.stdout, "storage.location.template"),
        "s3://b/p/logs/year=${day}/${event_type}/"
    );

    // Athena reads S3 only.
    let local = seslog(&["athena-ddl"]);
    assert_eq!(local.code, 2);
    assert!(
        local.stderr.contains("--bucket s3://bucket[/prefix]"),
        "{}",
        local.stderr
    );
    let bad_day = seslog(&[
        "athena-ddl",
        "--bucket",
        "s3://b",
        "--first-day",
        "2024-06-01",
    ]);
    assert_eq!(bad_day.code, 2);
    assert!(bad_day.stderr.contains("--first-day"), "{}", bad_day.stderr);
}
