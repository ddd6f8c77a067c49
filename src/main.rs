//! The `seslog` binary: parse, run, and turn the outcome into an exit code, in one place.
//! 0 success (an empty result too), 1 runtime error, 2 usage error (clap's own).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = seslog::cli::Cli::parse();
    match seslog::cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // `seslog ... | head`: the reader is gone, which is not an error.
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("seslog: {e:#}");
            if e.downcast_ref::<seslog::cmd::UsageError>().is_some() {
                return ExitCode::from(2);
            }
            ExitCode::FAILURE
        }
    }
}
