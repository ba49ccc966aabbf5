# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The _venv role's probe (roles/_venv/files/probe.py), run as the role runs it: `python -c
SOURCE SETTINGS PYTHON`, on this Python, with made-up site directories and venvs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parents[3] / "roles" / "_venv" / "files" / "probe.py"
VERSION = "%d.%d" % sys.version_info[:2]
IN_RANGE = {"min": [3, 0], "below": [4, 0]}
OUT_OF_RANGE = {"min": [4, 0], "below": [5, 0]}


def dist_info(site, name):
    (site / (name + ".dist-info")).mkdir(parents=True)


def probe(settings, pythonpath=None):
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run([sys.executable, "-c", PROBE.read_text(), json.dumps(settings), sys.executable],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    return done.returncode, json.loads(done.stdout)


@pytest.fixture
def venv(tmp_path):
    """A venv with LiteLLM 1.108.7, as litellm_install builds it."""
    path = tmp_path / "venvs" / "litellm-1.108.7"
    dist_info(path / "lib" / ("python" + VERSION) / "site-packages", "litellm-1.108.7")
    (path / "bin").mkdir()
    (path / "bin" / "python").symlink_to(sys.executable)
    return path


def settings(tmp_path, venv, bounds, home=None):
    found = {"link": "", "wanted": str(venv), "dist": "litellm", **bounds}
    if home is not None:
        found["home"] = str(home)
    return found


def test_a_litellm_only_in_venvs_is_not_outside(tmp_path, venv):
    rc, found = probe(settings(tmp_path, venv, IN_RANGE, home=tmp_path / "home"))
    assert rc == 0
    assert found["outside"] == []
    assert found["wanted"]["version"] == "1.108.7"


def test_a_global_and_a_user_install_are_both_found(tmp_path, venv):
    site = tmp_path / "global-site-packages"
    dist_info(site, "litellm-1.40.0")
    dist_info(site, "litellm_enterprise-0.1.0")  # another distribution: not LiteLLM
    home = tmp_path / "home"
    dist_info(home / ".local" / "lib" / ("python" + VERSION) / "site-packages", "litellm-1.50.2")
    dist_info(home / "Library" / "Python" / VERSION / "lib" / "python" / "site-packages", "litellm-1.60.1")
    rc, found = probe(settings(tmp_path, venv, IN_RANGE, home=home), pythonpath=site)
    assert rc == 0
    assert sorted(item["version"] for item in found["outside"]) == ["1.40.0", "1.50.2", "1.60.1"]
    assert {Path(item["path"]).parent for item in found["outside"]} >= {site}
    assert {item["python"] for item in found["outside"]} == {sys.executable}


def test_a_python_out_of_range_still_reports_what_it_has(tmp_path, venv):
    site = tmp_path / "global-site-packages"
    dist_info(site, "litellm-1.40.0")
    rc, found = probe(settings(tmp_path, venv, OUT_OF_RANGE), pythonpath=site)
    assert rc == 3
    assert not found["usable"]
    assert [item["version"] for item in found["outside"]] == ["1.40.0"]
    assert "wanted" not in found


def test_without_home_only_the_python_s_own_path_counts(tmp_path, venv):
    home = tmp_path / "home"
    dist_info(home / ".local" / "lib" / ("python" + VERSION) / "site-packages", "litellm-1.50.2")
    rc, found = probe(settings(tmp_path, venv, IN_RANGE))
    assert rc == 0
    assert found["outside"] == []
