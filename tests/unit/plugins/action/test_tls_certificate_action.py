# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.tls_certificate through ansible-playbook on localhost: made once, kept on the
next run, announced but not made in check mode, made again for new names, with a diff."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]


def run(tmp_path, names, *options):
    """One task on localhost; (result of the task, the files' contents)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False, "tasks": [{
            "visiquate.ccproxy.tls_certificate": {"cert_path": str(tmp_path / "tls/mac1.crt"),
                                                  "key_path": str(tmp_path / "tls/mac1.key"), "names": names},
            "register": "made"},
            # Written even in check mode, outside the files under test.
            {"ansible.builtin.copy": {"content": "{{ made | to_json }}", "dest": str(tmp_path / "result.json")},
             "check_mode": False}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(tmp_path / "home"))
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(playbook), *options],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    files = {path.name: path.read_text() for path in (tmp_path / "tls").glob("mac1.*")}
    return result, files


def test_made_once_kept_after_and_made_again_for_new_names(tmp_path):
    made, files = run(tmp_path, ["mac1", "198.18.0.11"])
    assert made["changed"] and made["reason"] == "no certificate yet"
    assert made["names"] == ["mac1", "198.18.0.11"] and made["not_after"]
    assert stat.S_IMODE((tmp_path / "tls/mac1.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    assert "PRIVATE KEY" not in json.dumps(made)

    kept, again = run(tmp_path, ["198.18.0.11", "mac1"])
    assert not kept["changed"] and kept["reason"] == "" and again == files

    announced, untouched = run(tmp_path, ["mac1", "mac1.lan"], "--check", "--diff")
    assert announced["changed"] and untouched == files
    assert announced["reason"] == "its names are mac1, 198.18.0.11, not mac1, mac1.lan"
    assert announced["diff"]["before"].startswith("names: mac1, 198.18.0.11\n")
    assert announced["diff"]["after"] == "a new certificate for mac1, mac1.lan\n"

    renamed, replaced = run(tmp_path, ["mac1", "mac1.lan"])
    assert renamed["changed"] and renamed["names"] == ["mac1", "mac1.lan"]
    assert replaced["mac1.crt"] != files["mac1.crt"] and replaced["mac1.key"] != files["mac1.key"]


def test_no_names_is_refused(tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"visiquate.ccproxy.tls_certificate": {"cert_path": str(tmp_path / "c"), "key_path": str(tmp_path / "k"),
                                               "names": []}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(tmp_path / "home"))
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(playbook)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "names must list at least one DNS name or IP address" in done.stdout
    assert not (tmp_path / "c").exists()
