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
import datetime
import http.client
import json
import socket
import ssl
import subprocess
import sys
import tempfile
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
from ansible_collections.visiquate.ccproxy.plugins.plugin_utils import tls
from ansible_collections.visiquate.ccproxy.tests.unit.roles.auth_harness import traefik_binary  # noqa: F401  pylint: disable=unused-import

REPO = Path(__file__).resolve().parents[3]
FIXTURE = Path(__file__).parent / "traefik_fixture"
POOL_SCRIPT = REPO / "roles/traefik_route/files/ccproxy_pool.py"
TOKEN = "ccp-" + "f" * 40
HEALTH = "/ccproxy/health"
# What a client got through the gateway: the status (None: no answer), the answering Mac, the body.
Reply = namedtuple("Reply", "status mac body")


class Mac(ThreadingHTTPServer):
    """Stands in for one Mac's ccproxy (its Traefik, verifier and LiteLLM) behind the gateway."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name, port=0, models=None, tls=None):
        """tls: (certificate PEM, key PEM) to serve over TLS, as a Mac with ccproxy_traefik_tls."""
        self.name, self.healthy, self.mode, self.models = name, True, "answer", models
        self.seen = []  # (path, Authorization, X-Api-Key) of each client request, health checks apart
        super().__init__(("127.0.0.1", port), MacHandler)
        self.port = self.server_address[1]
        self.cert = tls[0] if tls else None
        if tls:
            with tempfile.TemporaryDirectory() as tmp:
                Path(tmp, "mac.crt").write_text(tls[0])
                Path(tmp, "mac.key").write_text(tls[1])
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(Path(tmp, "mac.crt"), Path(tmp, "mac.key"))
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
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
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        model = json.loads(body).get("model") if body else None
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
        if mac.mode == "no routes":  # a Traefik just restarted: listening, its routes not loaded yet
            body = b"404 page not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if mac.mode == "bad gateway":  # its own Traefik's answer while its LiteLLM is down
            self.reply(502, "Bad Gateway")
            return
        if TOKEN not in (self.headers.get("Authorization", "").removeprefix("Bearer "), self.headers.get("X-Api-Key")):
            self.reply(401, {"type": "error", "error": {"type": "authentication_error"}})
            return
        if model and mac.models is not None and model not in mac.models and not model.startswith("claude-"):
            self.reply(400, {"error": {"message": "Invalid model name passed in model=" + model}})
            return
        self.reply(200, {"mac": mac.name, "model": model})

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


def templar(macs, member_vars=None, **overrides):
    """Ansible's templar with the roles' defaults and vars, for these Macs
    ({name: (url, weight, models or None)}) as the inventory's ccproxy_hosts; member_vars:
    more of their host variables ({name: {...}}; a url None leaves ccproxy_gateway_url unset)."""
    loader = DataLoader()
    variables = {}
    for path in ("traefik_route/defaults", "traefik_route/vars", "gateway/defaults", "gateway/vars"):
        variables.update(loader.load_from_file(str(REPO / "roles" / path / "main.yml"), trusted_as_template=True))
    hostvars = {}
    for name, (url, weight, models) in macs.items():
        hostvars[name] = {"inventory_hostname": name, "ccproxy_gateway_url": url, "ccproxy_gateway_weight": weight,
                          **(member_vars or {}).get(name, {})}
        if url is None:
            del hostvars[name]["ccproxy_gateway_url"]
        if models is not None:
            hostvars[name]["ccproxy_models"] = [{"name": model, "model": "llama3.2:3b"} for model in models]
    variables.update({"ansible_managed": "Ansible managed", "playbook_dir": "/work/inventory",
                      "inventory_hostname": "gateway", "groups": {"ccproxy_hosts": list(macs)},
                      "hostvars": hostvars, "ccproxy_gateway_health_interval_seconds": 1,
                      "ccproxy_gateway_health_timeout_seconds": 1, **overrides})
    return Templar(loader=loader, variables=variables)


def render_gateway(macs, member_vars=None, **overrides):
    """gateway.yml.j2 for these Macs ({name: (url, weight)} or (url, weight, models))."""
    macs = {name: (tuple(mac) + (None,))[:3] for name, mac in macs.items()}
    source = (REPO / "roles/traefik_route/templates/gateway.yml.j2").read_text()
    return templar(macs, member_vars, **overrides).template(trust_as_template(source))


class Gateway:
    """A real Traefik running the rendered gateway file; the file can be rendered anew."""

    def __init__(self, binary, base):
        self.base, self.pool = base, None
        self.web_port, self.api_port, self.pool_port = free_port(), free_port(), free_port()
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
        """Render the files for these Macs ({Mac: weight}) as the roles would, run the pool
        classifier when they serve different models, and wait until Traefik reports every server."""
        inventory = {mac.name: (mac.url, weight, mac.models) for mac, weight in macs.items()}
        member_vars = {mac.name: {"ccproxy_traefik_tls": True, "ccproxy_traefik_tls_cert": mac.cert}
                       for mac in macs if mac.cert}
        member_vars.update(overrides.pop("member_vars", {}))
        wanted_up = overrides.pop("wanted_up", None)
        self.stop_pool()
        variables = templar(inventory, member_vars, **{"ccproxy_traefik_port": self.web_port, **overrides})
        if variables.template(trust_as_template("{{ _ccproxy_gateway.pools | length }}")) != 0:
            self.start_pool(variables.template(trust_as_template("{{ _ccproxy_pool_document | to_json }}")))
        overrides = {"ccproxy_traefik_port": self.web_port, "ccproxy_gateway_pool_port": self.pool_port, **overrides}
        variables = templar(inventory, member_vars, **overrides)
        text = variables.template(trust_as_template((REPO / "roles/traefik_route/templates/gateway.yml.j2").read_text()))
        tmp = self.dynamic / "gateway.yml.tmp"
        tmp.write_text(text)
        tmp.rename(self.dynamic / "gateway.yml")
        wanted = {mac.url for mac, weight in macs.items() if weight > 0}
        up = wanted if wanted_up is None else {mac.url for mac in wanted_up}
        wait_for(lambda: set(self.status()) == wanted
                 and {url for url, state in self.status().items() if state == "UP"} == up,
                 20, f"the gateway to report {sorted(up)} up of {sorted(wanted)}")

    def start_pool(self, pools):
        """The classifier on a free port: another process (a test beside this one) may take the
        port picked for it before it binds, so a classifier that exits at once gets another."""
        (self.base / "pools.json").write_text(pools)
        for _attempt in range(3):
            self.pool = subprocess.Popen([sys.executable, str(POOL_SCRIPT), "--pools", str(self.base / "pools.json"),
                                          "--listen", f"127.0.0.1:{self.pool_port}"])
            url = f"http://127.0.0.1:{self.pool_port}/healthz"
            if wait_for(lambda: self.answers(url) or self.pool.poll() is not None, 10, "the pool classifier") is True \
                    and self.pool.poll() is None:
                return
            self.stop_pool()
            self.pool_port = free_port()
        pytest.fail("the pool classifier did not start on three ports")

    def stop_pool(self):
        if self.pool:
            stop_process(self.pool)
            self.pool = None

    @staticmethod
    def answers(url):
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

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

    def send(self, path="/v1/messages", headers=None, source="127.0.0.1", model="m", context=None):
        """One request from `source` (a JSON body naming `model`, or none if None): a Reply.
        context: an SSL context to send it over HTTPS with (a gateway with ccproxy_gateway_tls)."""
        if context:
            connection = http.client.HTTPSConnection("127.0.0.1", self.web_port, timeout=10,
                                                     source_address=(source, 0), context=context)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10, source_address=(source, 0))
        try:
            headers = {"Authorization": "Bearer " + TOKEN} if headers is None else headers
            body = json.dumps({"model": model, "max_tokens": 8}).encode() if model is not None else None
            connection.request("POST" if body else "GET", path, body=body,
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
    running.stop_pool()
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
    # A Mac whose host is down costs a request 3 s, then another Mac is tried.
    assert balancer["serversTransport"] == "ccproxy-gateway"
    assert config["http"]["serversTransports"] == {"ccproxy-gateway": {"forwardingTimeouts": {"dialTimeout": "3s"}}}
    router = config["http"]["routers"]["ccproxy"]
    assert "middlewares" not in router and "middlewares" not in config["http"]  # retry 0: none
    assert router["priority"] == 10000 and "Path(`/v1/messages`)" in router["rule"]
    # Every Mac serves every model (none names its own): one hop, no pool.
    assert list(config["http"]["routers"]) == ["ccproxy"] and list(config["http"]["services"]) == ["ccproxy-fleet"]


@pytest.mark.parametrize("version, retry", [
    ("3.7.15", {"attempts": 2, "status": ["404"], "retryNonIdempotentMethod": True, "maxRequestBodyBytes": 64 << 20}),
    ("3.6.9", {"attempts": 2}),  # retry by status came with Traefik 3.7: an older one would reject the file
])
def test_the_retry_by_status_needs_traefik_3_7(version, retry):
    config = yaml.safe_load(render_gateway({"mac1": ("http://198.18.0.11:8080", 1)}, ccproxy_traefik_version=version))
    assert config["http"]["middlewares"]["ccproxy-gateway-retry"]["retry"] == retry


@pytest.mark.parametrize("attempts", [0, 1])
def test_attempts_that_cannot_retry_render_no_retry_middleware(attempts):
    """Traefik counts the first try among the attempts: 1 would be a middleware that never retries."""
    config = yaml.safe_load(render_gateway({"mac1": ("http://198.18.0.11:8080", 1)},
                                           ccproxy_gateway_retry_attempts=attempts))
    assert "middlewares" not in config["http"] and "middlewares" not in config["http"]["routers"]["ccproxy"]


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


def test_a_mac_whose_traefik_has_not_loaded_its_routes_costs_no_failed_request(gateway, macs):
    """Its 404 comes before LiteLLM saw the request: the same request, body and all, goes to another Mac."""
    gateway.load({mac: 1 for mac in macs})
    macs[0].mode = "no routes"  # its health path still answers: a restart between two health checks
    results = [gateway.send(model=f"m{n}") for n in range(30)]
    assert [reply.status for reply in results] == [200] * 30, results
    # Each 404 cost exactly one more attempt, and none reached the client.
    assert len(macs[0].seen) >= 10 and sum(len(mac.seen) for mac in macs) == 30 + len(macs[0].seen)
    assert [json.loads(reply.body)["model"] for reply in results] == [f"m{n}" for n in range(30)]


def test_without_retry_a_mac_s_404_reaches_the_client(gateway, macs):
    """The other side of the test above: it can fail."""
    gateway.load({mac: 1 for mac in macs}, ccproxy_gateway_retry_attempts=0)
    macs[0].mode = "no routes"
    statuses = [reply.status for reply in gateway.many(9)]
    assert sorted(statuses) == [200] * 6 + [404] * 3, statuses


def test_a_mac_that_hangs_up_after_taking_a_request_is_taken_out_by_the_passive_check(gateway, macs):
    """Not retried (it may have run the request): it fails, until maxFailedAttempts take the Mac out."""
    gateway.load({mac: 1 for mac in macs})
    macs[0].mode = "close"  # its health path still answers: only the passive check can see it
    results = gateway.many(30)
    failed = [reply for reply in results if reply.status != 200]
    # The third failure takes it out; a request already on its way to it may still fail.
    assert len(failed) == len(macs[0].seen), results
    assert len(failed) in (3, 4), results
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
    # Out after its 3rd failure (maxFailedAttempts), not after its share of 10. Traefik marks it
    # down after that answer went out, so on a busy machine one more request can reach it first.
    assert [reply.status for reply in results].count(502) == len(macs[0].seen), results
    assert len(macs[0].seen) in (3, 4), results


def test_refused_tokens_take_no_mac_out(gateway, macs):
    """A client with a wrong token gets 401 from the Macs: that is no failure of theirs."""
    gateway.load({mac: 1 for mac in macs})
    wrong = {"Authorization": "Bearer ccp-wrong-token-of-nobody-at-all"}
    assert {reply.status for reply in gateway.many(30, headers=wrong)} == {401}
    assert Counter(reply.mac for reply in gateway.many(30)) == {"mac1": 10, "mac2": 10, "mac3": 10}


@pytest.fixture()
def fleet():
    """mac2 alone serves gpt-4o; mac1 (weight 2) and mac3 serve gpt-4 and claude-3-5-sonnet."""
    served = {"mac1": ["claude-3-5-sonnet", "gpt-4"], "mac2": ["gpt-4o"], "mac3": ["claude-3-5-sonnet", "gpt-4"]}
    macs = [Mac(name, models=models) for name, models in served.items()]
    yield macs
    for mac in macs:
        if mac.socket.fileno() != -1:
            mac.stop()


def test_pools_send_each_model_only_to_the_macs_that_serve_it(gateway, fleet):
    gateway.load({fleet[0]: 2, fleet[1]: 1, fleet[2]: 1})
    assert Counter(reply.mac for reply in gateway.many(6, model="gpt-4o")) == {"mac2": 6}
    assert Counter(reply.mac for reply in gateway.many(6, model="gpt-4")) == {"mac1": 4, "mac3": 2}
    # Claude Code's own ids: every Mac's claude-* alias takes them, so any Mac, by weight.
    claude = Counter(reply.mac for reply in gateway.many(8, model="claude-opus-4-1"))
    assert claude == {"mac1": 4, "mac2": 2, "mac3": 2}, claude
    # No body (GET /v1/models), a body without a model, an unknown model: any Mac, by weight.
    for model in (None, ""):
        assert Counter(reply.mac for reply in gateway.many(4, model=model, path="/v1/models")) == {
            "mac1": 2, "mac2": 1, "mac3": 1}
    # A model no Mac serves: a Mac says so (LiteLLM's 400), the gateway does not guess.
    before = sum(len(mac.seen) for mac in fleet)
    assert {reply.status for reply in gateway.many(4, model="no-such-model")} == {400}
    assert sum(len(mac.seen) for mac in fleet) == before + 4


def test_a_pool_header_from_a_client_is_replaced(gateway, fleet):
    gateway.load({mac: 1 for mac in fleet})
    for source in ("127.0.0.5", "127.0.0.1"):
        replies = gateway.many(4, model="gpt-4", source=source, headers={"Authorization": "Bearer " + TOKEN,
                                                                         "X-Ccproxy-Pool": "p2"})
        if source == "127.0.0.1":
            # On the gateway itself a client can ask for a pool: only a pool that exists, and
            # each Mac still checks the token and the model.
            assert {reply.status for reply in replies} == {400}, replies
            continue
        assert {reply.mac for reply in replies} == {"mac1", "mac3"}, replies
    # A pool with no router (never sent by the classifier) loops nowhere: 404 at once.
    started = time.monotonic()
    reply = gateway.send(model="gpt-4", headers={"X-Ccproxy-Pool": "p99"})
    assert reply.status == 404 and time.monotonic() - started < 2, reply


def test_a_model_whose_only_mac_is_down_is_not_sent_elsewhere(gateway, fleet):
    gateway.load({mac: 1 for mac in fleet})
    fleet[1].healthy = False
    wait_for(lambda: gateway.status().get(fleet[1].url) == "DOWN", 5, "mac2 to be seen down")
    before = [len(mac.seen) for mac in fleet]
    assert {reply.status for reply in gateway.many(4, model="gpt-4o")} == {503}
    assert [len(mac.seen) for mac in fleet] == before
    assert {reply.mac for reply in gateway.many(4, model="gpt-4")} == {"mac1", "mac3"}


# Macs serving over TLS (ccproxy_traefik_tls): the gateway reaches them over https and trusts
# exactly the certificate each serves, not the system's CAs and not another certificate.
def self_signed(*names):
    return tls.make(list(names), 30, datetime.datetime.now(datetime.timezone.utc))


def test_a_tls_mac_is_reached_over_https_with_its_certificate_pinned(tmp_path):
    cert, intermediate = self_signed("mac1.example.internal", "198.18.0.11")[0], self_signed("ca.example")[0]
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "mac2.crt").write_text(cert.replace("MII", "MIJ"))  # mac2's self-signed one
    # mac1's own certificate with its chain: only the first is pinned, not what the CA after it signs.
    members = {"mac1": {"ccproxy_traefik_tls": True, "ccproxy_traefik_tls_cert": cert + intermediate,
                        "ansible_host": "198.18.0.11"},
               "mac2": {"ccproxy_traefik_tls": True, "ansible_host": "198.18.0.12", "ccproxy_traefik_port": 8443},
               "mac3": {"ansible_host": "198.18.0.13"}}
    config = yaml.safe_load(render_gateway({"mac1": (None, 1), "mac2": (None, 1), "mac3": (None, 1)}, members,
                                           ccproxy_secrets_dir=str(tmp_path)))
    servers = config["http"]["services"]["ccproxy-fleet"]["loadBalancer"]["servers"]
    assert [server["url"] for server in servers] == ["https://198.18.0.11:8080", "https://198.18.0.12:8443",
                                                     "http://198.18.0.13:8080"]
    pinned = config["http"]["serversTransports"]["ccproxy-gateway"]["rootCAs"]
    assert [pem.strip() for pem in pinned] == [cert.strip(), cert.replace("MII", "MIJ").strip()]
    missing = templar({"mac1": (None, 1, None)}, {"mac1": {"ccproxy_traefik_tls": True}},
                      ccproxy_secrets_dir=str(tmp_path / "none"))
    assert missing.template(trust_as_template("{{ _ccproxy_gateway_tls_missing }}")) == ["mac1"]
    plain = yaml.safe_load(render_gateway({"mac3": (None, 1)}, {"mac3": {"ansible_host": "198.18.0.13"}}))
    assert "rootCAs" not in plain["http"]["serversTransports"]["ccproxy-gateway"]


@pytest.mark.parametrize("url, refused", [("http://198.18.0.11:8080", ["mac1"]), ("https://mac1.example:8443", []),
                                          (None, [])])
def test_a_tls_mac_given_an_http_url_is_refused_before_any_change(url, refused):
    variables = templar({"mac1": (url, 1, None)}, {"mac1": {"ccproxy_traefik_tls": True, "ansible_host": "198.18.0.11"}})
    assert variables.template(trust_as_template("{{ _ccproxy_gateway_tls_plain }}")) == refused


def test_through_the_gateway_to_tls_macs_only_the_pinned_certificate_is_trusted(gateway):
    trusted, other = Mac("mac1", tls=self_signed("127.0.0.1")), Mac("mac2", tls=self_signed("127.0.0.1"))
    try:
        # mac2 serves another certificate for the same address than the one the inventory gives.
        gateway.load({trusted: 1, other: 1}, member_vars={"mac2": {"ccproxy_traefik_tls": True,
                                                                   "ccproxy_traefik_tls_cert": trusted.cert}},
                     wanted_up={trusted})
        results = gateway.many(10)
        assert [(reply.status, reply.mac) for reply in results] == [(200, "mac1")] * 10, results
        assert other.seen == [] and len(trusted.seen) == 10
        assert trusted.url.startswith("https://")
    finally:
        trusted.stop()
        other.stop()


def test_a_tls_gateway_serves_clients_over_https_only_and_its_pools_on_its_loopback(gateway, fleet):
    """ccproxy_gateway_tls: the gateway role hands traefik_route its certificate as a Mac's own
    (ccproxy_traefik_tls and the files under the gateway's root). Clients that trust it reach the
    Macs; plain HTTP finds no route; the pools' second hop stays plain HTTP on the loopback."""
    cert, key = self_signed("127.0.0.1", "gateway.example")
    (gateway.base / "tls").mkdir()
    (gateway.base / "tls" / "ccproxy.crt").write_text(cert)
    (gateway.base / "tls" / "ccproxy.key").write_text(key)
    gateway.load({mac: 1 for mac in fleet}, ccproxy_root=str(gateway.base), ccproxy_traefik_manage=True,
                 ccproxy_traefik_tls=True, ccproxy_traefik_tls_cert=cert, ccproxy_traefik_tls_key=key)
    config = yaml.safe_load((gateway.dynamic / "gateway.yml").read_text())
    assert config["http"]["routers"]["ccproxy"]["tls"] == {}
    assert all("tls" not in router for name, router in config["http"]["routers"].items() if name != "ccproxy")
    files = {"certFile": str(gateway.base / "tls/ccproxy.crt"), "keyFile": str(gateway.base / "tls/ccproxy.key")}
    assert config["tls"] == {"certificates": [files], "stores": {"default": {"defaultCertificate": files}}}
    trusting = ssl.create_default_context(cadata=cert)
    # Traefik loads the certificate a moment after the router: until then it serves its own.
    wait_for(lambda: gateway.send(model="gpt-4o", context=trusting).status == 200, 10, "the gateway's certificate")
    assert Counter(reply.mac for reply in gateway.many(6, model="gpt-4o", context=trusting)) == {"mac2": 6}
    assert Counter(reply.mac for reply in gateway.many(4, model="gpt-4", context=trusting)) == {"mac1": 2, "mac3": 2}
    seen = sum(len(mac.seen) for mac in fleet)
    assert {reply.status for reply in gateway.many(3, model="gpt-4")} == {404}
    refused = gateway.send(model="gpt-4", context=ssl.create_default_context())
    assert refused.status is None and b"CERTIFICATE_VERIFY_FAILED" in refused.body, refused
    assert sum(len(mac.seen) for mac in fleet) == seen


def gateway_mapping():
    """The variables the gateway role gives traefik_route's gateway.yml (its tasks/main.yml)."""
    tasks = yaml.safe_load((REPO / "roles/gateway/tasks/main.yml").read_text())
    include = next(task for task in tasks if task.get("ansible.builtin.include_role", {}).get("tasks_from") == "gateway.yml")
    return {name: trust_as_template(value) if isinstance(value, str) else value for name, value in include["vars"].items()}


@pytest.mark.parametrize("extra, overridden", [
    ({}, []),
    # As `-e @vault.yml` with the Macs' certificate and key: extra variables beat the role's mapping.
    ({"ccproxy_traefik_tls_cert": "MAC CERT", "ccproxy_traefik_tls_key": "MAC KEY"},
     ["ccproxy_traefik_tls_cert", "ccproxy_traefik_tls_key"]),
    ({"ccproxy_root": "/Users/coder/ccproxy", "ccproxy_traefik_port": 8443}, ["ccproxy_root", "ccproxy_traefik_port"]),
])
def test_an_extra_variable_standing_in_for_a_gateway_setting_is_named(extra, overridden):
    variables = templar({"mac1": ("http://198.18.0.11:8080", 1, None)}, None,
                        ccproxy_gateway_tls=True, **{**gateway_mapping(), **extra})
    assert variables.template(trust_as_template("{{ _ccproxy_traefik_gateway_overridden }}")) == overridden
