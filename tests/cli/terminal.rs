//! What a person at a terminal sees, tested in a real pseudo-terminal (rexpect).

use std::process::Command;

use super::util::{Workdir, run};

/// 27 records x 3 million: long enough (seconds) for the progress line to show.
const SLOW: &str =
    "SELECT count(*) AS n FROM seslogs CROSS JOIN (SELECT * FROM unnest(range(3000000)))";

fn seslog_in_pty(w: &Workdir, args: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = Command::new(super::util::bin());
    cmd.arg("--source")
        .arg(w.source())
        .args(args)
        .env("NO_COLOR", "1");
    rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn in a pty")
}

#[test]
fn progress_line_is_drawn_in_place_on_a_terminal_then_cleared() {
    let w = Workdir::scenario();
    let file = w.path().join("n.csv");
    let mut p = seslog_in_pty(&w, &["--output", file.to_str().unwrap(), "sql", SLOW]);
    // Redrawn in place: carriage return, clear line, then the figures.
    p.exp_regex(r"\r\x1b\[2Kseslog: 27/27 objects, [0-9.]+/[0-9.]+ MB, [0-9]+ rows, [0-9.]+s")
        .expect("a progress line");
    // Cleared before the table is printed.
    let rest = p.exp_eof().expect("seslog ends");
    assert!(
        rest.ends_with("\r\x1b[2K"),
        "the last progress line was not cleared: {rest:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "n\n81000000\n");
}

#[test]
fn progress_lines_with_verbose_when_not_a_terminal() {
    let w = Workdir::scenario();
    let out = w
        .seslog(&[
            "-v",
            "--format",
            "csv",
            "sql",
            "SELECT count(*) AS n FROM seslogs",
        ])
        .ok();
    assert_eq!(out.stdout, "n\n27\n");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("seslog: progress: 27/27 objects")),
        "{}",
        out.stderr
    );
    // And nothing at all without -v.
    let out = run(
        &[
            "--source".into(),
            w.source(),
            "sql".into(),
            "SELECT count(*) FROM seslogs".into(),
        ],
        None,
        &[],
    )
    .ok();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}
