# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.controller_secret: its plan as data, then through ansible-playbook on localhost:
generated once, kept after, modes corrected, check mode writing nothing, the secret never shown."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.visiquate.ccproxy.plugins.action.controller_secret import plan, unfit_directory

REPO = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize("directory_mode, file_mode, steps", [
    (None, None, ["generate"]),
    (0o700, None, ["generate"]),
    (0o755, None, ["chmod directory", "generate"]),
    (0o700, 0o600, []),
    (0o700, 0o644, ["chmod file"]),
    (0o750, 0o640, ["chmod directory", "chmod file"]),
    (0o700, 0o400, ["chmod file"]),
])
def test_plan(directory_mode, file_mode, steps):
    assert plan(directory_mode, file_mode) == steps


@pytest.mark.parametrize("st_mode, st_uid, reason", [
    (stat.S_IFDIR | 0o755, 501, None),
    (stat.S_IFDIR | 0o1777, 501, "/d is a shared directory (sticky, as /tmp is)"),
    (stat.S_IFDIR | 0o1777, 0, "/d is a shared directory (sticky, as /tmp is)"),
    (stat.S_IFDIR | 0o755, 0, "/d belongs to uid 0, not to this user (uid 501)"),
])
def test_unfit_directory(st_mode, st_uid, reason):
    assert unfit_directory("/d", st_mode, st_uid, 501) == reason


def run(tmp_path, *options, length=40, fails=False):
    """One task on localhost (a failure ignored when it should fail); (its result, the output)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False, "tasks": [
            {"visiquate.ccproxy.controller_secret": {"path": str(tmp_path / "secrets/client-token"),
                                                     "prefix": "ccp-", "length": length},
             "register": "made", "ignore_errors": fails},
            # Written even in check mode, outside the files under test.
            {"ansible.builtin.copy": {"content": "{{ made | to_json }}", "dest": str(tmp_path / "result.json")},
             "check_mode": False}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(tmp_path / "home"))
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(playbook), "-v", *options],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((tmp_path / "result.json").read_text()), done.stdout


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_once_then_kept_and_modes_corrected(tmp_path):
    secret = tmp_path / "secrets/client-token"
    announced = run(tmp_path, "--check", "--diff")[0]
    assert announced["changed"] and announced["generated"] and not secret.parent.exists()

    made, out = run(tmp_path, "--diff")
    token = secret.read_text()
    assert made["changed"] and made["generated"] and made["path"] == str(secret)
    assert re.fullmatch(r"ccp-[A-Za-z0-9_-]{40}\n", token)
    assert mode(secret) == 0o600 and mode(secret.parent) == 0o700
    assert token.strip() not in out and token.strip() not in json.dumps(made)

    kept = run(tmp_path)[0]
    assert not kept["changed"] and not kept["generated"] and secret.read_text() == token

    secret.chmod(0o644)
    secret.parent.chmod(0o755)
    seen, out = run(tmp_path, "--check", "--diff")
    assert seen["changed"] and not seen["generated"] and mode(secret) == 0o644
    assert seen["diff"]["before"] == "%s: mode 0755\n%s: mode 0644, a secret\n" % (secret.parent, secret)
    assert seen["diff"]["after"] == "%s: mode 0700\n%s: mode 0600, a secret\n" % (secret.parent, secret)
    assert token.strip() not in out

    fixed = run(tmp_path)[0]
    assert fixed["changed"] and not fixed["generated"] and secret.read_text() == token
    assert mode(secret) == 0o600 and mode(secret.parent) == 0o700


def test_an_empty_file_and_a_short_secret_are_refused_before_any_change(tmp_path):
    secret = tmp_path / "secrets/client-token"
    secret.parent.mkdir(mode=0o755)
    secret.parent.chmod(0o755)
    secret.write_text("")
    refused = run(tmp_path, fails=True)[0]
    assert refused["failed"] and "is empty, so it holds no secret: remove it" in refused["msg"]
    assert secret.read_text() == "" and mode(secret.parent) == 0o755

    secret.unlink()
    short = run(tmp_path, length=16, fails=True)[0]
    assert short["failed"] and short["msg"] == "length must be at least 32, not 16" and not secret.exists()


def test_a_shared_directory_is_refused_and_left_as_it_is(tmp_path):
    shared = tmp_path / "secrets"
    shared.mkdir()
    shared.chmod(0o1777)
    refused = run(tmp_path, fails=True)[0]
    assert refused["failed"] and refused["msg"].startswith("%s is a shared directory (sticky, as /tmp is)" % shared)
    assert "Keep the secret in a directory of its own." in refused["msg"]
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777 and not (shared / "client-token").exists()
