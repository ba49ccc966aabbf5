# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ccproxy-auth: the token verifier behind Traefik's forwardAuth middleware.

Traefik sends it each client request's headers: `<any method> /verify` (a query is ignored),
plus X-Forwarded-*. It answers
  200 + `Authorization: Bearer <LiteLLM master key>` + `X-Ccproxy-Client: <name>` for a known token,
  401 + `WWW-Authenticate` + an Anthropic-style JSON error otherwise.
GET /healthz answers 200 "ok". Any other path is 404. Malformed HTTP gets 400, oversize heads 431.

Credentials: `Authorization: Bearer <token>` (scheme case-insensitive) or `x-api-key: <token>`.
Both may be sent if they carry the same token. A repeated header, a scheme other than Bearer, or
a token with characters other than visible ASCII is refused. Whitespace around a header value is
not part of it (RFC 9110 5.5; Traefik strips it before we see it), so it is trimmed; whitespace
inside the credential other than the spaces after "Bearer" is refused.

The token store is JSON, hashes only: {"tokens": [{"name": "alice", "sha256": "<64 hex>"}]}.
It is stat()ed on every request and re-read when its inode, size or mtime changes, and on SIGHUP.
An absent store admits nobody; an unreadable or invalid one keeps the last good set. The master key
file is followed the same way (a new key needs no restart); one that turns unreadable, empty or
readable by others keeps the last good key. At start a bad key file is an error.
Logs are JSON lines with the client's name, never a token. Standard library only, Python 3.9+.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import logging.handlers
import os
import re
import signal
import stat
import sys
import time

MAX_LINE = 16 * 1024  # one request or header line
MAX_HEAD = 64 * 1024  # request line + all headers
MAX_HEADERS = 100
IDLE_SECONDS = 120.0  # longer than Go's 90 s idle timeout: the client, not we, closes idle conns
MAX_CONNECTIONS = 512
LINGER_SECONDS = 2.0  # after a closing reply: how long the client may still send what we will drop
LINGER_BYTES = 2 * 1024 * 1024  # more than a head Traefik forwards (Go refuses heads over 1 MB)

REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (/[\x21-\x7e]*) HTTP/1\.([01])")
FIELD_NAME = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
BAD_VALUE_BYTE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # CTLs but HTAB; obs-text is allowed
TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}")  # goes into a header and the logs
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
WANTED = frozenset((b"authorization", b"x-api-key", b"connection", b"content-length",
                    b"transfer-encoding", b"x-forwarded-method", b"x-forwarded-uri", b"x-forwarded-for"))

MESSAGES = {
    "missing": "Missing API key: send 'Authorization: Bearer <token>' or 'x-api-key: <token>'.",
    "malformed": "Malformed credentials: send 'Authorization: Bearer <token>' or 'x-api-key: <token>'.",
    "conflicting": "Conflicting credentials: send one token, once.",
    "unknown": "Invalid API key.",
}

log = logging.getLogger("ccproxy-auth")


def emit(level, **fields):
    now = time.time()
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now % 1 * 1000)}
    record.update(fields)
    log.log(level, json.dumps(record, separators=(",", ":")))


def file_state(path):
    """(stat result or None, signature): a file changed when its signature (inode, size, mtime,
    or the error that stat() raised) did."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return None, exc.__class__.__name__
    return st, (st.st_ino, st.st_size, st.st_mtime_ns)


class TokenStore:
    """SHA-256 hashes by client name, re-read when the file changes."""

    def __init__(self, path):
        self.path = path
        self.tokens = []  # [(name, digest)]
        self.signature = None

    def refresh(self, force=False):
        """Re-read the file if it changed since the last look (one stat() when it did not)."""
        st, signature = file_state(self.path)
        if signature == self.signature and not force:
            return
        self.signature = signature  # a broken file is logged once, not on every request
        if signature == "FileNotFoundError":
            self.tokens = []  # fail closed
            emit(logging.ERROR, event="store", result="absent: no token is valid", path=self.path)
            return
        try:
            if st is None:
                raise ValueError("cannot stat it: " + signature)
            if st.st_mode & 0o022:  # whoever can write it can add a token
                raise ValueError("writable by group or others")
            with open(self.path, "rb") as handle:
                self.tokens = self.parse(handle.read())
        except (OSError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else "cannot read it: " + exc.__class__.__name__
            emit(logging.ERROR, event="store", result="kept the last good set", reason=reason,
                 path=self.path, tokens=len(self.tokens))
            return
        emit(logging.INFO, event="store", result="loaded", path=self.path, tokens=len(self.tokens),
             names=sorted({entry[0] for entry in self.tokens}))

    @staticmethod
    def parse(data):
        try:
            document = json.loads(data)
        except ValueError as exc:  # also UnicodeDecodeError; the message names no content
            raise ValueError("invalid JSON at line %d" % getattr(exc, "lineno", 0)) from None
        entries = document.get("tokens") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError('no "tokens" list')
        tokens, seen = [], set()
        for number, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            digest = entry.get("sha256") if isinstance(entry, dict) else None
            if not (isinstance(name, str) and NAME.fullmatch(name)):
                raise ValueError("entry %d: name must match %s" % (number, NAME.pattern))
            if not (isinstance(digest, str) and SHA256_HEX.fullmatch(digest)):
                raise ValueError("entry %d (%s): sha256 must be 64 hex digits" % (number, name))
            if digest.lower() in seen:  # one token, two names: which one would the log show?
                raise ValueError("entry %d (%s): sha256 repeats an earlier entry's" % (number, name))
            seen.add(digest.lower())
            tokens.append((name, bytes.fromhex(digest)))
        return tokens

    def lookup(self, token):
        """The name whose hash matches, or None; compares against every hash, match or not."""
        digest = hashlib.sha256(token.encode("ascii")).digest()
        found = None
        for name, stored in self.tokens:
            if hmac.compare_digest(digest, stored):
                found = name
        return found


def presented_token(authorization, api_key):
    """(token, None) or (None, reason) from the lists of Authorization and x-api-key values."""
    if len(authorization) > 1 or len(api_key) > 1:
        return None, "conflicting"
    tokens = []
    if authorization:
        scheme, space, token = authorization[0].partition(" ")
        if scheme.lower() != "bearer" or not space:
            return None, "malformed"
        tokens.append(token.lstrip(" "))  # RFC 9110: 1*SP after the scheme
    if api_key:
        tokens.append(api_key[0])
    if not tokens:
        return None, "missing"
    if not all(TOKEN.fullmatch(token) for token in tokens):
        return None, "malformed"
    if len(tokens) == 2 and not hmac.compare_digest(tokens[0].encode(), tokens[1].encode()):
        return None, "conflicting"
    return tokens[0], None


def error_body(kind, message):
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}},
                      separators=(",", ":")).encode()


def response(status, headers, body=b"", head=False):
    lines = ["HTTP/1.1 " + status] + ["%s: %s" % header for header in headers]
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else body)


JSON = ("Content-Type", "application/json")


class Verifier:
    def __init__(self, store, master_key):
        self.store = store
        self.master_key = master_key
        self.connections = set()

    def reload(self):
        """SIGHUP: read the token store and the master key again, changed or not."""
        self.store.refresh(force=True)
        self.master_key.refresh(force=True)

    def check(self, method, path, fields, peer):
        """Decide one request: (status, headers, body, log record or None)."""
        if path == b"/healthz":
            if method in (b"GET", b"HEAD"):
                return "200 OK", [("Content-Type", "text/plain")], b"ok\n", None
            return "405 Method Not Allowed", [("Allow", "GET, HEAD")], b"", None
        if path != b"/verify":
            return "404 Not Found", [JSON], error_body("not_found_error", "Not found."), None
        self.store.refresh()
        self.master_key.refresh()
        token, reason = presented_token(fields.get(b"authorization", []), fields.get(b"x-api-key", []))
        name = self.store.lookup(token) if token else None
        if token and name is None:
            reason = "unknown"
        record = {
            "client": name or "-", "result": "allow" if name else "deny", "reason": reason or "ok",
            "remote": fields.get(b"x-forwarded-for", [peer])[0].split(",")[0].strip()[:64],
            "method": fields.get(b"x-forwarded-method", [method.decode()])[0][:16],
            # the path only: a query string may carry secrets
            "path": fields.get(b"x-forwarded-uri", ["-"])[0].split("?", 1)[0][:256],
        }
        if name:
            return "200 OK", [("Authorization", self.master_key.granted), ("X-Ccproxy-Client", name)], b"", record
        body = error_body("authentication_error", MESSAGES[reason])
        return "401 Unauthorized", [("WWW-Authenticate", 'Bearer realm="ccproxy"'), JSON], body, record


class Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining. Requests carry no body (forwardAuth sends none);
    one that does is answered and the connection closed. asyncio's TCP transports set TCP_NODELAY,
    so a reply never waits ~40 ms for Nagle's algorithm."""

    def __init__(self, verifier, header_timeout):
        self.verifier = verifier
        self.header_timeout = header_timeout
        self.buffer = bytearray()
        self.lingering = 0  # bytes dropped after a closing reply; 0 while the connection serves
        self.transport = None
        self.peer = "-"
        self.deadline = time.monotonic() + IDLE_SECONDS

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else "-"
        if len(self.verifier.connections) >= MAX_CONNECTIONS:
            transport.abort()
            return
        self.verifier.connections.add(self)

    def connection_lost(self, exc):
        self.verifier.connections.discard(self)

    def data_received(self, data):
        if self.lingering:
            self.lingering += len(data)
            if self.lingering > LINGER_BYTES:
                self.transport.abort()
            return
        if not self.buffer:  # a new request starts: its head must arrive in time (slowloris)
            self.deadline = time.monotonic() + self.header_timeout
        self.buffer += data
        try:
            while self.buffer and not self.transport.is_closing():  # a closing reply empties the buffer
                if self.buffer.startswith(b"\r\n"):  # RFC 9112 2.2: ignore empty lines before a request
                    del self.buffer[:2]
                    continue
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buffer) > MAX_HEAD or \
                            len(self.buffer) - self.buffer.rfind(b"\n") - 1 > MAX_LINE:
                        self.fail("431 Request Header Fields Too Large", "Request headers too large.")
                    return
                head = bytes(self.buffer[:end])
                del self.buffer[:end + 4]
                self.handle(head)
            if not self.buffer and not self.lingering:
                self.deadline = time.monotonic() + IDLE_SECONDS
        except Exception as exc:  # one bad request must never take the service down
            emit(logging.ERROR, event="internal error", error=exc.__class__.__name__)
            self.fail("500 Internal Server Error", "Internal error.")

    def handle(self, head):
        lines = head.split(b"\r\n")
        if len(head) > MAX_HEAD or len(lines) > MAX_HEADERS + 1 or max(map(len, lines)) > MAX_LINE:
            return self.fail("431 Request Header Fields Too Large", "Request headers too large.")
        request = REQUEST_LINE.fullmatch(lines[0])
        if not request:
            return self.fail("400 Bad Request", "Bad request line.")
        method, target, minor = request.groups()
        fields = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not FIELD_NAME.fullmatch(name) or BAD_VALUE_BYTE.search(value):
                return self.fail("400 Bad Request", "Bad header field.")
            name = name.lower()
            if name in WANTED:
                fields.setdefault(name, []).append(value.strip(b" \t").decode("latin-1"))
        keep = (minor == b"1" and "close" not in ",".join(fields.get(b"connection", [])).lower()
                and fields.get(b"content-length", ["0"]) == ["0"] and b"transfer-encoding" not in fields)
        path = target.split(b"?", 1)[0]
        status, headers, body, record = self.verifier.check(method, path, fields, self.peer)
        if not keep:
            headers.append(("Connection", "close"))
        self.transport.write(response(status, headers, body, method == b"HEAD"))
        if not keep:
            self.close_after_reply()
        if record:  # after the reply: the log write is not on the client's clock
            emit(logging.INFO, **record)

    def fail(self, status, message):
        headers = [JSON, ("Connection", "close")]
        self.transport.write(response(status, headers, error_body("invalid_request_error", message)))
        self.close_after_reply()
        emit(logging.INFO, client="-", result="deny", reason=status[:3] + " " + message, remote=self.peer)

    def close_after_reply(self):
        """Close in stages (RFC 9112 9.6): send FIN after the reply, then read and drop what the
        client still sends until it closes, for LINGER_SECONDS at most. A close with unread bytes
        sends a reset, which can reach the client before it has read the reply: Traefik, still
        writing an oversize head, then fails its forwardAuth call and answers 500, not our 431."""
        self.lingering = 1
        self.buffer.clear()
        self.deadline = time.monotonic() + LINGER_SECONDS
        try:
            self.transport.write_eof()
        except OSError:  # the client has reset the connection already: nothing left to read
            self.transport.abort()


async def serve(host, port, verifier, header_timeout):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, verifier.reload)
    server = await loop.create_server(lambda: Connection(verifier, header_timeout), host, port,
                                      backlog=128)
    emit(logging.INFO, event="listening", address="%s:%d" % (host, port), pid=os.getpid())

    async def sweep():  # one timer for all connections rather than one per request
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for connection in [c for c in verifier.connections if c.deadline < now]:
                connection.transport.abort()

    sweeper = loop.create_task(sweep())
    await stop.wait()
    sweeper.cancel()
    server.close()
    for connection in list(verifier.connections):
        connection.transport.close()
    await server.wait_closed()
    emit(logging.INFO, event="stopped")


def read_master_key(path):
    """The key, or ValueError with the reason: it must be private to its owner and non-empty."""
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise ValueError("master key file %s is not a regular file" % path)
            if mode & 0o077:
                raise ValueError("master key file %s has mode %04o: group or others can access it; chmod 600 it"
                                 % (path, stat.S_IMODE(mode)))
            key = handle.read().decode("ascii", "replace").strip()
    except OSError as exc:
        raise ValueError("cannot read master key file %s: %s" % (path, exc.strerror)) from None
    if not key:
        raise ValueError("master key file %s is empty" % path)
    if not TOKEN.fullmatch(key):
        raise ValueError("master key in %s must be visible ASCII, one line" % path)
    return key


class MasterKey:
    """The Authorization granted with a valid token, re-read when the key file changes."""

    def __init__(self, path):
        self.path = path
        self.granted = "Bearer " + read_master_key(path)  # ValueError at start: no serving without it
        self.signature = file_state(path)[1]

    def refresh(self, force=False):
        signature = file_state(self.path)[1]
        if signature == self.signature and not force:
            return
        self.signature = signature  # a broken file is logged once, not on every request
        try:
            granted = "Bearer " + read_master_key(self.path)
        except ValueError as exc:
            emit(logging.ERROR, event="master key", result="kept the last good key", reason=str(exc))
            return
        if granted != self.granted:
            self.granted = granted
            emit(logging.INFO, event="master key", result="loaded a new key", path=self.path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ccproxy-auth", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--listen", default="127.0.0.1:8082", help="HOST:PORT (default %(default)s)")
    parser.add_argument("--tokens", required=True, help="token store (JSON, SHA-256 hashes only)")
    parser.add_argument("--master-key-file", required=True, help="LiteLLM master key, mode 0600")
    parser.add_argument("--log", help="JSON-lines log file, reopened after rotation (default: stderr)")
    parser.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="time allowed for a request's headers to arrive (default %(default)s)")
    args = parser.parse_args(argv)
    host, colon, port = args.listen.rpartition(":")
    if not (host and colon and port.isdigit()):
        parser.error("--listen must be HOST:PORT")
    try:
        master_key = MasterKey(args.master_key_file)
    except ValueError as exc:
        raise SystemExit("ccproxy-auth: %s" % exc) from None
    handler = (logging.handlers.WatchedFileHandler(args.log) if args.log
               else logging.StreamHandler(sys.stderr))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    store = TokenStore(args.tokens)
    store.refresh()
    try:
        asyncio.run(serve(host.strip("[]"), int(port), Verifier(store, master_key), args.header_timeout))
    except OSError as exc:
        emit(logging.ERROR, event="listen failed", address=args.listen, error=exc.strerror)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
