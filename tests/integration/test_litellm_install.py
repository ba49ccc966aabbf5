# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The litellm_install role end to end on one test-bed Mac, over SSH, from a real wheelhouse.

The tests run in file order on one fresh Mac and build on each other; test_traefik_route goes on
from the venvs they leave (conftest.py: one Mac per pytest run). The controller's wheelhouse is
cached in <repo>/.cache/wheelhouse; a warm run takes about three minutes. Run with -s to see the
timings.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from macbed import ROOT, ansible_playbook, on_mac, report

HERE = Path(__file__).resolve().parent / "litellm_install"
# 1.108.6 differs from 1.108.7 in litellm alone (one wheel to fetch); 1.108.8 does not resolve: it
# pins a litellm-enterprise release the package index does not have.
PIN, OTHER_PIN = "1.108.7", "1.108.6"
TIMINGS = {}


@pytest.fixture(scope="module", autouse=True)
def bed(mac):
    assert on_mac("test", "-e", ROOT)[0] != 0, "these tests need a Mac ccproxy never touched: run this file first"
    yield
    report(TIMINGS)


def play(name, *args, rc=0):
    """Run converge.yml; return its output and the recap's counts for mac1."""
    return ansible_playbook(TIMINGS, name, HERE / "hosts.yml", HERE / "converge.yml", *args, rc=rc)


def test_known_bad_pin_fails_before_any_change():
    out, recap = play("known-bad pin", "-e", "ccproxy_litellm_version=1.82.7", rc=2)
    assert "LiteLLM 1.82.7 is a known-bad release" in out
    assert recap["changed"] == 0
    assert on_mac("test", "-e", ROOT)[0] != 0


def test_missing_python_fails_with_the_way_out():
    out, recap = play("missing python", "-e", "ccproxy_python=/nonexistent/python3", rc=2)
    assert "No Python >= 3.10 and < 3.15 on mac1. Checked /nonexistent/python3: none of them runs." in out
    assert "brew install python@3.12" in out
    assert recap["changed"] == 0
    assert on_mac("test", "-e", ROOT)[0] != 0


def test_check_mode_on_a_fresh_mac_reports_changes_and_makes_none():
    _out, recap = play("check, fresh Mac", "--check", "--diff")
    assert recap["changed"] > 0 and recap["failed"] == 0
    assert on_mac("test", "-e", ROOT)[0] != 0


def test_first_run_installs_the_pin():
    out, recap = play("first install", "--diff")
    assert recap["changed"] > 0, out
    assert "venv_new=[]" in out
    venv = "%s/venvs/litellm-%s" % (ROOT, PIN)
    assert on_mac("readlink", ROOT + "/venv") == (0, venv)
    # pip check judges the dependencies with the Mac's own 3.11.2: async-timeout must be there.
    assert on_mac(ROOT + "/venv/bin/python", "-m", "pip", "check") == (0, "No broken requirements found.")
    rc, version = on_mac(ROOT + "/venv/bin/python", "-c",
                         "import importlib.metadata as m; print(m.version('litellm'), m.version('async-timeout'))")
    assert rc == 0 and version.split()[0] == PIN
    # Root's, nothing writable by group or others, nothing left of the wheelhouse.
    assert on_mac("stat", "-c", "%U:%G %a", venv) == (0, "root:root 755")
    assert on_mac("find", venv, "!", "-user", "root", "-o", "-perm", "/022", "!", "-type", "l") == (0, "")
    assert on_mac("sh", "-c", "ls -A %s/venvs" % ROOT) == (0, "litellm-" + PIN)


def test_second_run_changes_nothing():
    out, recap = play("no-op")
    assert recap["changed"] == 0
    # argument validation, the include of its checks (site.yml's preflight ran them already, this
    # playbook's did not), two asserts, the probe, set_fact, and this playbook's debug
    assert recap["ok"] <= 7, out


def test_check_diff_on_a_converged_mac_changes_nothing():
    _out, recap = play("no-op --check --diff", "--check", "--diff")
    assert recap["changed"] == 0


def test_a_new_pin_builds_a_second_venv_beside_the_first():
    out, recap = play("pin change", "-e", "ccproxy_litellm_version=" + OTHER_PIN)
    assert recap["changed"] > 0
    new = "%s/venvs/litellm-%s" % (ROOT, OTHER_PIN)
    assert "venv_new=[%s]" % new in out
    assert on_mac("readlink", ROOT + "/venv") == (0, "%s/venvs/litellm-%s" % (ROOT, PIN))
    rc, listing = on_mac("sh", "-c", "ls %s/venvs/*/lib/python3.11/site-packages | grep '^litellm-'" % ROOT)
    assert rc == 0 and sorted(listing.split()) == sorted("litellm-%s.dist-info" % pin for pin in (PIN, OTHER_PIN))
    out, recap = play("pin change, no-op", "-e", "ccproxy_litellm_version=" + OTHER_PIN)
    assert recap["changed"] == 0
    assert "venv_new=[%s]" % new in out


def test_a_venv_whose_interpreter_is_gone_is_to_be_rebuilt():
    # The rebuild itself is the _venv role's, shown on Traefik's smaller venv by test_traefik_route.
    venv = "%s/venvs/litellm-%s" % (ROOT, OTHER_PIN)
    python = on_mac("readlink", venv + "/bin/python")[1]
    assert on_mac("ln", "-sfn", "/nonexistent/python3.11", venv + "/bin/python")[0] == 0
    try:
        out, recap = play("interpreter gone, check", "--check", "--diff", "-e", "ccproxy_litellm_version=" + OTHER_PIN)
        assert recap["changed"] > 0
        assert re.search(r"Remove the venv that lost its interpreter[^\n]*\n(?:(?!TASK)[^\n]*\n)*?changed: \[mac1\]", out), out
        assert on_mac("readlink", venv + "/bin/python") == (0, "/nonexistent/python3.11")
    finally:
        assert on_mac("ln", "-sfn", python, venv + "/bin/python")[0] == 0


# A Mac without a Python in range (ccproxy_python_candidates: only Homebrew's python@3.12), with and
# without Homebrew: the Homebrew stand-in (tests/testbed/brew/brew) as coder's /opt/homebrew/bin/brew.
HOMEBREW = "/opt/homebrew"
BREW_PYTHON = HOMEBREW + "/opt/python@3.12/bin/python3.12"
# (hosts.yml sets ccproxy_python to /usr/bin/python3, which would be found first)
ONLY_BREW_PYTHON = ["-e", json.dumps({"ccproxy_python": "", "ccproxy_python_candidates": [BREW_PYTHON]})]
BREW_STANDIN = Path(__file__).resolve().parents[1] / "testbed" / "brew" / "brew"


@pytest.fixture
def homebrew():
    """The stand-in installed as coder's Homebrew; removed afterwards with all it installed."""
    assert on_mac("test", "-e", HOMEBREW)[0] != 0, HOMEBREW + " is there already"
    content = base64.b64encode(BREW_STANDIN.read_bytes()).decode()
    put = "import base64, sys; open(sys.argv[1], 'wb').write(base64.b64decode(sys.argv[2]))"
    try:
        assert on_mac("mkdir", "-p", HOMEBREW + "/bin")[0] == 0
        assert on_mac("python3", "-c", put, HOMEBREW + "/bin/brew", content)[0] == 0
        assert on_mac("chmod", "755", HOMEBREW + "/bin/brew")[0] == 0
        assert on_mac("chown", "-R", "coder", HOMEBREW)[0] == 0
        yield
    finally:
        on_mac("rm", "-rf", HOMEBREW)


def one_line(out):
    """The output with YAML's line folding undone."""
    return re.sub(r"\s+", " ", out)


def test_no_python_and_no_homebrew_says_how_to_get_both():
    out, recap = play("no Python, no Homebrew", *ONLY_BREW_PYTHON, rc=2)
    out = one_line(out)
    assert "No Python >= 3.10 and < 3.15 on mac1. Checked %s: none of them runs." % BREW_PYTHON in out, out[-1500:]
    assert "Homebrew is not installed either (/opt/homebrew/bin/brew, /usr/local/bin/brew)" in out
    assert recap["changed"] == 0


def test_no_python_but_homebrew_names_the_command_and_its_user(homebrew):
    out, recap = play("no Python, Homebrew", *ONLY_BREW_PYTHON, rc=2)
    out = one_line(out)
    assert ("Run as coder (Homebrew refuses to run as root): /opt/homebrew/bin/brew install python@3.12; "
            "or set ccproxy_python_install to true") in out, out
    assert recap["changed"] == 0
    assert on_mac("test", "-e", BREW_PYTHON)[0] != 0


def test_python_install_runs_homebrew_as_its_owner_and_check_mode_only_reports_it(homebrew):
    install = ONLY_BREW_PYTHON + ["-e", "ccproxy_python_install=true"]
    out, recap = play("Homebrew's Python, check", "--check", *install)
    assert recap["changed"] == 1 and recap["failed"] == 0, out
    assert on_mac("test", "-e", BREW_PYTHON)[0] != 0
    out, recap = play("Homebrew's Python", *install)
    # Only the install: the venv of the pin is there, and its interpreter too.
    assert recap["changed"] == 1 and recap["failed"] == 0, out
    assert on_mac("stat", "-c", "%U", HOMEBREW + "/Cellar/python@3.12") == (0, "coder")
    assert on_mac(BREW_PYTHON, "-c", "print('ok')") == (0, "ok")
    _out, recap = play("Homebrew's Python, no-op", *install)
    assert recap["changed"] == 0
