# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.summary: the paragraphs as data, then a real ansible-playbook run that
ends with them (a host that changes, one that fails, one unchanged, in check mode too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.visiquate.ccproxy.plugins.callback.summary import summary_lines

REPO = Path(__file__).resolve().parents[4]
MAC = {"url": "http://mac1:8080", "token_file": "/home/me/.config/ccproxy/client-token", "clients": [],
       "ca_file": "", "litellm_version": "1.108.7", "models": ["claude-3-5-sonnet", "gpt-4"]}
GATEWAY = {"url": "http://gw:8080", "token_file": "", "clients": ["alice", "bob"], "members": ["mac1"]}

CASES = [
    pytest.param({"mac1": {"changed": []}}, {"mac1": {"ccproxy": MAC}}, False, [
        "mac1: changed nothing",
        "  clients:  ANTHROPIC_BASE_URL=http://mac1:8080",
        "            OPENAI_BASE_URL=http://mac1:8080/v1",
        "  token:    ANTHROPIC_AUTH_TOKEN=$(cat /home/me/.config/ccproxy/client-token)",
        "  serving:  LiteLLM 1.108.7; models claude-3-5-sonnet, gpt-4",
    ], id="converged"),
    pytest.param({"gw": {"changed": ["gateway : Write it"]}, "mac1": {"changed": ["a", "b"]}},
                 {"gw": {"ccproxy": GATEWAY}, "mac1": {"ccproxy": dict(MAC, ca_file="/c/mac1.crt")}}, True, [
        "mac1: would change 2 tasks",
        "  clients:  ANTHROPIC_BASE_URL=http://mac1:8080",
        "            OPENAI_BASE_URL=http://mac1:8080/v1",
        "  token:    ANTHROPIC_AUTH_TOKEN=$(cat /home/me/.config/ccproxy/client-token)",
        "  trust:    /c/mac1.crt (SSL_CERT_FILE for the SDKs, NODE_EXTRA_CA_CERTS for Claude Code)",
        "  serving:  LiteLLM 1.108.7; models claude-3-5-sonnet, gpt-4",
        "  - a",
        "  - b",
        "gw: would change 1 task",
        "  clients:  ANTHROPIC_BASE_URL=http://gw:8080",
        "            OPENAI_BASE_URL=http://gw:8080/v1",
        "  token:    one of ccproxy_client_tokens (alice, bob)",
        "  in front of: mac1",
        "  - gateway : Write it",
    ], id="check mode, the gateway after the Macs"),
    pytest.param({"mac1": {"changed": ["a"], "failed": "preflight : Check"}, "mac2": {"unreachable": True},
                  "mac3": {"changed": ["b"], "unreachable": True}}, {}, False, [
        "mac1: FAILED at 'preflight : Check' (the error is above)",
        "  - a",
        "mac2: UNREACHABLE (see the error above)",
        "mac3: UNREACHABLE (see the error above); before that:",
        "  - b",
    ], id="failed and unreachable"),
    pytest.param({"mac1": {"changed": []}}, {"mac1": {"ccproxy": dict(MAC, token_file="/Users/Jane Doe/t")}}, False, [
        "mac1: changed nothing",
        "  clients:  ANTHROPIC_BASE_URL=http://mac1:8080",
        "            OPENAI_BASE_URL=http://mac1:8080/v1",
        "  token:    ANTHROPIC_AUTH_TOKEN=$(cat '/Users/Jane Doe/t')",
        "  serving:  LiteLLM 1.108.7; models claude-3-5-sonnet, gpt-4",
    ], id="a path to quote"),
    pytest.param({"mac1": {"changed": []}}, {}, False, [], id="nothing recorded, nothing changed: silent"),
]


@pytest.mark.parametrize("outcomes, custom, check_mode, expected", CASES)
def test_summary_lines(outcomes, custom, check_mode, expected):
    assert summary_lines(outcomes, custom, check_mode) == expected


PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Change something on two hosts
      ansible.builtin.debug:
        msg: changing
      changed_when: inventory_hostname != 'quiet'
    - name: Fail on two, one of them for good
      block:
        - name: Fail inside a block
          ansible.builtin.fail:
            msg: first
          when: inventory_hostname != 'quiet'
      rescue:
        - name: Fail with the reason
          ansible.builtin.fail:
            msg: broken
          when: inventory_hostname == 'broken'
    - name: Record what clients use
      ansible.builtin.set_stats:
        data:
          ccproxy: {url: "http://{{ inventory_hostname }}:8080", token_file: /t/client-token, models: [m]}
        per_host: true
        aggregate: false
"""


@pytest.mark.parametrize("check", [False, True])
def test_a_real_run_ends_with_the_summary(tmp_path, check):
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts.ini").write_text("changer\nquiet\nbroken\n[all:vars]\nansible_connection=local\n"
                                        "ansible_python_interpreter=%s\n" % sys.executable)
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="visiquate.ccproxy.summary", ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"), ANSIBLE_CONFIG=str(tmp_path / "none.cfg"))
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "hosts.ini", "site.yml"]
    run = subprocess.run(argv + (["--check"] if check else []), cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 2, run.stdout + run.stderr  # one host failed
    summary = run.stdout.split("CCPROXY SUMMARY")[1].splitlines()[1:]
    verb = "would change" if check else "changed"
    changer = summary.index("changer: %s 1 task" % verb)
    assert summary[changer:changer + 4] == [
        "changer: %s 1 task" % verb,
        "  clients:  ANTHROPIC_BASE_URL=http://changer:8080",
        "            OPENAI_BASE_URL=http://changer:8080/v1",
        "  token:    ANTHROPIC_AUTH_TOKEN=$(cat /t/client-token)",
    ], run.stdout
    assert "  - Change something on two hosts" in summary
    assert "quiet: %s nothing" % verb in summary
    # changer's failure was rescued; broken's rescue failed it with the reason.
    assert "broken: FAILED at 'Fail with the reason' (the error is above)" in summary
