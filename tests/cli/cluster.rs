//! The same queries on workers (`--workers`, two `seslog worker` processes on loopback):
//! byte for byte what the in-process run prints, the warnings and their counts included;
//! the scan split across both workers, each reading its share; a worker that is down, or
//! that dies mid-query, named with exit 1; S3 read by the workers with their own
//! credentials.

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::util::workers::Workers;
use super::util::{self, Output, Workdir, run};

const NOVEMBER: [&str; 4] = ["--from", "2024-11-01", "--to", "2024-11-30"];

/// `args` in process and through `workers`, with the same source; both outputs.
fn in_process_and_on(source: &str, workers: &Workers, args: &[&str]) -> (Output, Output) {
    let local: Vec<String> = ["--source", source]
        .iter()
        .chain(args)
        .map(|s| s.to_string())
        .collect();
    let mut remote = local.clone();
    remote.splice(0..0, ["--workers".to_string(), workers.list()]);
    (run(&local, None, &[]), run(&remote, None, &[]))
}

/// Asserts that `args` prints exactly the same through `workers` as in process: rows,
/// warnings, counts and exit code. Returns the in-process run.
fn same_on_workers(source: &str, workers: &Workers, args: &[&str]) -> Output {
    let (local, remote) = in_process_and_on(source, workers, args);
    assert_eq!(remote.code, local.code, "{args:?}: {}", remote.stderr);
    assert_eq!(remote.stdout, local.stdout, "{args:?}");
    assert_eq!(remote.stderr, local.stderr, "{args:?}");
    local
}

#[test]
fn every_report_and_damaged_input_read_the_same_on_workers() {
    let w = Workdir::damaged();
    let workers = Workers::start(2, &[]);
    let source = w.source();
    let mut answered = 0;
    for report in util::every_report() {
        let mut args = vec!["--format", "csv"];
        args.extend(&report);
        args.extend(NOVEMBER);
        let out = same_on_workers(&source, &workers, &args);
        answered += usize::from(!out.rows().is_empty());
    }
    assert!(answered >= 10, "{answered} reports gave rows");

    // The damaged day: records skipped, a damaged object, an ignored one, each named and
    // counted as in process.
    let day =
        "SELECT event_type, count(*) FROM seslogs WHERE day = '2024/11/08' GROUP BY 1 ORDER BY 1";
    let out = same_on_workers(&source, &workers, &["--format", "csv", "sql", day]);
    assert_eq!(
        out.warnings().last().copied(),
        Some(
            "seslog: warning: 3 records skipped, 1 damaged object, 1 object ignored (use --strict to make this an error)"
        )
    );
    // Two scans of the damaged day in one query (on different workers, or the same):
    // each problem still counts once.
    let twice = "SELECT count(*) FROM (SELECT eventtype FROM seslogs WHERE day = '2024/11/08' UNION ALL SELECT eventtype FROM seslogs WHERE day = '2024/11/08')";
    let out = same_on_workers(&source, &workers, &["--format", "csv", "sql", twice]);
    assert_eq!(
        out.warnings().last().copied(),
        Some(
            "seslog: warning: 3 records skipped, 1 damaged object, 1 object ignored (use --strict to make this an error)"
        )
    );
    let out = same_on_workers(
        &source,
        &workers,
        &["--keep-damaged", "--format", "csv", "sql", day],
    );
    assert!(out.warnings().len() > 1, "{}", out.stderr);
    // `--strict`: the first problem fails the query, in the same words.
    let strict = "SELECT count(*) FROM seslogs WHERE day = '2024/11/08' AND event_type = 'Open'";
    let out = same_on_workers(
        &source,
        &workers,
        &["--strict", "--format", "csv", "sql", strict],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("malformed-middle.gz line 2 (byte ")
            && out.stderr.contains("(--strict: no record may be skipped)"),
        "{}",
        out.stderr
    );
}

/// The Parquet tier through workers: every report prints what it prints in process with
/// the tier (damaged objects, left out of the tier and read raw, named the same), and the
/// figures of what was read of the tier are the same.
#[test]
fn the_parquet_tier_reads_the_same_on_workers() {
    let w = Workdir::damaged();
    let tier_dir = w.path().join("tier");
    let made = util::compact(&w, &tier_dir, &[]).ok();
    let tier = tier_dir.display().to_string();
    assert!(made.stat("folders") > 10, "{}", made.stderr);
    let workers = Workers::start(2, &[]);
    let source = w.source();
    for report in util::every_report() {
        let mut args = vec!["--parquet", tier.as_str(), "--format", "csv"];
        args.extend(&report);
        args.extend(NOVEMBER);
        same_on_workers(&source, &workers, &args);
    }
    for query in [
        vec!["recipient", "bob@example.com"],
        vec![
            "sql",
            "SELECT event_type, count(*) FROM seslogs GROUP BY 1 ORDER BY 1",
        ],
    ] {
        let mut args = vec!["--parquet", tier.as_str(), "--stats", "--format", "csv"];
        args.extend(&query);
        if query[0] != "sql" {
            args.extend(NOVEMBER);
        }
        let (local, remote) = in_process_and_on(&source, &workers, &args);
        assert_eq!(remote.stdout, local.stdout, "{query:?}");
        assert!(local.stat("parquet_folders") > 0, "{}", local.stderr);
        for key in [
            "objects_read",
            "bytes_read",
            "parquet_folders",
            "raw_folders",
            "objects_read_beside",
            "parquet_files",
            "row_groups_read",
            "row_groups",
            "parquet_rows_read",
            "parquet_rows",
            "parquet_bytes_read",
            "parquet_bytes",
        ] {
            assert_eq!(
                remote.stat(key),
                local.stat(key),
                "{query:?} {key}: {}",
                remote.stderr
            );
        }
    }
}

#[test]
fn the_athena_corpus_reads_the_same_on_workers() {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ses-logs");
    let workers = Workers::start(2, &[]);
    let files = util::athena_corpus();
    for file in files {
        let args = ["--format", "csv", "sql", "-f", file.to_str().unwrap()];
        let out = same_on_workers(testdata.to_str().unwrap(), &workers, &args);
        assert_eq!(out.code, 0, "{}: {}", file.display(), out.stderr);
        assert!(out.stdout.lines().count() > 1, "{}", file.display());
    }
}

/// Many small objects of one folder, read a bundle at a time on each worker: every
/// object's rows, and its damage named, exactly as in process.
#[test]
fn small_objects_read_together_read_the_same_on_workers() {
    let w = Workdir::empty();
    let expected = util::small_objects(&w);
    let workers = Workers::start(2, &[]);
    let query = "SELECT input_file_name() AS f, count(*) AS n FROM seslogs GROUP BY 1 ORDER BY 1";
    let out = same_on_workers(&w.source(), &workers, &["--format", "csv", "sql", query]);
    assert_eq!(out.rows().len(), expected.len());
    let total = "SELECT count(*), count(DISTINCT mail.messageid) FROM seslogs";
    let out = same_on_workers(&w.source(), &workers, &["--format", "csv", "sql", total]);
    let rows: u64 = expected.values().sum();
    assert_eq!(out.rows(), vec![util::row(&[&rows.to_string(), "299"])]);
    assert_eq!(
        out.warnings().last().copied(),
        Some(
            "seslog: warning: 1 record skipped, 1 damaged object (use --strict to make this an error)"
        ),
        "{}",
        out.stderr
    );
}

/// Every object is read once, by one worker; each worker reads some of a multi-day query;
/// `EXPLAIN` shows the scan dealt out to both.
#[test]
fn the_scan_is_split_across_both_workers() {
    let w = Workdir::scenario();
    let workers = Workers::start(2, &[]);
    let query = "SELECT event_type, count(*) FROM seslogs WHERE day BETWEEN '2024/11/01' AND '2024/11/30' GROUP BY 1 ORDER BY 1";
    let (local, remote) = in_process_and_on(
        &w.source(),
        &workers,
        &["--stats", "--format", "csv", "sql", query],
    );
    assert_eq!(remote.stdout, local.stdout);
    let objects = local.stat("objects_read");
    assert!(objects > 20, "{objects}");
    assert_eq!(remote.stat("objects_read"), objects, "{}", remote.stderr);
    assert_eq!(remote.stat("bytes_read"), local.stat("bytes_read"));
    let mut per_worker = 0;
    for address in &workers.addresses {
        let line = remote
            .stderr
            .lines()
            .find(|l| l.starts_with(&format!("seslog: stats: worker={address} ")))
            .unwrap_or_else(|| panic!("no stats of {address}: {}", remote.stderr));
        let read: u64 = line
            .split_once("objects_read=")
            .and_then(|(_, rest)| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(read > 0, "{line}");
        per_worker += read;
    }
    assert_eq!(per_worker, objects);

    let explain = format!("EXPLAIN {query}");
    let (_, plan) = in_process_and_on(&w.source(), &workers, &["--format", "csv", "sql", &explain]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("distributed_plan"), "{}", plan.stdout);
    for address in &workers.addresses {
        assert!(
            plan.stdout.contains(&format!("worker={address}")),
            "{address} has no part of the scan: {}",
            plan.stdout
        );
    }
}

#[test]
fn a_worker_that_is_down_is_named_before_any_work() {
    let w = Workdir::scenario();
    let workers = Workers::start(1, &[]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = closed.local_addr().unwrap().to_string();
    drop(closed);
    let list = format!("{},{down}", workers.list());
    let out = w.seslog(&[
        "--workers",
        &list,
        "summary",
        "--from",
        "2024-11-01",
        "--to",
        "2024-11-30",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with(&format!("seslog: worker {down}: cannot be reached: ")),
        "{}",
        out.stderr
    );
    let out = w.seslog(&["--workers", "nohost", "summary"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--workers"), "{}", out.stderr);
}

/// A worker killed while the rows are streaming: exit 1 and a message naming it, never an
/// answer that looks whole. (Past the first 16 MiB stdout streams, so the header line says
/// the query is under way; a worker that had already sent its rows still fails the query,
/// when its counts cannot be gathered.)
#[test]
fn a_worker_killed_mid_query_is_named_and_the_run_fails() {
    let w = Workdir::empty();
    let first = chrono::NaiveDate::from_ymd_opt(2024, 11, 1).unwrap();
    seslog_gen::write_volume(w.path(), first, 3, 6000, 7).unwrap();
    let mut workers = Workers::start(2, &[]);
    let args = owned(&[
        "--source",
        &w.source(),
        "--workers",
        &workers.list(),
        "--format",
        "csv",
        "sql",
        "SELECT * FROM seslogs",
    ]);
    let mut child = util::command(&args, false, &[]).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    stdout.read_line(&mut header).unwrap();
    assert!(header.starts_with("eventtype,"), "{header}");
    let killed = workers.addresses[0].clone();
    workers.kill(0);
    std::io::copy(&mut stdout, &mut std::io::sink()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("seslog: worker {killed}: ")),
        "{stderr}"
    );
}

/// S3 through workers: each worker reads the bucket with its own credentials (the
/// coordinator sends none), and the answers are the in-process ones.
#[test]
fn workers_read_s3_with_their_own_credentials() {
    let w = Workdir::empty();
    let bucket = w.path().join("logs");
    seslog_gen::write_tree(&bucket, &seslog_gen::scenario_objects()).unwrap();
    let server = util::s3::S3Server::start(w.path());
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let workers = Workers::start(2, &env);
    let list = workers.list();
    for report in [
        vec!["summary"],
        vec!["bounces"],
        vec!["recipient", "bob@example.com"],
    ] {
        let mut args = vec!["--source", "s3://logs", "--format", "csv"];
        args.extend(&report);
        args.extend(NOVEMBER);
        let local = run(&owned(&args), None, &env);
        let mut remote_args = vec!["--workers", list.as_str()];
        remote_args.extend(&args);
        let remote = run(&owned(&remote_args), None, &env);
        assert_eq!(local.code, 0, "{}", local.stderr);
        assert_eq!(
            (remote.code, &remote.stdout, &remote.stderr),
            (local.code, &local.stdout, &local.stderr),
            "{report:?}"
        );
    }
    // Workers without credentials of their own cannot read: nothing of the coordinator's
    // was sent to them.
    let bare = Workers::start(1, &[]);
    let args = [
        "--workers",
        &bare.list(),
        "--source",
        "s3://logs",
        "--format",
        "csv",
        "sql",
        "SELECT count(*) FROM seslogs",
    ];
    let out = run(&owned(&args), None, &env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with(&format!("seslog: worker {}: ", bare.addresses[0])),
        "{}",
        out.stderr
    );
}

/// A worker keeps the S3 objects it fetches in its object cache, and the next query's
/// objects come from there: `--stats` counts them as cached, not as GETs, as in process.
#[test]
fn workers_keep_what_they_fetch_in_their_object_cache() {
    let w = Workdir::empty();
    seslog_gen::write_tree(&w.path().join("logs"), &seslog_gen::scenario_objects()).unwrap();
    let server = util::s3::S3Server::start(w.path());
    let cache = tempfile::tempdir().unwrap();
    let mut env = server.env();
    env.push(("SESLOG_NO_CACHE", "0".into()));
    env.push(("SESLOG_CACHE_DIR", cache.path().display().to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let workers = Workers::start(2, &env);
    let server_env = server.env();
    let coordinator: Vec<(&str, &str)> = server_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = owned(&[
        "--workers",
        &workers.list(),
        "--source",
        "s3://logs",
        "--stats",
        "--format",
        "csv",
        "sql",
        "SELECT event_type, count(*) FROM seslogs GROUP BY 1 ORDER BY 1",
    ]);
    let first = run(&args, None, &coordinator).ok();
    let objects = first.stat("objects_read");
    assert!(objects > 20, "{}", first.stderr);
    assert_eq!(first.stat("get_requests"), objects);
    assert_eq!(first.stat("cached_objects"), 0);
    let again = run(&args, None, &coordinator).ok();
    assert_eq!(again.stdout, first.stdout);
    assert_eq!(again.stat("objects_read"), objects);
    assert_eq!(again.stat("cached_objects"), objects, "{}", again.stderr);
    assert_eq!(again.stat("get_requests"), 0);
    assert_eq!(again.stat("bytes_read"), first.stat("bytes_read"));
}

/// `--offline` holds on workers too: each answers from its own object cache and fetches
/// nothing. Workers whose caches hold the objects give the online answer with no GET; workers
/// with empty caches fail, naming the object, rather than go to S3; a worker with no cache
/// cannot answer offline at all.
#[test]
fn offline_workers_answer_from_their_caches_and_fetch_nothing() {
    let w = Workdir::empty();
    seslog_gen::write_tree(&w.path().join("logs"), &seslog_gen::scenario_objects()).unwrap();
    let server = util::s3::S3Server::start(w.path());
    let with_cache = |dir: &std::path::Path| {
        let mut env = server.env();
        env.push(("SESLOG_NO_CACHE", "0".into()));
        env.push(("SESLOG_CACHE_DIR", dir.display().to_string()));
        env
    };
    let (coordinator_cache, warm_cache, cold_cache) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let coordinator = with_cache(coordinator_cache.path());
    let coordinator: Vec<(&str, &str)> =
        coordinator.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let start = |env: Vec<(&'static str, String)>| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Workers::start(2, &env)
    };
    let query = |workers: &Workers, offline: bool| {
        let mut args = owned(&[
            "--workers",
            &workers.list(),
            "--source",
            "s3://logs",
            "--stats",
        ]);
        if offline {
            args.push("--offline".into());
        }
        args.extend(owned(&[
            "--format",
            "csv",
            "sql",
            "SELECT event_type, count(*) FROM seslogs GROUP BY 1 ORDER BY 1",
        ]));
        run(&args, None, &coordinator)
    };

    let warm = start(with_cache(warm_cache.path()));
    let online = query(&warm, false).ok();
    let offline = query(&warm, true).ok();
    assert_eq!(offline.stdout, online.stdout);
    assert_eq!(offline.stat("get_requests"), 0, "{}", offline.stderr);
    assert_eq!(offline.stat("cached_objects"), online.stat("objects_read"));

    // The coordinator's listing is cached, but these workers' caches are empty.
    let cold = start(with_cache(cold_cache.path()));
    let out = query(&cold, true);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("is not in the cache, and nothing is fetched offline"),
        "{}",
        out.stderr
    );
    assert!(
        cold.addresses
            .iter()
            .any(|a| out.stderr.contains(&format!("worker {a}"))),
        "{}",
        out.stderr
    );

    let mut no_cache = server.env();
    no_cache.push(("SESLOG_NO_CACHE", "1".into()));
    let uncached = start(no_cache);
    let out = query(&uncached, true);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        uncached
            .addresses
            .iter()
            .any(|a| out.stderr.contains(&format!(
                "seslog: worker {a}: s3://logs cannot be read offline without the object cache"
            ))),
        "{}",
        out.stderr
    );
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `--workers`, `SESLOG_WORKERS` and `workers` in the config file (per source) all put the
/// scan on the workers; `seslog config` says where the value came from.
#[test]
fn workers_come_from_the_flag_the_environment_or_the_config_file() {
    let w = Workdir::scenario();
    let workers = Workers::start(2, &[]);
    let list = workers.list();
    let count = [
        "--stats",
        "--format",
        "csv",
        "sql",
        "SELECT count(*) FROM seslogs",
    ];
    let on_workers = |out: &Output| {
        workers.addresses.iter().all(|a| {
            out.stderr
                .contains(&format!("seslog: stats: worker={a} objects_read="))
        })
    };

    let mut args = vec!["--source".to_string(), w.source()];
    args.extend(owned(&count));
    let out = run(&args, None, &[("SESLOG_WORKERS", &list)]).ok();
    assert!(on_workers(&out), "{}", out.stderr);
    let shown = run(
        &owned(&["--source", &w.source(), "config"]),
        None,
        &[("SESLOG_WORKERS", &list)],
    )
    .ok();
    let setting = shown.setting("workers");
    assert!(
        setting.contains(&list) && setting.contains("environment SESLOG_WORKERS"),
        "{setting}"
    );

    let config = w.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[sources.prod]\nurl = {:?}\nworkers = {list:?}\n",
            w.source()
        ),
    )
    .unwrap();
    let mut args = owned(&["--config", config.to_str().unwrap(), "--source", "prod"]);
    args.extend(owned(&count));
    let out = run(&args, None, &[]).ok();
    assert!(on_workers(&out), "{}", out.stderr);
    // Without any, the scan runs in the process: no worker lines.
    let out = w.seslog(&count).ok();
    assert!(!out.stderr.contains("worker="), "{}", out.stderr);
}
