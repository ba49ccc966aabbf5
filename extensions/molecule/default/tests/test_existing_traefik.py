# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""molecule default's verify (testinfra), on mac2, whose owner runs a Traefik of their own
(prepare's user_traefik.yml) with a router of theirs: ccproxy added its dynamic file to that
Traefik's watched directory and nothing else, ran no Traefik of its own, and the owner's router
answers as before while ccproxy's routes need a token. The side effect (existing_traefik.yml)
uninstalls ccproxy and checks that this Traefik is then exactly as prepare left it."""

import re
from pathlib import Path

import pytest
import requests
import yaml

testinfra_hosts = ["mac2"]
SCENARIO = Path(__file__).resolve().parents[1]
USER_TRAEFIK = yaml.safe_load((SCENARIO / "inventory/hosts.yml").read_text())["existing_traefik"]["vars"]["it_user_traefik"]


@pytest.fixture(scope="module")
def base_url(host):
    return "http://%s:%d" % (host.ansible.get_variables()["ansible_host"], USER_TRAEFIK["port"])


def state(root):
    """The owner's Traefik as state_sh sees it: its PID line, then path, mode, owner and checksum lines."""
    return root.check_output(USER_TRAEFIK["state_sh"]).splitlines()


def test_ccproxy_added_its_dynamic_file_and_changed_nothing_else(root):
    before = set(root.file(USER_TRAEFIK["prefix"] + "/var/testbed/before").content_string.splitlines())
    now = set(state(root))
    assert before <= now, "changed or gone: %s" % sorted(before - now)
    added = sorted(now - before)
    assert len(added) == 2, added
    mode, checksum = added
    assert mode == "-rw-r--r-- root root ./dynamic/ccproxy.yml"
    assert re.fullmatch(r"[0-9a-f]{64}  \./dynamic/ccproxy\.yml", checksum), checksum


def test_ccproxy_runs_no_traefik_of_its_own(root):
    assert root.run("launchctl print gui/501/com.visiquate.ccproxy.traefik").rc == 113
    assert not root.file("/Users/coder/ccproxy/traefik").exists
    traefiks = root.check_output("pgrep -a -x traefik").splitlines()
    assert len(traefiks) == 1 and USER_TRAEFIK["etc"] + "/traefik.yml" in traefiks[0], traefiks


def test_the_owner_s_router_still_answers_without_a_token(base_url):
    reply = requests.get(base_url + "/intranet/", timeout=10)
    assert reply.status_code == 200 and "the owner's intranet" in reply.text, reply.text


def test_ccproxy_s_routes_on_the_owner_s_traefik_need_a_token(base_url):
    reply = requests.get(base_url + "/v1/models", timeout=10)
    assert reply.status_code == 401 and reply.headers.get("WWW-Authenticate", "").startswith("Bearer")
