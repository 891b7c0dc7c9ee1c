# shellcheck shell=bash
# shellcheck disable=SC2001  # sed pulls fields out of daemon_clock.py's JSON line
# shellcheck disable=SC2034,SC2154  # sets catchup_* for, and reads $bench from, the sourcing script
# What bench/catchup and bench/scale share, sourced by both: the orders data set in a database of
# the bench server, and one timed catch-up of order_summary by `sluice run` (bench/catchup.yaml).
# Expects DATABASE_URL and SLUICE_BIN (bench/run sets them) and `bench` (the bench/ directory).
#
#   orders_database DB        drop and create DB, `sluice migrate` it; sets url
#   q ARGS...                 psql on $url, stopping at the first error
#   orders_generate N         write N events (bench/sql/generate_orders.sql) and VACUUM ANALYZE
#   orders_position N         "TRANSACTION_ID ID" of the Nth event in commit order
#   orders_reset              empty order_summary, forget its checkpoint, CHECKPOINT
#   sluice_catchup TX ID LOG [daemon_clock.py options...]
#                             time sluice from start to position (TX, ID); sets catchup_s,
#                             catchup_kb (peak RSS), catchup_events and catchup_cpu (seconds)
#   now, since T, median V..., ratio A B
#                             clock and arithmetic for the reports

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

q() { psql -X -q -v ON_ERROR_STOP=1 -d "$url" "$@"; }

orders_database() {
  url=${DATABASE_URL%/*}/$1
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" \
    -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
  "$SLUICE_BIN" migrate --database-url "$url" >/dev/null
}

orders_generate() {
  q -v total="$1" -f "$bench/sql/generate_orders.sql"
}

orders_position() {
  q -At -F ' ' -c "SELECT transaction_id, id FROM events ORDER BY transaction_id, id
                    OFFSET $(($1 - 1)) LIMIT 1"
}

# Each measurement starts from an empty read model and a clean buffer cache state (CHECKPOINT),
# so that one run's dirty pages are not written on the next run's clock.
orders_reset() {
  q -c "DO \$\$ BEGIN IF to_regclass('order_summary') IS NOT NULL THEN TRUNCATE order_summary; END IF; END \$\$" \
    -c "DELETE FROM sluice.checkpoints WHERE name = 'order_summary'" -c "CHECKPOINT"
}

sluice_catchup() {
  local tx=$1 id=$2 log=$3 result
  shift 3
  result=$(DATABASE_URL=$url "$bench/daemon_clock.py" catchup --sluice "$SLUICE_BIN" \
    --config "$bench/catchup.yaml" --subscriber order_summary --tx "$tx" --event-id "$id" \
    --log "$log" "$@") || { tail -20 "$log" >&2; return 1; }
  catchup_s=$(sed 's/.*"seconds": \([0-9.]*\).*/\1/' <<<"$result")
  catchup_kb=$(sed 's/.*"vmhwm_kb": \([0-9]*\).*/\1/' <<<"$result")
  catchup_events=$(sed 's/.*"events": \([0-9]*\).*/\1/' <<<"$result")
  catchup_cpu=$(sed 's/.*"cpu_seconds": \([0-9.]*\).*/\1/' <<<"$result")
}
