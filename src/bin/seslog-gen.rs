//! `seslog-gen`: writes Firehose trees of realistic SES events, for trying seslog out and
//! for benchmarks. `seslog-gen scenario DIR` writes the sample shipped in testdata/;
//! `seslog-gen volume DIR --days 3 --mails-per-day 20000` writes benchmark volume.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use seslog::testgen;

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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seslog-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
