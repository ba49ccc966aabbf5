#!/usr/bin/env bash
# Run one command in the background beside a foreground one, for stages that use about one core
# each (the test bed's integration stage drives one Mac at a time; lint, sanity and the unit tests
# are single processes): on 2 cores the pair takes the time of the longer one.
#   beside.sh LOG 'BACKGROUND COMMAND' -- FOREGROUND COMMAND...
# BACKGROUND's output goes to LOG and is printed after FOREGROUND ends; either failing fails.
set -uo pipefail

log=$1 background=$2
shift 2
[ "${1:-}" = "--" ] && shift
mkdir -p "$(dirname "$log")"

bash -c "$background" > "$log" 2>&1 &
pid=$!
# Interrupted or failed, the background command does not outlive this script.
trap 'kill "$pid" 2>/dev/null' EXIT

"$@"
foreground_rc=$?
wait "$pid"
background_rc=$?
trap - EXIT

echo "== beside the stage above: $background (exit $background_rc) =="
cat "$log"
echo "== end of: $background =="
[ "$foreground_rc" -eq 0 ] && [ "$background_rc" -eq 0 ]
