# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""molecule default's verify (testinfra), on mac2, which followed the old runbook before converge
(prepare's runbook_install.yml): its LaunchAgent with ccproxy's label, loaded the legacy way, ran a
`pip3 install`ed LiteLLM without a master key, and a hand-made router sent /v1/messages to it with
no token check (prepare waited until a completion without a token answered). After converge:
ccproxy's job holds the label, the runbook's LiteLLM is gone, the same request is refused, the
pip install is still there (reported, not removed: the side effect checks the report) and the
hand-made router is the owner's, left as it was."""

import json
import plistlib
import re
from pathlib import Path

import pytest
import requests
import yaml

testinfra_hosts = ["mac2"]
SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = SCENARIO.parents[2]
GROUP = yaml.safe_load((SCENARIO / "inventory/hosts.yml").read_text())["existing_traefik"]["vars"]
RUNBOOK, USER_TRAEFIK = GROUP["it_runbook"], GROUP["it_user_traefik"]
PIN = yaml.safe_load((PROJECT / "roles/litellm_install/defaults/main.yml").read_text())["ccproxy_litellm_version"]
LABEL = "com.visiquate.ccproxy"
# The request prepare got a completion for, without a token, through the hand-made router.
RUNBOOK_REQUEST = {"model": "claude-3-5-sonnet", "max_tokens": 16, "messages": [{"role": "user", "content": "runbook"}]}


@pytest.fixture(scope="module")
def base_url(host):
    return "http://%s:%d" % (host.ansible.get_variables()["ansible_host"], USER_TRAEFIK["port"])


def test_ccproxy_s_job_holds_the_label_from_its_own_plist(root):
    plist = plistlib.loads(root.file(RUNBOOK["plist"]).content)
    assert plist["Label"] == LABEL
    assert plist["ProgramArguments"][0].startswith("/Users/coder/ccproxy/"), plist["ProgramArguments"]
    assert RUNBOOK["litellm"] not in plist["ProgramArguments"], "the runbook's LiteLLM is still the job"


def test_the_runbook_s_litellm_runs_no_more(root):
    job = root.check_output("launchctl print gui/501/%s" % LABEL)
    pid = re.search(r"(?m)^\s*pid = (\d+)$", job).group(1)
    assert RUNBOOK["litellm"] not in root.check_output("ps -o args= -p %s" % pid)
    # [/]...: the pattern does not match the command line of the shell and sudo that run pgrep.
    runbook = root.run("pgrep -f -a '[%s]%s'" % (RUNBOOK["litellm"][0], RUNBOOK["litellm"][1:]))
    assert runbook.rc == 1, runbook.stdout


def test_the_pip_install_is_left_where_it_was(root):
    assert root.file("%s/litellm-%s.dist-info" % (RUNBOOK["site"], PIN)).is_directory


def test_a_completion_without_a_token_is_refused_where_the_runbook_answered_it(base_url):
    reply = requests.post(base_url + "/v1/messages", json=RUNBOOK_REQUEST, timeout=30)
    assert reply.status_code == 401, reply.text
    assert reply.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_with_a_client_token_the_same_request_is_served_by_ccproxy(base_url, token):
    request = dict(RUNBOOK_REQUEST, model="gpt-4o")  # mac2's alias: the runbook's are gone
    reply = requests.post(base_url + "/v1/messages", json=request, timeout=60,
                          headers={"Authorization": "Bearer " + token})
    assert reply.status_code == 200, reply.text
    assert reply.json()["type"] == "message"


def test_the_hand_made_router_is_left_to_its_owner_and_outranked(root):
    api = "http://127.0.0.1:%d/api/http/routers" % USER_TRAEFIK["api_port"]
    theirs = json.loads(root.check_output("curl -fsS %s/ccproxy-messages@file" % api))
    ours = json.loads(root.check_output("curl -fsS %s/ccproxy@file" % api))
    assert theirs["status"] == "enabled" and theirs["service"] == "ccproxy-service"
    assert ours["priority"] > theirs["priority"], (ours["priority"], theirs["priority"])
