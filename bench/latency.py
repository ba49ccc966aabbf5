#!/usr/bin/env python3
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What Traefik and the token verifier add to a request, measured on the Mac itself (stdlib only).

Runs inside a deployed Mac (bench/run.sh starts it there with the Mac's own python3), so that the
direct path (LiteLLM on 127.0.0.1:<litellm port>, with the master key) and the client path
(Traefik on 127.0.0.1:<traefik port>, with a client token) differ only by ccproxy's hops. The
two are measured in alternating rounds on kept-alive connections, so that noise hits both alike.
Prints one JSON object: P6 (added p50 per API), P7 (added time to first streamed byte), P8
(throughput through Traefik / direct, 20 concurrent clients; direct ones spread over every
LiteLLM worker launchd runs, as Traefik spreads them), P9 (the verifier alone, at
concurrency 1 and under an open-loop rate), each with its spread over the rounds. Every loop is
bounded in count and time.
"""

import argparse
import http.client
import json
import queue
import statistics
import sys
import threading
import time

from recovery import worker_labels, worker_port

BODIES = {
    "/v1/chat/completions": {"model": "gpt-4", "max_tokens": 8, "messages": [{"role": "user", "content": "bench"}]},
    "/v1/messages": {"model": "claude-3-5-sonnet", "max_tokens": 8,
                     "messages": [{"role": "user", "content": "bench"}]},
}


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Client:
    """One kept-alive connection; timings in milliseconds."""

    def __init__(self, port, headers):
        self.port, self.headers = port, headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path, body, first_byte=False):
        try:
            return self._post(path, body, first_byte)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed an idle kept-alive connection: reconnect, time the retry only.
            self.reconnect()
            return self._post(path, body, first_byte)

    def reconnect(self):
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def _post(self, path, body, first_byte):
        data = json.dumps(body).encode()
        headers = dict(self.headers, **{"Content-Type": "application/json"})
        start = time.perf_counter()
        self.conn.request("POST", path, body=data, headers=headers)
        response = self.conn.getresponse()
        if first_byte:
            response.read(1)
            elapsed = time.perf_counter() - start
            response.read()
        else:
            response.read()
            elapsed = time.perf_counter() - start
        if response.status != 200:
            raise SystemExit("%s on port %d answered %d" % (path, self.port, response.status))
        if response.will_close:  # reopened now, not on the next request's clock
            self.reconnect()
        return elapsed * 1000.0

    def get(self, path, headers):
        start = time.perf_counter()
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        response.read()
        return (time.perf_counter() - start) * 1000.0, response.status


def compare(direct, via, path, body, rounds, per_round, first_byte=False):
    """Median over rounds of (via p50 - direct p50), with the rounds' spread."""
    added, direct_p50, via_p50 = [], [], []
    for _ in range(rounds):
        d = [direct.post(path, body, first_byte) for _ in range(per_round)]
        v = [via.post(path, body, first_byte) for _ in range(per_round)]
        direct_p50.append(statistics.median(d))
        via_p50.append(statistics.median(v))
        added.append(via_p50[-1] - direct_p50[-1])
    return {"added_ms_median": round(statistics.median(added), 3),
            "added_ms_min": round(min(added), 3), "added_ms_max": round(max(added), 3),
            "direct_p50_ms": round(statistics.median(direct_p50), 3),
            "via_p50_ms": round(statistics.median(via_p50), 3)}


def throughput(port, headers, path, body, clients, seconds):
    """Completed requests per second of `clients` threads, each on its own kept-alive connection,
    sending back to back for `seconds`. `port` may be a list: the clients are spread over it in
    turn (as Traefik's round robin spreads requests over LiteLLM's workers)."""
    done, deadline = [0] * clients, time.monotonic() + seconds
    ports = port if isinstance(port, list) else [port]

    def run(index):
        client = Client(ports[index % len(ports)], headers)
        while time.monotonic() < deadline:
            client.post(path, body)
            done[index] += 1

    threads = [threading.Thread(target=run, args=(index,)) for index in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def compare_throughput(direct, direct_ports, via, path, body, rounds, clients, seconds):
    """P8: the median over rounds of (through Traefik / direct) requests per second, the direct
    clients spread over every worker's port as Traefik spreads its requests. Which side goes first
    alternates, so that the machine's drift within a round favours neither."""
    ratios, direct_rps, via_rps = [], [], []
    for index in range(rounds):
        sides = [(direct_ports, direct.headers, direct_rps), (via.port, via.headers, via_rps)]
        for ports, headers, rps in sides if index % 2 == 0 else sides[::-1]:
            rps.append(throughput(ports, headers, path, body, clients, seconds))
        ratios.append(via_rps[-1] / direct_rps[-1])
    return {"ratio_median": round(statistics.median(ratios), 3), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3), "direct_rps": round(statistics.median(direct_rps), 1),
            "via_rps": round(statistics.median(via_rps), 1), "clients": clients, "seconds": seconds,
            "direct_ports": direct_ports}


def open_loop(port, headers, rate, seconds, workers=16):
    """Requests to `port`'s /verify sent on a fixed schedule (`rate` per second, whatever the
    answers' pace), each timed from when it was due, so that a stall shows as the wait it
    causes (no coordinated omission). Returns latencies in ms, and how many were late to start."""
    due_times = queue.Queue()
    latencies, lock = [], threading.Lock()

    def work():
        client = Client(port, {})
        while True:
            due = due_times.get()
            if due is None:
                return
            elapsed, status = client.get("/verify", headers)
            if status != 200:
                raise SystemExit("the verifier answered %d to a client token" % status)
            with lock:
                latencies.append((time.perf_counter() - due) * 1000.0)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    start, count = time.perf_counter(), int(rate * seconds)
    for n in range(count):
        due = start + n / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        due_times.put(due)
    for _ in threads:
        due_times.put(None)
    for thread in threads:
        thread.join()
    return latencies


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--litellm-port", type=int, default=8081, help="P6, P7: the first worker's")
    parser.add_argument("--domain", default="gui/501", help="P8: where launchd runs LiteLLM's workers")
    parser.add_argument("--label", default="com.visiquate.ccproxy")
    parser.add_argument("--traefik-port", type=int, default=8080)
    parser.add_argument("--auth-port", type=int, default=8082)
    parser.add_argument("--master-key-file", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20, help="P8's concurrent clients")
    parser.add_argument("--throughput-seconds", type=float, default=30, help="P8: each side, each round")
    parser.add_argument("--open-loop-rate", type=float, default=500, help="P9: requests per second")
    parser.add_argument("--open-loop-seconds", type=float, default=10)
    args = parser.parse_args(argv[1:])
    args.throughput_seconds = min(args.throughput_seconds, 120)  # bounded, whatever is asked
    args.open_loop_seconds = min(args.open_loop_seconds, 60)
    with open(args.master_key_file) as f:
        master_key = f.read().strip()
    with open(args.token_file) as f:
        token = f.read().strip()
    direct = Client(args.litellm_port, {"Authorization": "Bearer " + master_key})
    via = Client(args.traefik_port, {"Authorization": "Bearer " + token})
    for path, body in BODIES.items():  # warm both paths (connections, LiteLLM's caches)
        for _ in range(20):
            direct.post(path, body)
            via.post(path, body)

    results = {"rounds": args.rounds, "per_round": args.per_round}
    for path, body in BODIES.items():
        results["P6 " + path] = compare(direct, via, path, body, args.rounds, args.per_round)
        results["P7 " + path] = compare(direct, via, path, dict(body, stream=True), args.rounds,
                                        max(10, args.per_round // 4), first_byte=True)

    verifier = Client(args.auth_port, {})
    samples = []
    for _ in range(args.rounds * args.per_round):
        elapsed, status = verifier.get("/verify", {"Authorization": "Bearer " + token})
        if status != 200:
            raise SystemExit("the verifier answered %d to a client token" % status)
        samples.append(elapsed)
    results["P9 verifier, concurrency 1"] = {"p50_ms": round(quantile(samples, 0.5), 3),
                                             "p99_ms": round(quantile(samples, 0.99), 3),
                                             "requests": len(samples)}
    late = open_loop(args.auth_port, {"Authorization": "Bearer " + token}, args.open_loop_rate,
                     args.open_loop_seconds)
    results["P9 verifier, open loop"] = {"rate_per_s": args.open_loop_rate, "requests": len(late),
                                         "p50_ms": round(quantile(late, 0.5), 3),
                                         "p99_ms": round(quantile(late, 0.99), 3),
                                         "max_ms": round(max(late), 3)}
    path = "/v1/chat/completions"
    ports = [worker_port(args.domain, label) for label in worker_labels(args.domain, args.label)]
    results["P8 " + path] = compare_throughput(direct, ports, via, path, BODIES[path], args.rounds, args.clients,
                                               args.throughput_seconds)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
