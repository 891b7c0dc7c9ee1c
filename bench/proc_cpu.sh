# shellcheck shell=bash
# CPU accounting from /proc, sourced by the benchmarks that report CPU per event (bench/instances,
# bench/scale). Reads SLUICE_PG_DIR (bench/run sets it) to find the server's postmaster.
#
#   cpu_ticks PID...      "PID TICKS" lines (utime + stime); processes gone are skipped
#   pg_ticks              cpu_ticks of the server's live processes
#   server_ticks          every tick the server has used: the postmaster's own and those of its
#                         ended children (cutime, cstime: a backend's CPU lands there when it
#                         exits), plus its live children's. The difference of two readings is
#                         the server's CPU between them, even when backends come and go.
#   server_settle PIDS    wait (up to 10 s) until every server process not in the list PIDS
#                         (pgrep -P format) has been reaped: an ended backend's ticks reach
#                         cutime only then, some time after its client has gone
#   machine               "TOTAL IDLE" ticks of the whole machine
#   ticks_since A B       ticks used by the processes of list B (cpu_ticks format) since list A;
#                         processes new in B count whole
#   hz                    clock ticks per second

hz=$(getconf CLK_TCK)
postmaster=
[ -n "${SLUICE_PG_DIR:-}" ] && postmaster=$(head -1 "$SLUICE_PG_DIR/data/postmaster.pid" 2>/dev/null || true)

cpu_ticks() {
  local pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] && awk -v p="$pid" '{ sub(/.*\) /, ""); print p, $12 + $13 }' "/proc/$pid/stat" 2>/dev/null
  done
  return 0
}
# shellcheck disable=SC2046  # one argument per pid
pg_ticks() { [ -z "$postmaster" ] || cpu_ticks $(pgrep -P "$postmaster"); }
server_ticks() {
  [ -n "$postmaster" ] || { echo 0; return 0; }
  { awk '{ sub(/.*\) /, ""); print 0, $12 + $13 + $14 + $15 }' "/proc/$postmaster/stat"; pg_ticks; } |
    awk '{ s += $2 } END { print s + 0 }'
}
server_settle() {
  local i new
  for i in $(seq 1 100); do
    # shellcheck disable=SC2046
    new=$(comm -13 <(printf '%s\n' "$1" | sort) <(pgrep -P "$postmaster" | sort))
    [ -z "$new" ] && return 0
    sleep 0.1
  done
}
machine() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
ticks_since() {
  awk 'NR == FNR { before[$1] = $2; next } { used += $2 - ($1 in before ? before[$1] : 0) }
       END { print used + 0 }' <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}
