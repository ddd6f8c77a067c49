//! What a person at a terminal sees, tested in a real pseudo-terminal (rexpect).

use std::process::Command;

use super::util::{Workdir, run};

/// 27 records x 10 million: long enough (seconds) for the progress line to show. (With 3
/// million the query ended in under a second on a fast machine, and the first redraw,
/// due at 0.2 s, sometimes came after it: the count keeps both workers busy.)
const SLOW: &str =
    "SELECT count(*) AS n FROM seslogs CROSS JOIN (SELECT * FROM unnest(range(10000000)))";

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
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "n\n270000000\n");
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

/// `seslog shell` over `w` in a pseudo-terminal, its history under `home`.
fn shell_in_pty(w: &Workdir, home: &std::path::Path) -> rexpect::session::PtySession {
    std::fs::create_dir_all(home).unwrap();
    let mut cmd = Command::new(super::util::bin());
    cmd.arg("--source")
        .arg(w.source())
        .arg("shell")
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME");
    rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn in a pty")
}

#[test]
fn shell_runs_statements_over_lines_completes_names_and_runs_reports() {
    let w = Workdir::scenario();
    let home = w.path().join("home");
    let mut p = shell_in_pty(&w, &home);
    p.exp_string("seslog> ").unwrap();
    // A statement over two lines.
    p.send_line("SELECT count(*) AS n").unwrap();
    p.exp_string("...> ").unwrap();
    p.send_line("FROM seslogs WHERE event_type = 'Bounce';")
        .unwrap();
    // rexpect reads bytes one by one (Latin-1), so only ASCII is matched.
    p.exp_string(" 5 ").unwrap();
    p.exp_regex(r"1 rows in [0-9.]+s; listed 9 times, read 5 objects")
        .unwrap();
    // The pty is narrow, so the table view would wrap every word: switch to CSV.
    p.exp_string("seslog> ").unwrap();
    p.send_line("\\format csv").unwrap();
    // Completion of a nested field: `mail.commonh` + TAB.
    p.exp_string("seslog> ").unwrap();
    p.send("SELECT mail.commonh").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("commonheaders").unwrap();
    p.send_line(".subject FROM seslogs WHERE event_type = 'Reject';")
        .unwrap();
    p.exp_string("Invoice").unwrap();
    // Columns, a report, and quitting.
    p.exp_string("seslog> ").unwrap();
    p.send_line("\\d").unwrap();
    p.exp_string("tab_name\r\nerrorlogs\r\nseslogs\r\n")
        .unwrap();
    p.exp_string("seslog> ").unwrap();
    p.send_line("\\d seslogs").unwrap();
    p.exp_string("event_time,timestamp with time zone,")
        .unwrap();
    p.exp_string("day,varchar,partition key").unwrap();
    p.exp_string("seslog> ").unwrap();
    p.send_line("\\run suppression from=2024-11-01 to=2024-11-30")
        .unwrap();
    p.exp_string("mallory@example.com").unwrap();
    p.exp_string("seslog> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(home.join(".local/share/seslog/history")).unwrap();
    assert!(
        history.contains("FROM seslogs WHERE event_type = 'Bounce';"),
        "{history}"
    );
}

/// seslog's stdout on a terminal of `cols` columns (set with stty inside the pty).
fn seslog_at_width(w: &Workdir, cols: u16, args: &[&str]) -> String {
    let mut line = format!(
        "stty cols {cols} rows 50; exec '{}' --source '{}'",
        super::util::bin().display(),
        w.source()
    );
    for a in args {
        line.push_str(&format!(" '{}'", a.replace('\'', "'\\''")));
    }
    // stdout alone on the terminal: no progress line in between.
    line.push_str(" 2>/dev/null");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line).env("NO_COLOR", "1");
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn in a pty");
    p.exp_eof().expect("seslog ends").replace("\r\n", "\n")
}

#[test]
fn a_result_too_wide_for_the_terminal_is_shown_vertically() {
    let w = Workdir::scenario();
    let november = ["--from", "2024-11-01", "--to", "2024-11-30"];
    // Twelve columns cannot fit 80: one block per row, every field on a line of its own.
    let wide = "SELECT event_time AS time, recipients[1] AS recipient, \
                bounce.bouncetype AS bounce_type, bounce.bouncesubtype AS bounce_subtype, \
                bounce.bouncedrecipients[1].status AS status, \
                bounce.bouncedrecipients[1].diagnosticcode AS diagnostic_code, \
                mail.messageid AS message_id, mail.commonheaders.subject AS subject, \
                mail.source AS sender, mail.timestamp AS sent, bounce.feedbackid AS feedback_id, \
                bounce.reportingmta AS reporting_mta \
                FROM seslogs WHERE eventtype = 'Bounce' ORDER BY event_time";
    let out = seslog_at_width(&w, 80, &["sql", wide]);
    let first: Vec<&str> = out.lines().take(13).collect();
    assert_eq!(
        first,
        vec![
            format!("-[ RECORD 1 ]{}", "-".repeat(67)).as_str(),
            "time            | 2024-11-01T00:00:03Z",
            "recipient       | niaj@example.com",
            "bounce_type     | Permanent",
            "bounce_subtype  | General",
            "status          | 5.1.1",
            "diagnostic_code | smtp; 550 5.1.1 user unknown",
            "message_id      | 0100019a-early-000000",
            "subject         | First call",
            "sender          | Example Shop <no-reply@shop.example.com>",
            "sent            | 2024-10-31T23:59:59.000Z",
            "feedback_id     | 0100019-bounce-0100019a-early-000000",
            "reporting_mta   | dns; a8-30.smtp-out.amazonses.com",
        ],
        "{out}"
    );
    assert_eq!(out.matches("-[ RECORD ").count(), 5, "{out}");
    // What fits stays a table; on a wide terminal the same report is a table too.
    let narrow = "SELECT eventtype, count(*) AS n FROM seslogs GROUP BY 1 ORDER BY 1";
    // (rexpect reads bytes as Latin-1: the box-drawing characters are not matched.)
    let out = seslog_at_width(&w, 80, &["sql", narrow]);
    assert!(
        out.contains(" eventtype ") && !out.contains("-[ RECORD"),
        "{out}"
    );
    let out = seslog_at_width(&w, 400, &["sql", wide]);
    assert!(
        out.contains(" diagnostic_code ") && !out.contains("-[ RECORD"),
        "{out}"
    );
    // A wide report shows its chosen columns instead, as a table.
    let out = seslog_at_width(&w, 80, &[&["bounces"][..], &november[..]].concat());
    assert!(
        out.contains(" diagnostic_code ")
            && !out.contains(" feedback_id ")
            && !out.contains("-[ RECORD"),
        "{out}"
    );
    // Asked for, whatever the width.
    let out = seslog_at_width(&w, 400, &["--format", "vertical", "sql", narrow]);
    assert!(out.starts_with("-[ RECORD 1 ]---"), "{out}");
    assert!(
        out.contains("\neventtype | Bounce\nn         | 5\n"),
        "{out}"
    );
}

#[test]
fn ctrl_c_in_the_shell_cancels_the_statement_and_ctrl_d_leaves() {
    let w = Workdir::scenario();
    let home = w.path().join("home");
    let mut p = shell_in_pty(&w, &home);
    p.exp_string("seslog> ").unwrap();
    p.send_line(&format!("{SLOW};")).unwrap();
    // Running: its progress line is up.
    p.exp_regex(r"seslog: 27/27 objects").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("seslog: cancelled").unwrap();
    // Back at the prompt, the shell still answers; the progress line is gone.
    p.exp_string("seslog> ").unwrap();
    p.send_line("\\format csv").unwrap();
    p.exp_string("seslog> ").unwrap();
    p.send_line("SELECT 41 + 1 AS answer;").unwrap();
    let (before, _) = p.exp_string("answer\r\n42\r\n").map(|b| (b, ())).unwrap();
    assert!(
        !before.contains("objects,"),
        "a progress line was left: {before:?}"
    );
    p.exp_string("seslog> ").unwrap();
    // Ctrl-C at the prompt clears the line; Ctrl-D leaves.
    p.send_control('c').unwrap();
    p.exp_string("seslog> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}
