# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the integration tests share: one test-bed Mac, playbooks run against it, commands on it.

The tests have a bed of their own, bed 1 (CCPROXY_TESTBED, tests/testbed/macs/macs.py), so that
the demo's, bed 0, can be up beside them: make test runs the README and molecule there meanwhile.
`session()` holds that bed's lock (/var/tmp/ccproxy-testbed-1.lock, the lock `flock(1)` takes)
from `macs.py up` to `macs.py down`, and refuses a bed it did not bring up: a converged Mac left
by someone else would make the tests lie.
conftest.py brings one Mac up per pytest run: each file starts from whatever the files before it
left (litellm_install's venvs save traefik_route's run minutes) and must pass alone too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Before macs is imported, which reads it once; every command these tests run inherits it. Bed
# 1's own state dir too: a CCPROXY_TESTBED_DIR meant for the demo's bed must not apply here.
os.environ["CCPROXY_TESTBED"] = "1"
os.environ.pop("CCPROXY_TESTBED_DIR", None)
sys.path.insert(0, str(REPO / "tests/testbed/macs"))
import macs  # noqa: E402

MACS = [sys.executable, str(REPO / "tests/testbed/macs/macs.py")]
BED_INVENTORY = str(REPO / "tests/testbed/macs/inventory.py")
ROOT = "/Users/coder/ccproxy"
ADDRESS = macs.host_address(1)  # mac1's
VETH = macs.VETH_PREFIX + "1"  # mac1's link, on the controller's side


@contextlib.contextmanager
def session():
    """One fresh Mac (mac1) for the duration."""
    with open(macs.LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        status = subprocess.run(MACS + ["status"], capture_output=True, text=True, timeout=60, check=False)
        if "mac1" in status.stdout:
            raise RuntimeError("bed %s is already up (CCPROXY_TESTBED=%s tests/testbed/macs/macs.py down): "
                               "these tests need a Mac they created" % (macs.BED, macs.BED))
        subprocess.run(MACS + ["up", "1"], check=True, timeout=120)
        try:
            yield
        finally:
            subprocess.run(MACS + ["down"], check=True, timeout=120)


def report(timings):
    """Print what ansible_playbook recorded (run pytest with -s to see it)."""
    print("\ntimings (s): " + ", ".join("%s %.1f" % item for item in timings.items()))


def ansible_playbook(timings, name, inventory, playbook, *args, rc=0, env=None):
    """Run a playbook against the bed with `inventory` (after the bed's own); (output, mac1's recap)."""
    env = dict(os.environ, ANSIBLE_HOME=str(REPO / ".cache/ansible-home"), ANSIBLE_NOCOLOR="1", **(env or {}))
    argv = [str(REPO / ".venv/bin/ansible-playbook"), "-i", BED_INVENTORY, "-i", str(inventory), str(playbook), *args]
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    timings[name] = time.monotonic() - start
    out = proc.stdout + proc.stderr
    assert proc.returncode == rc, out
    recap = re.search(r"^mac1\s+:\s+(.*)$", out, re.MULTILINE)
    assert recap, out
    return out, dict((key, int(value)) for key, value in re.findall(r"(\w+)=(\d+)", recap.group(1)))


def on_mac(*argv):
    """Run a command on mac1 as root; (exit code, stripped standard output)."""
    proc = subprocess.run(MACS + ["shell", "mac1", *argv], capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout.strip()
