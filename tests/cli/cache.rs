//! The object cache of an S3 source: a repeated query makes no GET (and no LIST of a folder
//! that can no longer change), `--offline` answers with no request at all or fails naming
//! what is missing, a changed object is fetched again, `seslog cache` shows and clears it.

use super::util::s3::{Fault, S3Server, Target};
use super::util::{Output, Workdir, row, run};

const BUCKET: &str = "s3://ses-logs-123456789012-us-east-1";
const NOVEMBER_BOUNCES: &[&str] = &["bounces", "--from", "2024-11-01", "--to", "2024-11-30"];
const PER_TYPE: &str = "SELECT event_type, count(*) AS n FROM seslogs GROUP BY 1 ORDER BY 1";

/// The scenario on a real S3-compatible server, and a cache directory beside it.
struct Cached {
    w: Workdir,
    server: S3Server,
}

impl Cached {
    fn new() -> Self {
        let w = Workdir::empty();
        let bucket = w.path().join("buckets/ses-logs-123456789012-us-east-1");
        seslog_gen::write_tree(&bucket, &seslog_gen::scenario_objects()).unwrap();
        let server = S3Server::start(&w.path().join("buckets"));
        Cached { w, server }
    }

    fn bucket_dir(&self) -> std::path::PathBuf {
        self.w
            .path()
            .join("buckets/ses-logs-123456789012-us-east-1")
    }

    fn cache_dir(&self) -> String {
        self.w.path().join("cache").display().to_string()
    }

    /// `seslog --source BUCKET --cache-dir DIR ARGS` against the server (with `endpoint`
    /// instead of the server's own when given).
    fn seslog_at(&self, endpoint: Option<&str>, args: &[&str]) -> Output {
        let mut full = vec![
            "--source".to_string(),
            BUCKET.to_string(),
            "--cache-dir".to_string(),
            self.cache_dir(),
        ];
        full.extend(args.iter().map(|s| s.to_string()));
        let mut env = self.server.env();
        if let Some(e) = endpoint {
            env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
            env.push(("AWS_ENDPOINT_URL", e.to_string()));
        }
        env.push(("SESLOG_NO_CACHE", "false".to_string()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run(&full, None, &env)
    }

    fn seslog(&self, args: &[&str]) -> Output {
        self.seslog_at(None, args)
    }
}

/// The objects of the scenario.
const OBJECTS: u64 = 27;

#[test]
fn a_repeated_query_reads_every_object_from_the_cache() {
    let c = Cached::new();
    let first = c
        .seslog(&["--stats", "--format", "csv", "sql", PER_TYPE])
        .ok();
    assert_eq!(first.stat("get_requests"), OBJECTS);
    assert_eq!(first.stat("cached_objects"), 0);
    assert_eq!(first.stat("objects_read"), OBJECTS);
    let lists = first.stat("list_requests");

    let second = c
        .seslog(&["--stats", "--format", "csv", "sql", PER_TYPE])
        .ok();
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(second.stat("get_requests"), 0);
    assert_eq!(second.stat("cached_objects"), OBJECTS);
    assert_eq!(second.stat("objects_read"), OBJECTS);
    assert_eq!(second.stat("bytes_read"), first.stat("bytes_read"));
    // The years, months and days of 2024 can no longer change: their listings come from
    // the cache. Still listed: what is not bounded in time, the root (which event types
    // there are) and each event type's folder (which years).
    assert_eq!(
        second.stat("cached_listings") + second.stat("list_requests"),
        lists
    );
    let event_types = first.stdout.lines().count() as u64 - 1;
    assert_eq!(second.stat("list_requests"), 1 + event_types);

    let shown = c.seslog(&["cache"]).ok();
    assert!(
        shown.stdout.contains(&format!("objects:  {OBJECTS} (")),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains(&c.cache_dir()), "{}", shown.stdout);
}

#[test]
fn offline_makes_no_request_at_all() {
    let c = Cached::new();
    let online = c
        .seslog(&[&["--format", "csv"], NOVEMBER_BOUNCES].concat())
        .ok();
    // From now on any request that reaches the server fails, and is counted.
    for target in [Target::List, Target::Get] {
        c.server.fault(target, Fault::Status(500), None);
    }
    let offline = c
        .seslog(
            &[
                &["--offline", "--stats", "--format", "csv"],
                NOVEMBER_BOUNCES,
            ]
            .concat(),
        )
        .ok();
    assert_eq!(offline.stdout, online.stdout);
    assert!(offline.stdout.lines().count() > 1);
    assert_eq!(offline.stat("list_requests"), 0);
    assert_eq!(offline.stat("get_requests"), 0);
    assert_eq!(c.server.clear_faults(), 0, "a request reached the server");
    // With no server at all (nothing listens on port 9).
    let gone = c.seslog_at(
        Some("http://127.0.0.1:9"),
        &[&["--offline", "--format", "csv"], NOVEMBER_BOUNCES].concat(),
    );
    assert_eq!(gone.ok().stdout, online.stdout);
}

/// A local directory is read with no request, so `--offline` changes nothing there. Before,
/// it asked for a cached listing, which a local source never has: the query could not run.
#[test]
fn offline_reads_a_local_source_as_it_is() {
    let w = Workdir::scenario();
    let args = |offline: bool| {
        let mut args = vec!["--source".to_string(), w.source()];
        if offline {
            args.push("--offline".into());
        }
        args.extend(
            [
                "--format",
                "csv",
                "summary",
                "--from",
                "2024-11-01",
                "--to",
                "2024-11-30",
            ]
            .map(String::from),
        );
        args
    };
    let online = run(&args(false), None, &[]).ok();
    let offline = run(&args(true), None, &[]).ok();
    assert_eq!(offline.stdout, online.stdout);
    assert!(offline.stdout.lines().count() > 1, "{}", offline.stdout);
    assert_eq!(offline.stderr, online.stderr);
}

#[test]
fn offline_names_what_the_cache_does_not_hold() {
    let c = Cached::new();
    c.seslog(&[
        "--format",
        "csv",
        "sql",
        "SELECT count(*) FROM seslogs WHERE event_type = 'Bounce'",
    ])
    .ok();
    // Never listed: the Send folder.
    let out = c.seslog(&[
        "--offline",
        "sql",
        "SELECT count(*) FROM seslogs WHERE event_type = 'Send'",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "--offline: the listing of s3://ses-logs-123456789012-us-east-1/partitioned/Send/"
        ) && out.stderr.contains("is not in the cache"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
    // Listed, but an object was removed from the cache: named, exit 1, no rows.
    let objects = c.w.path().join("cache/objects");
    let entry = std::fs::read_dir(&objects)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(entry).unwrap();
    let out = c.seslog(&[
        "--offline",
        "sql",
        "SELECT count(*) FROM seslogs WHERE event_type = 'Bounce'",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--offline: s3://ses-logs-123456789012-us-east-1/partitioned/Bounce/")
            && out.stderr.contains(".gz is not in the cache"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
    // --offline with the cache off is refused before anything runs.
    let out = c.seslog(&["--offline", "--no-cache", "sql", "SELECT 1"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--no-cache"), "{}", out.stderr);
}

#[test]
fn an_open_day_is_listed_again_and_a_changed_object_fetched_again() {
    let c = Cached::new();
    // A folder of today: Firehose may still add to it, and this object will be rewritten.
    let key = seslog_gen::object_key("Bounce", chrono::Utc::now(), 7000);
    let objects = seslog_gen::scenario_objects();
    let bounce: Vec<_> = objects
        .iter()
        .filter(|o| o.key.contains("/Bounce/"))
        .collect();
    let path = c.bucket_dir().join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &bounce[0].bytes).unwrap();
    let today = &key["partitioned/Bounce/".len().."partitioned/Bounce/yyyy/MM/dd".len()];
    let query =
        format!("SELECT count(*) FROM seslogs WHERE event_type = 'Bounce' AND day = '{today}'");
    let count = |o: &Output| o.rows()[0][0].clone();

    let first = c
        .seslog(&["--stats", "--format", "csv", "sql", &query])
        .ok();
    let second = c
        .seslog(&["--stats", "--format", "csv", "sql", &query])
        .ok();
    assert_eq!(count(&second), count(&first));
    assert_eq!(
        second.stat("list_requests"),
        1,
        "today's folder is listed every time"
    );
    assert_eq!(second.stat("get_requests"), 0);

    // The object is replaced (another size and ETag): the cached copy is not used.
    let mut both = bounce[0].bytes.clone();
    both.extend_from_slice(&bounce[1].bytes);
    std::fs::write(&path, &both).unwrap();
    let third = c
        .seslog(&["--stats", "--format", "csv", "sql", &query])
        .ok();
    assert_eq!(third.stat("get_requests"), 1);
    let records = |bytes: &[u8]| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(bytes), &mut text)
            .unwrap();
        text.lines().count()
    };
    assert_eq!(count(&first), records(&bounce[0].bytes).to_string());
    assert_eq!(count(&third), records(&both).to_string());
    // Offline, today's listing is used as it was cached, and stderr says so.
    let offline = c
        .seslog(&["--offline", "--format", "csv", "sql", &query])
        .ok();
    assert_eq!(offline.rows(), vec![row(&[&count(&third)])]);
    assert!(
        offline.stderr.contains("seslog: note: offline: ")
            && offline
                .stderr
                .contains("(it could still gain objects then)"),
        "{}",
        offline.stderr
    );
}

#[test]
fn cache_clear_empties_it_and_a_named_cache_that_cannot_be_used_is_an_error() {
    let c = Cached::new();
    c.seslog(&["sql", PER_TYPE]).ok();
    let cleared = c.seslog(&["cache", "clear"]).ok();
    assert!(
        cleared
            .stdout
            .starts_with(&format!("removed {OBJECTS} objects (")),
        "{}",
        cleared.stdout
    );
    let shown = c.seslog(&["cache"]).ok();
    assert!(
        shown.stdout.contains("objects:  0 (0 B of at most 4.0 GB)"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("listings: 0"), "{}", shown.stdout);
    let after = c.seslog(&["--stats", "sql", PER_TYPE]).ok();
    assert_eq!(after.stat("get_requests"), OBJECTS);

    // A file where the cache directory should be.
    let blocked = c.w.path().join("not-a-dir");
    std::fs::write(&blocked, "x").unwrap();
    let mut env = c.server.env();
    env.push(("SESLOG_NO_CACHE", "false".to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args: Vec<String> = [
        "--source",
        BUCKET,
        "--cache-dir",
        blocked.to_str().unwrap(),
        "sql",
        "SELECT 1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run(&args, None, &env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "the cache directory {} (from --cache-dir) cannot be used",
            blocked.display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn the_cache_stays_under_its_cap_and_says_where_it_is() {
    let c = Cached::new();
    let config = c.w.path().join("config.toml");
    std::fs::write(&config, "cache_max_size = \"6kB\"\n").unwrap();
    let config = config.display().to_string();
    let first = c
        .seslog(&[
            "--config", &config, "--stats", "--format", "csv", "sql", PER_TYPE,
        ])
        .ok();
    assert_eq!(first.stat("get_requests"), OBJECTS);
    let usage = c.w.path().join("cache/objects");
    let mut bytes = 0;
    let mut entries = 0;
    for folder in std::fs::read_dir(&usage).unwrap() {
        for entry in std::fs::read_dir(folder.unwrap().path()).unwrap() {
            bytes += entry.unwrap().metadata().unwrap().len();
            entries += 1;
        }
    }
    assert!(
        bytes <= 6_000 && entries > 0 && entries < OBJECTS,
        "{entries} entries, {bytes} bytes"
    );
    // A scan larger than the cap finds little or nothing kept (least recently used goes
    // first, and it reads in the order it wrote), but the answer is the same.
    let second = c
        .seslog(&[
            "--config", &config, "--stats", "--format", "csv", "sql", PER_TYPE,
        ])
        .ok();
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(
        second.stat("get_requests") + second.stat("cached_objects"),
        OBJECTS
    );
    // A query whose objects fit is answered from the cache the second time.
    let small = "SELECT count(*) FROM seslogs WHERE event_type = 'Bounce'";
    let once = c
        .seslog(&["--config", &config, "--stats", "sql", small])
        .ok();
    let again = c
        .seslog(&["--config", &config, "--stats", "sql", small])
        .ok();
    assert_eq!(again.stdout, once.stdout);
    assert_eq!(again.stat("get_requests"), 0);
    assert_eq!(again.stat("cached_objects"), once.stat("objects_read"));
    let shown = c.seslog(&["--config", &config, "config"]).ok();
    let line = |key: &str| shown.setting(key);
    assert!(
        line("cache_dir").contains(&c.cache_dir()) && line("cache_dir").ends_with("--cache-dir"),
        "{}",
        shown.stdout
    );
    assert!(
        line("cache_max_size").contains("6000")
            && line("cache_max_size").contains("cache_max_size"),
        "{}",
        shown.stdout
    );
}
