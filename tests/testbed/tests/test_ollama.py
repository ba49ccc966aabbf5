"""Tests of the Ollama stand-in (tests/testbed/ollama/ollama_standin.py).

First against the stand-in directly (wire format, errors, faults, keep-alive), then through a real
LiteLLM proxy, the version the litellm_install role pins, driven by the official openai and anthropic SDKs.
"""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import openai
import pytest
import requests
import yaml

from ansible_collections.visiquate.ccproxy.tests.unit.processes import stop_process, wait_for

REPO = Path(__file__).resolve().parents[3]
STANDIN = REPO / "tests/testbed/ollama/ollama_standin.py"
# The version site.yml installs: the role's default is the one pin.
LITELLM_DEFAULTS = REPO / "roles/litellm_install/defaults/main.yml"
PULLED = ["llama3.2:3b", "qwen2.5-coder:7b", "qwen3:8b", "nomic-embed-text"]
TIMEOUT = 10  # seconds, for any single request to the stand-in
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "required": ["city", "unit"], "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer"}}}}}


# --- processes ------------------------------------------------------------------------------

class StandIn:
    """A running stand-in process and its files."""

    def __init__(self, directory, *args):
        self.pidfile, self.log, self.stderr = (directory / n for n in ("standin.pid", "requests.log", "stderr"))
        with open(self.stderr, "wb") as stderr:
            self.proc = subprocess.Popen([str(STANDIN), "--port", "0", "--pidfile", str(self.pidfile),
                                          "--log", str(self.log), *args], stderr=stderr)
        match = wait_for(self.startup_line, 10, "the stand-in's startup line")
        self.url = match.group(1)

    def startup_line(self):
        if self.proc.poll() is not None:
            pytest.fail(f"stand-in exited {self.proc.returncode}: {self.stderr.read_text()}")
        return re.search(r"listening on (http://127\.0\.0\.1:\d+)", self.stderr.read_text())

    def post(self, path, body=None, **kwargs):
        return requests.post(self.url + path, json=body, timeout=TIMEOUT, **kwargs)

    def get(self, path):
        return requests.get(self.url + path, timeout=TIMEOUT)

    def faults(self, **faults):
        reply = self.post("/_standin/faults", faults)
        assert reply.status_code == 200, reply.text

    def recorded(self, path=None):
        entries = self.get("/_standin/requests").json()["requests"]
        return [e for e in entries if path is None or e["path"] == path]

    def stop(self):
        return stop_process(self.proc)


@pytest.fixture(scope="module")
def ollama_standin(tmp_path_factory):
    standin = StandIn(tmp_path_factory.mktemp("ollama"), *(a for m in PULLED for a in ("--model", m)))
    yield standin
    assert standin.stop() == 0
    assert "Traceback" not in standin.stderr.read_text(), "a request handler crashed"


@pytest.fixture(autouse=True)
def ollama_standin_reset(ollama_standin):
    for path in ("/_standin/faults", "/_standin/requests"):
        assert requests.delete(ollama_standin.url + path, timeout=TIMEOUT).status_code == 200


def ndjson(reply):
    assert reply.headers["Content-Type"] == "application/x-ndjson"
    return [json.loads(line) for line in reply.text.splitlines()]


def chat(text, **fields):
    return dict({"model": "llama3.2:3b", "messages": [{"role": "user", "content": text}]}, **fields)


def assert_final(obj, model):
    assert obj["done"] is True and obj["done_reason"] == "stop" and obj["model"] == model
    for key in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
                "eval_count", "eval_duration"):
        assert isinstance(obj[key], int) and obj[key] > 0, key
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", obj["created_at"])


# --- the stand-in directly -------------------------------------------------------------------

def test_root_version_and_head(ollama_standin):
    root = ollama_standin.get("/")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert root.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert re.fullmatch(r"0\.\d+\.\d+", ollama_standin.get("/api/version").json()["version"])
    head = requests.head(ollama_standin.url + "/", timeout=TIMEOUT)
    assert (head.status_code, head.text, head.headers["Content-Length"]) == (200, "", "17")


def test_tags_lists_the_pulled_models(ollama_standin):
    models = {m["name"]: m for m in ollama_standin.get("/api/tags").json()["models"]}
    assert sorted(models) == sorted(["llama3.2:3b", "qwen2.5-coder:7b", "qwen3:8b", "nomic-embed-text:latest"])
    llama = models["llama3.2:3b"]
    assert llama["model"] == "llama3.2:3b" and re.fullmatch(r"[0-9a-f]{64}", llama["digest"])
    assert llama["size"] > 10**9 and llama["modified_at"].endswith("Z")
    assert llama["details"] == {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                                "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}


@pytest.mark.parametrize("key", ["name", "model"])
def test_show_describes_a_model(ollama_standin, key):
    show = ollama_standin.post("/api/show", {key: "qwen2.5-coder:7b"})
    assert show.status_code == 200
    body = show.json()
    assert body["details"]["family"] == "qwen2" and body["capabilities"] == ["completion", "tools", "insert"]
    assert body["model_info"]["general.architecture"] == "qwen2"
    assert body["model_info"]["qwen2.context_length"] == 32768
    assert ".Tools" in body["template"]  # LiteLLM reads tool support from the template
    assert body["modelfile"].startswith('# Modelfile generated by "ollama show"')


def test_model_names_resolve_as_in_ollama(ollama_standin):
    for name in ("nomic-embed-text", "NOMIC-EMBED-TEXT:latest", "library/nomic-embed-text",
                 "registry.ollama.ai/library/nomic-embed-text:latest"):
        assert ollama_standin.post("/api/show", {"model": name}).status_code == 200, name
    assert ollama_standin.post("/api/show", {"model": "llama3.2"}).status_code == 404  # means :latest


def test_chat_streams_ndjson_by_default(ollama_standin):
    reply = ollama_standin.post("/api/chat", chat("why is the sky blue? " * 5))
    assert reply.status_code == 200 and reply.headers["Transfer-Encoding"] == "chunked"
    lines = ndjson(reply)
    assert len(lines) > 3 and all(line["done"] is False for line in lines[:-1])
    assert "".join(line["message"]["content"] for line in lines) == \
        "stand-in reply to: why is the sky blue? why is the sky blue"
    assert lines[-1]["message"] == {"role": "assistant", "content": ""}
    assert_final(lines[-1], "llama3.2:3b")
    assert lines[-1]["eval_count"] == len(lines) - 1


def test_chat_without_streaming_is_one_object(ollama_standin):
    reply = ollama_standin.post("/api/chat", chat("hello", stream=False))
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    body = reply.json()
    assert body["message"] == {"role": "assistant", "content": "stand-in reply to: hello"}
    assert_final(body, "llama3.2:3b")
    assert (body["prompt_eval_count"], body["eval_count"]) == (1, 4)


def test_generate_streams_and_answers_whole(ollama_standin):
    body = {"model": "qwen2.5-coder:7b", "prompt": "def gcd(a, b):", "system": "be terse", "raw": False}
    lines = ndjson(ollama_standin.post("/api/generate", body))
    assert "".join(line["response"] for line in lines) == "stand-in reply to: def gcd(a, b):"
    assert_final(lines[-1], "qwen2.5-coder:7b")
    assert lines[-1]["response"] == "" and lines[-1]["context"]
    whole = ollama_standin.post("/api/generate", dict(body, stream=False)).json()
    assert whole["response"] == "stand-in reply to: def gcd(a, b):" and whole["done"] is True


def test_chat_tools_then_tool_result(ollama_standin):
    asked = ollama_standin.post("/api/chat", chat("weather in Paris?", stream=False, tools=[WEATHER_TOOL])).json()
    (call,) = asked["message"]["tool_calls"]
    assert call["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "stand-in", "unit": "celsius"}}
    assert asked["message"]["content"] == "" and asked["done_reason"] == "stop"
    history = chat("weather in Paris?")["messages"] + [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "18 degrees and sunny", "tool_name": "get_weather"}]
    answered = ollama_standin.post("/api/chat", chat("", messages=history, stream=False, tools=[WEATHER_TOOL]))
    assert answered.json()["message"] == {"role": "assistant",
                                          "content": "stand-in reply to tool result: 18 degrees and sunny"}


def test_chat_streams_tool_calls_before_the_final_line(ollama_standin):
    lines = ndjson(ollama_standin.post("/api/chat", chat("weather?", tools=[WEATHER_TOOL])))
    assert len(lines) == 2 and "tool_calls" not in lines[1]["message"]
    assert lines[0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert lines[-1]["done"] is True and lines[-1]["done_reason"] == "stop"


def test_chat_format_json_and_schema(ollama_standin):
    as_json = ollama_standin.post("/api/chat", chat("colors", stream=False, format="json")).json()
    assert json.loads(as_json["message"]["content"]) == {"reply": "stand-in reply to: colors"}
    schema = {"type": "object", "required": ["age", "ok"], "properties": {"age": {"type": "integer"},
                                                                          "ok": {"type": "boolean"}}}
    shaped = ollama_standin.post("/api/chat", chat("age?", stream=False, format=schema)).json()
    assert json.loads(shaped["message"]["content"]) == {"age": 1, "ok": True}


def test_chat_accepts_options_keep_alive_images(ollama_standin):
    body = chat("look", stream=False, keep_alive="10m", think=False,
                options={"num_ctx": 8192, "temperature": 0.2, "seed": 1, "stop": ["\n"]})
    body["messages"][0]["images"] = ["aGVsbG8="]
    reply = ollama_standin.post("/api/chat", body)
    assert reply.status_code == 200 and reply.json()["message"]["content"] == "stand-in reply to: look"


def test_num_predict_cuts_the_reply(ollama_standin):
    body = ollama_standin.post("/api/chat", chat("count to ten", stream=False, options={"num_predict": 2})).json()
    assert (body["message"]["content"], body["done_reason"], body["eval_count"]) == ("stand-in reply ", "length", 2)


def test_think_only_for_thinking_models(ollama_standin):
    refused = ollama_standin.post("/api/chat", chat("hm", think=True))
    assert (refused.status_code, refused.json()) == (400, {"error": '"llama3.2:3b" does not support thinking'})
    thought = ollama_standin.post("/api/chat", chat("hm", model="qwen3:8b", stream=False)).json()
    assert thought["message"]["thinking"] == "stand-in thinking about: hm"
    assert thought["message"]["content"] == "stand-in reply to: hm"
    lines = ndjson(ollama_standin.post("/api/chat", chat("hm", model="qwen3:8b", think=False)))
    assert not any("thinking" in line["message"] for line in lines)


def test_embed_is_deterministic_and_normalized(ollama_standin):
    first = ollama_standin.post("/api/embed", {"model": "nomic-embed-text", "input": ["a", "b"]}).json()
    again = ollama_standin.post("/api/embed", {"model": "nomic-embed-text", "input": "a"}).json()
    a, b = first["embeddings"]
    assert again["embeddings"] == [a] and a != b and abs(sum(v * v for v in a) - 1) < 1e-9
    legacy = ollama_standin.post("/api/embeddings", {"model": "nomic-embed-text", "prompt": "a"}).json()
    assert len(legacy["embedding"]) == len(a)
    refused = ollama_standin.post("/api/chat", chat("x", model="nomic-embed-text"))
    assert (refused.status_code, refused.json()) == (400, {"error": '"nomic-embed-text" does not support chat'})


def test_load_ps_and_unload(ollama_standin):
    loaded = ollama_standin.post("/api/chat", {"model": "qwen2.5-coder:7b", "messages": []}).json()
    assert (loaded["done_reason"], loaded["message"]["content"]) == ("load", "")
    assert "qwen2.5-coder:7b" in [m["name"] for m in ollama_standin.get("/api/ps").json()["models"]]
    unloaded = ollama_standin.post("/api/generate", {"model": "qwen2.5-coder:7b", "keep_alive": 0}).json()
    assert unloaded["done_reason"] == "unload"
    assert "qwen2.5-coder:7b" not in [m["name"] for m in ollama_standin.get("/api/ps").json()["models"]]


def test_pull_and_delete(ollama_standin):
    statuses = [line["status"] for line in ndjson(ollama_standin.post("/api/pull", {"model": "mistral:7b"}))]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    assert "mistral:7b" in [m["name"] for m in ollama_standin.get("/api/tags").json()["models"]]
    assert requests.delete(ollama_standin.url + "/api/delete", json={"model": "mistral:7b"}, timeout=TIMEOUT).ok
    gone = requests.delete(ollama_standin.url + "/api/delete", json={"model": "mistral:7b"}, timeout=TIMEOUT)
    assert (gone.status_code, gone.json()) == (404, {"error": "model 'mistral:7b' not found"})


@pytest.mark.parametrize("path, body, error", [
    ("/api/chat", chat("hi", model="mistral"), "model 'mistral' not found"),
    ("/api/generate", {"model": "mistral", "prompt": "hi"}, "model 'mistral' not found"),
    ("/api/show", {"name": "mistral"}, "model 'mistral' not found"),
    ("/api/embed", {"model": "mistral", "input": "hi"}, "model 'mistral' not found"),
    ("/api/embeddings", {"model": "mistral", "prompt": "hi"}, 'model "mistral" not found, try pulling it first'),
])
def test_unknown_model_is_404_with_ollamas_text(ollama_standin, path, body, error):
    reply = ollama_standin.post(path, body)
    assert (reply.status_code, reply.json()) == (404, {"error": error})


def test_bad_requests_are_400(ollama_standin):
    bad_json = requests.post(ollama_standin.url + "/api/chat", data=b"{model", timeout=TIMEOUT)
    assert (bad_json.status_code, bad_json.json()) == (400, {"error": "invalid character 'm' looking for beginning of value"})
    empty = requests.post(ollama_standin.url + "/api/chat", timeout=TIMEOUT)
    assert (empty.status_code, empty.json()) == (400, {"error": "missing request body"})
    no_model = ollama_standin.post("/api/chat", {"messages": []})
    assert (no_model.status_code, no_model.json()) == (400, {"error": "model is required"})
    bad_duration = ollama_standin.post("/api/chat", chat("hi", keep_alive="soon"))
    assert (bad_duration.status_code, bad_duration.json()) == (400, {"error": 'time: invalid duration "soon"'})


@pytest.mark.parametrize("method, path", [("GET", "/api/nothing"), ("GET", "/api/chat"), ("POST", "/")])
def test_unknown_route_is_gos_404(ollama_standin, method, path):
    reply = requests.request(method, ollama_standin.url + path, timeout=TIMEOUT)
    assert (reply.status_code, reply.text) == (404, "404 page not found")


def test_requests_are_recorded_and_logged(ollama_standin):
    ollama_standin.post("/api/chat", chat("remember me", options={"temperature": 0}))
    ollama_standin.get("/api/version")
    recorded = ollama_standin.recorded()
    assert [(e["method"], e["path"]) for e in recorded] == [("POST", "/api/chat"), ("GET", "/api/version")]
    assert recorded[0]["body"] == chat("remember me", options={"temperature": 0})
    assert recorded[0]["headers"]["Content-Type"] == "application/json"
    logged = [json.loads(line) for line in ollama_standin.log.read_text().splitlines()]
    assert logged[-2:] == recorded
    assert requests.delete(ollama_standin.url + "/_standin/requests", timeout=TIMEOUT).json() == {"requests": []}
    assert ollama_standin.recorded() == []


def test_keep_alive_connection_has_no_nagle_stall(ollama_standin):
    # With Nagle on, the body (sent after the headers) waits for the client's delayed ACK: ~40 ms.
    count, started = 50, time.monotonic()
    with requests.Session() as session:
        for _ in range(count):
            reply = session.post(ollama_standin.url + "/api/chat", json=chat("fast", stream=False), timeout=TIMEOUT)
            assert reply.status_code == 200
    average = (time.monotonic() - started) / count
    assert average < 0.010, f"{average * 1000:.1f} ms per request"
    assert len({e["peer"] for e in ollama_standin.recorded()}) == 1  # one kept-alive connection


# --- faults ----------------------------------------------------------------------------------

def test_first_token_delay(ollama_standin):
    ollama_standin.faults(first_token_delay=1.0)
    started = time.monotonic()
    lines = ollama_standin.post("/api/chat", chat("slow"), stream=True).iter_lines()
    first = json.loads(next(lines))
    waited = time.monotonic() - started
    assert 1.0 <= waited < 2.0 and first["message"]["content"] == "stand-in "
    assert json.loads(list(lines)[-1])["load_duration"] >= 10**9  # the delay shows as model load
    started = time.monotonic()
    assert ollama_standin.get("/api/tags").ok and time.monotonic() - started < 0.5  # only inference waits


@pytest.mark.parametrize("status, message, error", [
    (500, None, "llama runner process has terminated: exit status 2"),
    (503, None, "server busy, please try again.  maximum pending requests exceeded"),
    (429, "custom", "custom"),
])
def test_error_status(ollama_standin, status, message, error):
    ollama_standin.faults(error_status=status, error_message=message)
    for path, body in (("/api/chat", chat("x")), ("/api/generate", {"model": "llama3.2:3b", "prompt": "x"}),
                       ("/api/embed", {"model": "nomic-embed-text", "input": "x"})):
        reply = ollama_standin.post(path, body)
        assert (reply.status_code, reply.json()) == (status, {"error": error}), path
    assert ollama_standin.post("/api/show", {"model": "llama3.2:3b"}).status_code == 200


def test_drop_connection_before_response(ollama_standin):
    ollama_standin.faults(drop_connection=True)
    assert ollama_standin.get("/_standin/faults").json()["drop_connection"] == "before_response"
    with pytest.raises(requests.ConnectionError):
        ollama_standin.post("/api/chat", chat("x"))
    assert len(ollama_standin.recorded("/api/chat")) == 1  # it was received, then dropped


def test_drop_connection_mid_stream(ollama_standin):
    ollama_standin.faults(drop_connection="mid_stream")
    reply = ollama_standin.post("/api/chat", chat("x y z"), stream=True)
    lines = reply.iter_lines()
    assert json.loads(next(lines))["message"]["content"] == "stand-in "
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        list(lines)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        ollama_standin.post("/api/chat", chat("x", stream=False)).json()


def test_faults_are_validated_and_cleared(ollama_standin):
    for bad in ({"error_status": 200}, {"first_token_delay": -1}, {"drop_connection": "later"}, {"nope": 1}):
        reply = ollama_standin.post("/_standin/faults", bad)
        assert reply.status_code == 400 and reply.json()["error"], bad
    ollama_standin.faults(error_status=500)
    cleared = requests.delete(ollama_standin.url + "/_standin/faults", timeout=TIMEOUT).json()
    assert cleared == {"first_token_delay": 0.0, "error_status": None, "error_message": None, "drop_connection": None}
    assert ollama_standin.post("/api/chat", chat("x")).status_code == 200


def test_faults_from_the_command_line(tmp_path):
    standin = StandIn(tmp_path, "--model", "llama3.2:3b", "--first-token-delay", "0.3", "--error-status", "503")
    try:
        started = time.monotonic()
        reply = standin.post("/api/chat", chat("x"))
        assert reply.status_code == 503 and time.monotonic() - started >= 0.3
    finally:
        assert standin.stop() == 0
    dropping = StandIn(tmp_path, "--model", "llama3.2:3b", "--drop-connection")
    try:
        with pytest.raises(requests.ConnectionError):
            dropping.post("/api/chat", chat("x"))
    finally:
        assert dropping.stop() == 0


def test_sigterm_stops_cleanly_and_removes_pidfile(tmp_path):
    standin = StandIn(tmp_path)
    assert int(standin.pidfile.read_text()) == standin.proc.pid
    assert standin.get("/api/tags").json() == {"models": []}  # nothing pulled
    started = time.monotonic()
    assert standin.stop() == 0 and time.monotonic() - started < 5
    assert not standin.pidfile.exists()
    stderr = standin.stderr.read_text().splitlines()
    assert len(stderr) == 1 and "listening on" in stderr[0]  # only the startup line


def test_standin_runs_on_python_39():
    vermin = subprocess.run([str(Path(sys.executable).with_name("vermin")), "--no-tips", "--target=3.9-",
                             "--violations", str(STANDIN)], capture_output=True, text=True, timeout=60)
    assert vermin.returncode == 0, vermin.stdout + vermin.stderr


# --- a real LiteLLM through the stand-in -----------------------------------------------------

def say(pytestconfig, text):
    """Show progress of the slow LiteLLM fixtures even though pytest captures output."""
    with pytestconfig.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        pytestconfig.pluginmanager.get_plugin("terminalreporter").write_line(text)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def litellm_venv_ready(venv, version):
    if not (venv / ".complete").exists():
        return False
    check = subprocess.run([str(venv / "bin/python"), "-c", "import litellm, importlib.metadata as m; "
                            "print(m.version('litellm'))"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True"))
    return check.returncode == 0 and check.stdout.strip() == version


@pytest.fixture(scope="module")
def litellm_venv(pytestconfig):
    """A venv with litellm[proxy] at the pinned version, cached in <repo>/.cache/litellm-<version>."""
    version = yaml.safe_load(LITELLM_DEFAULTS.read_text())["ccproxy_litellm_version"]
    venv = REPO / ".cache" / f"litellm-{version}"
    if litellm_venv_ready(venv, version):
        say(pytestconfig, f"litellm fixture: reusing {venv}")
        return venv
    say(pytestconfig, f"litellm fixture: installing litellm[proxy]=={version} into {venv} (about 60-100 s, once)")
    started = time.monotonic()
    subprocess.run(["rm", "-rf", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin/pip"), "install", "--quiet", f"litellm[proxy]=={version}"],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    (venv / ".complete").write_text(version + "\n")  # written last: a half-built venv is never reused
    say(pytestconfig, f"litellm fixture: installed in {time.monotonic() - started:.0f} s")
    return venv


class LiteLLM:
    def __init__(self, url, key):
        self.url, self.key = url, key
        self.openai = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)
        # Claude Code sends its token as a bearer token (ANTHROPIC_AUTH_TOKEN).
        self.anthropic = anthropic.Anthropic(base_url=url, auth_token=key, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def litellm_proxy(litellm_venv, ollama_standin, tmp_path_factory, pytestconfig):
    directory = tmp_path_factory.mktemp("litellm")

    def backend(model, **extra):
        return dict({"model": f"ollama_chat/{model}", "api_base": ollama_standin.url}, **extra)

    config = {
        "model_list": [
            {"model_name": "claude-3-5-sonnet", "litellm_params": backend("qwen2.5-coder:7b")},
            {"model_name": "claude-*", "litellm_params": backend("llama3.2:3b")},
            {"model_name": "gpt-4", "litellm_params": backend("llama3.2:3b")},
            {"model_name": "thinker", "litellm_params": backend("qwen3:8b", keep_alive="10m")},
            {"model_name": "not-pulled", "litellm_params": backend("mistral:7b")},
        ],
        "litellm_settings": {"drop_params": True},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    key = "sk-" + secrets.token_hex(16)
    port = free_port()
    env = dict(os.environ, LITELLM_MASTER_KEY=key, LITELLM_LOCAL_MODEL_COST_MAP="True")
    log = directory / "litellm.log"
    say(pytestconfig, f"litellm fixture: starting the proxy on 127.0.0.1:{port} (about 10 s)")
    with open(log, "wb") as output:
        proc = subprocess.Popen([str(litellm_venv / "bin/litellm"), "--config", str(directory / "config.yaml"),
                                 "--host", "127.0.0.1", "--port", str(port)],
                                stdout=output, stderr=subprocess.STDOUT, env=env, cwd=directory)
    url = f"http://127.0.0.1:{port}"

    def alive():
        if proc.poll() is not None:
            pytest.fail(f"litellm exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return requests.get(url + "/health/liveliness", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(alive, 60, "litellm's /health/liveliness", interval=0.5)
        yield LiteLLM(url, key)
    finally:
        stop_process(proc, timeout=15)


def backend_models(standin):
    return [e["body"]["model"] for e in standin.recorded("/api/chat")]


def test_litellm_openai_chat(litellm_proxy, ollama_standin):
    reply = litellm_proxy.openai.chat.completions.create(
        model="gpt-4", messages=[{"role": "user", "content": "why is the sky blue?"}])
    assert reply.choices[0].message.content == "stand-in reply to: why is the sky blue?"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (5, 8)
    assert backend_models(ollama_standin) == ["llama3.2:3b"]


def test_litellm_openai_chat_streaming(litellm_proxy, ollama_standin):
    stream = litellm_proxy.openai.chat.completions.create(
        model="gpt-4", stream=True, messages=[{"role": "user", "content": "stream this please"}])
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "stand-in reply to: stream this please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert ollama_standin.recorded("/api/chat")[0]["body"]["stream"] is True


def test_litellm_tool_call_round_trip(litellm_proxy, ollama_standin):
    messages = [{"role": "user", "content": "weather in Paris?"}]
    asked = litellm_proxy.openai.chat.completions.create(model="gpt-4", messages=messages, tools=[WEATHER_TOOL])
    choice = asked.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "stand-in", "unit": "celsius"}
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18 degrees and sunny"}]
    answered = litellm_proxy.openai.chat.completions.create(model="gpt-4", messages=messages, tools=[WEATHER_TOOL])
    assert answered.choices[0].message.content == "stand-in reply to tool result: 18 degrees and sunny"
    # What LiteLLM sent Ollama: FACTS.md's fields, the tool schema and the history in Ollama's form.
    first, second = (e["body"] for e in ollama_standin.recorded("/api/chat"))
    assert {"model", "messages", "options", "stream", "tools"} <= set(first)
    assert first["tools"] == [WEATHER_TOOL] and first["stream"] is False
    assert second["messages"][1]["tool_calls"][0]["function"] == {
        "name": "get_weather", "arguments": {"city": "stand-in", "unit": "celsius"}}
    assert second["messages"][2]["role"] == "tool"
    assert {e["path"] for e in ollama_standin.recorded()} <= {"/api/chat", "/api/show"}


def test_litellm_format_think_and_keep_alive(litellm_proxy, ollama_standin):
    reply = litellm_proxy.openai.chat.completions.create(
        model="thinker", reasoning_effort="low", response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "answer in JSON"}])
    message = reply.choices[0].message
    assert json.loads(message.content) == {"reply": "stand-in reply to: answer in JSON"}
    assert message.model_extra["reasoning_content"] == "stand-in thinking about: answer in JSON"
    (sent,) = (e["body"] for e in ollama_standin.recorded("/api/chat"))
    assert (sent["model"], sent["format"], sent["think"], sent["keep_alive"]) == ("qwen3:8b", "json", True, "10m")


# Claude Code sends current model ids; the SDK warns that this one retires soon.
ignore_model_retirement_warning = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")


@ignore_model_retirement_warning
def test_litellm_anthropic_messages_wildcard_and_alias(litellm_proxy, ollama_standin):
    for model in ("claude-sonnet-4-5-20250929", "claude-3-5-sonnet"):
        reply = litellm_proxy.anthropic.messages.create(
            model=model, max_tokens=256, messages=[{"role": "user", "content": f"hello {model}"}])
        assert reply.content[0].type == "text"
        assert reply.content[0].text == f"stand-in reply to: hello {model}"
        assert reply.stop_reason == "end_turn" and reply.usage.output_tokens > 0
    # The exact alias wins over the wildcard.
    assert backend_models(ollama_standin) == ["llama3.2:3b", "qwen2.5-coder:7b"]
    assert ollama_standin.recorded("/api/chat")[0]["body"]["options"]["num_predict"] == 256


@ignore_model_retirement_warning
def test_litellm_anthropic_messages_streaming(litellm_proxy, ollama_standin):
    for model in ("claude-sonnet-4-5-20250929", "claude-3-5-sonnet"):
        with litellm_proxy.anthropic.messages.stream(
                model=model, max_tokens=256, messages=[{"role": "user", "content": "stream to me"}]) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text == "stand-in reply to: stream to me" and final.stop_reason == "end_turn"
    assert backend_models(ollama_standin) == ["llama3.2:3b", "qwen2.5-coder:7b"]


def test_litellm_not_pulled_model_is_an_error_not_a_hang(litellm_proxy, ollama_standin):
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as raised:
        litellm_proxy.openai.chat.completions.create(
            model="not-pulled", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 404 and "not found" in str(raised.value)
    assert time.monotonic() - started < 10
    assert backend_models(ollama_standin)[:1] == ["mistral:7b"]



def test_litellm_runner_crash_reaches_the_client(litellm_proxy, ollama_standin):
    ollama_standin.faults(error_status=500)
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as raised:
        litellm_proxy.openai.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
    assert "llama runner process has terminated" in str(raised.value)
    # LiteLLM's router retries twice by default, with backoff: a failing Ollama is called 3 times.
    assert len(ollama_standin.recorded("/api/chat")) == 3 and time.monotonic() - started < 20


def test_litellm_drop_mid_stream_reaches_the_client(litellm_proxy, ollama_standin):
    ollama_standin.faults(drop_connection="mid_stream")
    started = time.monotonic()
    stream = litellm_proxy.openai.chat.completions.create(
        model="gpt-4", stream=True, messages=[{"role": "user", "content": "hi there"}])
    with pytest.raises(openai.APIError, match="Response payload is not completed"):
        list(stream)
    assert time.monotonic() - started < 10
