#!/usr/bin/env python3
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""P10: LiteLLM's throughput and memory by worker count (stdlib only, run as root on the Mac).

A worker is what ccproxy_litellm_workers counts: one LiteLLM process as the deployed job runs it
(its plist), on a port of its own. Each round, for each worker count N in turn: N of them started
together on spare ports, then 20 concurrent clients on kept-alive connections, spread over the
ports in turn as Traefik's round robin spreads them, for --seconds on /v1/chat/completions and
/v1/messages (direct, master key), then the resident memory of their process groups; their start
(launch to all ready) is timed too, since a first install waits for it. Worker counts alternate within a round so that the
machine's noise hits them alike. Prints one JSON object: per count, requests per second per API
(median over rounds, with min and max), the ratio to 1 worker, RSS in MB and the start in seconds. Every load loop is
bounded in time.
"""

import argparse
import json
import os
import statistics
import subprocess
import time

from latency import BODIES, Client, throughput
from recovery import launch_litellm, stop_litellm, wait_until


def group_rss_mb(pgid):
    out = subprocess.run(["ps", "-eo", "pgid=,rss="], capture_output=True, text=True, check=True, timeout=30).stdout
    return sum(int(rss) for group, rss in (line.split() for line in out.splitlines()) if int(group) == pgid) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/Users/coder/ccproxy")
    parser.add_argument("--domain", default="gui/501")
    parser.add_argument("--label", default="com.visiquate.ccproxy")
    parser.add_argument("--port", type=int, default=18182, help="the first worker's; the others the ports after it")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated; 1 is the base")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10, help="each API, each count, each round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    args.seconds = min(args.seconds, 60)  # bounded, whatever is asked
    counts = sorted({1} | {int(count) for count in args.workers.split(",")})
    with open(os.path.join(args.root, "auth/master.key")) as handle:
        headers = {"Authorization": "Bearer " + handle.read().strip()}
    rps = {count: {path: [] for path in BODIES} for count in counts}
    rss = {count: [] for count in counts}
    start = {count: [] for count in counts}
    for _ in range(args.rounds):
        for count in counts:
            ports = list(range(args.port, args.port + count))
            started = time.monotonic()
            procs = [launch_litellm(args.domain, args.label, port, 1) for port in ports]
            try:
                for port in ports:
                    wait_until(port, "/health/readiness")
                start[count].append(time.monotonic() - started)
                for port in ports:
                    warm = Client(port, headers)
                    for path, body in BODIES.items():
                        for _request in range(5):  # each worker past its first requests
                            warm.post(path, body)
                for path, body in BODIES.items():
                    rps[count][path].append(throughput(ports, headers, path, body, args.clients, args.seconds))
                rss[count].append(sum(group_rss_mb(proc.pid) for proc in procs))
            finally:
                for proc in procs:
                    stop_litellm(proc)
    results = {}
    for count in counts:
        figure = {"RSS MB": round(statistics.median(rss[count]), 1),
                  "start s median": round(statistics.median(start[count]), 2),
                  "start s min": round(min(start[count]), 2), "start s max": round(max(start[count]), 2)}
        for path in BODIES:
            ratios = [mine / base for mine, base in zip(rps[count][path], rps[1][path])]
            figure[path] = {"rps median": round(statistics.median(rps[count][path]), 1),
                            "ratio to 1 worker median": round(statistics.median(ratios), 2),
                            "ratio min": round(min(ratios), 2), "ratio max": round(max(ratios), 2)}
        results["%d worker%s" % (count, "" if count == 1 else "s")] = figure
    print(json.dumps({"P10 LiteLLM throughput by workers, %d clients, %d rounds of %g s" % (
        args.clients, args.rounds, args.seconds): results}))


if __name__ == "__main__":
    main()
