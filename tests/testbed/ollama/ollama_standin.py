#!/usr/bin/python3
"""Ollama stand-in for ccproxy's test bed. A test fixture only: it is never shipped to a Mac.

It imitates `ollama serve`'s HTTP API (Ollama 0.13: docs/api.md and server/routes.go) closely
enough for LiteLLM's `ollama_chat/` (POST /api/chat) and `ollama/` (POST /api/generate)
providers, for health checks and for model management:

  GET  /  /api/version  /api/tags  /api/ps      POST /api/show  /api/pull
  POST /api/chat  /api/generate  /api/embed  /api/embeddings   DELETE /api/delete

Same wire format as Ollama: NDJSON streaming (the default) in chunked HTTP/1.1 with keep-alive,
the final object's statistics, tool calls with JSON-object arguments, `thinking` for thinking
models, Ollama's own error bodies and status codes, Go's "404 page not found".
Replies are deterministic instead of generated: "stand-in reply to: <first 40 characters of the
last user message>", one NDJSON line per word; a tool call to the first offered tool with
arguments built from its JSON schema; token counts are word counts.

Not imitated: real inference, GPUs and memory, model files and blobs (/api/create, /api/copy,
/api/push, /api/blobs), the OpenAI-compatible /v1 routes, CORS and OLLAMA_ORIGINS checks, chunked
request bodies, the templates' real text (a short template that mentions `.Tools` stands in).

Test-only controls live under /_standin/ (see README.md): switchable faults (slow first token,
error status, dropped connection) that hit the inference endpoints, as a stuck or crashed model
runner does, and the list of requests received.
"""

import argparse
import hashlib
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

OLLAMA_VERSION = "0.13.5"
DEFAULT_KEEP_ALIVE = 300.0  # seconds; Ollama's default keep_alive is 5m
INFERENCE_PATHS = ("/api/chat", "/api/generate", "/api/embed", "/api/embeddings")
DROP_MODES = ("before_response", "mid_stream")
EMBEDDING_DIMENSIONS = 16

# Ollama's texts for the statuses a broken runner produces (server/sched.go, llm/server.go).
FAULT_MESSAGES = {
    500: "llama runner process has terminated: exit status 2",
    503: "server busy, please try again.  maximum pending requests exceeded",
}

# base name -> (family, parameter size, quantization, context length, capabilities), as
# `ollama show` reports them for the default tag. Other names get DEFAULT_MODEL.
KNOWN_MODELS = {
    "llama3.2": ("llama", "3.2B", "Q4_K_M", 131072, ("completion", "tools")),
    "llama3.1": ("llama", "8.0B", "Q4_K_M", 131072, ("completion", "tools")),
    "qwen2.5-coder": ("qwen2", "7.6B", "Q4_K_M", 32768, ("completion", "tools", "insert")),
    "qwen3": ("qwen3", "8.2B", "Q4_K_M", 40960, ("completion", "tools", "thinking")),
    "nomic-embed-text": ("nomic-bert", "137M", "F16", 2048, ("embedding",)),
}
DEFAULT_MODEL = ("llama", "7B", "Q4_K_M", 8192, ("completion", "tools"))


def now_rfc3339(at=None):
    return (at or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_name(name):
    """Ollama's name matching: case-insensitive, default registry and namespace, tag `latest`."""
    short = name.strip().lower()
    for prefix in ("registry.ollama.ai/", "library/"):
        if short.startswith(prefix):
            short = short[len(prefix):]
    if short and ":" not in short.rsplit("/", 1)[-1]:
        short += ":latest"
    return short


def words(text):
    """The stand-in's tokens: words with their trailing whitespace, so they join back exactly."""
    return re.findall(r"\S+\s*", text)


def go_quote(text):
    """Go's %q of a plain string (close enough: JSON string escaping)."""
    return json.dumps(text)


def value_for_schema(schema):
    """A simple value that satisfies a JSON schema: enum's first, required properties only."""
    if not isinstance(schema, dict):
        return "stand-in"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: value_for_schema(properties.get(key)) for key in schema.get("required") or []}
    if kind == "array":
        return [value_for_schema(schema.get("items"))]
    return {"integer": 1, "number": 1, "boolean": True, "null": None}.get(kind, "stand-in")


def parse_keep_alive(value):
    """Seconds from Ollama's keep_alive: a number of seconds or a Go duration like "10m"."""
    if value is None:
        return DEFAULT_KEEP_ALIVE
    if isinstance(value, (int, float)):
        return float(value)
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)(ms|s|m|h)", str(value).strip())
    if not match:
        raise ValueError(f"time: invalid duration {go_quote(str(value))}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    return float(match.group(1)) * scale


def fault_message(status):
    try:
        return FAULT_MESSAGES.get(status) or HTTPStatus(status).phrase.lower()
    except ValueError:  # a status without a standard phrase
        return f"status {status}"


def parse_faults(changes, current):
    """`current` updated by `changes` (the /_standin/faults body or CLI values); ValueError if bad."""
    faults = dict(current)
    for key, value in changes.items():
        if key == "first_token_delay":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError("first_token_delay must be a number of seconds >= 0")
            faults[key] = float(value)
        elif key == "error_status":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 400 <= value <= 599):
                raise ValueError("error_status must be an HTTP status from 400 to 599, or null")
            faults[key] = value
        elif key == "error_message":
            if value is not None and not isinstance(value, str):
                raise ValueError("error_message must be a string or null")
            faults[key] = value
        elif key == "drop_connection":
            if isinstance(value, bool):
                value = DROP_MODES[0] if value else None
            if value is not None and value not in DROP_MODES:
                raise ValueError(f"drop_connection must be true, false, null or one of {list(DROP_MODES)}")
            faults[key] = value
        else:
            raise ValueError(f"unknown fault {key!r}")
    return faults


NO_FAULTS = {"first_token_delay": 0.0, "error_status": None, "error_message": None, "drop_connection": None}


class Model:
    """A "pulled" model and what `ollama show` / `ollama list` say about it."""

    def __init__(self, name, modified_at):
        self.name = canonical_name(name)
        base = self.name.rsplit(":", 1)[0].rsplit("/", 1)[-1]
        (self.family, self.parameter_size, self.quantization,
         self.context_length, self.capabilities) = KNOWN_MODELS.get(base, DEFAULT_MODEL)
        self.digest = hashlib.sha256(self.name.encode()).hexdigest()
        self.size = 1_000_000_000 + int(self.digest[:8], 16) % 4_000_000_000
        self.modified_at = modified_at

    def details(self):
        return {"parent_model": "", "format": "gguf", "family": self.family, "families": [self.family],
                "parameter_size": self.parameter_size, "quantization_level": self.quantization}

    def listing(self):
        return {"name": self.name, "model": self.name, "modified_at": now_rfc3339(self.modified_at),
                "size": self.size, "digest": self.digest, "details": self.details()}

    def template(self):
        tools = "{{ if .Tools }}Tools: {{ .Tools }}\n{{ end }}" if "tools" in self.capabilities else ""
        return ("{{ if .System }}system: {{ .System }}\n{{ end }}" + tools +
                "{{ range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}assistant: ")

    def show(self):
        models_dir = os.environ.get("OLLAMA_MODELS", os.path.expanduser("~/.ollama/models"))
        parameters = f'{"stop":<30} "<|eot_id|>"'
        modelfile = (f'# Modelfile generated by "ollama show"\n'
                     f"# To build a new Modelfile based on this, replace FROM with:\n"
                     f"# FROM {self.name}\n\n"
                     f"FROM {models_dir}/blobs/sha256-{self.digest}\n"
                     f'TEMPLATE """{self.template()}"""\n'
                     f'PARAMETER stop "<|eot_id|>"\n')
        model_info = {
            "general.architecture": self.family,
            "general.file_type": 15,
            "general.parameter_count": self.size * 2,  # Q4 weights: about half a byte each
            "general.quantization_version": 2,
            f"{self.family}.context_length": self.context_length,
            f"{self.family}.embedding_length": 3072,
        }
        return {"license": "", "modelfile": modelfile, "parameters": parameters, "template": self.template(),
                "details": self.details(), "model_info": model_info, "capabilities": list(self.capabilities),
                "modified_at": now_rfc3339(self.modified_at)}


class StandIn:
    """State shared by the handler threads: models, loaded models, faults, recorded requests."""

    def __init__(self, model_names, faults, log_path):
        started = datetime.now(timezone.utc)
        self.lock = threading.Lock()
        self.models = {m.name: m for m in (Model(n, started) for n in model_names)}
        self.loaded = {}  # name -> expiry (datetime), for /api/ps
        self.faults = faults
        self.requests = []
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)
            if self.log:
                self.log.write(json.dumps(entry) + "\n")
                self.log.flush()

    def model(self, name):
        with self.lock:
            return self.models.get(canonical_name(name))

    def touch(self, model, keep_alive):
        with self.lock:
            if keep_alive == 0:
                self.loaded.pop(model.name, None)
            else:
                # A negative keep_alive keeps the model loaded "forever".
                seconds = keep_alive if keep_alive > 0 else 10 * 365 * 86400
                self.loaded[model.name] = datetime.now(timezone.utc) + timedelta(seconds=seconds)

    def close(self):
        if self.log:
            self.log.close()


class Reply:
    """What the "model" says to one chat or generate request, with Ollama's statistics."""

    def __init__(self, text, thinking="", tool_calls=None, num_predict=-1, prompt_eval_count=1, delay=0.0):
        self.tokens = words(text)
        self.done_reason = "stop"
        if tool_calls is None and 0 <= num_predict < len(self.tokens):
            self.tokens, self.done_reason = self.tokens[:num_predict], "length"
        self.thinking_tokens = words(thinking)
        self.tool_calls = tool_calls
        self.prompt_eval_count = max(prompt_eval_count, 1)
        self.delay = delay

    @property
    def text(self):
        return "".join(self.tokens)

    def statistics(self):
        calls = len(words(json.dumps(self.tool_calls))) if self.tool_calls else 0
        eval_count = len(self.tokens) + len(self.thinking_tokens) + calls
        # Simulated timings: the first-token delay counts as model load; 50 tokens/s generation.
        load = int(self.delay * 1e9) + 1_000_000
        prompt_eval, evaluation = self.prompt_eval_count * 500_000, eval_count * 20_000_000
        return {"total_duration": load + prompt_eval + evaluation, "load_duration": load,
                "prompt_eval_count": self.prompt_eval_count, "prompt_eval_duration": prompt_eval,
                "eval_count": eval_count, "eval_duration": evaluation}


class OllamaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Ollama's Go server
    disable_nagle_algorithm = True  # else each small keep-alive response stalls ~40 ms (delayed ACK)

    ROUTES = {
        ("GET", "/"): "root", ("HEAD", "/"): "root",
        ("GET", "/api/version"): "version", ("HEAD", "/api/version"): "version",
        ("GET", "/api/tags"): "tags", ("HEAD", "/api/tags"): "tags",
        ("GET", "/api/ps"): "ps",
        ("POST", "/api/show"): "show",
        ("POST", "/api/chat"): "chat",
        ("POST", "/api/generate"): "generate",
        ("POST", "/api/embed"): "embed",
        ("POST", "/api/embeddings"): "embeddings",
        ("POST", "/api/pull"): "pull",
        ("DELETE", "/api/delete"): "delete",
        ("GET", "/_standin/faults"): "get_faults",
        ("POST", "/_standin/faults"): "set_faults",
        ("DELETE", "/_standin/faults"): "clear_faults",
        ("GET", "/_standin/requests"): "get_requests",
        ("DELETE", "/_standin/requests"): "clear_requests",
    }

    # --- plumbing -------------------------------------------------------------------------

    @property
    def standin(self):
        return self.server.standin

    def log_message(self, format, *args):
        """Quiet: requests go to /_standin/requests and --log, not to stderr."""

    def send_response(self, code, message=None):
        # Go's net/http sends Date but no Server header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-response: nothing to answer

    def do_GET(self):
        self.dispatch()

    do_HEAD = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = do_GET

    def dispatch(self):
        path = urlsplit(self.path).path
        # Faults hit what a model runner serves; one snapshot, so a request sees one setting.
        self.faults = dict(self.standin.faults) if path in INFERENCE_PATHS else NO_FAULTS
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not path.startswith("/_standin/"):
            self.standin.record(self.describe(path, raw))
        route = self.ROUTES.get((self.command, path))
        if route is None:
            return self.send_text(404, "404 page not found")  # gin's default, also for a wrong method
        body = {}
        if self.command == "POST" or path == "/api/delete":
            body = self.parse_body(raw)
            if body is None:
                return
        if self.apply_faults():
            return
        getattr(self, "route_" + route)(body)

    def describe(self, path, raw):
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        return {"time": now_rfc3339(), "peer": "%s:%d" % self.client_address[:2], "method": self.command,
                "path": path, "headers": dict(self.headers.items()), "body": body}

    def parse_body(self, raw):
        """The JSON object in the body, or None after answering 400 as gin's ShouldBindJSON does."""
        if not raw.strip():
            self.send_json(400, {"error": "missing request body"})
            return None
        try:
            body = json.loads(raw)
        except ValueError as error:
            # Go's encoding/json names the offending character; the rest of its text varies.
            text = raw.decode("utf-8", "replace")
            bad = text[error.pos] if error.pos < len(text) else ""
            message = f"invalid character {bad!r} looking for beginning of value" if bad else "unexpected EOF"
            self.send_json(400, {"error": message})
            return None
        if not isinstance(body, dict):
            kind = {list: "array", str: "string", bool: "bool", type(None): "null"}.get(type(body), "number")
            self.send_json(400, {"error": f"json: cannot unmarshal {kind} into Go value"})
            return None
        return body

    def send_bytes(self, status, content_type, data):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if self.faults["drop_connection"] == "mid_stream":
            self.wfile.write(data[: len(data) // 2])
            return self.drop_connection()
        self.wfile.write(data)

    def send_json(self, status, obj):
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.send_bytes(status, "application/json; charset=utf-8", data)

    def send_text(self, status, text):
        self.send_bytes(status, "text/plain; charset=utf-8", text.encode())

    def send_stream(self, objects):
        """NDJSON in chunked encoding, one line per object, as Ollama streams."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, obj in enumerate(objects):
            line = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            if index == 0 and self.faults["drop_connection"] == "mid_stream":
                return self.drop_connection()
        self.wfile.write(b"0\r\n\r\n")

    def drop_connection(self):
        """Close the socket mid-exchange, as the kernel does for a server process that crashed."""
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def apply_faults(self):
        """Act on the switched-on faults; True if they answered the request already."""
        faults = self.faults
        time.sleep(faults["first_token_delay"])
        if faults["drop_connection"] == "before_response":
            self.drop_connection()
            return True
        status = faults["error_status"]
        if status:
            self.send_json(status, {"error": faults["error_message"] or fault_message(status)})
            return True
        return False

    def find_model(self, body, not_found, required_400=True):
        """The requested pulled model, or None after answering with Ollama's error for this route."""
        name = body.get("model") or body.get("name") or ""
        if not isinstance(name, str):
            self.send_json(400, {"error": "json: cannot unmarshal non-string into Go struct field .model of type string"})
            return None
        if not name and required_400:
            self.send_json(400, {"error": "model is required"})
            return None
        model = self.standin.model(name)
        if model is None:
            self.send_json(404, {"error": not_found.format(name=name)})
        return model

    # --- Ollama routes --------------------------------------------------------------------

    def route_root(self, body):
        self.send_text(200, "Ollama is running")

    def route_version(self, body):
        self.send_json(200, {"version": OLLAMA_VERSION})

    def route_tags(self, body):
        with self.standin.lock:
            models = sorted(self.standin.models.values(), key=lambda m: m.modified_at, reverse=True)
        self.send_json(200, {"models": [m.listing() for m in models]})

    def route_ps(self, body):
        now = datetime.now(timezone.utc)
        with self.standin.lock:
            running = [(self.standin.models[n], expiry) for n, expiry in self.standin.loaded.items()
                       if expiry > now and n in self.standin.models]
        self.send_json(200, {"models": [
            {"name": m.name, "model": m.name, "size": m.size, "digest": m.digest, "details": m.details(),
             "expires_at": now_rfc3339(expiry), "size_vram": m.size, "context_length": 4096}
            for m, expiry in running]})

    def route_show(self, body):
        model = self.find_model(body, "model '{name}' not found")
        if model:
            self.send_json(200, model.show())

    def route_pull(self, body):
        name = body.get("model") or body.get("name") or ""
        if not canonical_name(name):
            return self.send_json(400, {"error": "invalid model name"})
        model = Model(name, datetime.now(timezone.utc))
        with self.standin.lock:
            self.standin.models[model.name] = model
        if body.get("stream") is False:
            return self.send_json(200, {"status": "success"})
        self.send_stream([{"status": "pulling manifest"},
                          {"status": f"pulling {model.digest[:12]}", "digest": f"sha256:{model.digest}",
                           "total": model.size, "completed": model.size},
                          {"status": "verifying sha256 digest"}, {"status": "writing manifest"},
                          {"status": "success"}])

    def route_delete(self, body):
        model = self.find_model(body, "model '{name}' not found", required_400=False)
        if model:
            with self.standin.lock:
                self.standin.models.pop(model.name, None)
                self.standin.loaded.pop(model.name, None)
            self.send_bytes(200, "text/plain; charset=utf-8", b"")

    def route_chat(self, body):
        model = self.find_model(body, "model '{name}' not found")
        keep_alive = model and self.check_request(model, body, "chat")
        if keep_alive is None:
            return
        messages = body.get("messages") or []
        if not messages:
            return self.answer_load(model, body, keep_alive, {"message": {"role": "assistant", "content": ""}})
        reply = self.reply_to(model, body, keep_alive, messages)

        def chunk(message):
            return {"model": body["model"], "created_at": now_rfc3339(), "message": message}

        whole = {"role": "assistant", "content": reply.text, **self.extras(reply)}
        self.respond(body, reply, [chunk(m) for m in self.reply_messages(reply)], chunk(whole),
                     chunk({"role": "assistant", "content": ""}))

    def route_generate(self, body):
        model = self.find_model(body, "model '{name}' not found", required_400=False)
        keep_alive = model and self.check_request(model, body, "generate")
        if keep_alive is None:
            return
        prompt = body.get("prompt") or ""
        if not prompt:
            return self.answer_load(model, body, keep_alive, {"response": ""})
        reply = self.reply_to(model, body, keep_alive, [{"role": "user", "content": prompt}])

        def chunk(response, thinking=""):
            obj = {"model": body["model"], "created_at": now_rfc3339(), "response": response}
            return dict(obj, thinking=thinking) if thinking else obj

        # The deprecated `context` (prompt and reply token ids) closes a generation.
        context = list(range(1, reply.prompt_eval_count + len(reply.tokens) + 1))
        whole = dict(chunk(reply.text, "".join(reply.thinking_tokens)), context=context)
        self.respond(body, reply, [chunk(m["content"], m.get("thinking", "")) for m in self.reply_messages(reply)],
                     whole, dict(chunk(""), context=context))

    def route_embed(self, body):
        model = self.find_model(body, "model '{name}' not found", required_400=False)
        keep_alive = model and self.keep_alive(body)
        if keep_alive is None:
            return
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else inputs or []
        if not all(isinstance(i, str) for i in inputs):
            return self.send_json(400, {"error": "invalid input type"})
        self.standin.touch(model, keep_alive)
        vectors = [self.unit_vector(text) for text in inputs if text]
        self.send_json(200, {"model": body["model"], "embeddings": vectors, "total_duration": 2_000_000,
                             "load_duration": 1_000_000,
                             "prompt_eval_count": sum(len(words(t)) for t in inputs)})

    def route_embeddings(self, body):
        model = self.find_model(body, 'model "{name}" not found, try pulling it first')
        keep_alive = model and self.keep_alive(body)
        if keep_alive is not None:
            self.standin.touch(model, keep_alive)
            prompt = body.get("prompt") or ""
            self.send_json(200, {"embedding": self.raw_vector(prompt) if prompt else []})

    # --- how the "model" answers ----------------------------------------------------------

    def keep_alive(self, body):
        """keep_alive in seconds, or None after answering 400 for a malformed one."""
        try:
            return parse_keep_alive(body.get("keep_alive"))
        except ValueError as error:
            self.send_json(400, {"error": str(error)})
            return None

    def check_request(self, model, body, verb):
        """keep_alive in seconds, or None after Ollama's 400 for what this model cannot do."""
        name = body["model"]
        think = body.get("think")
        if "completion" not in model.capabilities:
            error = f"{go_quote(name)} does not support {verb}"
        elif isinstance(think, str):  # effort levels exist only for gpt-oss, not in KNOWN_MODELS
            error = f"think value {go_quote(think)} is not supported for this model"
        elif think and "thinking" not in model.capabilities:
            error = f"{go_quote(name)} does not support thinking"
        else:
            return self.keep_alive(body)
        self.send_json(400, {"error": error})
        return None

    def reply_to(self, model, body, keep_alive, messages):
        last = messages[-1]
        user_text = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
        tools = body.get("tools") or []
        tool_calls = None
        if last.get("role") == "tool":
            text = "stand-in reply to tool result: " + str(last.get("content") or "")[:40]
        elif tools and last.get("role") == "user":
            text, tool_calls = "", [self.tool_call(tools[0], user_text)]
        else:
            text = "stand-in reply to: " + user_text[:40]
        fmt = body.get("format")
        if fmt and tool_calls is None:
            text = json.dumps({"reply": text}) if fmt == "json" else json.dumps(value_for_schema(fmt))
        thinks = "thinking" in model.capabilities and body.get("think") is not False
        thinking = "stand-in thinking about: " + user_text[:40] if thinks else ""
        options = body.get("options") or {}
        num_predict = options.get("num_predict")
        prompt_words = sum(len(words(str(m.get("content") or ""))) for m in messages)
        self.standin.touch(model, keep_alive)
        return Reply(text, thinking, tool_calls, num_predict if isinstance(num_predict, int) else -1,
                     prompt_words, self.faults["first_token_delay"])

    @staticmethod
    def tool_call(tool, seed):
        function = tool.get("function") or {}
        call_id = "call_" + hashlib.sha256((function.get("name", "") + seed).encode()).hexdigest()[:8]
        return {"id": call_id, "function": {"index": 0, "name": function.get("name", ""),
                                            "arguments": value_for_schema(function.get("parameters") or {})}}

    @staticmethod
    def extras(reply):
        extra = {}
        if reply.thinking_tokens:
            extra["thinking"] = "".join(reply.thinking_tokens)
        if reply.tool_calls:
            extra["tool_calls"] = reply.tool_calls
        return extra

    @staticmethod
    def reply_messages(reply):
        """The streamed assistant messages: thinking words, then content words, then tool calls."""
        for token in reply.thinking_tokens:
            yield {"role": "assistant", "content": "", "thinking": token}
        for token in reply.tokens:
            yield {"role": "assistant", "content": token}
        if reply.tool_calls:
            yield {"role": "assistant", "content": "", "tool_calls": reply.tool_calls}

    def respond(self, body, reply, streamed, whole, final):
        """Stream (Ollama's default: `stream` absent or null) or answer with one object."""
        closing = dict(done_reason=reply.done_reason, done=True, **reply.statistics())
        if body.get("stream") is False:
            self.send_json(200, dict(whole, **closing))
        else:
            self.send_stream([dict(chunk, done=False) for chunk in streamed] + [dict(final, **closing)])

    def answer_load(self, model, body, keep_alive, empty):
        """An empty request loads the model (or unloads it with keep_alive 0): one JSON object."""
        self.standin.touch(model, keep_alive)
        reason = "unload" if keep_alive == 0 else "load"
        self.send_json(200, dict({"model": body["model"], "created_at": now_rfc3339()}, **empty,
                                 done_reason=reason, done=True))

    @staticmethod
    def raw_vector(text):
        digest = hashlib.sha256(text.encode()).digest()
        return [round(byte / 127.5 - 1.0, 6) for byte in digest[:EMBEDDING_DIMENSIONS]]

    def unit_vector(self, text):
        vector = self.raw_vector(text)
        norm = max(sum(v * v for v in vector) ** 0.5, 1e-12)
        return [v / norm for v in vector]

    # --- /_standin/ controls --------------------------------------------------------------

    def route_get_faults(self, body):
        self.send_json(200, self.standin.faults)

    def route_set_faults(self, body):
        try:
            faults = parse_faults(body, self.standin.faults)
        except ValueError as error:
            return self.send_json(400, {"error": str(error)})
        self.standin.faults = faults
        self.send_json(200, faults)

    def route_clear_faults(self, body):
        self.standin.faults = dict(NO_FAULTS)
        self.send_json(200, self.standin.faults)

    def route_get_requests(self, body):
        with self.standin.lock:
            self.send_json(200, {"requests": list(self.standin.requests)})

    def route_clear_requests(self, body):
        with self.standin.lock:
            self.standin.requests.clear()
        self.send_json(200, {"requests": []})


def parse_args(argv):
    env = os.environ.get
    host, _, port = (env("OLLAMA_HOST") or "127.0.0.1:11434").split("://")[-1].partition(":")
    parser = argparse.ArgumentParser(description="Ollama stand-in for ccproxy's test bed (never shipped).")
    parser.add_argument("command", nargs="?", choices=["serve"], help="accepted for `ollama serve` compatibility")
    parser.add_argument("--host", default=host or "127.0.0.1", help="bind address (env OLLAMA_HOST=host:port)")
    parser.add_argument("--port", type=int, default=int(port or 11434), help="0 picks a free port")
    parser.add_argument("--model", action="append", dest="models", metavar="NAME",
                        help="a pulled model, repeatable (env OLLAMA_STANDIN_MODELS, comma-separated)")
    parser.add_argument("--pidfile", default=env("OLLAMA_STANDIN_PIDFILE"))
    parser.add_argument("--log", default=env("OLLAMA_STANDIN_LOG"), help="append requests as JSON lines")
    parser.add_argument("--first-token-delay", type=float, metavar="SECONDS",
                        default=float(env("OLLAMA_STANDIN_FIRST_TOKEN_DELAY") or 0))
    parser.add_argument("--error-status", type=int, metavar="CODE",
                        default=int(env("OLLAMA_STANDIN_ERROR_STATUS") or 0) or None)
    parser.add_argument("--drop-connection", nargs="?", const=DROP_MODES[0], choices=DROP_MODES,
                        default=env("OLLAMA_STANDIN_DROP_CONNECTION") or None)
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = [m for m in (env("OLLAMA_STANDIN_MODELS") or "").split(",") if m.strip()]
    try:
        args.faults = parse_faults({"first_token_delay": args.first_token_delay, "error_status": args.error_status,
                                    "drop_connection": args.drop_connection}, NO_FAULTS)
    except ValueError as error:
        parser.error(str(error))
    return args


def write_pidfile(path):
    with open(path + ".tmp", "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    os.replace(path + ".tmp", path)


def main(argv=None):
    args = parse_args(argv)
    standin = StandIn(args.models, args.faults, args.log)
    server = ThreadingHTTPServer((args.host, args.port), OllamaHandler)
    server.standin = standin
    if args.pidfile:
        write_pidfile(args.pidfile)

    def stop(signum, frame):
        # shutdown() waits for serve_forever(), which runs in this very thread: ask from another.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print(f"ollama stand-in {OLLAMA_VERSION}: listening on http://{host}:{port} pid {os.getpid()} "
          f"models {','.join(sorted(standin.models)) or '-'}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        standin.close()
        if args.pidfile and os.path.exists(args.pidfile):
            os.unlink(args.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
