# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""molecule default's verify of the gateway (mac4, roles/gateway) in front of mac1..mac3: load
spread by weight, the tokens checked by the Macs behind it, only the client paths through, the
real clients through it, and a Mac whose LiteLLM or Traefik is killed routed around."""

import json
import re
import subprocess
import sys
import threading
import time
import uuid

import anthropic
import openai
import pytest
import requests
import yaml
from conftest import PROJECT
from test_default import claude_code

testinfra_hosts = ["mac4"]
INVENTORY = yaml.safe_load((PROJECT / "extensions/molecule/default/inventory/hosts.yml").read_text())
WEIGHTS = {name: (hostvars or {}).get("ccproxy_gateway_weight", 1)
           for name, hostvars in INVENTORY["ccproxy_hosts"]["hosts"].items()}
ACCESS_LOG = "/Users/coder/ccproxy-gateway/logs/traefik-access.log"
API = "http://127.0.0.1:8091/api/http/services/ccproxy-fleet@file"
# A model every Mac serves: Claude Code's ids reach each Mac's default model (the claude-* alias).
MODEL = "claude-sonnet-4-5-20250929"
PROMPT = [{"role": "user", "content": "ccproxy through the gateway"}]
# The gateway's health checks (roles/gateway defaults): interval 5 s, timeout 3 s.
ONE_INTERVAL = 5 + 3


@pytest.fixture(scope="module")
def addresses():
    out = subprocess.run([sys.executable, str(PROJECT / "tests/testbed/macs/inventory.py"), "--list"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return {name: hostvars["ansible_host"] for name, hostvars in json.loads(out)["_meta"]["hostvars"].items()}


@pytest.fixture(scope="module")
def gateway_url(addresses):
    return "http://%s:8080" % addresses["mac4"]


def on_mac(name, *argv):
    """A command as root on another test-bed Mac: its output."""
    return subprocess.run([sys.executable, str(PROJECT / "tests/testbed/macs/macs.py"), "shell", name, *argv],
                          capture_output=True, text=True, check=True, timeout=60).stdout


def ready(name, port):
    """Whether the LiteLLM worker on `port` of another test-bed Mac answers readiness."""
    try:
        on_mac(name, "curl", "-sf", "http://127.0.0.1:%d/health/readiness" % port)
    except subprocess.CalledProcessError:
        return False
    return True


def status(root):
    """Each Mac's state in the gateway's pool (its API, on mac4's loopback), by Mac name."""
    service = json.loads(root.check_output("curl -sS %s", API))
    return service["serverStatus"]


def by_name(root, addresses):
    urls = status(root)
    return {name: urls.get("http://%s:8080" % address) for name, address in addresses.items() if name in WEIGHTS}


def served_by(root, addresses, marker):
    """Which Mac served each request whose path carries `marker`, from the gateway's access log."""
    names = {"http://%s:8080" % address: name for name, address in addresses.items()}
    counts = {}
    for line in root.file(ACCESS_LOG).content_string.splitlines():
        entry = json.loads(line)
        if marker in entry.get("RequestPath", ""):
            name = names.get(entry.get("ServiceURL"), entry.get("ServiceURL"))
            counts[name] = counts.get(name, 0) + 1
    return counts


def test_every_mac_is_in_the_pool(root, addresses):
    assert by_name(root, addresses) == {name: "UP" for name in WEIGHTS}


def test_requests_spread_by_weight(root, addresses, gateway_url, token):
    marker = uuid.uuid4().hex
    rounds = 10
    for _ in range(rounds * sum(WEIGHTS.values())):
        response = requests.get(gateway_url + "/v1/models?it=" + marker, headers={"Authorization": "Bearer " + token},
                                timeout=30)
        assert response.status_code == 200, response.text
    # Weighted round robin: each Mac's share of whole rounds (one off where the rounds began).
    served = served_by(root, addresses, marker)
    for name, weight in WEIGHTS.items():
        assert abs(served.get(name, 0) - rounds * weight) <= 1, served


def test_a_model_only_some_macs_serve_goes_only_to_those(root, addresses, gateway_url, token):
    """mac2 alone serves gpt-4o; gpt-4 is mac1's and mac3's (inventory/hosts.yml), by their weights."""
    served = {}
    for model, count in (("gpt-4o", 4), ("gpt-4", 3 * (WEIGHTS["mac1"] + WEIGHTS["mac3"]))):
        marker = uuid.uuid4().hex
        for _request in range(count):
            response = requests.post(gateway_url + "/v1/chat/completions?it=" + marker, timeout=60,
                                     headers={"Authorization": "Bearer " + token},
                                     json={"model": model, "max_tokens": 8, "messages": PROMPT})
            assert response.status_code == 200, (model, response.text)
        served[model] = {name: n for name, n in served_by(root, addresses, marker).items() if name in WEIGHTS}
    assert served["gpt-4o"] == {"mac2": 4}, served
    assert served["gpt-4"] == {"mac1": 3 * WEIGHTS["mac1"], "mac3": 3 * WEIGHTS["mac3"]}, served


def test_the_macs_check_the_tokens_and_a_refused_one_takes_no_mac_out(root, addresses, gateway_url):
    for headers in ({}, {"Authorization": "Bearer ccp-not-a-token-of-this-fleet-at-all"},
                    {"x-api-key": "ccp-not-a-token-of-this-fleet-at-all"}):
        for _ in range(sum(WEIGHTS.values())):  # once through each Mac
            response = requests.get(gateway_url + "/v1/models", headers=headers, timeout=30)
            assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert by_name(root, addresses) == {name: "UP" for name in WEIGHTS}


@pytest.mark.parametrize("path", ["/health", "/ccproxy/health", "/health/liveliness", "/v1/model/info", "/"])
def test_only_the_client_paths_pass_the_gateway(gateway_url, token, path):
    assert requests.get(gateway_url + path, headers={"Authorization": "Bearer " + token}, timeout=10).status_code == 404


def test_the_sdks_get_replies_and_streams_through_the_gateway(gateway_url, token):
    client = anthropic.Anthropic(base_url=gateway_url, auth_token=token, max_retries=0, timeout=60)
    gpt = openai.OpenAI(base_url=gateway_url + "/v1", api_key=token, max_retries=0, timeout=60)
    for _ in range(sum(WEIGHTS.values())):  # each Mac answers at least once
        message = client.messages.create(model=MODEL, max_tokens=16, messages=PROMPT)
        assert any(block.type == "text" and block.text for block in message.content), message
        chat = gpt.chat.completions.create(model=MODEL, max_tokens=16, messages=PROMPT)
        assert chat.choices[0].message.content, chat
    with client.messages.stream(model=MODEL, max_tokens=16, messages=PROMPT) as stream:
        assert "".join(stream.text_stream)
    chunks = gpt.chat.completions.create(model=MODEL, max_tokens=16, messages=PROMPT, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


def test_the_claude_code_cli_gets_a_reply_through_the_gateway(gateway_url, token, tmp_path):
    rc, out = claude_code(gateway_url, token, tmp_path)
    assert rc == 0, out
    assert out.startswith("stand-in reply to:"), out


class Clients(threading.Thread):
    """A client sending /v1/models through the gateway every 50 ms, bounded in count and time."""

    def __init__(self, url, token, seconds=90, limit=1800):
        super().__init__(daemon=True)
        self.url, self.token, self.deadline, self.limit = url, token, time.monotonic() + seconds, limit
        self.results, self.stopped = [], threading.Event()

    def run(self):
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + self.token
        while not self.stopped.is_set() and time.monotonic() < self.deadline and len(self.results) < self.limit:
            try:
                code = session.get(self.url + "/v1/models", timeout=30).status_code
            except requests.RequestException as error:
                code = type(error).__name__
            self.results.append((time.monotonic(), code))
            time.sleep(0.05)

    def failed(self, since=0.0):
        return [code for at, code in self.results if at >= since and code != 200]

    def stop(self):
        self.stopped.set()
        self.join(60)


def kill_job(mac, label):
    """SIGKILL the process of a launchd job on a test-bed Mac (mac3 runs its jobs as daemons)."""
    domain = "system" if mac == "mac3" else "gui/501"
    found = re.search(r"^\s*pid = (\d+)$", on_mac(mac, "launchctl", "print", "%s/%s" % (domain, label)), re.M)
    assert found, "no running %s on %s" % (label, mac)
    on_mac(mac, "kill", "-9", found.group(1))


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out after %s s waiting for %s" % (seconds, what)
        time.sleep(0.2)


def test_a_mac_that_loses_one_of_its_two_litellm_workers_stays_in_the_pool(root, addresses, gateway_url, token):
    """mac1 runs the default two workers: its Traefik sends the killed one's requests to the other
    while launchd starts it again, so the gateway's checks never see mac1 fail."""
    clients = Clients(gateway_url, token, seconds=60)
    clients.start()
    try:
        time.sleep(1)
        killed = time.monotonic()
        kill_job("mac1", "com.visiquate.ccproxy")
        while time.monotonic() < killed + ONE_INTERVAL + 2:
            assert by_name(root, addresses)["mac1"] == "UP"
            time.sleep(0.5)
        # Back to two before the next test takes a Mac away.
        wait_for(lambda: ready("mac1", 8081), 90, "mac1's first worker ready again")
    finally:
        clients.stop()
    print("\nOne of mac1's two LiteLLM workers killed: %d requests through the gateway, %d failed"
          % (len([at for at, _code in clients.results if at >= killed]), len(clients.failed(killed))))
    # Only a request the killed worker had already taken may fail (never sent twice).
    assert len(clients.results) > 50 and len(clients.failed(killed)) <= 1, clients.failed(killed)


def test_a_mac_whose_litellm_is_killed_is_routed_around_within_one_interval(root, addresses, gateway_url, token):
    clients = Clients(gateway_url, token)
    clients.start()
    try:
        time.sleep(1)
        killed = time.monotonic()
        kill_job("mac3", "com.visiquate.ccproxy")
        wait_for(lambda: by_name(root, addresses)["mac3"] == "DOWN", ONE_INTERVAL + 2, "mac3 out of the pool")
        out = time.monotonic()
        time.sleep(3)
        # Before the health check saw it, mac3's own Traefik answered 502/503 for it: the passive
        # check takes it out after 3 such answers.
        print("\nLiteLLM killed on mac3: out of the gateway's pool after %.1f s; %d failed requests before, %d after"
              % (out - killed, len(clients.failed(killed)), len(clients.failed(out))))
        assert out - killed <= ONE_INTERVAL + 1
        assert len(clients.failed(killed)) <= 3, clients.failed(killed)
        assert clients.failed(out) == []
        # launchd starts LiteLLM again; the next passing check puts mac3 back.
        wait_for(lambda: by_name(root, addresses)["mac3"] == "UP", 90, "mac3 back in the pool")
        assert clients.failed(out) == []
    finally:
        clients.stop()


def test_a_mac_whose_traefik_is_killed_costs_no_failed_request_but_one_in_flight(root, addresses, gateway_url,
                                                                                  token):
    """Its connections are refused until launchd starts Traefik again: the gateway sends those to
    another Mac. Only a request mac3 had already taken when it died may fail (never sent twice)."""
    clients = Clients(gateway_url, token, seconds=30)
    clients.start()
    try:
        time.sleep(1)
        killed = time.monotonic()
        kill_job("mac3", "com.visiquate.ccproxy.traefik")
        time.sleep(ONE_INTERVAL + 2)
        wait_for(lambda: by_name(root, addresses)["mac3"] == "UP", 60, "mac3 serving again")
    finally:
        clients.stop()
    served = [code for at, code in clients.results if at >= killed]
    print("\nTraefik killed on mac3: %d requests through the gateway meanwhile, %d failed"
          % (len(served), len(clients.failed(killed))))
    assert len(served) > 50 and len(clients.failed(killed)) <= 1, clients.failed(killed)


def test_a_mac_whose_host_is_down_costs_no_failed_request(root, addresses, gateway_url, token):
    """mac3 off the network (its link down on the controller's bridge): nothing answers, not even
    a refusal. A new connection to it gives up after the gateway's dial timeout (3 s) and the
    request is tried on another Mac; the health check takes mac3 out. A request already on its way
    to mac3 (in flight, or sent on a kept-alive connection before the check) waits until mac3 is
    back: the gateway sets no answer timeout, as a completion may take minutes."""
    clients = Clients(gateway_url, token, seconds=60)
    clients.start()
    try:
        time.sleep(1)
        down = time.monotonic()
        subprocess.run(["ip", "link", "set", "ccpv3", "down"], check=True, timeout=10)
        try:
            wait_for(lambda: by_name(root, addresses)["mac3"] == "DOWN", ONE_INTERVAL + 2, "mac3 out of the pool")
            out = time.monotonic() - down
            time.sleep(3)
        finally:
            subprocess.run(["ip", "link", "set", "ccpv3", "up"], check=True, timeout=10)
            back = time.monotonic() - down
        wait_for(lambda: by_name(root, addresses)["mac3"] == "UP", 60, "mac3 back in the pool")
        # The request that was on its way to mac3 gets its answer when TCP next retransmits, which
        # may be after the health check saw mac3 back: the client must have gone on past it.
        wait_for(lambda: len([at for at, _code in clients.results if at >= down + back]) >= 2, 45,
                 "the client to be served again after mac3 came back")
    finally:
        clients.stop()
    served = [code for at, code in clients.results if at >= down]
    times = [down] + [at for at, _code in clients.results if at >= down]
    waits = [later - earlier for earlier, later in zip(times, times[1:])]
    print("\nmac3's host down for %.1f s: out of the gateway's pool after %.1f s; %d requests meanwhile, "
          "%d failed, the longest wait %.1f s" % (back, out, len(served), len(clients.failed(down)), max(waits)))
    assert clients.failed(down) == [] and served
    assert out <= ONE_INTERVAL + 1
