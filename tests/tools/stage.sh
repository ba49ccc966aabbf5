#!/usr/bin/env bash
# Run one stage of `make test` and record how long it took, so CI's time budget stays visible.
#   stage.sh NAME CMD...   run CMD, print its duration, record it
#   stage.sh --summary     print every recorded stage and the total, then forget them
set -euo pipefail

record="${CCPROXY_STAGE_RECORD:-.cache/stages.tsv}"
mkdir -p "$(dirname "$record")"

summary() {
  [ -s "$record" ] || return 0
  echo "== stage durations =="
  awk -F'\t' '{ printf "  %-28s %6ds  %s\n", $1, $2, $3; total += $2 }
              END { printf "  %-28s %6ds\n", "total", total }' "$record"
}

if [ "${1:-}" = "--summary" ]; then
  summary
  rm -f "$record"
  exit 0
fi

name=$1; shift
echo "== stage: $name =="
start=$(date +%s)
rc=0
"$@" || rc=$?
secs=$(( $(date +%s) - start ))
result=$([ "$rc" -eq 0 ] && echo passed || echo "FAILED (rc $rc)")
printf '%s\t%s\t%s\n' "$name" "$secs" "$result" >> "$record"
echo "== stage: $name $result in ${secs}s =="
if [ "$rc" -ne 0 ]; then
  summary
  rm -f "$record"
fi
exit "$rc"
