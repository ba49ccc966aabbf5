# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""boot.py's parsers and judgement as tables; the module's own cases are test_boot_readiness.yaml."""

from __future__ import annotations

import pytest

from ansible_collections.visiquate.ccproxy.plugins.module_utils import boot


@pytest.mark.parametrize("rc, out, expected", [
    (0, "FileVault is On.\n", "on"),
    (0, "FileVault is Off.\n", "off"),
    (0, "FileVault is Off, but will be enabled after the next restart.\n", "pending"),
    (0, "Encryption in progress: Percent completed = 12.3\n", "on"),
    (0, "Decryption in progress: Percent completed = 80.0\n", "on"),
    (0, "FileVault is On, but needs to be restarted to finish.\n", "on"),
    (0, "", "unknown"),
    (1, "FileVault is Off.\n", "unknown"),
    (0, "Something new.\n", "unknown"),
])
def test_parse_filevault(rc, out, expected):
    assert boot.parse_filevault(rc, out) == expected


@pytest.mark.parametrize("rc, out, err, expected", [
    (0, "coder\n", "", "coder"),
    (1, "", "The domain/default pair of (x, autoLoginUser) does not exist\n", ""),
    (1, "", "Could not read the domain\n", "unknown"),
])
def test_parse_auto_login(rc, out, err, expected):
    assert boot.parse_auto_login(rc, out, err) == expected


def test_parse_pmset_reads_indented_settings_only():
    out = ("System-wide power settings:\nCurrently in use:\n Sleep On Power Button 1\n"
           " sleep                1 (sleep prevented by powerd)\n autorestart          0\n")
    settings = boot.parse_pmset(out)
    assert settings["sleep"] == "1" and settings["autorestart"] == "0"
    assert "System-wide" not in settings and "Currently" not in settings


@pytest.mark.parametrize("connection, rc, expected", [
    ("ssh", None, "on"),
    ("ansible.builtin.ssh", 113, "on"),
    ("local", 0, "on"),
    ("local", 113, "off"),
    ("local", 5, "unknown"),
    ("local", None, "unknown"),
])
def test_remote_login(connection, rc, expected):
    assert boot.remote_login(connection, rc) == expected


def test_facts_when_pmset_could_not_run():
    facts = boot.facts_from("off", "", None, "on")
    assert facts["sleep_minutes"] is None and facts["autorestart"] is None


def test_pmset_without_autorestart_is_not_a_warning():
    facts = boot.facts_from("off", "", " sleep  0\n", "on")
    assert facts["autorestart"] is None
    assert boot.assess(facts, "coder", "daemon") == []


def test_daemon_mode_needs_no_auto_login():
    facts = boot.facts_from("off", "", " sleep  0\n autorestart  1\n", "on")
    assert boot.assess(facts, "coder", "daemon") == []
    assert [w["fact"] for w in boot.assess(facts, "coder", "agent")] == ["auto_login_user"]
