#!/usr/bin/env python3
"""Ansible inventory script for the test-bed Macs (a test-bed part, never shipped).

Answers `--list` with the inventory `macs.py up` generated, and with an empty inventory while no
bed is up, so molecule can name it in every step, before `create` and after `destroy` alike.
The state dir is macs.py's: $CCPROXY_TESTBED_DIR, else /var/tmp/ccproxy-testbed.
"""

import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from macs import BED, BEDS, default_state_dir  # noqa: E402  (the bed's one definition of where it lives)


def script_inventory(inventory_file):
    """The generated YAML inventory, in the JSON form inventory scripts answer with."""
    hostvars = {}
    groups = {}
    if inventory_file.exists():
        for name, group in yaml.safe_load(inventory_file.read_text())["all"]["children"].items():
            hosts = group.get("hosts") or {}
            groups[name] = {"hosts": sorted(hosts), "vars": group.get("vars", {})}
            hostvars.update({host: hvars or {} for host, hvars in hosts.items()})
    return {**groups, "_meta": {"hostvars": hostvars}}


def main(argv):
    if argv[1:2] == ["--host"]:
        print(json.dumps({}))  # _meta carries every host's variables
        return 0
    if argv[1:] != ["--list"]:
        print("usage: inventory.py --list | --host HOST", file=sys.stderr)
        return 64
    if BED not in BEDS:  # else it would answer with bed 0's Macs
        print(f"inventory.py: CCPROXY_TESTBED must be one of {', '.join(BEDS)}, not {BED!r}", file=sys.stderr)
        return 1
    print(json.dumps(script_inventory(Path(default_state_dir()) / "inventory.yml")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
