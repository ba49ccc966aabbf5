#!/usr/bin/env python3
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""P3 and P4: the time of a no-op site.yml against the converged demo Macs, from the controller.

Runs ansible-playbook site.yml ROUNDS times against mac1 alone (P3) and ROUNDS times against the
three Macs make demo converged (P4, as a ratio to P3), alternating, with the default scenario's
inventory (but the role's default for ccproxy_verify_completion, off), and prints one JSON
object: the median, min and max seconds, and the tasks each run executed on mac1 (its PLAY
RECAP's ok=), and the profile of the last run on mac1 (Ansible's junit callback: each task's
seconds, the slowest first, and their sum). A run that changes anything is not a no-op: an error.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def profile(junit_dir):
    """Seconds per task of a run on mac1, from the junit callback's report, the slowest first."""
    times = {}
    for report in Path(junit_dir).glob("*.xml"):
        for case in ElementTree.parse(report).iter("testcase"):
            if case.find("skipped") is None:
                name = re.sub(r"^\[mac1\] (mac1: )?", "", case.get("name", ""))
                times[name] = times.get(name, 0.0) + float(case.get("time", 0))
    return sorted(times.items(), key=lambda item: -item[1])


def profile_figure(junit_dir, slowest=15):
    """The profile as a figure: how many tasks ran, their sum, the slowest."""
    tasks_seconds = profile(junit_dir)
    return {"tasks timed": len(tasks_seconds), "sum": round(sum(t for _, t in tasks_seconds), 1),
            "slowest": [[name, round(t, 2)] for name, t in tasks_seconds[:slowest]]}


def junit_env(env, junit_dir):
    """``env`` with Ansible's junit callback writing each task's time into ``junit_dir``."""
    return dict(env, ANSIBLE_CALLBACKS_ENABLED="junit", JUNIT_OUTPUT_DIR=str(junit_dir),
                JUNIT_HIDE_TASK_ARGUMENTS="True")


def site_argv(*extra_vars):
    """ansible-playbook site.yml on the demo's Macs as make demo runs it, with these extra variables."""
    argv = [str(ROOT / ".venv/bin/ansible-playbook"),
            "--inventory", str(ROOT / "tests/testbed/macs/inventory.py"),
            "--inventory", str(ROOT / "extensions/molecule/default/inventory/hosts.yml"),
            "--extra-vars", f"ccproxy_wheelhouse_dir={ROOT}/.cache/wheelhouse",
            "--extra-vars", f"ccproxy_secrets_dir={ROOT}/.cache/secrets/default",
            # The role's default: the scenario's inventory turns the completion check on for its tests.
            "--extra-vars", "ccproxy_verify_completion=false"]
    for extra in extra_vars:
        argv += ["--extra-vars", extra]
    return argv + [str(ROOT / "site.yml")]


def site_env():
    return dict(os.environ, ANSIBLE_HOME=os.environ.get("ANSIBLE_HOME", str(ROOT / ".cache/ansible-home")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    argv = site_argv()
    env = site_env()
    seconds, tasks = {"one": [], "all": []}, set()
    junit_dir = tempfile.mkdtemp(prefix="ccproxy-noop-")
    for round_ in range(args.rounds):
        for kind, limit in (("one", ["--limit", "mac1"]), ("all", ["--limit", "ccproxy_hosts"])):
            run_env = env
            if kind == "one" and round_ == args.rounds - 1:  # the profile: the last run on mac1
                run_env = junit_env(env, junit_dir)
            started = time.monotonic()
            run = subprocess.run(argv + limit, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=900,
                                 check=False)
            seconds[kind].append(time.monotonic() - started)
            recaps = re.findall(r"(?m)^(mac\d+)\s*:\s*ok=(\d+)\s+changed=(\d+)", run.stdout)
            if run.returncode or not recaps or any(changed != "0" for _, _, changed in recaps):
                sys.exit(f"noop.py: site.yml was not a no-op (exit {run.returncode}):\n{run.stdout[-3000:]}")
            tasks.update(int(ok) for name, ok, _ in recaps if name == "mac1")
    one, every = statistics.median(seconds["one"]), statistics.median(seconds["all"])
    profiled = profile_figure(junit_dir)
    shutil.rmtree(junit_dir)
    print(json.dumps({
        "P3 no-op converge, 1 Mac (s)": {"median": round(one, 1), "min": round(min(seconds["one"]), 1),
                                         "max": round(max(seconds["one"]), 1), "runs": args.rounds,
                                         "tasks": sorted(tasks)},
        "P4 no-op converge, 3 Macs / 1 Mac": {"ratio": round(every / one, 2), "3 Macs median (s)": round(every, 1),
                                              "min": round(min(seconds["all"]), 1),
                                              "max": round(max(seconds["all"]), 1)},
        "P3 profile of the last 1-Mac run (s)": profiled}))


if __name__ == "__main__":
    main()
