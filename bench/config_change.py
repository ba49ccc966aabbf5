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
while no worker answered) and the run's seconds. The demo is left at 1 worker. Bounded: each
run's clients stop at --limit requests or when the run ends; each run at 900 s.
"""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BODY = json.dumps({"model": "gpt-4", "max_tokens": 8, "messages": [{"role": "user", "content": "config change"}]})


class Client(threading.Thread):
    def __init__(self, host, port, token, interval, limit, stop):
        super().__init__(daemon=True)
        self.host, self.port, self.token, self.interval, self.limit, self.stop = host, port, token, interval, limit, stop
        self.results = []  # (status or exception name, seconds)

    def run(self):
        conn = None
        while not self.stop.is_set() and len(self.results) < self.limit:
            started = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                conn.request("POST", "/v1/chat/completions", body=BODY,
                             headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
                conn.close()
                conn = None
            self.results.append((status, time.monotonic() - started))
            time.sleep(self.interval)


def site(workers, retries):
    """site.yml on mac1 with these settings: its seconds and recap, or the end of its output."""
    argv = [str(ROOT / ".venv/bin/ansible-playbook"),
            "--inventory", str(ROOT / "tests/testbed/macs/inventory.py"),
            "--inventory", str(ROOT / "extensions/molecule/default/inventory/hosts.yml"),
            "--extra-vars", f"ccproxy_wheelhouse_dir={ROOT}/.cache/wheelhouse",
            "--extra-vars", f"ccproxy_secrets_dir={ROOT}/.cache/secrets/default",
            "--extra-vars", "ccproxy_verify_completion=false",
            "--extra-vars", f"ccproxy_litellm_workers={workers}",
            "--extra-vars", f"ccproxy_litellm_num_retries={retries}",
            "--limit", "mac1", str(ROOT / "site.yml")]
    env = dict(os.environ, ANSIBLE_HOME=os.environ.get("ANSIBLE_HOME", str(ROOT / ".cache/ansible-home")))
    started = time.monotonic()
    run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
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
            site(workers, 0)
            figure = {"requests": 0, "failed": 0, "failed statuses": set(), "slowest s": 0.0, "runs s": []}
            for round_ in range(args.rounds):
                stop = threading.Event()
                clients = [Client(args.host, args.port, token, args.interval, args.limit, stop)
                           for _ in range(args.clients)]
                for client in clients:
                    client.start()
                try:
                    seconds, changed = site(workers, 1 - round_ % 2)
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
        site(1, 0)  # the demo as make demo left it
    print(json.dumps({"P12 a config change through site.yml, %d clients, %d rounds" % (args.clients, args.rounds):
                      results}))


if __name__ == "__main__":
    main()
