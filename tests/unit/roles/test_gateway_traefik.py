# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gateway's Traefik configuration, as the gateway role renders it, in a real Traefik.

gateway.yml.j2 is rendered by Ansible's templar with the roles' defaults and vars, for an
inventory of three stand-in Macs on 127.0.0.1. Each stand-in answers like a Mac's ccproxy: its
health path without a token, the client paths with the fleet's token only (401 otherwise), and
says which Mac answered. The tests prove what the gateway promises: spread by weight, a Mac that
fails its health check or refuses connections routed around, no retry once a Mac has begun to
answer, a client address kept on its Mac (hrw), the client's token passed through unchanged.
"""
import http.client
import json
import socket
import subprocess
import threading
import time
from collections import Counter, namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.visiquate.ccproxy.tests.unit.processes import free_port, stop_process, wait_for

REPO = Path(__file__).resolve().parents[3]
FIXTURE = Path(__file__).parent / "traefik_fixture"
TOKEN = "ccp-" + "f" * 40
HEALTH = "/ccproxy/health"
# What a client got through the gateway: the status (None: no answer), the answering Mac, the body.
Reply = namedtuple("Reply", "status mac body")


class Mac(ThreadingHTTPServer):
    """Stands in for one Mac's ccproxy (its Traefik, verifier and LiteLLM) behind the gateway."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name, port=0):
        self.name, self.healthy, self.mode = name, True, "answer"
        self.seen = []  # (path, Authorization, X-Api-Key) of each client request, health checks apart
        super().__init__(("127.0.0.1", port), MacHandler)
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def handle_error(self, request, client_address):
        pass  # the hang-ups the tests cause on purpose

    def stop(self):
        """Nothing listens any more: connections are refused."""
        self.shutdown()
        self.server_close()


class MacHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mac = self.server
        if self.path == HEALTH:
            self.reply(200 if mac.healthy else 503, "I'm alive!" if mac.healthy else "down")
            return
        mac.seen.append((self.path, self.headers.get("Authorization"), self.headers.get("X-Api-Key")))
        if mac.mode == "close":  # read the request, then hang up without a word
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mac.mode == "break":  # begin to answer, then die mid-body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"mac": "' + mac.name.encode())
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mac.mode == "bad gateway":  # its own Traefik's answer while its LiteLLM is down
            self.reply(502, "Bad Gateway")
            return
        if TOKEN not in (self.headers.get("Authorization", "").removeprefix("Bearer "), self.headers.get("X-Api-Key")):
            self.reply(401, {"type": "error", "error": {"type": "authentication_error"}})
            return
        self.reply(200, {"mac": mac.name})

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


def render_gateway(macs, **overrides):
    """gateway.yml.j2 for these Macs ({name: (url, weight)}), with the roles' defaults and vars."""
    loader = DataLoader()
    variables = {}
    for path in ("traefik_route/defaults", "traefik_route/vars", "gateway/defaults", "gateway/vars"):
        variables.update(loader.load_from_file(str(REPO / "roles" / path / "main.yml"), trusted_as_template=True))
    hostvars = {name: {"inventory_hostname": name, "ccproxy_gateway_url": url, "ccproxy_gateway_weight": weight}
                for name, (url, weight) in macs.items()}
    variables.update({"ansible_managed": "Ansible managed", "playbook_dir": "/work/inventory",
                      "inventory_hostname": "gateway", "groups": {"ccproxy_hosts": list(macs)},
                      "hostvars": hostvars, "ccproxy_gateway_health_interval_seconds": 1,
                      "ccproxy_gateway_health_timeout_seconds": 1, **overrides})
    source = (REPO / "roles/traefik_route/templates/gateway.yml.j2").read_text()
    return Templar(loader=loader, variables=variables).template(trust_as_template(source))


class Gateway:
    """A real Traefik running the rendered gateway file; the file can be rendered anew."""

    def __init__(self, binary, base):
        self.web_port, self.api_port = free_port(), free_port()
        self.dynamic = base / "dynamic"
        self.dynamic.mkdir()
        static = yaml.safe_load((FIXTURE / "traefik.yml").read_text())
        static["entryPoints"]["web"]["address"] = f"127.0.0.1:{self.web_port}"
        static["entryPoints"]["traefik"]["address"] = f"127.0.0.1:{self.api_port}"
        static["providers"]["file"]["directory"] = str(self.dynamic)
        (base / "traefik.yml").write_text(yaml.safe_dump(static))
        self.log = base / "traefik.log"
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen([str(binary), f"--configFile={base / 'traefik.yml'}"], cwd=base,
                                            stdout=output, stderr=subprocess.STDOUT)

    def load(self, macs, **overrides):
        """Render the file for these Macs and wait until Traefik reports every server's health."""
        text = render_gateway({mac.name: (mac.url, weight) for mac, weight in macs.items()}, **overrides)
        tmp = self.dynamic / "gateway.yml.tmp"
        tmp.write_text(text)
        tmp.rename(self.dynamic / "gateway.yml")
        wanted = {mac.url for mac, weight in macs.items() if weight > 0}
        wait_for(lambda: set(self.status()) == wanted and all(s == "UP" for s in self.status().values()),
                 20, f"the gateway to report {sorted(wanted)} up")

    def status(self):
        if self.process.poll() is not None:
            pytest.fail(f"traefik exited {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            service = requests.get(f"http://127.0.0.1:{self.api_port}/api/http/services/ccproxy-fleet@file", timeout=2)
        except requests.ConnectionError:
            return {}
        return service.json().get("serverStatus", {}) if service.status_code == 200 else {}

    def many(self, count, **send):
        return [self.send(**send) for _request in range(count)]

    def send(self, path="/v1/messages", headers=None, source="127.0.0.1"):
        """One request from `source`: a Reply."""
        connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10, source_address=(source, 0))
        try:
            headers = {"Authorization": "Bearer " + TOKEN} if headers is None else headers
            connection.request("POST", path, body=b'{"model": "m"}',
                               headers={"Content-Type": "application/json", **headers})
            response = connection.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError) as error:
            return Reply(None, None, repr(error).encode())
        finally:
            connection.close()
        try:
            mac = json.loads(body).get("mac") if response.status == 200 else None
        except ValueError:
            mac = None
        return Reply(response.status, mac, body)


@pytest.fixture()
def macs():
    fleet = [Mac(name) for name in ("mac1", "mac2", "mac3")]
    yield fleet
    for mac in fleet:
        if mac.socket.fileno() != -1:
            mac.stop()


@pytest.fixture()
def gateway(traefik_binary, tmp_path):
    running = Gateway(traefik_binary, tmp_path)
    yield running
    stop_process(running.process)


def test_the_rendered_file_lists_the_pool_with_weights_and_both_health_checks():
    config = yaml.safe_load(render_gateway({"mac1": ("http://198.18.0.11:8080", 1), "mac2": ("http://198.18.0.12:8080", 3),
                                            "mac3": ("http://198.18.0.13:8080", 0)},
                                           ccproxy_gateway_strategy="hrw", ccproxy_gateway_retry_attempts=0))
    balancer = config["http"]["services"]["ccproxy-fleet"]["loadBalancer"]
    # A drained Mac (weight 0) is out of the pool.
    assert balancer["servers"] == [{"url": "http://198.18.0.11:8080", "weight": 1},
                                   {"url": "http://198.18.0.12:8080", "weight": 3}]
    assert balancer["strategy"] == "hrw"
    assert balancer["healthCheck"] == {"path": HEALTH, "interval": "1s", "timeout": "1s"}
    assert balancer["passiveHealthCheck"] == {"maxFailedAttempts": 3, "failureWindow": "10s"}
    router = config["http"]["routers"]["ccproxy"]
    assert "middlewares" not in router and "middlewares" not in config["http"]  # retry 0: none
    assert router["priority"] == 10000 and "Path(`/v1/messages`)" in router["rule"]


def test_requests_spread_by_weight(gateway, macs):
    gateway.load({macs[0]: 1, macs[1]: 2, macs[2]: 3})
    answered = Counter(reply.mac for reply in gateway.many(300))
    # Weighted round robin: exact shares over whole rounds of six.
    assert answered == {"mac1": 50, "mac2": 100, "mac3": 150}, answered


def test_the_client_s_token_passes_through_and_each_mac_checks_it(gateway, macs):
    gateway.load({mac: 1 for mac in macs})
    for headers in ({"Authorization": "Bearer " + TOKEN}, {"X-Api-Key": TOKEN}):
        reply = gateway.send(headers=headers)
        assert reply.status == 200 and reply.mac
    seen = [entry for mac in macs for entry in mac.seen]
    assert ("/v1/messages", "Bearer " + TOKEN, None) in seen and ("/v1/messages", None, TOKEN) in seen
    for headers in ({}, {"Authorization": "Bearer ccp-wrong-token-of-nobody-at-all"}):
        assert {reply.status for reply in gateway.many(6, headers=headers)} == {401}


@pytest.mark.parametrize("path", ["/health", "/health/liveliness", HEALTH, "/v1/model/info", "/", "/key/generate"])
def test_only_the_client_paths_pass_the_gateway(gateway, macs, path):
    gateway.load({mac: 1 for mac in macs})
    assert gateway.send(path=path).status == 404
    assert not [entry for mac in macs for entry in mac.seen]


def test_a_mac_failing_its_health_check_is_routed_around_within_one_interval(gateway, macs):
    gateway.load({mac: 1 for mac in macs})
    macs[1].healthy = False
    started = time.monotonic()
    wait_for(lambda: gateway.status().get(macs[1].url) == "DOWN", 5, "mac2 to be seen down")
    # Interval 1 s, timeout 1 s.
    assert time.monotonic() - started < 2.5
    before = len(macs[1].seen)
    assert Counter(reply.mac for reply in gateway.many(60)) == {"mac1": 30, "mac3": 30}
    assert len(macs[1].seen) == before
    macs[1].healthy = True
    wait_for(lambda: gateway.status().get(macs[1].url) == "UP", 5, "mac2 to be back")
    assert "mac2" in {reply.mac for reply in gateway.many(6)}


def test_a_mac_refusing_connections_costs_no_failed_request(gateway, macs):
    gateway.load({mac: 1 for mac in macs})
    macs[2].stop()  # e.g. its Traefik was killed: before the next health check, requests still go there
    results = gateway.many(30)
    assert [reply.status for reply in results] == [200] * 30, results
    assert "mac3" not in {reply.mac for reply in results}


def test_a_mac_that_hangs_up_after_taking_a_request_is_taken_out_by_the_passive_check(gateway, macs):
    """Not retried (it may have run the request): it fails, until maxFailedAttempts take the Mac out."""
    gateway.load({mac: 1 for mac in macs})
    macs[0].mode = "close"  # its health path still answers: only the passive check can see it
    results = gateway.many(30)
    failed = [reply for reply in results if reply.status != 200]
    assert len(failed) == len(macs[0].seen) == 3, results
    assert {reply.status for reply in failed} == {502}


def test_no_retry_once_a_mac_began_to_answer(gateway, macs):
    """A completion is never sent twice: a Mac that dies mid-answer costs that request."""
    gateway.load({mac: 1 for mac in macs})
    macs[0].mode = "break"
    results = gateway.many(9)
    broken = [reply for reply in results if reply.status != 200 or reply.mac is None]
    assert len(macs[0].seen) == len(broken) > 0, (results, macs[0].seen)
    assert sum(len(mac.seen) for mac in macs) == 9  # each request reached exactly one Mac


def test_without_retry_a_refused_connection_fails_the_request(gateway, macs):
    """The other side of the retry test: it can fail."""
    gateway.load({mac: 1 for mac in macs}, ccproxy_gateway_retry_attempts=0)
    macs[2].stop()
    statuses = [reply.status for reply in gateway.many(9)]
    assert statuses.count(200) == 6 and len(statuses) == 9, statuses


def test_hrw_keeps_each_client_address_on_its_mac(gateway, macs):
    gateway.load({mac: 1 for mac in macs}, ccproxy_gateway_strategy="hrw")
    sources = [f"127.0.0.{n}" for n in range(2, 32)]
    first = {source: gateway.send(source=source).mac for source in sources}
    for _round in range(3):
        assert {source: gateway.send(source=source).mac for source in sources} == first
    assert len(set(first.values())) == 3, first  # 30 addresses do not all land on one Mac
    # A Mac that goes down takes only its own clients elsewhere; the others stay.
    down = first["127.0.0.2"]
    next(mac for mac in macs if mac.name == down).healthy = False
    wait_for(lambda: "DOWN" in gateway.status().values(), 5, f"{down} to be seen down")
    moved = {source: gateway.send(source=source).mac for source in sources}
    assert all(moved[source] == mac for source, mac in first.items() if mac != down), (first, moved)
    assert down not in moved.values()


def test_a_mac_answering_5xx_is_taken_out_by_the_passive_check(gateway, macs):
    """As a Mac's own Traefik answers while its LiteLLM is down, before the active check runs."""
    gateway.load({mac: 1 for mac in macs})
    macs[0].mode = "bad gateway"
    results = gateway.many(30)
    assert [reply.status for reply in results].count(502) == len(macs[0].seen) == 3, results


def test_refused_tokens_take_no_mac_out(gateway, macs):
    """A client with a wrong token gets 401 from the Macs: that is no failure of theirs."""
    gateway.load({mac: 1 for mac in macs})
    wrong = {"Authorization": "Bearer ccp-wrong-token-of-nobody-at-all"}
    assert {reply.status for reply in gateway.many(30, headers=wrong)} == {401}
    assert Counter(reply.mac for reply in gateway.many(30)) == {"mac1": 10, "mac2": 10, "mac3": 10}
