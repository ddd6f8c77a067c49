#!/usr/bin/env bash
# Benchmark: generate a few days of realistic volume, then time a full scan and a
# one-recipient filter, beside what gunzip alone takes on the same objects (and DuckDB,
# when its Python package is installed). Prints figures; asserts nothing.
#
#   bench/run.sh [DAYS] [MAILS_PER_DAY]      (default 3 days x 20000 mails)
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-3}
mails=${2:-20000}
data=bench/data/${days}d-${mails}
cargo build --release --quiet --bin seslog --bin seslog-gen
seslog=target/release/seslog
if [ ! -d "$data" ]; then
  target/release/seslog-gen volume "$data" --days "$days" --mails-per-day "$mails"
fi
objects=$(find "$data" -name '*.gz' | wc -l)
gz_bytes=$(find "$data" -name '*.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
json_bytes=$(find "$data" -name '*.gz' -print0 | xargs -0 cat | gzip -dc | wc -c)
echo "data: $data: $objects objects, $gz_bytes bytes gzipped, $json_bytes bytes of JSON"

# Best of 3 wall-clock seconds of a command.
best() {
  local best=""
  for _ in 1 2 3; do
    local start end t
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
  done
  printf '%.3f' "$best"
}

recipient=$("$seslog" --source "$data" --format csv sql "SELECT recipients[1] FROM seslogs WHERE event_type = 'Bounce' LIMIT 1" | tail -n 1)
gunzip_s=$(best sh -c "find '$data' -name '*.gz' -print0 | xargs -0 cat | gzip -dc")
count_s=$(best "$seslog" --source "$data" sql "SELECT count(*) FROM seslogs")
full_s=$(best "$seslog" --source "$data" sql "SELECT count(*), count(DISTINCT mail.messageid) FROM seslogs")
group_s=$(best "$seslog" --source "$data" sql "SELECT event_type, count(*), count(DISTINCT mail.messageid), max(event_time) FROM seslogs GROUP BY 1")
one_s=$(best "$seslog" --source "$data" sql "SELECT eventtype, event_time FROM seslogs WHERE array_has(recipients, '$recipient') ORDER BY event_time")
mb=$(echo "$json_bytes / 1000000" | bc -l)
echo "gunzip alone (gzip -dc, 1 core):          ${gunzip_s}s"
echo "seslog count(*) (decodes eventType):       ${count_s}s"
echo "seslog full scan (count, distinct msg id): ${full_s}s  ($(printf '%.0f' "$(echo "$mb / $full_s" | bc -l)") MB/s of JSON)"
echo "seslog per type (+ event_time, all events):${group_s}s"
echo "seslog one recipient ($recipient): ${one_s}s"
if python3 -c 'import duckdb' 2>/dev/null; then
  duck() {
    python3 -c "
import duckdb
duckdb.sql(\"SELECT count(*), count(DISTINCT mail.messageId) FROM read_ndjson_auto('$data/partitioned/*/*/*/*/*.gz', maximum_sample_files=64)\").fetchall()"
  }
  if duck 2>/dev/null; then
    echo "duckdb full scan (same query, python duckdb): $(best duck)s"
  else
    echo "duckdb full scan: failed (see: python3 -c 'import duckdb' ...)"
  fi
else
  echo "duckdb: not installed (pip install duckdb to compare)"
fi
