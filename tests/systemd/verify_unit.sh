#!/bin/sh
# usage: verify_unit.sh <unit file> <sluice binary>
# `systemd-analyze verify` on a copy of the unit whose ExecStart= names the built binary (verify
# rejects a unit whose ExecStart binary does not exist). Needs neither systemd as PID 1 nor the
# sluice user: verify loads the unit offline and does not resolve User=. Fails on any message,
# because verify only warns (exit 0) about unknown keys and bad values.
set -eu
unit=$1
binary=$2
[ -x "$binary" ] || { echo "FAIL: sluice binary not built: $binary"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name=$(basename "$unit")
sed "s|^ExecStart=/usr/bin/sluice |ExecStart=$binary |" "$unit" >"$tmp/$name"
grep -q "^ExecStart=$binary " "$tmp/$name" || { echo "FAIL: no ExecStart=/usr/bin/sluice line"; exit 1; }

status=0
output=$(cd "$tmp" && systemd-analyze verify "$tmp/$name" 2>&1) || status=$?
if [ "$status" -ne 0 ] || [ -n "$output" ]; then
    echo "FAIL: systemd-analyze verify (exit $status):"
    echo "$output"
    exit 1
fi
echo "PASS: systemd-analyze verify $name"
