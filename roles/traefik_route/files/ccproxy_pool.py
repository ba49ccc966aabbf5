# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ccproxy-pool: which Macs may serve a request, for a gateway's Traefik (the gateway role).

Traefik cannot route on a request's body, where the model is. Its forwardAuth middleware, with
the body forwarded, sends each client request here as `<any method> /pool`; the answer is always
200 with `X-Ccproxy-Pool: <pool>`, the pool of the Macs that serve the request's model (the
top-level "model" string of a JSON body), or the default pool for anything else (no body, no
model, a model no pool names). The pool only steers: the Mac checks the client's token and
answers for a model it lacks. Traefik then routes the request again, on that header, to the
pool's Macs.

GET /healthz answers 200 "ok"; any other path is 404. The pools file is JSON, written by the
gateway role: {"default": "all", "models": {"gpt-4o": "p1", "gpt-4": "p2"}}. It is stat()ed on
every request and read again when it changes (a restart would fail Traefik's forwardAuth, and
so every client request, while it lasts); an unusable new file keeps the last good pools. At
start an unusable file is an error. Nothing is logged of a request: a body holds prompts.
Standard library only, Python 3.9+.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 256 * 1024 * 1024  # Traefik's maxBodySize caps it first
NAME = "X-Ccproxy-Pool"


def load_pools(path):
    """(default pool, {model: pool}) from the pools file; ValueError with the reason if unusable."""
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read())
        default, models = document["default"], document["models"]
        if not isinstance(default, str) or not isinstance(models, dict) or \
                not all(isinstance(k, str) and isinstance(v, str) for k, v in models.items()):
            raise ValueError("default must be a string and models an object of strings")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError("cannot use pools file %s: %s" % (path, exc)) from None
    return default, models


class Pools:
    """The pools file's content, read again when the file changes (one stat() when it did not)."""

    def __init__(self, path):
        self.path = path
        self.signature = self.stat()
        self.current = load_pools(path)  # ValueError at start: nothing to answer with

    def stat(self):
        try:
            st = os.stat(self.path)
        except OSError as exc:
            return exc.__class__.__name__
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def get(self):
        signature = self.stat()
        if signature != self.signature:
            self.signature = signature  # an unusable file is reported once, not on every request
            try:
                self.current = load_pools(self.path)
            except ValueError as exc:
                print("ccproxy-pool: kept the last good pools: %s" % exc, file=sys.stderr, flush=True)
            else:
                print("ccproxy-pool: read %s again" % self.path, file=sys.stderr, flush=True)
        return self.current


def pool_of(body, default, models):
    """The pool for a request body (bytes): its JSON model's, else `default`."""
    try:
        model = json.loads(body).get("model") if body else None
    except (ValueError, AttributeError):  # not JSON, or not an object
        return default
    return models.get(model, default) if isinstance(model, str) else default


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ccproxy-pool"
    sys_version = ""

    def body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, size = [], 0
            while True:
                length = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(chunks)
                size += length
                if size > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(length))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length)

    def answer(self):
        path = self.path.split("?", 1)[0]
        try:
            body = self.body()
        except ValueError:
            self.reply(400, b"bad request body\n")
            self.close_connection = True
            return
        if path == "/pool":
            self.reply(200, b"", [(NAME, pool_of(body, *self.server.pools.get()))])
        elif path == "/healthz" and self.command in ("GET", "HEAD"):
            self.reply(200, b"ok\n")
        else:
            self.reply(404, b"not found\n")

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass  # a request's body and headers hold prompts and tokens: nothing is logged


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, pools):
        self.pools = pools
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        # A caller gone before the answer is no error; anything else in one line, no request data.
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            print("ccproxy-pool: error: %s" % error.__class__.__name__, file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Which Macs may serve a request (the gateway's pools).")
    parser.add_argument("--pools", required=True, help="the pools file (JSON)")
    parser.add_argument("--listen", default="127.0.0.1:8093", help="HOST:PORT (default %(default)s)")
    args = parser.parse_args(argv)
    host, _sep, port = args.listen.rpartition(":")
    try:
        pools = Pools(args.pools)
    except ValueError as exc:
        raise SystemExit("ccproxy-pool: %s" % exc) from None
    server = Server((host, int(port)), pools)
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
    print("ccproxy-pool: listening on %s" % args.listen, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
