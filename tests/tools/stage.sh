#!/usr/bin/env bash
# Run one stage of `make test` and record how long it took, so CI's time budget stays visible.
#   stage.sh NAME CMD...   run CMD, print its duration, record it
#   stage.sh --start       forget earlier stages and start the wall clock
#   stage.sh --summary     print every recorded stage, their sum and the wall clock, then forget them
set -euo pipefail

record="${CCPROXY_STAGE_RECORD:-.cache/stages.tsv}"
mkdir -p "$(dirname "$record")"

summary() {
  [ -s "$record" ] || return 0
  echo "== stage durations =="
  awk -F'\t' '{ printf "  %-28s %6ds  %s\n", $1, $2, $3; total += $2 }
              END { printf "  %-28s %6ds\n", "sum of stages", total }' "$record"
  # Stages run beside each other overlap: the wall clock is what CI's budget counts.
  if [ -s "$record.start" ]; then
    printf '  %-28s %6ds\n' "wall clock" $(( $(date +%s) - $(cat "$record.start") ))
  fi
}

forget() { rm -f "$record" "$record.start"; }

case "${1:-}" in
  --start) forget; date +%s > "$record.start"; exit 0 ;;
  --summary) summary; forget; exit 0 ;;
esac

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
fi
exit "$rc"
