//! The `seslog` binary: parse, run, and turn the outcome into an exit code, in one place.
//! The codes themselves are named in `exit`. The app is this binary: flags (`cli`),
//! decisions (`config`, `settings`), commands (`cmd`) and printing (`output`), over the
//! library `seslog-engine`.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

mod cli;
mod cmd;
mod config;
mod error;
mod exit;
mod hints;
mod output;
mod query;
mod settings;
mod sink;

/// See Cargo.toml: the binary chooses the allocator; the engine leaves it to its user.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc keeps freed memory for a second before returning it; a scan frees a batch per
/// object per operator, so that second held a fifth of the peak memory. 10 ms gives it back
/// (a 7-day lookup: peak 142 -> 117 MiB, wall time within the noise). An explicit
/// MIMALLOC_PURGE_DELAY still wins.
#[allow(unsafe_code)]
fn return_freed_memory_sooner() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; mimalloc reads options atomically at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    }
}

/// `mi_option_purge_delay` in the mimalloc (v3) that libmimalloc-sys 0.1.49 builds: its
/// place in `mi_option_e` (mimalloc.h), which the crate gives no constant for.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    return_freed_memory_sooner();
    let matches = crate::cmd::Cli::command().get_matches();
    let cli = crate::cmd::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let origins = crate::cli::ArgOrigins::from_matches(&matches);
    match crate::cmd::run(cli, &origins) {
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
            let lines: Vec<_> = text.lines().map(crate::output::sanitize).collect();
            eprintln!("seslog: {}", lines.join("\n"));
            if e.downcast_ref::<crate::error::UsageError>().is_some() {
                return ExitCode::from(exit::USAGE);
            }
            ExitCode::from(exit::ERROR)
        }
    }
}
