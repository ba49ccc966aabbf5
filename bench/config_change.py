#!/usr/bin/env python3
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""P12: what clients see while site.yml changes the config of the demo Mac, by worker count.

From the controller: for each worker count (ccproxy_litellm_workers), one site.yml run on mac1
brings it to that count (not measured), then --rounds runs each change config.yaml
(ccproxy_litellm_num_retries, 1 then 0), which restarts every worker, while --clients clients
call /v1/chat/completions through Traefik with the demo's client token, each on its own
kept-alive connection, one request every --interval seconds. Prints one JSON object: per count,
the requests, the failed ones and their statuses, the slowest answer (a request Traefik held
while no worker answered) and the run's seconds. The demo is left as make demo converged it.
Bounded: each run's clients stop at --limit requests or when the run ends; each run at 900 s.
"""

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from noop import site_argv, site_env
from restart import Client

ROOT = Path(__file__).resolve().parents[1]


def site(*extra_vars):
    """site.yml on mac1 with these extra variables: its seconds and changed count, or the end of its output."""
    started = time.monotonic()
    run = subprocess.run(site_argv(*extra_vars) + ["--limit", "mac1"], cwd=ROOT, env=site_env(), capture_output=True,
                         text=True, timeout=900, check=False)
    recap = re.search(r"(?m)^mac1\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", run.stdout)
    if run.returncode or not recap:
        sys.exit(f"config_change.py: site.yml failed (exit {run.returncode}):\n{run.stdout[-3000:]}")
    return time.monotonic() - started, int(recap.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="198.18.0.11")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=20000)
    args = parser.parse_args()
    token = (ROOT / ".cache/secrets/default/client-token").read_text().strip()
    results = {}
    try:
        for workers in [int(count) for count in args.workers.split(",")]:
            counted = f"ccproxy_litellm_workers={workers}"
            site(counted, "ccproxy_litellm_num_retries=0")
            figure = {"requests": 0, "failed": 0, "failed statuses": set(), "slowest s": 0.0, "runs s": []}
            for round_ in range(args.rounds):
                stop = threading.Event()
                clients = [Client(args.port, token, args.interval, args.limit, stop, host=args.host)
                           for _ in range(args.clients)]
                for client in clients:
                    client.start()
                try:
                    seconds, changed = site(counted, f"ccproxy_litellm_num_retries={1 - round_ % 2}")
                finally:
                    stop.set()
                    for client in clients:
                        client.join(150)
                if not changed:
                    sys.exit("config_change.py: the config change changed nothing")
                answers = [result for client in clients for result in client.results]
                failed = [status for status, _ in answers if status != 200]
                figure["requests"] += len(answers)
                figure["failed"] += len(failed)
                figure["failed statuses"].update(map(str, failed))
                figure["slowest s"] = round(max([figure["slowest s"]] + [s for _, s in answers]), 2)
                figure["runs s"].append(round(seconds, 1))
            figure["failed statuses"] = sorted(figure["failed statuses"])
            results["%d worker%s" % (workers, "" if workers == 1 else "s")] = figure
    finally:
        site()  # the demo as make demo left it
    print(json.dumps({"P12 a config change through site.yml, %d clients, %d rounds" % (args.clients, args.rounds):
                      results}))


if __name__ == "__main__":
    main()
