# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Raising the LiteLLM pin on a serving Mac: a trial on a port of its own, then the switch.

One test-bed Mac behind a managed Traefik (the traefik_route test's inventory and play). The
tests run in file order and build on each other. A failed trial must leave the old release
serving; a good upgrade is measured from a client's side: requests sent through Traefik in a
loop during the run, and the failed ones counted and printed (the benchmark issue sets the goal).
Run with -s to see the figures.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from pathlib import Path

import pytest
import requests

from macbed import REPO, ROOT, ansible_playbook, on_mac, session

HERE = Path(__file__).resolve().parent / "traefik_route"
# 1.108.6 differs from 1.108.7 in litellm alone: one more wheel for the controller's wheelhouse.
OLD, NEW = "1.108.6", "1.108.7"
URL = "http://198.18.0.11:8080"
TOKEN = "ccp-" + secrets.token_urlsafe(30)
TRIAL_JOB = "gui/501/com.visiquate.ccproxy.trial"
TIMINGS = {}


@pytest.fixture(scope="module", autouse=True)
def bed():
    with session(TIMINGS):
        yield


def play(name, version, *args, rc=0):
    extra = {"ccproxy_litellm_version": version, "ccproxy_client_tokens": [{"name": "loop", "token": TOKEN}]}
    return ansible_playbook(TIMINGS, name, HERE / "hosts.yml", HERE / "converge.yml", "-e", json.dumps(extra),
                            *args, rc=rc)


def serving_release():
    """The LiteLLM release behind the job's venv link, and whether a completion gets through Traefik."""
    link = on_mac("readlink", ROOT + "/venv")[1]
    response = requests.post(URL + "/v1/chat/completions", headers={"Authorization": "Bearer " + TOKEN}, timeout=30,
                             json={"model": "gpt-4", "messages": [{"role": "user", "content": "which release?"}]})
    return link.rsplit("litellm-", 1)[-1], response.status_code


def trial_left_behind():
    return (on_mac("launchctl", "print", TRIAL_JOB)[0] == 0
            or on_mac("test", "-e", "/Users/coder/Library/LaunchAgents/com.visiquate.ccproxy.trial.plist")[0] == 0)


def test_prepare_and_deploy_the_old_release():
    ansible_playbook(TIMINGS, "prepare", HERE / "hosts.yml", REPO / "extensions/molecule/shared/prepare.yml",
                     env={"MOLECULE_PROJECT_DIRECTORY": str(REPO)})
    _out, recap = play("deploy " + OLD, OLD)
    assert recap["failed"] == 0
    assert serving_release() == (OLD, 200)


def test_a_failed_trial_leaves_the_old_release_serving():
    # LiteLLM needs seconds to start: a one-second deadline makes the trial fail for a real reason.
    out, _recap = play("upgrade, trial too slow", NEW, "-e", "ccproxy_litellm_start_timeout_seconds=1", rc=2)
    assert "LiteLLM %s failed its trial on 127.0.0.1:8083" % NEW in out, out
    assert "LiteLLM %s keeps serving" % OLD in out
    assert serving_release() == (OLD, 200)
    assert not trial_left_behind()
    # The new venv stays for the next run, beside the one in use.
    assert on_mac("test", "-x", "%s/venvs/litellm-%s/bin/litellm" % (ROOT, NEW))[0] == 0


def test_check_mode_reports_the_switch_and_makes_none():
    out, recap = play("upgrade --check", NEW, "--check")
    assert recap["changed"] > 0 and recap["failed"] == 0, out
    assert serving_release() == (OLD, 200)
    assert not trial_left_behind()


def test_an_upgrade_switches_after_its_trial_and_clients_barely_notice():
    stop = threading.Event()
    results = []

    def client_loop():
        session_ = requests.Session()
        deadline = time.monotonic() + 600  # bounded in time, and in count below
        while not stop.is_set() and time.monotonic() < deadline and len(results) < 20000:
            try:
                status = session_.post(URL + "/v1/chat/completions", headers={"Authorization": "Bearer " + TOKEN},
                                       json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]},
                                       timeout=10).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            results.append(status)
            time.sleep(0.05)

    loop = threading.Thread(target=client_loop)
    loop.start()
    try:
        out, recap = play("upgrade " + NEW, NEW)
    finally:
        stop.set()
        loop.join()
    assert recap["failed"] == 0 and recap["changed"] > 0, out
    outage = re.search(r"LiteLLM %s -> %s on mac1: not answering for at most ([0-9.]+) s" % (OLD, NEW), out)
    assert outage, out
    assert serving_release() == (NEW, 200)
    assert not trial_left_behind()
    failed = [status for status in results if status != 200]
    assert len(results) > 50, "the client loop hardly ran"
    print("\nupgrade %s -> %s: outage reported %s s; client requests %d, failed %d (%s)"
          % (OLD, NEW, outage.group(1), len(results), len(failed), sorted(set(map(str, failed)))))


def test_the_upgraded_mac_then_converges_with_no_change():
    _out, recap = play("no-op after upgrade", NEW)
    assert recap["changed"] == 0, recap
