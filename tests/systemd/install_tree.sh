#!/bin/sh
# usage: install_tree.sh <build dir> <sluice unit source>
# Installs the build twice into temporary trees and checks the operator-facing files:
#  1. `cmake --install --prefix <tmp>`: everything stays under <tmp>, ExecStart= names
#     <tmp>/bin/sluice and the installed unit passes `systemd-analyze verify`.
#  2. DESTDIR=<tmp> `cmake --install --prefix /usr`: the layout a Debian package gets.
set -eu
build=$1
unit_source=$2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
expect_file() {
    if [ -f "$1" ]; then
        echo "ok   ${1#"$tmp"}"
    else
        echo "FAIL missing ${1#"$tmp"}"
        failures=$((failures + 1))
    fi
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install-prefix.log" 2>&1 ||
    { cat "$tmp/install-prefix.log"; echo "FAIL: cmake --install --prefix"; exit 1; }
expect_file "$prefix/bin/sluice"
expect_file "$prefix/lib/systemd/system/sluice.service"
expect_file "$prefix/lib/sysusers.d/sluice.conf"
expect_file "$prefix/etc/sluice/sluice.yaml"
expect_file "$prefix/share/sluice/dashboards/sluice.json"
expect_file "$prefix/share/sluice/dashboards/alerts.yml"
if ! grep -q "^ExecStart=$prefix/bin/sluice run " "$prefix/lib/systemd/system/sluice.service"; then
    echo "FAIL ExecStart= does not name $prefix/bin/sluice"
    failures=$((failures + 1))
fi
if [ -x "$prefix/bin/sluice" ]; then
    status=0
    output=$(cd "$tmp" && systemd-analyze verify "$prefix/lib/systemd/system/sluice.service" 2>&1) ||
        status=$?
    if [ "$status" -ne 0 ] || [ -n "$output" ]; then
        echo "FAIL systemd-analyze verify of the installed unit (exit $status): $output"
        failures=$((failures + 1))
    fi
fi
outside=$(grep -v "^$prefix/" "$build/install_manifest.txt" || true)
if [ -n "$outside" ]; then
    echo "FAIL installed outside the prefix:"
    echo "$outside"
    failures=$((failures + 1))
fi

root=$tmp/root
DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install-usr.log" 2>&1 ||
    { cat "$tmp/install-usr.log"; echo "FAIL: DESTDIR cmake --install --prefix /usr"; exit 1; }
expect_file "$root/usr/bin/sluice"
expect_file "$root/lib/systemd/system/sluice.service"
expect_file "$root/usr/lib/sysusers.d/sluice.conf"
expect_file "$root/etc/sluice/sluice.yaml"
expect_file "$root/usr/share/sluice/dashboards/sluice.json"
expect_file "$root/usr/share/sluice/dashboards/alerts.yml"
if ! cmp -s "$root/lib/systemd/system/sluice.service" "$unit_source"; then
    echo "FAIL /lib/systemd/system/sluice.service differs from systemd/sluice.service"
    failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] || { echo "FAIL: $failures problem(s)"; exit 1; }
echo "PASS: install layout"
