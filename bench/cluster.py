#!/usr/bin/env python3
"""What running on workers costs: each question in process, on 1 worker and on 2 workers
(`seslog worker` processes on this machine, over loopback), alternately, medians of wall
time, and the bytes sent between the processes (plans out, rows between them and back, as
`--stats` reports them).

    bench/cluster.py [--data bench/data/14d-40000] [--runs 3] [--seslog target/release/seslog]

On one machine the workers share its cores with the coordinator, so no speed-up is to be
expected: the figure that matters is the overhead of the distributed path. The data is
made by `bench/compare.py` (or `seslog-gen volume`). Every run's output is checked to be
the in-process output, byte for byte. It prints figures; it asserts nothing about speed.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

from compare import BOUNCE_RATE_BY_DOMAIN, COUNTS_PER_TYPE_AND_DAY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

QUESTIONS = [
    ("event counts per type and day, everything (SQL)", COUNTS_PER_TYPE_AND_DAY),
    ("bounce rate by recipient domain, everything (SQL)", BOUNCE_RATE_BY_DOMAIN),
]


def start_worker(seslog):
    proc = subprocess.Popen(
        [seslog, "worker", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().strip()
    prefix = "seslog worker listening on "
    if not line.startswith(prefix):
        sys.exit(f"the worker printed {line!r}")
    return proc, line[len(prefix):]


def run(cmd):
    start = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - start
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd[:6])}... failed: {r.stderr}")
    stats = {}
    for line in r.stderr.splitlines():
        if line.startswith("seslog: stats: "):
            for pair in line[len("seslog: stats: "):].split():
                key, _, value = pair.partition("=")
                stats[key] = value
    return wall, r.stdout, stats


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(ROOT, "bench/data/14d-40000"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seslog", default=os.path.join(ROOT, "target/release/seslog"))
    args = p.parse_args()
    if not os.path.isdir(args.data):
        sys.exit(f"{args.data}: no data; make it with bench/compare.py or seslog-gen volume")
    workers = [start_worker(args.seslog) for _ in range(2)]
    try:
        setups = [
            ("in process", []),
            ("1 worker", ["--workers", workers[0][1]]),
            ("2 workers", ["--workers", f"{workers[0][1]},{workers[1][1]}"]),
        ]
        print(f"data: {args.data}; medians of {args.runs}, the three alternating\n")
        print("| question | in process | 1 worker | 1 worker / in process | 2 workers | 2 workers / in process | bytes shipped, 1 worker | bytes shipped, 2 workers |")
        print("|---|---|---|---|---|---|---|---|")
        for name, sql in QUESTIONS:
            walls = {label: [] for label, _ in setups}
            shipped = {}
            expected = None
            for _ in range(args.runs):
                for label, extra in setups:
                    cmd = [args.seslog, "--source", args.data, *extra, "--stats", "--format", "csv", "sql", sql]
                    wall, out, stats = run(cmd)
                    if expected is None:
                        expected = out
                    elif out != expected:
                        sys.exit(f"{name}: {label} printed other rows than in process")
                    walls[label].append(wall)
                    if "bytes_shipped" in stats:
                        shipped[label] = int(stats["bytes_shipped"])
            med = {label: statistics.median(w) for label, w in walls.items()}
            base = med["in process"]
            print(
                f"| {name} | {base:.2f} s | {med['1 worker']:.2f} s | {med['1 worker'] / base:.2f}x "
                f"| {med['2 workers']:.2f} s | {med['2 workers'] / base:.2f}x "
                f"| {shipped.get('1 worker', 0) / 1e6:.2f} MB | {shipped.get('2 workers', 0) / 1e6:.2f} MB |"
            )
    finally:
        for proc, _ in workers:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
