"""Offline seed for ansible-test's pip bootstrap (ccproxy test tooling; never shipped).

ansible-test bootstraps pip in its virtual environments by running a get-pip script that it
downloads from a host CI cannot reach, but it runs a cached copy without checking it. sanity.sh
seeds that cache with this file: pip from Python's own ensurepip, then the requested pip from
the package index, which is all ansible-test needs the script to do.
"""

import subprocess
import sys

# get-pip's own switches, which `pip install` does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + [a for a in sys.argv[1:] if a not in GET_PIP_ONLY])
