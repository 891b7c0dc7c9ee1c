#!/usr/bin/env bash
# Runs the README's "by hand" commands exactly as written (the shell block after "To use it by
# hand"), with the built binary first on PATH, and checks what they should have done.
#   hand_run_commands.sh SOURCE_DIR BINARY_DIR
set -euo pipefail
source_dir=$1
binary_dir=$2
block=$(awk '/To use it by hand/ { found = 1 } found && /^```sh$/ { inside = 1; next }
             inside && /^```$/ { exit } inside { print }' "$source_dir/README.md")
[ -n "$block" ] || { echo "README: no shell block after 'To use it by hand'" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill %1 2>/dev/null || true; [ -n "${SLUICE_PG_DIR:-}" ] && "$source_dir/scripts/pg" stop "$SLUICE_PG_DIR" 2>/dev/null; rm -rf "$work"' EXIT
cd "$source_dir"
# The README says build/daemon; the test build may live elsewhere.
mkdir -p "$work/build/daemon"
ln -s "$binary_dir/daemon/sluice" "$work/build/daemon/sluice"
block=${block//\$PWD\/build\/daemon/$work/build/daemon}
# Keep the cluster for the checks below: run everything but the last line, check, then run it.
body=$(printf '%s\n' "$block" | sed '$d')
last=$(printf '%s\n' "$block" | tail -n 1)
eval "$body" >"$work/out.log" 2>&1 || { cat "$work/out.log" >&2; echo "FAILED: a README command" >&2; exit 1; }
grep -q 'order_summary' "$work/out.log" || { cat "$work/out.log" >&2; echo "FAILED: status did not list order_summary" >&2; exit 1; }
events=$(psql "$DATABASE_URL" -Atq -c "SELECT count(*) FROM events")
[ "$events" = 1 ] || { echo "FAILED: expected 1 event after the README's append, found $events" >&2; exit 1; }
eval "$last"
if [ -d "$SLUICE_PG_DIR" ]; then
  echo "FAILED: scripts/pg stop left $SLUICE_PG_DIR" >&2
  exit 1
fi
unset SLUICE_PG_DIR
echo "README hand-run commands: ok"
