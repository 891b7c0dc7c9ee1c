#!/usr/bin/env bash
# Every configuration the project ships passes `sluice check-config` as written: examples/,
# bench/*.yaml and the file the systemd package installs as /etc/sluice/sluice.yaml. Only the
# variables they document are set; everything else in the environment is cleared, so a config
# that needs an undocumented variable fails here.
#   shipped_configs_pass_check_config.sh SLUICE_BINARY SOURCE_DIR
set -euo pipefail
sluice=$1
source_dir=$2
shopt -s nullglob

configs=("$source_dir"/examples/*/*.yaml "$source_dir"/bench/*.yaml)
installed=$(sed -n 's|^set(sluice_example_config \${PROJECT_SOURCE_DIR}/\(.*\))$|\1|p' \
  "$source_dir/systemd/CMakeLists.txt")
[ -n "$installed" ] || { echo "FAILED: systemd/CMakeLists.txt names no sluice_example_config" >&2; exit 1; }
configs+=("$source_dir/$installed")
[ "${#configs[@]}" -ge 6 ] || { echo "FAILED: found only ${#configs[@]} shipped configs" >&2; exit 1; }

failed=0
for config in "${configs[@]}"; do
  name=${config#"$source_dir"/}
  if out=$(env -i PATH="$PATH" DATABASE_URL=postgresql://sluice@localhost/sluice \
             SLUICE_BENCH_HTTP_PORT=9470 SLUICE_SOAK_OK_URL=http://127.0.0.1:9471/ok \
             SLUICE_SOAK_FLAKY_URL=http://127.0.0.1:9472/flaky \
             "$sluice" check-config --config "$config" 2>&1); then
    echo "ok: $name"
  else
    printf 'FAILED: %s\n%s\n' "$name" "$out" >&2
    failed=1
  fi
done
exit "$failed"
