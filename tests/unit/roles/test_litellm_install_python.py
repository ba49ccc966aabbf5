# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""litellm_install on a Mac without a Python in range: what preflight says, and whether the role
may install one with Homebrew, decided from what the probe and the help command printed.

Rendered by Ansible's own templar with the role's defaults and vars and the assert's message as
the task file has it. The Command Line Tools' stub exists only on a real Mac: this is its test."""

from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = Path(__file__).resolve().parents[3] / "roles" / "litellm_install"
TASKS = yaml.safe_load((ROLE / "tasks" / "preflight.yml").read_text())
MESSAGE = next(task for task in TASKS if "ansible.builtin.assert" in task
               and "Homebrew" in task["name"])["ansible.builtin.assert"]["fail_msg"]
# The probe found no Python in range: what it saw of the candidates that ran.
NOTHING = {"stdout_lines": []}
OLD_PYTHON = {"stdout_lines": ['{"python": "/usr/bin/python3", "version": "3.9.6", "usable": false, "outside": []}']}


def render(text, probe, help_stdout, **overrides):
    loader = DataLoader()
    variables = {**loader.load_from_file(str(ROLE / "defaults/main.yml"), trusted_as_template=True),
                 **loader.load_from_file(str(ROLE / "vars/main.yml"), trusted_as_template=True),
                 "inventory_hostname": "mac1", "__ccproxy_venv_probe": probe,
                 "__ccproxy_litellm_python_help": {"stdout": help_stdout}, **overrides}
    return " ".join(str(Templar(loader=loader, variables=variables).template(trust_as_template(text))).split())


@pytest.mark.parametrize("case, probe, help_stdout, overrides, says, never", [
    ("the Command Line Tools' stub, no Homebrew", NOTHING, "clt 2", {},
     ["Checked /opt/homebrew/opt/python@3.14/bin/python3.14,", "none of them runs.",
      "/usr/bin/python3 is the stub of the Command Line Tools",
      "Homebrew is not installed either (/opt/homebrew/bin/brew, /usr/local/bin/brew)",
      "then brew install python@3.12, or run again with ccproxy_python_install: true."], ["Run as"]),
    ("Command Line Tools installed, their Python too old", OLD_PYTHON, "clt 0", {},
     ["/usr/bin/python3 is 3.9.6.", "Homebrew is not installed either"], ["stub"]),
    ("the stub, but /usr/bin/python3 is not a candidate", NOTHING, "clt 2",
     {"ccproxy_python_candidates": ["/opt/homebrew/opt/python@3.12/bin/python3.12"]}, ["none of them runs."],
     ["stub"]),
    ("Homebrew, its owner", NOTHING, "brew /opt/homebrew/bin/brew admin\nclt 2", {},
     ["Run as admin (Homebrew refuses to run as root): /opt/homebrew/bin/brew install python@3.12; or set "
      "ccproxy_python_install to true"], ["Homebrew is not installed"]),
    ("Homebrew, another user and formula", NOTHING, "brew /usr/local/bin/brew admin",
     {"ccproxy_homebrew_user": "brewer", "ccproxy_python_formula": "python@3.13"},
     ["Run as brewer", "/usr/local/bin/brew install python@3.13"], []),
    ("ccproxy_python given", NOTHING, "brew /opt/homebrew/bin/brew admin", {"ccproxy_python": "/opt/py/bin/python3"},
     ["Checked /opt/py/bin/python3:", "Set ccproxy_python to a Python in range (brew install python@3.12,"],
     ["Run as"]),
])
def test_what_preflight_says(case, probe, help_stdout, overrides, says, never):
    text = render(MESSAGE, probe, help_stdout, **overrides)
    for part in says:
        assert part in text, (case, text)
    for part in never:
        assert part not in text, (case, text)


@pytest.mark.parametrize("help_stdout, overrides, install, formula_python", [
    ("brew /opt/homebrew/bin/brew admin", {"ccproxy_python_install": True}, True,
     "/opt/homebrew/opt/python@3.12/bin/python3.12"),
    ("brew /usr/local/bin/brew admin", {"ccproxy_python_install": True, "ccproxy_python_formula": "python@3.13"}, True,
     "/usr/local/opt/python@3.13/bin/python3.13"),
    ("brew /opt/homebrew/bin/brew admin", {}, False, None),
    ("clt 2", {"ccproxy_python_install": True}, False, None),
    ("brew /opt/homebrew/bin/brew admin", {"ccproxy_python_install": True, "ccproxy_python": "/opt/py/bin/python3"},
     False, None),
])
def test_when_the_role_installs_python_and_where_it_looks_for_it(help_stdout, overrides, install, formula_python):
    assert render("{{ _ccproxy_litellm_python_to_install | bool }}", NOTHING, help_stdout, **overrides) == str(install)
    if formula_python:
        assert render("{{ _ccproxy_litellm_formula_python }}", NOTHING, help_stdout, **overrides) == formula_python


# Checked in preflight, before Homebrew spends minutes on a formula whose Python the probe would
# then refuse (out of range) or never look at (not a candidate).
@pytest.mark.parametrize("overrides, unfit", [
    ({}, ""),
    ({"ccproxy_python_formula": "python@3.14"}, ""),
    ({"ccproxy_python_formula": "python@3.9"}, "it is not a Python >= 3.10 and < 3.15 (python@3.N)"),
    ({"ccproxy_python_formula": "python@3.15"}, "it is not a Python >= 3.10 and < 3.15 (python@3.N)"),
    ({"ccproxy_python_formula": "python3"}, "it is not a Python >= 3.10 and < 3.15 (python@3.N)"),
    ({"ccproxy_python_candidates": ["/usr/bin/python3"]},
     "its interpreter, /opt/homebrew/opt/python@3.12/bin/python3.12, is not among ccproxy_python_candidates"),
])
def test_which_formula_preflight_lets_homebrew_install(overrides, unfit):
    overrides = dict({"ccproxy_python_install": True}, **overrides)
    assert render("{{ _ccproxy_litellm_formula_unfit }}", NOTHING, "brew /opt/homebrew/bin/brew admin",
                  **overrides) == unfit
