#!/usr/bin/env python3
"""The Parquet tier against the raw objects it was made from.

    bench/tier.py [--days 28] [--mails 40000] [--runs 3] [--busy-days 3] [--busy-mails 300000]

1. Generates `--days` days of `--mails` mails a day with `seslog-gen volume` (once, under
   bench/data/), compacts them with `seslog compact`, and prints how long that took and
   how much disk the tier takes beside the gzipped objects.
2. Asks the same questions of the raw objects and of the tier, alternately, and prints
   medians of wall time and peak memory, the speed-up, and whether both answers are the
   same bytes.
3. For the estimate of a year of a busy sender: generates `--busy-days` days at
   `--busy-mails` a day, compacts them, and times a recipient lookup over 1 .. busy-days
   days from the tier. The cost of one more day (the slope) times 365, plus the fixed
   cost, is the estimate printed.

It prints figures; it asserts nothing about speed.
"""

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ROOT, measure_rss, rows, sh  # noqa: E402


def du(path, suffixes=None):
    total = 0
    for base, _, files in os.walk(path):
        for f in files:
            if suffixes is None or f.endswith(suffixes):
                total += os.path.getsize(os.path.join(base, f))
    return total


def generate(gen, days, mails, first):
    data = os.path.join(ROOT, f"bench/data/{days}d-{mails}")
    if not os.path.isdir(data):
        sh([gen, "volume", data, "--days", str(days), "--mails-per-day", str(mails),
            "--first-day", first.isoformat()])
    return data


def compact(seslog, data, tier, to):
    if os.path.isdir(tier):
        shutil.rmtree(tier)
    wall, peak, _ = measure_rss([seslog, "--source", data, "--parquet", tier, "compact", "--to", to.isoformat()])
    return wall, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--mails", type=int, default=40000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--busy-days", type=int, default=3)
    ap.add_argument("--busy-mails", type=int, default=300000)
    args = ap.parse_args()

    sh(["cargo", "build", "--release", "--quiet", "--bin", "seslog", "--bin", "seslog-gen"], cwd=ROOT)
    seslog = os.path.join(ROOT, "target/release/seslog")
    gen = os.path.join(ROOT, "target/release/seslog-gen")
    first = dt.date(2024, 11, 1)
    last = first + dt.timedelta(days=args.days - 1)
    end = last + dt.timedelta(days=1)
    data = generate(gen, args.days, args.mails, first)
    tier = data + "-parquet"
    wall, peak = compact(seslog, data, tier, end)
    gz = du(os.path.join(data, "partitioned"))
    tier_bytes = du(tier)
    parquet_bytes = du(tier, (".parquet",))
    print(f"data: {data}: {args.days} days x {args.mails} mails, {gz / 1e6:.1f} MB gzipped")
    print(f"compact: {wall:.1f} s, peak {peak:.0f} MiB; tier {tier_bytes / 1e6:.1f} MB "
          f"({parquet_bytes / 1e6:.1f} MB Parquet + {(tier_bytes - parquet_bytes) / 1e6:.1f} MB manifests) "
          f"= {tier_bytes / gz:.2f}x the gzipped objects")

    address = rows(sh([seslog, "--source", data, "--format", "csv", "sql",
                       f"SELECT recipients[1] FROM seslogs WHERE event_type = 'Bounce' AND day = '{first + dt.timedelta(days=10):%Y/%m/%d}' "
                       "ORDER BY 1 LIMIT 1"]).stdout)[1][0]
    message = rows(sh([seslog, "--source", data, "--format", "csv", "sql",
                       f"SELECT mail.messageid FROM seslogs WHERE event_type = 'Bounce' AND day = '{first + dt.timedelta(days=10):%Y/%m/%d}' "
                       "ORDER BY 1 LIMIT 1"]).stdout)[1][0]
    window = ["--from", str(first), "--to", str(last)]
    week = ["--from", str(first + dt.timedelta(days=7)), "--to", str(first + dt.timedelta(days=13))]
    questions = [
        (f"recipient lookup, {args.days} days", ["recipient", address, *window]),
        (f"message lookup, {args.days} days", ["message", message, *window]),
        (f"event counts per type and day, {args.days} days (SQL)",
         ["sql", "SELECT eventtype, substr(mail.timestamp, 1, 10) AS day, count(*) AS n FROM seslogs GROUP BY 1, 2 ORDER BY 1, 2"]),
        (f"summary, {args.days} days", ["summary", *window]),
        ("bounces, 7 days", ["bounces", *week]),
    ]
    print()
    print("| question | raw objects | tier | raw / tier | peak memory raw / tier | rows | same bytes |")
    print("|---|---|---|---|---|---|---|")
    for name, q in questions:
        raw_cmd = [seslog, "--source", data, "--format", "csv", *q]
        tier_cmd = [seslog, "--source", data, "--parquet", tier, "--format", "csv", *q]
        r_runs, t_runs = [], []
        for _ in range(args.runs):
            r_runs.append(measure_rss(raw_cmd))
            t_runs.append(measure_rss(tier_cmd))
        same = r_runs[0][2] == t_runs[0][2]
        r_t = statistics.median(r[0] for r in r_runs)
        t_t = statistics.median(r[0] for r in t_runs)
        r_m = statistics.median(r[1] for r in r_runs)
        t_m = statistics.median(r[1] for r in t_runs)
        n = len(rows(r_runs[0][2])) - 1
        print(f"| {name} | {r_t:.2f} s | {t_t:.3f} s | {r_t / t_t:.1f}x | {r_m:.0f} / {t_m:.0f} MiB | {n} | {'yes' if same else 'NO'} |")
    print(f"\nmedians of {args.runs} runs, raw and tier alternating; {os.cpu_count()} cores")

    # A busy sender: the cost of one more day of lookup, from the tier.
    busy = generate(gen, args.busy_days, args.busy_mails, first)
    busy_tier = busy + "-parquet"
    b_end = first + dt.timedelta(days=args.busy_days)
    wall, peak = compact(seslog, busy, busy_tier, b_end)
    b_gz = du(os.path.join(busy, "partitioned"))
    b_tier = du(busy_tier)
    print(f"\nbusy sender: {busy}: {args.busy_days} days x {args.busy_mails} mails, {b_gz / 1e6:.0f} MB gzipped; "
          f"compact {wall:.1f} s, peak {peak:.0f} MiB; tier {b_tier / 1e6:.0f} MB = {b_tier / b_gz:.2f}x")
    b_address = rows(sh([seslog, "--source", busy, "--format", "csv", "sql",
                         f"SELECT recipients[1] FROM seslogs WHERE event_type = 'Bounce' AND day = '{first:%Y/%m/%d}' "
                         "ORDER BY 1 LIMIT 1"]).stdout)[1][0]
    points = []
    print("\n| lookup over | tier | raw objects |")
    print("|---|---|---|")
    for days in range(1, args.busy_days + 1):
        to = first + dt.timedelta(days=days - 1)
        q = ["recipient", b_address, "--from", str(first), "--to", str(to)]
        t_runs, r_runs = [], []
        for _ in range(max(args.runs, 5)):
            t_runs.append(measure_rss([seslog, "--source", busy, "--parquet", busy_tier, "--format", "csv", *q])[0])
        for _ in range(1 if days < args.busy_days else args.runs):
            r_runs.append(measure_rss([seslog, "--source", busy, "--format", "csv", *q])[0])
        t = statistics.median(t_runs)
        points.append((days, t))
        print(f"| {days} day{'s' if days > 1 else ''} | {t:.3f} s | {statistics.median(r_runs):.2f} s |")
    n = len(points)
    mx = sum(d for d, _ in points) / n
    my = sum(t for _, t in points) / n
    slope = sum((d - mx) * (t - my) for d, t in points) / max(sum((d - mx) ** 2 for d, _ in points), 1e-9)
    fixed = my - slope * mx
    print(f"\nper day of lookup at {args.busy_mails} mails a day: {slope * 1000:.1f} ms; fixed {fixed * 1000:.0f} ms; "
          f"365 days: {fixed + 365 * slope:.2f} s (estimate)")


if __name__ == "__main__":
    main()
