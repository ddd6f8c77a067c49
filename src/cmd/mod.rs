//! The command line as a whole: the parser (`Cli`: the global flags of `cli.rs` and one
//! subcommand) and the dispatcher. The subcommands are one module each, all the same
//! shape: an `Args` struct whose doc comment is its help, and a `run` that reads top to
//! bottom: args -> source -> table -> query -> print (the steps they share are `query`'s).
//! Nothing below imports this file.

pub mod cache;
pub mod check;
pub mod compact;
pub mod ddl;
pub mod report;
pub mod shell;
pub mod sql;
pub mod worker;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};

use crate::cli::{ArgOrigins, GlobalArgs, Shell};
use crate::config::Config;
use crate::error::UsageError;
use crate::output;

/// Query Amazon SES event logs (Firehose -> S3, gzipped JSON) with SQL, on S3 or a local
/// copy, as the table `seslogs` (Athena's columns and partition names).
#[derive(Debug, Parser)]
#[command(
    name = "seslog",
    version,
    after_help = "Examples:\n  seslog --source s3://my-ses-logs sql \"SELECT event_type, count(*) FROM seslogs WHERE day = '2024/11/05' GROUP BY 1\"\n  seslog --source ./ses-logs sql -f monthly.sql --format csv > out.csv\n  echo \"SELECT count(*) FROM seslogs\" | seslog sql -"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Sql(sql::Args),
    Shell(shell::Args),
    Bounces(report::BouncesArgs),
    /// One row per complained recipient.
    ///
    /// Example: seslog complaints --since 7d
    Complaints(report::WindowedArgs),
    Recipient(report::RecipientArgs),
    Message(report::MessageArgs),
    /// One row per delayed recipient (DeliveryDelay events).
    ///
    /// Example: seslog delays --since 24h
    Delays(report::WindowedArgs),
    /// One row per rejected message.
    ///
    /// Example: seslog rejects --since 30d
    Rejects(report::WindowedArgs),
    /// One row per rendering failure.
    ///
    /// Example: seslog failures --since 30d
    Failures(report::WindowedArgs),
    /// Per UTC day: sends, deliveries, bounces, complaints, ..., and SES's rates.
    ///
    /// Example: seslog summary --from 2024-11-01 --to 2024-11-30
    Summary(report::WindowedArgs),
    /// Per recipient domain: sends, deliveries, bounces, complaints, rates, delivery time.
    ///
    /// Example: seslog domains --since 7d
    Domains(report::WindowedArgs),
    /// Addresses to stop mailing (permanent bounce or complaint), with the reason.
    ///
    /// Example: seslog suppression --since 90d --format csv > suppress.csv
    Suppression(report::WindowedArgs),
    Check(check::CheckArgs),
    /// Records Firehose could not deliver (table `errorlogs`, under --error-layout), per
    /// error output type, error code and message.
    ///
    /// Example: seslog errors --since 7d
    Errors(report::WindowedArgs),
    Reports(report::ReportsArgs),
    Run(report::RunArgs),
    /// Print a shell completion script.
    ///
    /// Example: seslog completions bash > /etc/bash_completion.d/seslog
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff).
    ///
    /// Example: seslog man > seslog.1
    Man,
    /// Show the effective settings and where each came from (flag, environment, config
    /// file, default).
    ///
    /// Example: seslog --source prod config
    Config,
    /// Print the Athena `CREATE EXTERNAL TABLE` (partition projection from --layout) that
    /// gives Athena the same `seslogs` table over the same objects.
    ///
    /// Example: seslog --layout 'partitioned/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd}/' athena-ddl --bucket s3://my-ses-logs/
    AthenaDdl(ddl::Args),
    Cache(cache::Args),
    Compact(compact::Args),
    Worker(worker::Args),
}

/// Runs the parsed command line; the error, if any, is printed by `main`.
pub fn run(cli: Cli, origins: &ArgOrigins) -> Result<ExitCode> {
    match &cli.command {
        Command::Completions { shell } => return completions(*shell),
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout().lock())?;
            return Ok(ExitCode::from(crate::exit::SUCCESS));
        }
        _ => {}
    }
    let config =
        Arc::new(Config::from_cli(&cli.global, origins).map_err(|e| UsageError(format!("{e:#}")))?);
    // Blocking threads are what local listings and large local reads run on. Tokio's
    // default lets up to 512 start, and a full local scan started about 50 (one per
    // concurrent listing), each with an allocator heap of its own (committed memory 232 ->
    // 127 MiB when capped), for no speed on a few cores. Four per core keeps the disk busy.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cores * 4)
        .build()?;
    let result = runtime.block_on(async {
        // The command runs in a task of its own, so Ctrl-C is heard even while a scan keeps
        // every worker busy.
        let task = tokio::spawn(run_command(cli.command, config));
        // The shell cancels a statement on Ctrl-C and goes on: then it is not an exit.
        let interrupted = async {
            loop {
                let _ = tokio::signal::ctrl_c().await;
                if !shell::HANDLES_INTERRUPTS.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
            }
        };
        tokio::select! {
            joined = task => joined.map_err(|e| anyhow::anyhow!("the query task failed: {e}"))?,
            _ = interrupted => {
                crate::sink::remove_partial_outputs();
                Ok(ExitCode::from(crate::exit::INTERRUPTED))
            }
        }
    });
    // Do not wait for a scan that is still running after Ctrl-C.
    runtime.shutdown_background();
    result
}

fn completions(shell: Shell) -> Result<ExitCode> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    // clap_complete panics when its writer fails (`seslog completions bash | head -1`):
    // generate into memory, then write, so a closed pipe is an ordinary error (exit 0).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "seslog", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(ExitCode::from(crate::exit::SUCCESS))
}

async fn run_command(command: Command, config: Arc<Config>) -> Result<ExitCode> {
    let config = config.as_ref();
    match command {
        Command::Sql(args)
            if args.query.is_none() && args.file.is_none() && config.stdin_is_terminal =>
        {
            shell::run(shell::Args {}, config).await
        }
        Command::Sql(args) => sql::run(args, config).await,
        Command::Shell(args) => shell::run(args, config).await,
        Command::Bounces(args) => report::bounces(args, config).await,
        Command::Complaints(args) => report::windowed("complaints", args, config).await,
        Command::Recipient(args) => report::recipient(args, config).await,
        Command::Message(args) => report::message(args, config).await,
        Command::Delays(args) => report::windowed("delays", args, config).await,
        Command::Rejects(args) => report::windowed("rejects", args, config).await,
        Command::Failures(args) => report::windowed("failures", args, config).await,
        Command::Summary(args) => report::windowed("summary", args, config).await,
        Command::Domains(args) => report::windowed("domains", args, config).await,
        Command::Suppression(args) => report::windowed("suppression", args, config).await,
        Command::Check(args) => check::run(args, config).await,
        Command::Errors(args) => report::windowed("errors", args, config).await,
        Command::Reports(args) => report::list(args, config),
        Command::Run(args) => report::run(args, config).await,
        Command::Config => {
            let mut out = std::io::stdout().lock();
            output::print_settings(&config.settings, &mut out)?;
            Ok(ExitCode::from(crate::exit::SUCCESS))
        }
        Command::AthenaDdl(args) => ddl::run(&args, config),
        Command::Cache(args) => cache::run(&args, config),
        Command::Compact(args) => compact::run(args, config).await,
        Command::Worker(args) => worker::run(args, config).await,
        Command::Completions { .. } | Command::Man => {
            unreachable!("completions and man are answered before the runtime starts")
        }
    }
}
