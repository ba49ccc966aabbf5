#!/usr/bin/env python3
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""P3: the time of a no-op site.yml against the converged demo Mac, from the controller.

Runs ansible-playbook site.yml ROUNDS times with the default scenario's inventory (what make demo
converged) and prints one JSON object: the median, min and max seconds, and the tasks each run
executed (its PLAY RECAP's ok=). A run that changes anything is not a no-op: it is an error.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    argv = [str(ROOT / ".venv/bin/ansible-playbook"),
            "--inventory", str(ROOT / "tests/testbed/macs/inventory.py"),
            "--inventory", str(ROOT / "extensions/molecule/default/inventory/hosts.yml"),
            "--extra-vars", f"ccproxy_wheelhouse_dir={ROOT}/.cache/wheelhouse",
            "--extra-vars", f"ccproxy_secrets_dir={ROOT}/.cache/secrets/default",
            str(ROOT / "site.yml")]
    env = dict(os.environ, ANSIBLE_HOME=os.environ.get("ANSIBLE_HOME", str(ROOT / ".cache/ansible-home")))
    seconds, tasks = [], set()
    for _ in range(args.rounds):
        started = time.monotonic()
        run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        seconds.append(time.monotonic() - started)
        recap = re.search(r"(?m)^mac1\s*:\s*ok=(\d+)\s+changed=(\d+).*failed=(\d+)", run.stdout)
        if run.returncode or not recap or recap.group(2) != "0":
            sys.exit(f"noop.py: site.yml was not a no-op (exit {run.returncode}):\n{run.stdout[-3000:]}")
        tasks.add(int(recap.group(1)))
    print(json.dumps({"P3 no-op converge, 1 Mac (s)": {
        "median": round(statistics.median(seconds), 1), "min": round(min(seconds), 1),
        "max": round(max(seconds), 1), "runs": len(seconds), "tasks": sorted(tasks)}}))


if __name__ == "__main__":
    main()
