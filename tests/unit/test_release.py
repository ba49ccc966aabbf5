# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release: `ansible-galaxy collection build` makes a tarball that holds what runs on a Mac
and its docs, and nothing of the test bed, the caches or a secret; installed from that tarball
into an empty collections path, the collection's playbooks load."""

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
# What a Mac needs, and what a user reads.
SHIPPED = ["MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "LICENSE", "meta/runtime.yml", "playbooks/site.yml",
           "plugins/modules/launchd_service.py", "plugins/action/health_check.py", "plugins/callback/summary.py",
           "roles/traefik_route/files/ccproxy_auth.py", "roles/preflight/meta/argument_specs.yml",
           "docs/operations.md"]
# Never shipped: the Linux test bed and its stand-ins, local state, tooling, and what a test run leaves.
NOT_SHIPPED = re.compile(r"^(tests/(testbed|integration|clients|tools|readme)|extensions|bench|collections|\.ci|\.github|\.cache|"
                         r"\.demo|\.venv|\.git|\.ansible-lint|\.yamllint)(/|$)|(^|/)(__pycache__|\.pytest_cache)(/|$)"
                         r"|\.pyc$|client-token|\.tar\.gz$")


def run(*argv, env=None):
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, check=False,
                          env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run(BIN / "ansible-galaxy", "collection", "build", "--output-path", out, REPO)
    built = list(out.glob("*.tar.gz"))
    assert [path.name for path in built] == ["visiquate-ccproxy-%s.tar.gz" % GALAXY["version"]]
    return built[0]


@pytest.fixture(scope="module")
def members(tarball):
    with tarfile.open(tarball) as archive:
        return {member.name for member in archive.getmembers()}


def test_the_version_is_semantic_and_in_the_changelog():
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", GALAXY["version"]), GALAXY["version"]
    assert "## [Unreleased]" in (REPO / "CHANGELOG.md").read_text()


def test_the_tarball_holds_what_runs_on_a_mac_and_the_docs(members):
    assert not [path for path in SHIPPED if path not in members]


def test_the_tarball_holds_nothing_of_the_test_bed_the_caches_or_a_secret(members):
    assert sorted(name for name in members if NOT_SHIPPED.search(name)) == []


def test_installed_from_the_tarball_the_playbooks_load(tarball, tmp_path):
    # Not the checkout's ansible.cfg, which points at the checkout as a collection.
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_HOME=str(tmp_path / "home"))
    run(BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", tmp_path / "collections", tarball, env=env)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(tmp_path / "collections")
    playbooks = sorted(path.stem for path in (REPO / "playbooks").glob("*.yml"))
    out = run(BIN / "ansible-playbook", "--syntax-check", *("visiquate.ccproxy." + name for name in playbooks), env=env)
    assert out.count("playbook: ") == len(playbooks) >= 6, out
    modules = sorted(path.stem for path in (REPO / "plugins/modules").glob("*.py"))
    out = run(BIN / "ansible-doc", "--json", *("visiquate.ccproxy." + name for name in modules), env=env)
    documented = json.loads(out)
    assert sorted(documented) == ["visiquate.ccproxy." + name for name in modules] and len(modules) >= 5
    assert all(entry["doc"]["short_description"] and entry["examples"] for entry in documented.values()), out
