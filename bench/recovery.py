#!/usr/bin/env python3
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""P11: after SIGKILL of LiteLLM, how long until a client gets a 200 through Traefik, divided by
LiteLLM's own cold start measured in the same run (stdlib only, run as root on the Mac).

Each round, in turn: LiteLLM started by hand as the deployed job runs it, on a spare port
(cold start: process start to its first ready answer), then every worker's launchd job killed
with SIGKILL at once (recovery: the kill to the first 200 for /v1/models through Traefik with a
client token). The ratio says what launchd's restart and ccproxy's hops add to a start. With two
workers or more, also the first worker alone killed (the others serve meanwhile: no start to
wait for), each worker ready again before the next kill. Prints one JSON object. Every wait is
bounded in time.
"""

import argparse
import http.client
import json
import os
import plistlib
import re
import signal
import statistics
import subprocess
import time

DEADLINE = 120.0


def status(port, path, headers=None):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path, headers=headers or {})
        code = conn.getresponse().status
        conn.close()
        return code
    except OSError:
        return None


def wait_until(port, path, headers=None):
    """Seconds until GET answers 200, polling every 50 ms; fails after DEADLINE."""
    start = time.monotonic()
    while time.monotonic() - start < DEADLINE:
        if status(port, path, headers) == 200:
            return time.monotonic() - start
        time.sleep(0.05)
    raise SystemExit("no 200 from 127.0.0.1:%d%s within %d s" % (port, path, DEADLINE))


def launchd_pid(domain, label):
    """The loaded job's PID, or None while it has no process."""
    out = subprocess.run(["launchctl", "print", "%s/%s" % (domain, label)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    found = re.search(r"^\s*pid = (\d+)$", out, re.MULTILINE)
    return int(found.group(1)) if found else None


def job_definition(domain, label):
    """The loaded job's plist, from the path launchd reports for it."""
    out = subprocess.run(["launchctl", "print", "%s/%s" % (domain, label)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    found = re.search(r"^\s*path = (.+)$", out, re.MULTILINE)
    if not found:
        raise SystemExit("launchctl print %s/%s names no plist" % (domain, label))
    with open(found.group(1), "rb") as handle:
        return plistlib.load(handle)


def with_option(argv, option, value):
    """`argv` with `option`'s value replaced (None: the option and its value left out)."""
    if option in argv:
        at = argv.index(option)
        argv = argv[:at] + argv[at + 2:]
    return argv if value is None else argv + [option, value]


def launch_litellm(domain, label, port, workers=None):
    """LiteLLM as the job runs it (its plist's command, environment and directory) on `port`, in a
    session of its own, not waited for. It logs nowhere: litellm.log stays the job's."""
    job = job_definition(domain, label)
    argv = with_option(with_option(job["ProgramArguments"], "--port", str(port)), "--log_config", None)
    if workers is not None:
        argv = with_option(argv, "--num_workers", str(workers))
    return subprocess.Popen(argv, env=job.get("EnvironmentVariables", {}), cwd=job.get("WorkingDirectory"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def start_litellm(domain, label, port, workers=None):
    """launch_litellm's process, and the seconds it took to answer readiness."""
    start = time.monotonic()
    proc = launch_litellm(domain, label, port, workers)
    try:
        wait_until(port, "/health/readiness")
    except BaseException:
        stop_litellm(proc)
        raise
    return proc, time.monotonic() - start


def stop_litellm(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def cold_start(args):
    """LiteLLM on a spare port, from its start to readiness."""
    proc, seconds = start_litellm(args.domain, args.label, args.spare_port)
    stop_litellm(proc)
    return seconds


def worker_labels(domain, label):
    """The labels of LiteLLM's workers launchd has: <label>, <label>.2, ... (ccproxy_litellm_workers)."""
    labels = [label]
    while subprocess.run(["launchctl", "print", "%s/%s.%d" % (domain, label, len(labels) + 1)],
                         capture_output=True, timeout=30).returncode == 0:
        labels.append("%s.%d" % (label, len(labels) + 1))
    return labels


def worker_port(domain, label):
    """The port the job's LiteLLM listens on (its --port)."""
    argv = job_definition(domain, label)["ProgramArguments"]
    return int(argv[argv.index("--port") + 1])


def recovery(args, token, labels):
    """SIGKILL of these jobs' processes to the first 200 through Traefik; then each job ready again."""
    pids = [launchd_pid(args.domain, label) for label in labels]
    if None in pids:
        raise SystemExit("one of %s in %s has no pid" % (labels, args.domain))
    start = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_until(args.traefik_port, "/v1/models", {"Authorization": "Bearer " + token})
    seconds = time.monotonic() - start
    for label in labels:
        while launchd_pid(args.domain, label) in (None,) + tuple(pids):
            if time.monotonic() - start > DEADLINE:
                raise SystemExit("launchd did not start %s again within %d s" % (label, DEADLINE))
            time.sleep(0.05)
        wait_until(worker_port(args.domain, label), "/health/readiness")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="gui/501")
    parser.add_argument("--label", default="com.visiquate.ccproxy")
    parser.add_argument("--traefik-port", type=int, default=8080)
    parser.add_argument("--spare-port", type=int, default=18181)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with open(args.token_file) as handle:
        token = handle.read().strip()
    labels = worker_labels(args.domain, args.label)
    colds, recoveries, one = [], [], []
    for _ in range(args.rounds):
        colds.append(cold_start(args))
        recoveries.append(recovery(args, token, labels))
        if len(labels) > 1:
            one.append(recovery(args, token, labels[:1]))
    ratios = [r / c for r, c in zip(recoveries, colds)]
    results = {"P11 SIGKILL of LiteLLM to a 200 through Traefik / LiteLLM cold start": {
        "ratio median": round(statistics.median(ratios), 2), "ratio min": round(min(ratios), 2),
        "ratio max": round(max(ratios), 2), "recovery s median": round(statistics.median(recoveries), 2),
        "cold start s median": round(statistics.median(colds), 2), "workers killed": len(labels),
        "rounds": args.rounds}}
    if one:
        results["P11 SIGKILL of one of %d workers to a 200 through Traefik" % len(labels)] = {
            "s median": round(statistics.median(one), 3), "s max": round(max(one), 3), "rounds": args.rounds}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
