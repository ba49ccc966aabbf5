#!/usr/bin/env python3
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""P1, P2 and P5: the first site.yml on fresh test-bed Macs, timed from the controller.

Each round takes down the bed it brought up before (bench/run.sh takes the demo down first: one
bed per machine), brings up N fresh Macs, prepares them as molecule's shared prepare does (the launchctl and Ollama stand-ins), and
times site.yml alone on them:
  P1  one Mac, the controller's wheelhouse warm (the checkout's .cache/wheelhouse, filled first);
  P5  three Macs, warm, as a ratio to P1 measured in the same run;
  P2  one Mac with an empty wheelhouse: every package from the index (--cold).
Prints one JSON object (median, min, max and the runs; the last P1 run's slowest tasks). The bed
is down at the end. Run it holding the bed's lock (bench/run.sh does).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from noop import junit_env, profile_figure

ROOT = Path(__file__).resolve().parents[1]
MACS = [sys.executable, str(ROOT / "tests/testbed/macs/macs.py")]
PLAYBOOK = str(ROOT / ".venv/bin/ansible-playbook")
# What a user's first inventory might say: one model, ccproxy runs its own Traefik.
VARIABLES = {"ccproxy_traefik_manage": True, "ccproxy_default_model": "llama3.2:3b",
             "ccproxy_models": [{"name": "claude-3-5-sonnet", "model": "llama3.2:3b"}]}


def run(argv, **kwargs):
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False, **kwargs)
    if proc.returncode:
        sys.exit("first_converge.py: %s failed (exit %d):\n%s" % (argv[:3], proc.returncode,
                                                                   (proc.stdout + proc.stderr)[-3000:]))
    return proc.stdout


def converge(count, wheelhouse, work, junit_dir=None, extra=()):
    """Fresh Macs, prepared; then the seconds site.yml takes on them (each task's in junit_dir),
    with ``extra`` arguments for ansible-playbook."""
    subprocess.run(MACS + ["down"], cwd=ROOT, capture_output=True, timeout=120, check=False)
    run(MACS + ["up", str(count)])
    hosts = work / "hosts.yml"
    hosts.write_text(yaml.safe_dump({"ccproxy_hosts": {"hosts": {"mac%d" % n: None for n in range(1, count + 1)},
                                                       "vars": VARIABLES}}))
    secrets = Path(tempfile.mkdtemp(dir=work))
    env = dict(os.environ, MOLECULE_PROJECT_DIRECTORY=str(ROOT),
               ANSIBLE_HOME=os.environ.get("ANSIBLE_HOME", str(ROOT / ".cache/ansible-home")))
    base = [PLAYBOOK, "-i", str(ROOT / "tests/testbed/macs/inventory.py"), "-i", str(hosts),
            "-e", "ccproxy_wheelhouse_dir=%s" % wheelhouse, "-e", "ccproxy_secrets_dir=%s" % secrets]
    run(base + [str(ROOT / "extensions/molecule/shared/prepare.yml")], env=env)
    started = time.monotonic()
    out = run(base + list(extra) + [str(ROOT / "site.yml")], env=junit_env(env, junit_dir) if junit_dir else env)
    seconds = time.monotonic() - started
    failed = re.findall(r"(?m)^mac\d+\s*:.*failed=([1-9])", out)
    if failed:
        sys.exit("first_converge.py: site.yml failed on a fresh Mac:\n" + out[-3000:])
    return seconds


def figure(values):
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1), "runs": len(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="P1 and P5 rounds, alternating")
    parser.add_argument("--three", action="store_true", help="also P5 (three Macs)")
    parser.add_argument("--cold", action="store_true", help="also P2 (an empty wheelhouse, once)")
    args = parser.parse_args()
    warm = ROOT / ".cache/wheelhouse"
    one, three, results = [], [], {}
    with tempfile.TemporaryDirectory(prefix="ccproxy-bench-") as tmp:
        work = Path(tmp)
        try:
            if not warm.is_dir() or not any(warm.iterdir()):
                converge(1, warm, work)  # fills the wheelhouse: not a figure
            rounds = max(1, args.rounds)
            for round_ in range(rounds):
                one.append(converge(1, warm, work, junit_dir=work / "junit" if round_ == rounds - 1 else None))
                if args.three:
                    three.append(converge(3, warm, work))
            results["P1 profile of the last warm 1-Mac run (s)"] = profile_figure(work / "junit")
            if args.cold:
                # Cold: pip's own cache on the controller would answer for the package index.
                results["P2 first converge, 1 Mac, cold wheelhouse (s)"] = figure(
                    [converge(1, work / "empty-wheelhouse", work,
                              extra=["-e", json.dumps({"ccproxy_pip_extra_args": ["--no-cache-dir"]})])])
        finally:
            subprocess.run(MACS + ["down"], cwd=ROOT, capture_output=True, timeout=120, check=False)
    results["P1 first converge, 1 Mac, warm wheelhouse (s)"] = figure(one)
    if three:
        ratio = statistics.median(three) / statistics.median(one)
        results["P5 first converge, 3 Macs / 1 Mac"] = {"ratio": round(ratio, 2), "3 Macs": figure(three)}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
