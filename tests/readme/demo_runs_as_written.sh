#!/usr/bin/env bash
# Runs the README's first command, scripts/demo, in its "stops by itself" form
# (`scripts/demo --seconds N`), on the build under test, and checks what the demo promises:
# orders appended, order_summary equal to its computation from the events, every webhook
# delivered with a valid signature, exit 0, and nothing left behind (no process it started, no
# temp dir, no cluster), without touching the caller's DATABASE_URL or SLUICE_PG_DIR.
#   demo_runs_as_written.sh SOURCE_DIR BINARY_DIR [SECONDS]
set -euo pipefail
source_dir=$1
binary_dir=$2
seconds=${3:-6}

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# The README's first command, and the form that stops by itself.
first=$(awk '/^```sh$/ { inside = 1; next } inside { print; exit }' "$source_dir/README.md" |
  sed -E 's/#.*//; s/[[:space:]]+$//')
[ "$first" = "scripts/demo" ] || fail "README's first command is not scripts/demo but '$first'"
grep -q '`scripts/demo --seconds [0-9]*` stops by itself' "$source_dir/README.md" ||
  fail "README no longer says that scripts/demo --seconds N stops by itself"

work=$(mktemp -d)
chmod 755 "$work"  # PostgreSQL runs as another user when the test runs as root
mark="demo-test-$$-$RANDOM"
leftovers() {
  # Every process that carries this run's mark in its environment: the demo's children
  # (PostgreSQL, sluice, the webhook sink, the appender) inherit it.
  local dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" != $$ ] || continue
    if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qx "SLUICE_DEMO_TEST_MARK=$mark"; then
      echo "$pid"
    fi
  done
}
cleanup() {
  local pids
  pids=$(leftovers)
  # Only what this run started (it carries the mark) is stopped.
  [ -z "$pids" ] || kill $pids 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The demo's temp dirs (its own and the cluster's) go under a TMPDIR of the test's, which must
# be empty afterwards.
mkdir -m 755 "$work/tmp"
# A cluster directory of someone else's that the demo must leave alone.
mkdir -p "$work/decoy-cluster/data"
echo 1 >"$work/decoy-cluster/port"
cache_type() { grep '^CMAKE_BUILD_TYPE:' "$binary_dir/CMakeCache.txt"; }
type_before=$(cache_type)

cd "$source_dir"
status=0
env -u SLUICE_BUILD_TYPE SLUICE_DEMO_TEST_MARK="$mark" TMPDIR="$work/tmp" \
  SLUICE_BUILD_DIR="$binary_dir" \
  SLUICE_DEMO_HTTP_PORT=0 SLUICE_DEMO_SINK_PORT=0 \
  DATABASE_URL="postgresql://the-demo-must-not-use-this@127.0.0.1:1/nowhere" \
  SLUICE_PG_DIR="$work/decoy-cluster" \
  timeout -k 30 100 scripts/demo --seconds "$seconds" </dev/null >"$work/out.log" 2>&1 || status=$?
out=$(tr '\r' '\n' <"$work/out.log")
show() {
  printf '%s\n' "$out" >&2
  fail "$@"
}
[ "$status" -eq 0 ] || show "scripts/demo exited with $status"

# It used the build under test as it was: no package installed, nothing rebuilt or reconfigured.
grep -q '^install-deps: all [0-9]* packages present$' <<<"$out" || show "install-deps did not find every package"
grep -q 'no work to do' <<<"$out" ||
  show "the demo rebuilt sluice (the build under test was not up to date, or the demo reconfigured it)"
[ "$(cache_type)" = "$type_before" ] || show "the demo changed the build type: $(cache_type)"

# What it promises, from its own summary.
read -r orders events differing < <(sed -nE \
  's/^order_summary: ([0-9]+) orders from ([0-9]+) events; ([0-9]+) rows differ .*/\1 \2 \3/p' <<<"$out")
[ -n "${orders:-}" ] || show "no order_summary line"
[ "$orders" -gt 0 ] && [ "$events" -gt "$orders" ] || show "no orders appended"
[ "$differing" -eq 0 ] || show "order_summary differs from the events"
read -r delivered queued_total shipped still_queued < <(sed -nE \
  's/^webhooks: ([0-9]+) of ([0-9]+) delivered \(([0-9]+) orders shipped\), ([0-9]+) still queued$/\1 \2 \3 \4/p' <<<"$out")
[ -n "${delivered:-}" ] || show "no webhooks line"
[ "$shipped" -gt 0 ] && [ "$delivered" -eq "$shipped" ] && [ "$queued_total" -eq "$shipped" ] &&
  [ "$still_queued" -eq 0 ] || show "not every webhook was delivered"
read -r signed_ok signed_bad < <(sed -nE \
  's/^webhook sink: ([0-9]+) webhooks received with a valid signature, ([0-9]+) with a bad one$/\1 \2/p' <<<"$out")
[ -n "${signed_ok:-}" ] || show "no webhook sink line"
[ "$signed_bad" -eq 0 ] && [ "$signed_ok" -ge "$delivered" ] || show "signatures were not all verified"
grep -q '^demo: ok$' <<<"$out" || show "the demo did not say ok"

# Nothing left behind.
cluster=$(sed -nE 's/^pg: started PostgreSQL on [0-9.:]+ in (.*)$/\1/p' <<<"$out")
[ -n "$cluster" ] || show "the demo did not say where its cluster was"
[ ! -e "$cluster" ] || show "the demo left its cluster directory $cluster"
grep -qx "pg: stopped and removed $cluster" <<<"$out" || show "the demo did not stop its cluster"
[ -d "$work/decoy-cluster/data" ] || show "the demo removed the cluster named by the caller's SLUICE_PG_DIR"
left=$(ls -A "$work/tmp")
[ -z "$left" ] || show "the demo left temp files: $left"
pids=$(leftovers)
[ -z "$pids" ] || show "the demo left processes running: $(ps -o pid=,args= -p "${pids//$'\n'/,}")"

echo "scripts/demo --seconds $seconds: $orders orders, $delivered webhooks delivered and verified, nothing left running"
