#!/bin/sh
# usage: security_exposure.sh <unit file> <max exposure, e.g. 2.0>
# Offline `systemd-analyze security` of the unit; its overall exposure must not exceed the bound.
set -eu
unit=$1
max=$2
name=$(basename "$unit")

status=0
output=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || status=$?
# "→ Overall exposure level for sluice.service: 1.2 OK 🙂"
level=$(printf '%s\n' "$output" | sed -n "s/.*Overall exposure level for $name: \([0-9.]*\).*/\1/p")
if [ -z "$level" ]; then
    echo "FAIL: no overall exposure level in systemd-analyze output (exit $status):"
    echo "$output"
    exit 1
fi
if awk -v l="$level" -v m="$max" 'BEGIN { exit !(l + 0 <= m + 0) }'; then
    echo "PASS: $name exposure $level <= $max"
else
    printf '%s\n' "$output" | grep '✗' || true
    echo "FAIL: $name exposure $level > $max"
    exit 1
fi
