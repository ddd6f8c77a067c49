//! The shared harness: a temp dir holding a Firehose tree made by the generator, the real
//! `seslog` binary run against it with an environment cleared of the user's settings, and
//! helpers that parse what it printed.

#![allow(dead_code)]

pub mod s3;
pub mod workers;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use seslog_gen as testgen;

pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn empty() -> Self {
        Workdir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The scenario tree (what testdata/ ships).
    pub fn scenario() -> Self {
        let w = Self::empty();
        testgen::write_tree(w.path(), &testgen::scenario_objects()).expect("write tree");
        w
    }

    /// The scenario plus every kind of damaged object.
    pub fn damaged() -> Self {
        let w = Self::scenario();
        testgen::write_tree(w.path(), &testgen::damaged_objects()).expect("write tree");
        w
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn source(&self) -> String {
        self.path().display().to_string()
    }

    /// `seslog --source <this dir> ARGS`.
    pub fn seslog(&self, args: &[&str]) -> Output {
        let mut full = vec!["--source".to_string(), self.source()];
        full.extend(args.iter().map(|s| s.to_string()));
        run(&full, None, &[])
    }
}

/// Writes 300 small objects into one folder (Open, 2024/11/08) of `w`: 1 to 4 records each;
/// `o-0100.gz` fails its gzip checksum, `o-0200.gz` has a malformed record at line 2 between
/// two good ones. Returns the rows each object gives, by key.
pub fn small_objects(w: &Workdir) -> std::collections::BTreeMap<String, u64> {
    let mut objects = Vec::new();
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..300u64 {
        let mail = testgen::Mail::new(
            &format!("0100019b-small-{i:06}"),
            "2024-11-08T10:00:00.000Z",
            &[&format!("r{i}@example.com")],
            "Small",
        );
        let record = mail.open("2024-11-08T10:05:00.000Z").record.to_string();
        let key = format!("partitioned/Open/2024/11/08/o-{i:04}.gz");
        let (text, rows) = match i {
            // A malformed record between two good ones.
            200 => (
                format!(
                    "{record}\n{{\"eventType\":\"Open\",\"mail\":{{\"messageId\": oops}}}}\n{record}\n"
                ),
                2,
            ),
            // Some end without a newline: read together with the next object, no record
            // may run into its first.
            _ if i % 7 == 3 => (
                format!("{record}\n")
                    .repeat(1 + i as usize % 4)
                    .trim_end()
                    .to_string(),
                1 + i % 4,
            ),
            _ => (format!("{record}\n").repeat(1 + i as usize % 4), 1 + i % 4),
        };
        let mut bytes = testgen::gzip(text.as_bytes());
        if i == 100 {
            // The CRC-32 in the gzip trailer no longer matches: nothing of it is kept.
            let at = bytes.len() - 8;
            bytes[at] ^= 0xff;
        } else {
            expected.insert(key.clone(), rows);
        }
        objects.push(testgen::Object { key, bytes });
    }
    testgen::write_tree(w.path(), &objects).unwrap();
    expected
}

/// Every built-in report, with an address or message id of the scenario where it takes
/// one (`reports.rs` checks that none is missing).
pub fn every_report() -> Vec<Vec<&'static str>> {
    vec![
        vec!["bounces"],
        vec!["complaints"],
        vec!["recipient", "bob@example.com"],
        vec!["message", "0100019a-news-000000"],
        vec!["delays"],
        vec!["rejects"],
        vec!["failures"],
        vec!["summary"],
        vec!["domains"],
        vec!["suppression"],
        vec!["check"],
        vec!["errors"],
    ]
}

/// `seslog compact` of every closed day of `w` into the tier at `tier`, with `--stats`.
pub fn compact(w: &Workdir, tier: &Path, extra: &[&str]) -> Output {
    let tier = tier.display().to_string();
    let mut args = vec![
        "--parquet",
        &tier,
        "--stats",
        "compact",
        "--to",
        "2030-01-01",
    ];
    args.extend(extra);
    w.seslog(&args)
}

/// The Athena corpus: every `tests/athena/*.sql`, by name.
pub fn athena_corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/athena");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "the corpus is {} files", files.len());
    files
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_seslog"))
}

/// Runs the real binary with a clean environment (nothing of the user's AWS or seslog
/// settings leaks in), optional stdin, and extra variables.
pub fn run(args: &[String], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut child = command(args, stdin.is_some(), env)
        .spawn()
        .expect("spawn seslog");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().expect("wait for seslog");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// As `run`, and the process's peak resident memory in KiB (its high-water mark, read
/// from /proc while it runs).
///
/// mimalloc returns freed pages to the system only after a delay (a second, in wall time),
/// so on a loaded machine the same run's high-water mark swung from 216 to 311 MiB with
/// what the allocator still held. Measured runs purge at once: the figure is then what
/// seslog itself holds at its peak (195 MiB, run after run, for the gzip-bomb test).
pub fn run_measured(args: &[String], env: &[(&str, &str)]) -> (Output, u64) {
    use std::io::Read;
    let mut env = env.to_vec();
    env.push(("MIMALLOC_PURGE_DELAY", "0"));
    let mut child = command(args, false, &env).spawn().expect("spawn seslog");
    let status_file = format!("/proc/{}/status", child.id());
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        stdout.read_to_end(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        stderr.read_to_end(&mut s).unwrap();
        s
    });
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let output = Output {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.join().unwrap()).expect("stdout is UTF-8"),
        stderr: String::from_utf8(err.join().unwrap()).expect("stderr is UTF-8"),
    };
    (output, peak)
}

/// The real binary with a clean environment.
pub fn command(args: &[String], stdin: bool, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent-seslog-test-home")
        .env("AWS_CONFIG_FILE", "/nonexistent-seslog-test-home/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent-seslog-test-home/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Each run fetches what it reads, as if for the first time (tests of the cache
        // turn it back on, with a directory of their own).
        .env("SESLOG_NO_CACHE", "1")
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts success and returns self, showing stderr when it failed.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "seslog failed:\nstderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self
    }

    /// CSV output as rows of cells, header first.
    pub fn csv(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut cell = String::new();
        let mut quoted = false;
        let mut chars = self.stdout.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cell.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => row.push(std::mem::take(&mut cell)),
                ('\n', false) => {
                    row.push(std::mem::take(&mut cell));
                    rows.push(std::mem::take(&mut row));
                }
                (c, _) => cell.push(c),
            }
        }
        rows
    }

    /// CSV data rows without the header.
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.csv().into_iter().skip(1).collect()
    }

    /// `--format json` output.
    pub fn json(&self) -> Vec<serde_json::Value> {
        match serde_json::from_str::<serde_json::Value>(&self.stdout) {
            Ok(serde_json::Value::Array(rows)) => rows,
            other => panic!("not a JSON array: {other:?}\n{}", self.stdout),
        }
    }

    /// A figure from the `--stats` line, e.g. `stat("list_requests")`.
    /// The line of `seslog config` for `key`.
    pub fn setting(&self, key: &str) -> String {
        self.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key}: {}", self.stdout))
            .to_string()
    }

    pub fn stat(&self, key: &str) -> u64 {
        let line = self
            .stderr
            .lines()
            .find(|l| l.contains("stats:"))
            .unwrap_or_else(|| panic!("no stats in {}", self.stderr));
        let value = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {line}"));
        value.trim_end_matches('s').parse().expect("a number")
    }

    /// stderr warning lines.
    pub fn warnings(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("seslog: warning:"))
            .collect()
    }

    /// Asserts that one of the warnings starts with `prefix`.
    pub fn assert_warned(&self, prefix: &str) {
        assert!(
            self.warnings().iter().any(|l| l.starts_with(prefix)),
            "no warning starts with {prefix:?}:\n{}",
            self.stderr
        );
    }
}

/// Owned strings from literals, for comparing rows.
pub fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}
