//! Right answers or a clear error: large objects counted once, hostile and damaged input
//! skipped and named, numbers never changed, names that cannot be read, warnings escaped,
//! capped and counted once, and nothing on stdout when a run fails.

use std::io::Write;

use seslog_gen::{self as testgen, Mail, Object};

use super::util::{self, Workdir, row, run, run_measured};

const DAY: &str = "2024/11/05";

/// `n` Delivery records, one JSON object per line, message ids `{prefix}-{i}`.
fn deliveries(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let to = format!("user{i}@example.com");
            let mail = Mail::new(
                &format!("{prefix}-{i:06}"),
                "2024-11-05T10:00:00.000Z",
                &[to.as_str()],
                "Your order has shipped",
            );
            mail.delivery(&[to.as_str()], "2024-11-05T10:00:02.000Z")
                .record
                .to_string()
        })
        .collect()
}

/// The records with a random 256-digit subject each, so that gzip cannot shrink them much.
fn noisy(lines: Vec<String>) -> Vec<String> {
    let mut rng = testgen::Rng::new(9);
    lines
        .into_iter()
        .map(|l| {
            let noise: String = (0..32)
                .map(|_| format!("{:016x}", rng.next_u64()))
                .collect();
            l.replacen("Your order has shipped", &noise[..256], 1)
        })
        .collect()
}

fn text(lines: &[String]) -> Vec<u8> {
    lines
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes()
}

fn key(name: &str) -> String {
    format!("partitioned/Delivery/{DAY}/{name}")
}

fn count_all(out: &util::Output) -> String {
    out.rows()[0][0].clone()
}

const COUNT: &str = "SELECT count(*) FROM seslogs";

/// Objects well over DataFusion's 1 MiB split size, plain and gzip, local and on S3.
fn large_objects() -> (Vec<Object>, usize) {
    let plain = |name: &str, n: usize| Object {
        key: key(name),
        bytes: text(&deliveries(name, n)),
    };
    let objects = vec![
        plain("plain-a", 500),
        plain("plain-b", 500),
        plain("plain-c", 500),
        plain("plain-big", 1000),
        Object {
            key: key("big.gz"),
            bytes: testgen::gzip(&text(&noisy(deliveries("gz", 10_000)))),
        },
    ];
    for o in &objects[..3] {
        assert!(
            o.bytes.len() > 500_000,
            "{} is {} bytes",
            o.key,
            o.bytes.len()
        );
    }
    assert!(objects[3].bytes.len() > 1 << 20);
    assert!(
        objects[4].bytes.len() > 1 << 20,
        "the gzip object is {} bytes",
        objects[4].bytes.len()
    );
    (objects, 500 * 3 + 1000 + 10_000)
}

#[test]
fn large_objects_are_counted_once() {
    let (objects, total) = large_objects();
    let w = Workdir::empty();
    testgen::write_tree(w.path(), &objects).unwrap();
    let out = w
        .seslog(&[
            "--stats",
            "sql",
            "SELECT count(*), count(DISTINCT mail.messageid) FROM seslogs",
        ])
        .ok();
    assert_eq!(
        out.rows(),
        vec![row(&[&total.to_string(), &total.to_string()])]
    );
    // Each object is read once, whole: no byte ranges in the plan.
    assert_eq!(out.stat("objects_read"), 5);
    let plan = w.seslog(&["sql", &format!("EXPLAIN {COUNT}")]).ok();
    assert!(
        plan.stdout.contains("big.gz") && !plan.stdout.contains("big.gz:"),
        "{}",
        plan.stdout
    );

    let s3 = Workdir::empty();
    testgen::write_tree(&s3.path().join("bucket"), &objects).unwrap();
    let server = util::s3::S3Server::start(s3.path());
    let out = server
        .seslog("s3://bucket", &["--stats", "sql", COUNT])
        .ok();
    assert_eq!(count_all(&out), total.to_string());
    assert_eq!(out.stat("objects_read"), 5);
}

/// `[[[[...` deep in a field the query reads once overflowed the stack (exit 134).
#[test]
fn a_deeply_nested_record_is_skipped_and_named() {
    let w = Workdir::empty();
    let mut lines = deliveries("deep", 3);
    let deep = format!("{}\"x\"{}", "[".repeat(30_000), "]".repeat(30_000));
    lines[1] = lines[1].replacen("\"destination\":[", &format!("\"destination\":[{deep},"), 1);
    testgen::write_tree(
        w.path(),
        &[Object {
            key: key("deep.gz"),
            bytes: testgen::gzip(&text(&lines)),
        }],
    )
    .unwrap();
    let out = w
        .seslog(&[
            "sql",
            "SELECT count(*), count(mail.destination) FROM seslogs",
        ])
        .ok();
    assert_eq!(out.rows(), vec![row(&["2", "2"])]);
    let warnings = out.warnings();
    assert!(
        warnings[0].contains("deep.gz line 2 (byte ")
            && warnings[0].contains("more than 100 levels deep"),
        "{}",
        out.stderr
    );
    assert_eq!(
        warnings[1],
        "seslog: warning: 1 record skipped (use --strict to make this an error)"
    );
}

/// A gzip object whose members inflate `repeat` times `chunk`, between `head` and `tail`:
/// megabytes on disk, gigabytes inflated.
fn bomb(head: &[u8], chunk: &[u8], repeat: usize, tail: &[u8]) -> Vec<u8> {
    let member = testgen::gzip(chunk);
    let mut bytes = testgen::gzip(head);
    for _ in 0..repeat {
        bytes.extend_from_slice(&member);
    }
    bytes.extend_from_slice(&testgen::gzip(tail));
    bytes
}

/// Decompression is a stream: an 815 KB bomb once peaked at 962 MB.
#[test]
fn gzip_bombs_cost_a_window_of_memory_and_overlong_records_are_skipped() {
    let w = Workdir::empty();
    let good = deliveries("bomb", 2);
    let zeros = vec![0u8; 8 << 20];
    let a = vec![b'a'; 8 << 20];
    let json_head = format!(
        "{}\n{{\"eventType\":\"Delivery\",\"mail\":{{\"messageId\":\"",
        good[0]
    );
    let json_tail = format!("\"}}}}\n{}\n", good[1]);
    let objects = vec![
        // 1 GiB of zeros: not event data at all.
        Object {
            key: key("zeros.gz"),
            bytes: bomb(b"", &zeros, 128, b""),
        },
        // A 400 MiB record between two good ones.
        Object {
            key: key("long.gz"),
            bytes: bomb(json_head.as_bytes(), &a, 50, json_tail.as_bytes()),
        },
    ];
    assert!(objects.iter().all(|o| o.bytes.len() < 2 << 20));
    testgen::write_tree(w.path(), &objects).unwrap();
    let args: Vec<String> = [
        "--source",
        &w.source(),
        "sql",
        "SELECT mail.messageid FROM seslogs ORDER BY 1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (out, peak_kb) = run_measured(&args, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.rows(),
        vec![row(&["bomb-000000"]), row(&["bomb-000001"])]
    );
    assert!(peak_kb < 300 * 1024, "peak memory {} MiB", peak_kb / 1024);
    let warnings = out.warnings();
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("long.gz line 2 (byte ")
                && l.contains("record is longer than 64 MiB")),
        "{}",
        out.stderr
    );
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("ignored object:") && l.contains("zeros.gz")),
        "{}",
        out.stderr
    );
}

/// A stored (uncompressed) gzip block with one flipped bit: `Delivery` inflates to
/// `Demivery` and only the CRC at the end says so.
fn flipped_gzip(lines: &[String]) -> Vec<u8> {
    let data = text(lines);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(&data).unwrap();
    let mut bytes = gz.finish().unwrap();
    // The third record's eventType, as stored.
    let needle = b"\"eventType\":\"Delivery\"";
    let third = (0..bytes.len() - needle.len())
        .filter(|&i| bytes[i..].starts_with(needle))
        .nth(2)
        .expect("three records");
    let at = third + "\"eventType\":\"De".len();
    assert_eq!(bytes[at], b'l');
    bytes[at] ^= 0x01;
    bytes
}

#[test]
fn records_of_a_gzip_object_whose_checksum_fails_are_not_used_unless_asked() {
    let w = Workdir::empty();
    let lines = deliveries("crc", 5);
    testgen::write_tree(
        w.path(),
        &[
            Object {
                key: key("flipped.gz"),
                bytes: flipped_gzip(&lines),
            },
            Object {
                key: key("sound.gz"),
                bytes: testgen::gzip(&text(&deliveries("ok", 3))),
            },
        ],
    )
    .unwrap();
    let query = "SELECT eventtype, count(*) FROM seslogs GROUP BY 1 ORDER BY 1";
    let out = w.seslog(&["sql", query]).ok();
    assert_eq!(out.rows(), vec![row(&["Delivery", "3"])]);
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 2, "{}", out.stderr);
    assert!(
        warnings[0].contains("damaged object: ")
            && warnings[0].contains("flipped.gz: gzip data is corrupt")
            && warnings[0].contains("none of its records were used"),
        "{}",
        out.stderr
    );
    assert_eq!(
        warnings[1],
        "seslog: warning: 1 damaged object (use --strict to make this an error)"
    );

    let kept = w.seslog(&["--keep-damaged", "sql", query]).ok();
    assert_eq!(
        kept.rows(),
        vec![row(&["Delivery", "7"]), row(&["Demivery", "1"])]
    );
    assert!(
        kept.warnings()[0].contains("were kept and may hold damaged values (--keep-damaged)"),
        "{}",
        kept.stderr
    );

    let strict = w.seslog(&["--strict", "sql", query]);
    assert_eq!(strict.code, 1);
    assert_eq!(strict.stdout, "", "a failed run writes nothing to stdout");
}

/// `1.9` once became 1 and `-9223372036854775809` became i64::MIN.
#[test]
fn numbers_that_do_not_fit_their_column_are_null_and_said() {
    let w = Workdir::empty();
    let values = [
        "12",
        "1.0",
        "1e3",
        "\"34\"",
        "1.9",
        "-9223372036854775809",
        "1e400",
    ];
    let lines: Vec<String> = deliveries("num", values.len())
        .into_iter()
        .zip(values)
        .map(|(line, v)| {
            let mut record: serde_json::Value = serde_json::from_str(&line).unwrap();
            record["delivery"]["processingTimeMillis"] = serde_json::json!(424242);
            record.to_string().replace("424242", v)
        })
        .collect();
    testgen::write_tree(
        w.path(),
        &[Object {
            key: key("numbers.gz"),
            bytes: testgen::gzip(&text(&lines)),
        }],
    )
    .unwrap();
    let out = w
        .seslog(&[
            "sql",
            "SELECT mail.messageid, delivery.processingtimemillis FROM seslogs ORDER BY 1",
        ])
        .ok();
    let want: Vec<Vec<String>> = ["12", "1", "1000", "34", "", "", ""]
        .iter()
        .enumerate()
        .map(|(i, v)| row(&[&format!("num-{i:06}"), v]))
        .collect();
    assert_eq!(out.rows(), want);
    let warnings = out.warnings();
    for (line, value) in [(5, "1.9"), (6, "-9223372036854775809"), (7, "1e400")] {
        let needle = format!("numbers.gz line {line} (byte ");
        assert!(
            warnings.iter().any(|w| w.contains("record read with NULLs")
                && w.contains(&needle)
                && w.contains(&format!(
                    "delivery.processingTimeMillis = \"{value}\" is not a whole number"
                ))),
            "line {line}: {}",
            out.stderr
        );
    }
    assert_eq!(
        warnings.last().copied(),
        Some("seslog: warning: 3 records read with NULLs (use --strict to make this an error)")
    );
}

/// Names a folder can hold that no Firehose writes: each unreadable one is named, escaped,
/// and the rest of the folder is read.
fn odd_names(root: &std::path::Path, outside: &std::path::Path) -> usize {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = root.join(format!("partitioned/Delivery/{DAY}"));
    std::fs::create_dir_all(&dir).unwrap();
    let object = |name: &str| testgen::gzip(&text(&deliveries(name, 2)));
    for name in ["good.gz", "x.gz#1", "pct%41.gz", "sp ace.gz"] {
        std::fs::write(dir.join(name), object(name)).unwrap();
    }
    for name in ["new\nline.gz", "esc\u{1b}[31m.gz"] {
        std::fs::write(dir.join(name), object("bad")).unwrap();
    }
    std::fs::write(
        dir.join(OsStr::from_bytes(b"latin1-\xe9.gz")),
        object("bad"),
    )
    .unwrap();
    // A folder name with a control character, where the walk lists days.
    let bad_day = root.join("partitioned/Delivery/2024/11/0\u{7}6");
    std::fs::create_dir_all(&bad_day).unwrap();
    std::fs::write(bad_day.join("a.gz"), object("bad")).unwrap();
    // Links: one out of the source (not followed), one inside it (read).
    std::fs::write(outside.join("secret.gz"), object("bad")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.gz"), dir.join("outside.gz")).unwrap();
    std::fs::create_dir_all(root.join("elsewhere")).unwrap();
    std::fs::write(root.join("elsewhere/linked.gz"), object("linked")).unwrap();
    std::os::unix::fs::symlink(root.join("elsewhere/linked.gz"), dir.join("inside.gz")).unwrap();
    2 * 5
}

#[test]
fn unreadable_names_are_skipped_and_named_and_the_folder_is_read() {
    let w = Workdir::empty();
    let outside = tempfile::tempdir().unwrap();
    let good = odd_names(w.path(), outside.path());
    let out = w.seslog(&["sql", COUNT]).ok();
    assert_eq!(count_all(&out), good.to_string());
    let dir = format!("{}/partitioned/Delivery", w.source());
    let warnings = out.warnings();
    for expected in [
        format!(
            "ignored object: {dir}/{DAY}/new\\nline.gz: its name holds a control character (U+000A); not read"
        ),
        format!(
            "ignored object: {dir}/{DAY}/esc\\u{{1b}}[31m.gz: its name holds a control character (U+001B); not read"
        ),
        format!(
            "ignored object: {dir}/{DAY}/latin1-\u{fffd}.gz: its name is not valid UTF-8; not read"
        ),
        format!(
            "ignored object: {dir}/2024/11/0\\u{{7}}6: its name holds a control character (U+0007); not read"
        ),
    ] {
        assert!(
            warnings.iter().any(|l| l.ends_with(&expected)),
            "{expected}\n{}",
            out.stderr
        );
    }
    assert!(
        warnings.iter().any(
            |l| l.contains(&format!("{DAY}/outside.gz: a symbolic link to "))
                && l.contains("outside the source (not followed)")
        ),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains('\u{1b}') && !out.stderr.contains('\u{7}'),
        "raw control characters on stderr"
    );
    assert_eq!(
        warnings.last().copied(),
        Some("seslog: warning: 5 objects ignored (use --strict to make this an error)")
    );
}

#[test]
fn unreadable_keys_on_s3_are_skipped_and_named() {
    let w = Workdir::empty();
    let outside = tempfile::tempdir().unwrap();
    let bucket = w.path().join("bucket");
    std::fs::create_dir_all(&bucket).unwrap();
    odd_names(&bucket, outside.path());
    // S3 keys are UTF-8 and S3 has no links: take those out, keep the control characters.
    for entry in std::fs::read_dir(bucket.join(format!("partitioned/Delivery/{DAY}"))).unwrap() {
        let path = entry.unwrap().path();
        if path.to_str().is_none() || path.is_symlink() {
            std::fs::remove_file(path).unwrap();
        }
    }
    let server = util::s3::S3Server::start(w.path());
    let out = server.seslog("s3://bucket", &["sql", COUNT]).ok();
    assert_eq!(count_all(&out), (2 * 4).to_string());
    let warnings = out.warnings();
    for expected in [
        format!("ignored object: s3://bucket/partitioned/Delivery/{DAY}/new\\nline.gz: its name holds a control character (U+000A); not read"),
        "ignored object: s3://bucket/partitioned/Delivery/2024/11/0\\u{7}6/: its name holds a control character (U+0007); not read".to_string(),
    ] {
        assert!(warnings.iter().any(|l| l.ends_with(&expected)), "{expected}\n{}", out.stderr);
    }
    // With the object cache, a second run names them again: no listing that left a name
    // out is kept, so the names are never left out silently.
    let cache = w.path().join("cache").display().to_string();
    let mut env = server.env();
    env.push(("SESLOG_NO_CACHE", "false".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args: Vec<String> = [
        "--source",
        "s3://bucket",
        "--cache-dir",
        &cache,
        "sql",
        COUNT,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let first = util::run(&args, None, &env).ok();
    let again = util::run(&args, None, &env).ok();
    assert_eq!(again.stdout, out.stdout);
    assert_eq!(again.warnings(), first.warnings());
    assert_eq!(again.warnings(), warnings);
}

#[test]
fn warnings_are_escaped_cut_short_capped_and_counted_once() {
    let w = Workdir::empty();
    let mut lines = deliveries("warn", 2);
    // A broken record whose text holds a terminal escape.
    lines.push("{\"eventType\":\"Delivery\",\"mail\":{\"messageId\": \u{1b}cRED}}".into());
    // A 10 MB line of garbage.
    lines.push("x".repeat(10 << 20));
    // 50 more broken lines.
    for i in 0..50 {
        lines.push(format!("{{\"eventType\": oops {i}}}"));
    }
    // An eventType of the wrong type: one problem (skipped), not two.
    lines.push("{\"eventType\":{\"x\":1},\"mail\":{\"messageId\":\"m\"}}".into());
    testgen::write_tree(
        w.path(),
        &[Object {
            key: key("noisy.gz"),
            bytes: testgen::gzip(&text(&lines)),
        }],
    )
    .unwrap();
    // The table is scanned twice: every problem is still reported once.
    let twice =
        format!("{COUNT} UNION ALL SELECT count(*) FROM seslogs WHERE mail.messageid IS NOT NULL");
    let out = w.seslog(&["sql", &twice]).ok();
    assert_eq!(out.rows(), vec![row(&["2"]), row(&["2"])]);
    assert!(!out.stderr.contains('\u{1b}'), "raw escape on stderr");
    assert!(
        out.stderr.lines().all(|l| l.len() < 1000),
        "a line of {} bytes",
        out.stderr.lines().map(str::len).max().unwrap()
    );
    let warnings = out.warnings();
    assert!(
        warnings[0].contains("noisy.gz line 3 ") && warnings[0].contains("\\u{1b}"),
        "{}",
        warnings[0]
    );
    // Named per cause: the first five of the 51 parse errors, the one non-object line and
    // the one wrong-typed eventType; then one count line for the parse errors left over.
    assert_eq!(warnings.len(), 7 + 2, "{}", out.stderr);
    // In the order of the lines, whatever their cause.
    assert!(warnings[1].contains("line 4 ") && warnings[1].contains("not a JSON object"));
    assert!(
        warnings[2..6].iter().all(|w| w.contains("unexpected 'o'")),
        "{}",
        out.stderr
    );
    assert!(warnings[6].contains("line 55 ") && warnings[6].contains("eventType"));
    assert_eq!(
        warnings[7],
        "seslog: warning: 46 more records skipped: Encountered unexpected '…' whilst parsing value (not named one by one)"
    );
    assert_eq!(
        warnings[8],
        "seslog: warning: 53 records skipped (use --strict to make this an error)"
    );
}

#[test]
fn a_failed_run_writes_nothing_to_stdout() {
    let w = Workdir::damaged();
    for format in ["csv", "tsv", "json", "ndjson", "table"] {
        let out = w.seslog(&[
            "--strict",
            "--format",
            format,
            "sql",
            "SELECT eventtype, mail.messageid FROM seslogs",
        ]);
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{format}");
    }
}

#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = util::command(&["completions".into(), "bash".into()], false, &[])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&status.stderr), "");
}

#[test]
fn a_bad_endpoint_is_a_usage_error_naming_the_flag() {
    let out = run(
        &[
            "--endpoint".into(),
            "http://[bad".into(),
            "--source".into(),
            "s3://b".into(),
            "sql".into(),
            COUNT.into(),
        ],
        None,
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--endpoint") && out.stderr.contains("not a URL"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn s3_refusals_keep_s3s_error_code() {
    let bucket = tempfile::tempdir().unwrap();
    testgen::write_tree(&bucket.path().join("bkt"), &testgen::scenario_objects()).unwrap();
    let server = util::s3::S3Server::start(bucket.path());
    let endpoint = server.endpoint();
    let attempt = |key: &str, secret: &str| {
        run(
            &[
                "--endpoint".into(),
                endpoint.clone(),
                "--source".into(),
                "s3://bkt".into(),
                "sql".into(),
                COUNT.into(),
            ],
            None,
            &[
                ("AWS_ACCESS_KEY_ID", key),
                ("AWS_SECRET_ACCESS_KEY", secret),
                ("AWS_REGION", "us-east-1"),
            ],
        )
    };
    let unknown = attempt("NOSUCHKEY", "whatever");
    assert_eq!(unknown.code, 1);
    // s3s answers an unknown key as some S3-compatible servers do (AWS says
    // InvalidAccessKeyId; the unit tests cover that code).
    assert!(
        unknown
            .stderr
            .contains("the access key id is not known to this S3 server")
            && unknown.stderr.contains("(S3 error NotSignedUp"),
        "{}",
        unknown.stderr
    );
    let wrong = attempt(util::s3::ACCESS_KEY, "wrong-secret");
    assert_eq!(wrong.code, 1);
    assert!(
        wrong
            .stderr
            .contains("the secret key does not match the access key id")
            && wrong.stderr.contains("SignatureDoesNotMatch"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("wrong-secret"));
}

/// A large object is decoded two batches at a time on two threads: the answer, the
/// problems named and their counts are what a reading in order gives.
#[test]
fn a_large_object_decoded_on_two_threads_gives_every_record_once_and_names_each_problem() {
    let w = Workdir::empty();
    let mut lines = deliveries("wide", 30_000);
    // Records that are not JSON (a bare word) in the second and the fourth batch of 8192,
    // and a JSON object that is not an event in the third.
    lines[9_000] = lines[9_000].replacen("\"Delivery\"", "Delivery", 1);
    lines[17_000] = "{\"notAnEvent\":true}".to_string();
    lines[25_000] = lines[25_000].replacen("\"Delivery\"", "Delivery", 1);
    testgen::write_tree(
        w.path(),
        &[Object {
            key: key("wide.gz"),
            bytes: testgen::gzip(&text(&lines)),
        }],
    )
    .unwrap();
    let query = "SELECT count(*), count(DISTINCT mail.messageid), min(mail.messageid), \
                 max(mail.messageid) FROM seslogs";
    let out = w.seslog(&["sql", query]).ok();
    assert_eq!(
        out.rows(),
        vec![row(&["29997", "29997", "wide-000000", "wide-029999"])]
    );
    let warnings = out.warnings();
    let named: Vec<&str> = ["line 9001 ", "line 17001 ", "line 25001 "]
        .into_iter()
        .filter(|at| {
            warnings
                .iter()
                .any(|l| l.contains("wide.gz") && l.contains(at))
        })
        .collect();
    assert_eq!(named.len(), 3, "{}", out.stderr);
    assert_eq!(
        *warnings.last().unwrap(),
        "seslog: warning: 3 records skipped (use --strict to make this an error)",
        "{}",
        out.stderr
    );
    // With --strict the first bad record in the object is the one named.
    let strict = w.seslog(&["--strict", "sql", query]);
    assert_eq!(strict.code, 1);
    assert!(
        strict.stderr.contains("wide.gz line 9001 "),
        "{}",
        strict.stderr
    );
}
