#!/usr/bin/env bash
# make bench: figures from fresh test-bed Macs (first converges), then from the demo Macs (make
# demo brings them up). Prints them and writes .cache/bench/results.json. BENCH_QUICK=1: a few
# requests and one round each, to check that the scripts run.
# Every figure is measured on the Mac itself, so LiteLLM direct and through Traefik differ only
# by ccproxy's hops; see docs/benchmarks.md for the method and the goals.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
macs=(./.venv/bin/python tests/testbed/macs/macs.py)
root=/Users/coder/ccproxy
rounds=5 per_round=200 noop_rounds=3 recovery_rounds=3 restart_rounds=3 throughput_seconds=30 open_loop_seconds=10
worker_rounds=3 worker_seconds=10 worker_counts=1,2,4 config_rounds=2
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  rounds=2 per_round=10 noop_rounds=1 recovery_rounds=1 restart_rounds=1 throughput_seconds=2 open_loop_seconds=1
  worker_rounds=1 worker_seconds=2 worker_counts=1,2 config_rounds=1
fi

mkdir -p .cache/bench
lock="${TESTBED_LOCK:-/var/tmp/ccproxy-testbed.lock}"
# P1, P2, P5 first: fresh Macs of their own each round; the demo (one bed per machine) is taken
# down for them and brought up again after.
make --no-print-directory demo-down
first=(--rounds 3 --three --cold)
if [ "${BENCH_QUICK:-0}" = 1 ]; then first=(--rounds 1); fi
flock "$lock" "$bin/python" bench/first_converge.py "${first[@]}" > .cache/bench/first.json

if ! "${macs[@]}" status 2>/dev/null | grep -Eq '^mac1 +up'; then
  make --no-print-directory demo
fi
# Hold the bed's lock while measuring: nothing else may bring it down or load it meanwhile.
exec 9>>"$lock"
flock 9
"${macs[@]}" shell mac1 /usr/bin/python3 "$PWD/bench/latency.py" \
  --master-key-file "$root/auth/master.key" --token-file "$PWD/.cache/secrets/default/client-token" \
  --rounds "$rounds" --per-round "$per_round" --throughput-seconds "$throughput_seconds" \
  --open-loop-seconds "$open_loop_seconds" > .cache/bench/latency.json
# P11: LiteLLM killed with SIGKILL, back through Traefik, against its own cold start.
"${macs[@]}" shell mac1 /usr/bin/python3 "$PWD/bench/recovery.py" \
  --token-file "$PWD/.cache/secrets/default/client-token" --rounds "$recovery_rounds" \
  > .cache/bench/recovery.json
# P12: LiteLLM restarted by launchd, as a config change restarts it, while clients call through Traefik.
"${macs[@]}" shell mac1 /usr/bin/python3 "$PWD/bench/restart.py" \
  --token-file "$PWD/.cache/secrets/default/client-token" --rounds "$restart_rounds" > .cache/bench/restart.json
"${macs[@]}" shell mac1 /usr/bin/python3 "$PWD/bench/restart.py" --kill \
  --token-file "$PWD/.cache/secrets/default/client-token" --rounds "$restart_rounds" > .cache/bench/restart-kill.json
# P10: LiteLLM by hand on a spare port with 1, 2, 4 workers, 20 clients each.
"${macs[@]}" shell mac1 /usr/bin/python3 "$PWD/bench/workers.py" \
  --root "$root" --rounds "$worker_rounds" --seconds "$worker_seconds" --workers "$worker_counts" \
  > .cache/bench/workers.json
# P3, P4: a no-op site.yml from the controller, on mac1 and on the three Macs make demo converged.
"$bin/python" bench/noop.py --rounds "$noop_rounds" > .cache/bench/noop.json
# P12: a config change through site.yml with 1 and 2 workers, clients calling meanwhile.
"$bin/python" bench/config_change.py --rounds "$config_rounds" > .cache/bench/config-change.json
# P13: resident memory of each of ccproxy's processes, after the load above.
"${macs[@]}" shell mac1 ps -eo rss=,args= > .cache/bench/ps.txt
"$bin/python" - "$root" <<'PY'
import json, sys
root = sys.argv[1]
results = json.load(open(".cache/bench/latency.json"))
results.update(json.load(open(".cache/bench/noop.json")))
results.update(json.load(open(".cache/bench/recovery.json")))
results.update(json.load(open(".cache/bench/restart.json")))
results.update(json.load(open(".cache/bench/restart-kill.json")))
results.update(json.load(open(".cache/bench/first.json")))
results.update(json.load(open(".cache/bench/workers.json")))
results.update(json.load(open(".cache/bench/config-change.json")))
rss = {"LiteLLM": 0, "verifier": 0, "Traefik": 0, "Traefik's launcher": 0}
for line in open(".cache/bench/ps.txt"):
    kb, _, args = line.strip().partition(" ")
    # The verifier runs on the LiteLLM venv's python, the launcher names Traefik: look for them first.
    kind = ("verifier" if "ccproxy_auth.py" in args else "Traefik's launcher" if "ccproxy_traefik.py" in args
            else "Traefik" if "/bin/traefik" in args else "LiteLLM" if root + "/venv" in args else None)
    if kind:
        rss[kind] += int(kb)
results["P13 RSS after load (MB)"] = {kind: round(kb / 1024, 1) for kind, kb in rss.items()}
json.dump(results, open(".cache/bench/results.json", "w"), indent=2)
goals = {"P1": "<= 60 s", "P5": "<= 2.0", "P3": "<= 10 s", "P4": "<= 1.5", "P11": "ratio <= 1.3", "P12": "report (zero is the next goal)", "P6": "added p50 <= 1.5 ms",
         "P7": "added first byte <= 5 ms", "P10": "ratio >= 1.3 at the default count", "P8": "ratio >= 0.95", "P9": "p50 < 0.3 ms; p99 < 1 ms at 500 req/s",
         "P13": "verifier < 30 MB"}
for name, figure in results.items():
    if isinstance(figure, dict):
        print("%-40s %s   (goal: %s)" % (name, json.dumps(figure), goals.get(name.split()[0], "report")))
print("written: .cache/bench/results.json")
PY
