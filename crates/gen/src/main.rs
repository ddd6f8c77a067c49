//! `seslog-gen`: writes Firehose trees of realistic SES events, for trying seslog out and
//! for benchmarks. `seslog-gen scenario DIR` writes the sample shipped in testdata/;
//! `seslog-gen volume DIR --days 3 --mails-per-day 20000` writes benchmark volume;
//! `seslog-gen gunzip --threads 2 DIR...` decompresses every object below the folders and
//! throws the bytes away: the floor a scan of those objects is measured against.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use seslog_gen as testgen;

#[derive(Debug, Parser)]
#[command(
    name = "seslog-gen",
    about = "Write a Firehose tree of generated SES events"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The scenario the tests and the README use (every event type, the tricky cases).
    Scenario {
        dir: PathBuf,
        /// Add the damaged objects too (bad records, truncated gzip, stray files).
        #[arg(long)]
        damaged: bool,
    },
    /// Realistic volume for benchmarks.
    Volume {
        dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        days: u32,
        #[arg(long, default_value_t = 20_000)]
        mails_per_day: u32,
        #[arg(long, default_value = "2024-11-01")]
        first_day: NaiveDate,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Decompress every object under the folders (gzip by its bytes, zlib-rs, as seslog
    /// does) on N threads, and print the bytes: the gunzip floor for benchmarks.
    Gunzip {
        folders: Vec<PathBuf>,
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

/// Every file below `folders`.
fn files_below(folders: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut todo: Vec<PathBuf> = folders.to_vec();
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                todo.push(entry?.path());
            }
        } else if path.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

/// Inflates the files on `threads` threads; returns objects, compressed bytes,
/// decompressed bytes and lines (one record per line, as Firehose writes them).
fn gunzip(folders: &[PathBuf], threads: usize) -> std::io::Result<(usize, u64, u64, u64)> {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let files = files_below(folders)?;
    let next = AtomicUsize::new(0);
    let totals = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> std::io::Result<(u64, u64, u64)> {
                    let (mut packed, mut unpacked, mut lines) = (0u64, 0u64, 0u64);
                    let mut sink = vec![0u8; 1 << 20];
                    while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let raw = std::fs::read(file)?;
                        packed += raw.len() as u64;
                        if raw.starts_with(&[0x1f, 0x8b]) {
                            let mut gz = flate2::read::MultiGzDecoder::new(&raw[..]);
                            loop {
                                match gz.read(&mut sink) {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => {
                                        unpacked += n as u64;
                                        lines +=
                                            memchr::memchr_iter(b'\n', &sink[..n]).count() as u64;
                                    }
                                }
                            }
                        } else {
                            unpacked += raw.len() as u64;
                            lines += memchr::memchr_iter(b'\n', &raw).count() as u64;
                        }
                    }
                    Ok((packed, unpacked, lines))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("gunzip worker"))
            .collect::<std::io::Result<Vec<_>>>()
    })?;
    let packed = totals.iter().map(|t| t.0).sum();
    let unpacked = totals.iter().map(|t| t.1).sum();
    let lines = totals.iter().map(|t| t.2).sum();
    Ok((files.len(), packed, unpacked, lines))
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Scenario { dir, damaged } => {
            let mut objects = testgen::scenario_objects();
            if damaged {
                objects.extend(testgen::damaged_objects());
            }
            testgen::write_tree(&dir, &objects)
                .map(|()| eprintln!("wrote {} objects to {}", objects.len(), dir.display()))
        }
        Command::Volume {
            dir,
            days,
            mails_per_day,
            first_day,
            seed,
        } => testgen::write_volume(&dir, first_day, days, mails_per_day, seed)
            .map(|n| eprintln!("wrote {n} records to {}", dir.display())),
        Command::Gunzip { folders, threads } => {
            gunzip(&folders, threads).map(|(n, packed, unpacked, lines)| {
                println!(
                    "{n} objects, {packed} bytes, {unpacked} bytes decompressed, {lines} lines"
                )
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seslog-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
