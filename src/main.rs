//! The `seslog` binary: parse, run, and turn the outcome into an exit code, in one place.
//! The codes themselves are named in `seslog::exit`.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use seslog::exit;

/// See Cargo.toml: the binary chooses the allocator; the library leaves it to its user.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = seslog::cli::Cli::command().get_matches();
    let cli = seslog::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let origins = seslog::cli::ArgOrigins::from_matches(&matches);
    match seslog::cmd::run(cli, &origins) {
        Ok(code) => code,
        Err(e) => {
            // `seslog ... | head`: the reader is gone, which is not an error.
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::from(exit::SUCCESS);
            }
            // Object names and values in a message are text from outside: escape what a
            // terminal would act on, line by line.
            let text = format!("{e:#}");
            let lines: Vec<_> = text.lines().map(seslog::output::sanitize).collect();
            eprintln!("seslog: {}", lines.join("\n"));
            if e.downcast_ref::<seslog::cmd::UsageError>().is_some() {
                return ExitCode::from(exit::USAGE);
            }
            ExitCode::from(exit::ERROR)
        }
    }
}
