# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gateway's model pool classifier (roles/traefik_route/files/ccproxy_pool.py): its decision
as data, and the server as Traefik's forwardAuth calls it (bodies plain and chunked)."""
import http.client
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.visiquate.ccproxy.tests.unit.processes import free_port, stop_process, wait_for

SCRIPT = Path(__file__).resolve().parents[3] / "roles/traefik_route/files/ccproxy_pool.py"
MODELS = {"gpt-4o": "p2", "gpt-4": "p1"}


def load():
    spec = importlib.util.spec_from_file_location("ccproxy_pool", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("body, pool", [
    (b'{"model": "gpt-4o", "messages": []}', "p2"),
    (b'{"messages": [{"role": "user", "content": "{\\"model\\": \\"gpt-4o\\"}"}], "model": "gpt-4"}', "p1"),
    (b'{"model": "claude-sonnet-4-5"}', "all"),  # a model no pool names
    (b'{"model": 4}', "all"),
    (b'{"tools": [{"model": "gpt-4o"}]}', "all"),  # only the top level counts
    (b'["gpt-4o"]', "all"),
    (b"", "all"),
    (b"not json", "all"),
    (b'{"model": "gpt-4o"', "all"),
], ids=["model", "nested string", "unknown", "number", "nested key", "array", "empty", "not json", "cut"])
def test_pool_of(body, pool):
    assert load().pool_of(body, "all", MODELS) == pool


UNUSABLE = ['{"models": {}}', '{"default": "all", "models": {"a": 1}}', "[]", "{"]


@pytest.mark.parametrize("document", UNUSABLE)
def test_an_unusable_pools_file_is_refused_with_the_reason(tmp_path, document):
    (tmp_path / "pools.json").write_text(document)
    with pytest.raises(ValueError, match="cannot use pools file"):
        load().load_pools(str(tmp_path / "pools.json"))


def test_an_unusable_pools_file_stops_it_at_start(tmp_path):
    (tmp_path / "pools.json").write_text("{")
    done = subprocess.run([sys.executable, str(SCRIPT), "--pools", str(tmp_path / "pools.json"), "--listen",
                           "127.0.0.1:%d" % free_port()], capture_output=True, text=True, timeout=10, check=False)
    assert done.returncode == 1 and done.stderr.startswith("ccproxy-pool: cannot use pools file"), done.stderr


def start(pools):
    """ccproxy_pool.py on a free port with this pools file, once it answers: (port, process)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--pools", str(pools), "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def healthy():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    wait_for(healthy, 10, "ccproxy_pool.py to answer")
    return port, proc


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pools = tmp_path_factory.mktemp("pool") / "pools.json"
    pools.write_text(json.dumps({"default": "all", "models": MODELS}))
    port, proc = start(pools)
    yield port
    assert stop_process(proc) == 0  # SIGTERM: a clean exit
    assert proc.stdout.read().strip() == f"ccproxy-pool: listening on 127.0.0.1:{port}"  # and nothing logged


def ask(port, method, path, body=None, chunked=False):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        if chunked:
            connection.putrequest(method, path)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for start in range(0, len(body), 7):
                piece = body[start:start + 7]
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            connection.send(b"0\r\n\r\n")
        else:
            connection.request(method, path, body=body)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("X-Ccproxy-Pool")
    finally:
        connection.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_server_names_the_pool_of_a_forwarded_body(server, chunked):
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 5000}]}).encode()
    assert ask(server, "POST", "/pool", body, chunked) == (200, "p2")
    assert ask(server, "GET", "/pool") == (200, "all")
    assert ask(server, "GET", "/pool?x=1", b'{"model": "gpt-4"}') == (200, "p1")


def test_other_paths_are_404(server):
    assert ask(server, "GET", "/") == (404, None)
    assert ask(server, "POST", "/healthz", b"{}") == (404, None)
    assert ask(server, "GET", "/healthz")[0] == 200


def replace(path, text):
    """As managed_files writes it: a temporary file renamed over the old one."""
    temp = path.with_suffix(".tmp")
    temp.write_text(text)
    os.replace(temp, path)


# The gateway role rewrites the pools when the Macs' models change: the classifier takes them up
# without a restart, during which Traefik's forwardAuth would fail every request.
def test_new_pools_are_read_without_restart_and_unusable_ones_keep_the_last_good(tmp_path):
    pools = tmp_path / "pools.json"
    pools.write_text(json.dumps({"default": "all", "models": MODELS}))
    port, proc = start(pools)
    try:
        body = b'{"model": "gpt-4o"}'
        assert ask(port, "POST", "/pool", body) == (200, "p2")
        replace(pools, json.dumps({"default": "all", "models": {"gpt-4o": "p3"}}))
        assert ask(port, "POST", "/pool", body) == (200, "p3")
        for document in UNUSABLE:
            replace(pools, document)
            assert ask(port, "POST", "/pool", body) == (200, "p3")
        pools.unlink()
        assert ask(port, "POST", "/pool", body) == (200, "p3")
    finally:
        assert stop_process(proc) == 0
    said = proc.stdout.read()
    assert said.count("ccproxy-pool: kept the last good pools: cannot use pools file") == len(UNUSABLE) + 1, said
    assert "gpt-4o" not in said  # the reasons name the file, not its models
