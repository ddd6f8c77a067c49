#!/usr/bin/env python3
"""seslog beside the DuckDB CLI on the same gzipped Firehose objects, and beside the gunzip
floor (decompressing the objects a question reads, on 2 threads, and nothing else).

    bench/compare.py [--days 14] [--mails 40000] [--runs 3] [--no-s3] [--s3-latency-ms 10]
                     [--s3-server lean|s3s-fs]

Generates the data with `seslog-gen volume` (once, under bench/data/), runs each question
with seslog and with DuckDB alternately, and prints medians of wall time and peak memory
(RSS, and the part of it the process allocated: RSS also counts the executable's code pages,
so both binaries are first dropped from the page cache to start alike).
It checks that both give the same values where they print the same columns, and that
seslog's count(*) equals the records in the objects. Then the lookup and a full scan again
with the objects behind an S3-compatible server on this machine (`bench/s3-serve`: a lean
server over the folder, or the tests' s3s-fs), beside the same on local disk. It prints figures; it asserts nothing about
speed. DuckDB: `pip install duckdb-cli` (or --duckdb PATH).
"""

import argparse
import csv
import datetime as dt
import io
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# seslog's SQL for two of the questions (bench/cluster.py asks them too).
COUNTS_PER_TYPE_AND_DAY = "SELECT eventtype, substr(mail.timestamp, 1, 10) AS day, count(*) AS n FROM seslogs GROUP BY 1, 2 ORDER BY 1, 2"
BOUNCE_RATE_BY_DOMAIN = """
    WITH sends AS (SELECT split_part(lower(d), '@', 2) AS domain, count(*) AS n
                   FROM (SELECT unnest(mail.destination) AS d FROM seslogs WHERE event_type = 'Send') GROUP BY 1),
         bounces AS (SELECT split_part(lower(r['emailaddress']), '@', 2) AS domain, count(*) AS n
                     FROM (SELECT unnest(bounce.bouncedrecipients) AS r FROM seslogs
                           WHERE event_type = 'Bounce' AND bounce.bouncetype = 'Permanent') GROUP BY 1)
    SELECT s.domain, s.n AS sends, coalesce(b.n, 0) AS bounces,
           round(100.0 * coalesce(b.n, 0) / s.n, 3) AS bounce_rate_pct
    FROM sends s LEFT JOIN bounces b ON s.domain = b.domain ORDER BY 1"""


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def measure_rss(cmd, env=None):
    """Runs cmd; returns wall time, peak RSS (wait4), peak anonymous memory (RssAnon, read
    from /proc every 2 ms: what the process allocated, without the executable's code pages
    that RSS also counts) and stdout."""
    start = time.monotonic()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.dup2(w, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(r)
        os.execvpe(cmd[0], cmd, env or os.environ)
    os.close(w)
    anon = [0]
    running = threading.Event()
    running.set()

    def sample():
        while running.is_set():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            anon[0] = max(anon[0], int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    chunks = []
    while True:
        chunk = os.read(r, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    running.clear()
    sampler.join()
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        sys.exit(f"failed ({status}): {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024, b"".join(chunks).decode(), anon[0] / 1024


def evict(*paths):
    """Drops files from the page cache. RSS counts every page of the executable mapped in,
    and the kernel maps in what is cached around each page a program touches: a binary
    just built or copied is wholly cached and shows more RSS than the same binary later.
    Both programs start from the same state: only what they read is cached."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def rows(text):
    return list(csv.reader(io.StringIO(text)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--mails", type=int, default=40000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duckdb", default=None)
    ap.add_argument("--seslog", default=None, help="this seslog binary, not target/release's")
    ap.add_argument("--no-s3", action="store_true", help="leave out the S3 leg")
    ap.add_argument("--s3-only", action="store_true", help="only the S3 leg")
    ap.add_argument("--s3-server", choices=["lean", "s3s-fs"], default="lean",
                    help="the S3 leg's server: lean (one directory read per LIST, one file "
                         "read per GET) or s3s-fs (the tests' server, much heavier on the "
                         "cores it shares with seslog)")
    ap.add_argument("--s3-latency-ms", type=float, default=0,
                    help="add this much latency to every S3 request (bench/latency_proxy.py)")
    args = ap.parse_args()

    sh(["cargo", "build", "--release", "--quiet", "--bin", "seslog", "--bin", "seslog-gen"], cwd=ROOT)
    seslog = args.seslog or os.path.join(ROOT, "target/release/seslog")
    gen = os.path.join(ROOT, "target/release/seslog-gen")
    duckdb = args.duckdb or find_duckdb()
    evict(seslog, duckdb)
    first = dt.date(2024, 11, 1)
    data = os.path.join(ROOT, f"bench/data/{args.days}d-{args.mails}")
    if not os.path.isdir(data):
        sh([gen, "volume", data, "--days", str(args.days), "--mails-per-day", str(args.mails),
            "--first-day", first.isoformat()])

    # A 7-day window in the middle, and the day folders it reads (one day of margin).
    d1 = first + dt.timedelta(days=min(4, max(args.days - 8, 0)))
    d2 = d1 + dt.timedelta(days=6)
    days = [d1 + dt.timedelta(days=i) for i in range(-1, 8)]
    part = os.path.join(data, "partitioned")
    types = sorted(os.listdir(part))
    folders = lambda ts: [os.path.join(part, t, d.strftime("%Y/%m/%d")) for t in ts for d in days
                          if os.path.isdir(os.path.join(part, t, d.strftime("%Y/%m/%d")))]
    window_all, window_bounce = folders(types), folders(["Bounce"])

    def floor(paths):
        out = sh([gen, "gunzip", "--threads", "2", *paths]).stdout.split()
        return int(out[0]), int(out[2]), int(out[4]), int(out[7])

    objects, gz, json_bytes, records = floor([part])
    print(f"data: {data}: {objects} objects, {gz / 1e6:.0f} MB gzipped, {json_bytes / 1e9:.2f} GB of JSON, {records} records")
    print(f"window: {d1} .. {d2} ({len(window_all)} day folders read with the margin)")

    # Right answers first: every record counted once.
    count = rows(sh([seslog, "--source", data, "--format", "csv", "sql", "SELECT count(*) FROM seslogs"]).stdout)[1][0]
    print(f"check: seslog count(*) = {count}, records in the objects = {records}: {'ok' if int(count) == records else 'WRONG'}")

    address = rows(sh([seslog, "--source", data, "--format", "csv", "sql",
                       f"SELECT recipients[1] FROM seslogs WHERE event_type = 'Bounce' AND day = '{d1 + dt.timedelta(days=2):%Y/%m/%d}' "
                       "ORDER BY 1 LIMIT 1"]).stdout)[1][0]

    def globs(paths):
        return "[" + ", ".join(f"'{p}/*.gz'" for p in paths) + "]"

    every = f"'{part}/*/*/*/*/*.gz'"
    send_bounce = f"['{part}/Send/*/*/*/*.gz', '{part}/Bounce/*/*/*/*.gz']"
    t_from, t_to = f"{d1}T00:00:00", f"{d2 + dt.timedelta(days=1)}T00:00:00"
    questions = [
        {
            "name": f"recipient lookup, 7 days (`seslog recipient ADDRESS --from {d1} --to {d2}`)",
            "floor": window_all,
            "seslog": [seslog, "--source", data, "--format", "csv", "recipient", address, "--from", str(d1), "--to", str(d2)],
            "duckdb": f"""SELECT DISTINCT strftime(time::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%g') AS time, event, message_id FROM (
                SELECT coalesce(delivery.timestamp, bounce.timestamp, complaint.timestamp, open.timestamp, click.timestamp,
                                deliveryDelay.timestamp, mail.timestamp) AS time, eventType AS event, mail.messageId AS message_id
                FROM read_json({globs(window_all)}, format='newline_delimited', columns={{
                    eventType: 'VARCHAR', mail: 'STRUCT(timestamp VARCHAR, messageId VARCHAR, destination VARCHAR[], commonHeaders STRUCT(subject VARCHAR))',
                    delivery: 'STRUCT(timestamp VARCHAR, smtpResponse VARCHAR)', bounce: 'STRUCT(timestamp VARCHAR, bounceType VARCHAR)',
                    complaint: 'STRUCT(timestamp VARCHAR)', open: 'STRUCT(timestamp VARCHAR)', click: 'STRUCT(timestamp VARCHAR, link VARCHAR)',
                    deliveryDelay: 'STRUCT(timestamp VARCHAR)'}})
                WHERE list_contains(mail.destination, '{address}'))
                WHERE time >= '{t_from}' AND time < '{t_to}' ORDER BY 1, 2, 3""",
            # (time to the millisecond, event, message id)
            "compare": lambda r: sorted((x[0][:23], x[1], x[2]) for x in r[1:]),
        },
        {
            "name": "event counts per type and day, everything (SQL)",
            "floor": [part],
            "seslog": [seslog, "--source", data, "--format", "csv", "sql",
                       COUNTS_PER_TYPE_AND_DAY],
            "duckdb": f"""SELECT eventType, substr(mail.timestamp, 1, 10) AS day, count(*) AS n
                FROM read_json({every}, format='newline_delimited', columns={{eventType: 'VARCHAR', mail: 'STRUCT(timestamp VARCHAR)'}})
                GROUP BY 1, 2 ORDER BY 1, 2""",
            "compare": lambda r: r[1:],
        },
        {
            "name": "bounce rate by recipient domain, everything (SQL)",
            "floor": [os.path.join(part, "Send"), os.path.join(part, "Bounce")],
            "seslog": [seslog, "--source", data, "--format", "csv", "sql", BOUNCE_RATE_BY_DOMAIN],
            "duckdb": f"""WITH t AS (SELECT * FROM read_json({send_bounce}, format='newline_delimited', columns={{
                    eventType: 'VARCHAR', mail: 'STRUCT(destination VARCHAR[])',
                    bounce: 'STRUCT(bounceType VARCHAR, bouncedRecipients STRUCT(emailAddress VARCHAR)[])'}})),
                sends AS (SELECT split_part(lower(d), '@', 2) AS domain, count(*) AS n
                          FROM (SELECT unnest(mail.destination) AS d FROM t WHERE eventType = 'Send') GROUP BY 1),
                bounces AS (SELECT split_part(lower(r.emailAddress), '@', 2) AS domain, count(*) AS n
                            FROM (SELECT unnest(bounce.bouncedRecipients) AS r FROM t
                                  WHERE eventType = 'Bounce' AND bounce.bounceType = 'Permanent') GROUP BY 1)
                SELECT s.domain, s.n AS sends, coalesce(b.n, 0) AS bounces,
                       round(100.0 * coalesce(b.n, 0) / s.n, 3) AS bounce_rate_pct
                FROM sends s LEFT JOIN bounces b ON s.domain = b.domain ORDER BY 1""",
            "compare": lambda r: [x[:3] + [f"{float(x[3]):.3f}"] for x in r[1:]],
        },
        {
            "name": f"bounces, 7 days (`seslog bounces --from {d1} --to {d2}`)",
            "floor": window_bounce,
            "seslog": [seslog, "--source", data, "--format", "csv", "bounces", "--from", str(d1), "--to", str(d2)],
            "duckdb": f"""SELECT DISTINCT bounce.timestamp AS time, lower(r.emailAddress) AS recipient, bounce.bounceType AS bounce_type,
                       bounce.bounceSubType AS bounce_subtype, r.status, r.diagnosticCode, mail.messageId AS message_id,
                       mail.commonHeaders.subject AS subject, mail.source AS sender, mail.timestamp AS sent,
                       bounce.feedbackId AS feedback_id, bounce.reportingMTA AS reporting_mta
                FROM (SELECT *, unnest(bounce.bouncedRecipients) AS r FROM read_json({globs(window_bounce)}, format='newline_delimited', columns={{
                    eventType: 'VARCHAR', mail: 'STRUCT(timestamp VARCHAR, messageId VARCHAR, source VARCHAR, commonHeaders STRUCT(subject VARCHAR))',
                    bounce: 'STRUCT(timestamp VARCHAR, bounceType VARCHAR, bounceSubType VARCHAR, feedbackId VARCHAR, reportingMTA VARCHAR,
                                    bouncedRecipients STRUCT(emailAddress VARCHAR, status VARCHAR, diagnosticCode VARCHAR)[])'}}))
                WHERE bounce.timestamp >= '{t_from}' AND bounce.timestamp < '{t_to}' ORDER BY 1, 2""",
            # (recipient, message id, bounce type)
            "compare": lambda r: sorted((x[1], x[6], x[2]) for x in r[1:]),
        },
    ]

    table = []
    for q in [] if args.s3_only else questions:
        floor_s = []
        for _ in range(args.runs):
            start = time.monotonic()
            floor(q["floor"])
            floor_s.append(time.monotonic() - start)
        s_runs, d_runs = [], []
        for _ in range(args.runs):
            s_runs.append(measure_rss(q["seslog"]))
            d_runs.append(measure_rss([duckdb, "-csv", "-c", q["duckdb"]]))
        try:
            same = q["compare"](rows(s_runs[0][2])) == q["compare"](rows(d_runs[0][2]))
        except (IndexError, ValueError):
            same = False
        if not same:
            print(f"differs: {q['name']}\n  seslog: {s_runs[0][2][:300]!r}\n  duckdb: {d_runs[0][2][:300]!r}")
        n = len(rows(s_runs[0][2])) - 1
        s_t = statistics.median(r[0] for r in s_runs)
        d_t = statistics.median(r[0] for r in d_runs)
        s_m = statistics.median(r[1] for r in s_runs)
        d_m = statistics.median(r[1] for r in d_runs)
        s_a = statistics.median(r[3] for r in s_runs)
        d_a = statistics.median(r[3] for r in d_runs)
        f_t = statistics.median(floor_s)
        table.append((q["name"], d_t, s_t, f_t, d_m, s_m, d_a, s_a, n, same))

    if table:
        print_table(table, args)
    if not args.no_s3:
        s3_leg(args, data, [questions[0], questions[1]])


def print_table(table, args):
    print()
    print("| question | DuckDB CLI | seslog | seslog / DuckDB | gunzip floor (2 threads) | seslog / floor "
          "| peak RSS DuckDB / seslog | of which allocated (RssAnon) DuckDB / seslog | rows | same values |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, d_t, s_t, f_t, d_m, s_m, d_a, s_a, n, same in table:
        print(f"| {name} | {d_t:.2f} s | {s_t:.2f} s | {s_t / d_t:.2f}x | {f_t:.2f} s | {s_t / f_t:.2f}x | "
              f"{d_m:.0f} / {s_m:.0f} MiB | {d_a:.0f} / {s_a:.0f} MiB | {n} | {'yes' if same else 'NO'} |")
    print(f"\nmedians of {args.runs} runs, seslog and DuckDB alternating; {os.cpu_count()} cores")


# The S3 leg: the same questions with the objects behind an S3-compatible server on this
# machine. It shares the 2 cores with seslog, so its own cost counts against seslog: the
# default is a lean server (bench/s3-serve/src/folder.rs); s3s-fs, the server the tests
# use, walks the whole subtree on every LIST, reads each object twice per GET (once for its
# MD5 ETag) and hops to a thread pool for each file operation.
S3_KEY, S3_SECRET = "SESLOGBENCHKEY", "seslog-bench-secret"


def s3_leg(args, data, questions):
    target = os.path.join(ROOT, "target/s3-serve")
    sh(["cargo", "build", "--release", "--quiet", "--manifest-path", "bench/s3-serve/Cargo.toml",
        "--target-dir", target], cwd=ROOT)
    serve = os.path.join(target, "release/s3-serve")
    lean = args.s3_server == "lean"
    # S3 answers in tens of milliseconds; the local server in well under one. The lean
    # server waits itself (a sleeping task costs no CPU); in front of s3s-fs, a proxy does.
    delay = ["--latency-ms", str(args.s3_latency_ms)] if lean and args.s3_latency_ms else []
    server = subprocess.Popen([serve] + delay + ([] if lean else ["--s3s-fs"])
                              + [os.path.dirname(data), S3_KEY, S3_SECRET],
                              stdout=subprocess.PIPE, text=True)
    proxy = None
    try:
        endpoint = server.stdout.readline().strip()
        if args.s3_latency_ms and not lean:
            port = endpoint.rsplit(":", 1)[1]
            proxy = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench/latency_proxy.py"),
                                      "38111", port, str(args.s3_latency_ms / 1000)],
                                     stdout=subprocess.PIPE, text=True)
            proxy.stdout.readline()
            endpoint = "http://127.0.0.1:38111"
        if args.s3_latency_ms:
            print(f"\nS3 requests delayed by {args.s3_latency_ms:g} ms")
        env = dict(os.environ, AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET,
                   AWS_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)
        bucket = "s3://" + os.path.basename(data)
        cache = os.path.join(ROOT, "target/bench-cache")
        print(f"\nS3 server: {args.s3_server} (bench/s3-serve{' --s3s-fs' if args.s3_server == 's3s-fs' else ''}), on the same 2 cores")
        print("| question | seslog, local disk | seslog, S3 on this machine | S3 / local | S3 again, from the cache | cached / local | same rows |")
        print("|---|---|---|---|---|---|---|")
        for q in questions:
            local_cmd = q["seslog"]
            s3_cmd = [bucket if a == data else a for a in local_cmd]
            # Every S3 run fetches everything; then the same with the object cache, once
            # to fill it (not counted), then counted.
            fetch_cmd = s3_cmd[:1] + ["--no-cache"] + s3_cmd[1:]
            cached_cmd = s3_cmd[:1] + ["--cache-dir", cache] + s3_cmd[1:]
            shutil.rmtree(cache, ignore_errors=True)
            measure_rss(cached_cmd, env)
            local, remote, cached = [], [], []
            for _ in range(args.runs):
                local.append(measure_rss(local_cmd))
                remote.append(measure_rss(fetch_cmd, env))
                cached.append(measure_rss(cached_cmd, env))
            same = rows(local[0][2]) == rows(remote[0][2]) == rows(cached[0][2])
            l_t = statistics.median(r[0] for r in local)
            r_t = statistics.median(r[0] for r in remote)
            c_t = statistics.median(r[0] for r in cached)
            print(f"| {q['name']} | {l_t:.2f} s | {r_t:.2f} s | {r_t / l_t:.2f}x | {c_t:.2f} s | {c_t / l_t:.2f}x | {'yes' if same else 'NO'} |")
    finally:
        server.kill()
        if proxy:
            proxy.kill()


def find_duckdb():
    try:
        import duckdb_cli  # noqa: F401 (the pip package ships the real binary beside it)
        path = os.path.join(os.path.dirname(duckdb_cli.__file__), "duckdb")
        if os.path.isfile(path):
            return path
    except ImportError:
        pass
    path = shutil.which("duckdb")
    if not path:
        sys.exit("no DuckDB CLI: pip install duckdb-cli, or --duckdb PATH")
    return path


if __name__ == "__main__":
    main()
