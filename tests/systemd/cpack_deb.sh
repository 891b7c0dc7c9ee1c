#!/bin/sh
# usage: cpack_deb.sh <build dir>
# Builds the Debian package from the build directory's CPack configuration into a temporary
# directory and checks its contents, maintainer scripts and conffiles.
set -eu
build=$1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out") \
    >"$tmp/cpack.log" 2>&1; then
    cat "$tmp/cpack.log"
    echo "FAIL: cpack -G DEB"
    exit 1
fi
deb=$(ls "$tmp"/out/*.deb)
echo "package: $(basename "$deb")"

failures=0
dpkg-deb -c "$deb" | awk '{ print $NF }' >"$tmp/contents"
for path in ./usr/bin/sluice ./lib/systemd/system/sluice.service ./usr/lib/sysusers.d/sluice.conf \
    ./etc/sluice/sluice.yaml ./usr/share/sluice/dashboards/sluice.json \
    ./usr/share/sluice/dashboards/alerts.yml; do
    if grep -qx "$path" "$tmp/contents"; then
        echo "ok   $path"
    else
        echo "FAIL $path not in package"
        failures=$((failures + 1))
    fi
done
unexpected=$(grep -v -e '^\./usr/' -e '^\./lib/systemd/' -e '^\./lib/$' -e '^\./etc/' -e '^\./$' \
    "$tmp/contents" || true)
if [ -n "$unexpected" ]; then
    echo "FAIL unexpected paths in package:"
    echo "$unexpected"
    failures=$((failures + 1))
fi

dpkg-deb -I "$deb" >"$tmp/info"
for script in postinst prerm postrm conffiles; do
    if grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\*? *$script( |$)" "$tmp/info"; then
        echo "ok   control: $script"
    else
        echo "FAIL control: no $script"
        failures=$((failures + 1))
    fi
done
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/sluice/sluice.yaml "$tmp/control/conffiles" ||
    { echo "FAIL conffiles lacks /etc/sluice/sluice.yaml"; failures=$((failures + 1)); }
grep -q 'systemd-sysusers sluice.conf' "$tmp/control/postinst" ||
    { echo "FAIL postinst does not run systemd-sysusers"; failures=$((failures + 1)); }
[ "$(dpkg-deb -f "$deb" Package)" = sluice ] ||
    { echo "FAIL package name"; failures=$((failures + 1)); }
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
# shlibdeps finds the shared libraries the binary links, prometheus-cpp's core among them.
case "$depends" in
    *libprometheus-cpp-core*) echo "ok   depends on libprometheus-cpp-core" ;;
    *) echo "FAIL Depends lacks libprometheus-cpp-core"; failures=$((failures + 1)) ;;
esac

[ "$failures" -eq 0 ] || { echo "FAIL: $failures problem(s)"; exit 1; }
echo "PASS: Debian package"
