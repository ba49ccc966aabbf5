# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""molecule default's verify (testinfra): the deployment on the Mac, and what clients see.

On the Mac, over the same SSH Ansible uses: launchd runs the three jobs, only Traefik listens
beyond 127.0.0.1, owners and modes are least-privilege, no secret is where others can read it.
From the controller, through the Mac's address and Traefik: the refusals, and real clients (the
official anthropic and openai SDKs, the Claude Code CLI) getting completions from the Ollama
stand-in, or their authentication error for a wrong token, which LiteLLM's log shows never
reached it.
"""

import collections
import concurrent.futures
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import openai
import pytest
import requests
import yaml

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[4]))
sys.path.insert(0, str(PROJECT / "tests/unit"))
from processes import wait_for  # noqa: E402  (the tests' one poll-until helper)

# The demo Mac; test_fleet.py checks every Mac.
testinfra_hosts = ["mac1"]
ROOT = "/Users/coder/ccproxy"
LABEL = "com.visiquate.ccproxy"
DOMAIN = "gui/501"
# The default scenario's inventory and molecule's extra variables (config.yml).
ALIASES = ["claude-3-5-sonnet", "gpt-4"]
MODELS = {"llama3.2:3b", "qwen3:8b", "qwen2.5-coder:7b"}
# make molecule installs it from npm at the pin in tests/clients.
CLAUDE = PROJECT / ".cache/clients/node_modules/.bin/claude"
WEATHER = {"name": "get_weather", "description": "The weather in a city now.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture(scope="module")
def base_url(host):
    return "http://%s:8080" % host.ansible.get_variables()["ansible_host"]


def job(root, label):
    out = root.run("launchctl print %s/%s", DOMAIN, label)
    assert out.rc == 0, out.stderr
    pid = re.search(r"^\s*pid = (\d+)$", out.stdout, re.MULTILINE)
    return out.stdout, int(pid.group(1)) if pid else None


def listeners(root):
    """{local address:port} of the Mac's listening TCP sockets."""
    return {line.split()[3] for line in root.check_output("ss -Hltn").splitlines()}


# LiteLLM's two workers (ccproxy_litellm_workers' default), the verifier, Traefik.
@pytest.mark.parametrize("label", [LABEL, LABEL + ".2", LABEL + ".auth", LABEL + ".traefik"])
def test_launchd_runs_each_job_with_a_pid(root, label):
    text, pid = job(root, label)
    assert "state = running" in text
    assert pid and root.process.get(pid=pid)


def test_ollama_serves_the_inventorys_models(host):
    tags = json.loads(host.check_output("python3 -c %s", "import urllib.request as u; "
                                        "print(u.urlopen('http://127.0.0.1:11434/api/tags').read().decode())"))
    assert MODELS <= {model["name"] for model in tags["models"]}


def test_only_traefik_listens_beyond_127_0_0_1(root):
    found = listeners(root)
    assert found & {"0.0.0.0:8080", "*:8080", "[::]:8080"}
    for port in (8081, 8084, 8082, 8090):
        bound = {a for a in found if a.endswith(":%d" % port)}
        assert bound == {"127.0.0.1:%d" % port}, (port, found)


@pytest.mark.parametrize("path, owner, mode", [
    (".", "root", 0o755),
    ("config.yaml", "root", 0o644),
    ("auth/master.key", "coder", 0o600),
    ("auth/tokens.json", "root", 0o644),
    ("bin/with-master-key", "root", 0o755),
    ("bin/ccproxy_auth.py", "root", 0o644),
    ("bin/ccproxy_traefik.py", "root", 0o644),
    ("traefik/traefik.yml", "root", 0o644),
    ("traefik/dynamic/ccproxy.yml", "root", 0o644),
    ("logs", "coder", 0o700),
])
def test_owners_and_modes_are_least_privilege(root, path, owner, mode):
    f = root.file("%s/%s" % (ROOT, path))
    assert f.exists and f.user == owner and f.mode == mode


# The side effect's roll-outs and faults changed config.yaml, or failed to, many times: the copy
# each change keeps for its rescue is gone once LiteLLM runs on the new one or the old is back.
def test_no_copy_of_an_old_config_is_left(root):
    assert root.check_output("find %s -maxdepth 1 -name 'config.yaml?*'", ROOT) == ""


def test_the_venv_is_root_s_and_read_only_to_others(root):
    assert root.check_output("find %s/venv/ ! -user root -o -perm /022 ! -type l", ROOT) == ""


def test_logs_are_written_and_rotated_by_newsyslog(root):
    for log in ("litellm.log", "auth.log", "traefik.log", "traefik-access.log"):
        assert root.file("%s/logs/%s" % (ROOT, log)).size > 0, log
    conf = root.file("/etc/newsyslog.d/ccproxy.conf")
    assert conf.user == "root" and conf.mode == 0o644
    # logfilename owner:group mode count size when flags: N everywhere, root signals no PID a
    # service user could have written; J where the writer reopens at its next line.
    entries = {line.split()[0]: line.split()[1:] for line in conf.content_string.splitlines()
               if line and not line.startswith("#")}
    logs = ROOT + "/logs/"
    assert entries[logs + "litellm.log"] == ["coder:staff", "600", "7", "10240", "*", "JN"]
    assert entries[logs + "traefik.log"][5:] == ["JN"]
    for later in ("traefik-access.log", "stderr.log", "auth.launchd.log", "traefik.launchd.log"):
        assert entries[logs + later][5:] == ["N"], later
    assert not root.file(logs + "traefik.pid").exists


def test_the_master_key_is_in_no_plist_config_or_process_arguments(root):
    key = root.file(ROOT + "/auth/master.key").content_string.strip()
    assert re.fullmatch(r"sk-[A-Za-z0-9]{48}", key)
    _text, pid = job(root, LABEL)
    places = [
        root.file("/Users/coder/Library/LaunchAgents/%s.plist" % LABEL).content_string,
        root.file(ROOT + "/config.yaml").content_string,
        root.file("/proc/%d/cmdline" % pid).content_string,
        root.check_output("ps -eo args"),
    ]
    assert not [place for place in places if key in place]


def test_no_client_token_is_stored_or_logged_on_the_mac(root, token):
    store = root.file(ROOT + "/auth/tokens.json").content_string
    assert json.loads(store)["tokens"][0]["name"] == "generated"
    assert hashlib.sha256(token.encode()).hexdigest() in store
    for path in ("auth/tokens.json", "logs/auth.log", "logs/traefik-access.log", "logs/litellm.log"):
        assert token not in root.file("%s/%s" % (ROOT, path)).content_string, path


def test_requests_without_a_valid_token_are_refused(base_url, token):
    for headers in ({}, {"Authorization": "Bearer " + token[:-1]}, {"x-api-key": token + "x"}):
        response = requests.get(base_url + "/v1/models", headers=headers, timeout=10)
        assert response.status_code == 401, headers.keys()
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_litellm_s_other_routes_are_closed_with_a_token(base_url, token):
    for path in ("/health", "/v1/model/info", "/key/generate", "/ui"):
        assert requests.get(base_url + path, headers={"Authorization": "Bearer " + token}, timeout=10).status_code == 404


def test_the_health_path_says_only_that_litellm_is_alive(base_url, token):
    """A gateway's health check of this Mac: no token needed, LiteLLM's liveliness and nothing else."""
    for headers in ({}, {"Authorization": "Bearer " + token}):
        response = requests.get(base_url + "/ccproxy/health", headers=headers, timeout=10)
        assert response.status_code == 200 and response.json() == "I'm alive!", response.text
    assert requests.get(base_url + "/ccproxy/health/x", timeout=10).status_code == 404


def test_the_anthropic_sdk_gets_messages_streamed_and_counted(base_url, token):
    client = anthropic.Anthropic(base_url=base_url, auth_token=token, max_retries=0, timeout=60)
    # Claude Code's own model ids reach the default model through the claude-* wildcard.
    message = client.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=32,
                                     messages=[{"role": "user", "content": "ccproxy verify"}])
    assert message.type == "message" and message.content[0].text
    with client.messages.stream(model=ALIASES[0], max_tokens=32,
                                messages=[{"role": "user", "content": "ccproxy verify, streaming"}]) as stream:
        text = "".join(stream.text_stream)
    assert text
    counted = client.messages.count_tokens(model=ALIASES[0], messages=[{"role": "user", "content": "count me"}])
    assert counted.input_tokens > 0


def test_the_openai_sdk_lists_the_aliases_and_gets_a_completion(base_url, token):
    client = openai.OpenAI(base_url=base_url + "/v1", api_key=token, max_retries=0, timeout=60)
    assert set(ALIASES) <= {model.id for model in client.models.list()}
    completion = client.chat.completions.create(model=ALIASES[1],
                                                messages=[{"role": "user", "content": "ccproxy verify"}])
    assert completion.choices[0].message.content
    chunks = client.chat.completions.create(model=ALIASES[1], stream=True,
                                            messages=[{"role": "user", "content": "ccproxy verify, streaming"}])
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


def test_the_anthropic_sdk_by_api_key_makes_a_tool_use_round_trip(base_url, token):
    # x-api-key, as clients configured with ANTHROPIC_API_KEY send it.
    client = anthropic.Anthropic(base_url=base_url, api_key=token, max_retries=0, timeout=60)
    messages = [{"role": "user", "content": "What is the weather in Lisbon?"}]
    first = client.messages.create(model=ALIASES[0], max_tokens=64, tools=[WEATHER], messages=messages)
    assert first.stop_reason == "tool_use", first
    use = next(block for block in first.content if block.type == "tool_use")
    assert use.name == "get_weather" and isinstance(use.input.get("city"), str), use
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21 C"}]}]
    final = client.messages.create(model=ALIASES[0], max_tokens=64, tools=[WEATHER], messages=messages)
    assert final.stop_reason == "end_turn", final
    # The stand-in answers a tool result by quoting it: the result went all the way to Ollama.
    assert "sunny, 21 C" in final.content[0].text


def litellm_log(root):
    return root.file(ROOT + "/logs/litellm.log").content_string


def settled_count(root, text):
    """How often `text` is in litellm.log once two reads a second apart agree (earlier requests logged)."""
    seen = []

    def settled():
        seen.append(litellm_log(root).count(text))
        return len(seen) > 1 and seen[-1] == seen[-2]
    wait_for(settled, 10, "litellm.log to settle", interval=1)
    return seen[-1]


def anthropic_request(base_url, token, marker, auth):
    client = anthropic.Anthropic(base_url=base_url, max_retries=0, timeout=60, **{auth: token})
    client.messages.create(model=ALIASES[0], max_tokens=8, messages=[{"role": "user", "content": "hi"}],
                           extra_query={"ccproxy_probe": marker})


def openai_request(base_url, token, marker, _auth):
    client = openai.OpenAI(base_url=base_url + "/v1", api_key=token, max_retries=0, timeout=60)
    client.chat.completions.create(model=ALIASES[1], messages=[{"role": "user", "content": "hi"}],
                                   extra_query={"ccproxy_probe": marker})


@pytest.mark.parametrize("send, auth, error", [
    (anthropic_request, "auth_token", anthropic.AuthenticationError),
    (anthropic_request, "api_key", anthropic.AuthenticationError),
    (openai_request, "api_key", openai.AuthenticationError),
], ids=["anthropic-bearer", "anthropic-x-api-key", "openai"])
def test_a_wrong_token_gets_the_sdks_authentication_error_and_never_reaches_litellm(root, base_url, token,
                                                                                     send, auth, error):
    refused, accepted = ("ccproxy-probe-" + secrets.token_hex(8) for _ in range(2))
    with pytest.raises(error) as raised:
        send(base_url, "ccp-" + secrets.token_urlsafe(30), refused, auth)
    assert raised.value.status_code == 401
    # The same request with the right token shows up in LiteLLM's access log, marker and all; the
    # refused one, sent before it, does not.
    send(base_url, token, accepted, auth)
    wait_for(lambda: accepted in litellm_log(root), 5, "the accepted request in litellm.log", interval=0.2)
    assert refused not in litellm_log(root)


def claude_code(base_url, token, tmp_path, tools=""):
    """`claude -p` as a user runs it against ccproxy, in a home of its own; (exit code, output)."""
    assert CLAUDE.exists(), "%s is missing: make molecule installs the Claude Code CLI" % CLAUDE
    # No retries: Claude Code would try a refused request 11 times, minutes apart.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ANTHROPIC_BASE_URL": base_url,
           "ANTHROPIC_AUTH_TOKEN": token, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "CLAUDE_CODE_MAX_RETRIES": "0"}
    proc = subprocess.run([str(CLAUDE), "-p", "ccproxy verify from Claude Code", "--tools", tools],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_claude_code_cli_gets_a_reply(base_url, token, tmp_path):
    # Claude Code asks for thinking: the default model cannot think, so config.yaml drops it.
    rc, out = claude_code(base_url, token, tmp_path)
    assert rc == 0, out
    assert out.startswith("stand-in reply to:"), out


def test_the_claude_code_cli_runs_a_tool_and_sends_its_result_back(base_url, token, tmp_path):
    # Offered Read, the stand-in calls it (with a path made from its schema); Claude Code runs it
    # and sends the result back, which the stand-in quotes.
    rc, out = claude_code(base_url, token, tmp_path, tools="Read")
    assert rc == 0, out
    assert out.startswith("stand-in reply to tool result:"), out


def test_the_claude_code_cli_with_a_wrong_token_fails_on_authentication(root, base_url, tmp_path):
    # Claude Code's requests carry no marker of ours: count LiteLLM's /v1/messages lines instead,
    # which the SDK tests above made (proof that such requests are logged).
    before = settled_count(root, "/v1/messages")
    assert before > 0, "no /v1/messages request in litellm.log: is the access log written?"
    rc, out = claude_code(base_url, "ccp-" + secrets.token_urlsafe(30), tmp_path)
    assert rc != 0, out
    assert "401" in out and "authenticate" in out, out
    assert litellm_log(root).count("/v1/messages") == before, "a refused Claude Code request reached LiteLLM"


def test_config_drops_thinking_only_for_models_that_cannot_think(root):
    models = {m["model_name"]: m["litellm_params"] for m in
              yaml.safe_load(root.file(ROOT + "/config.yaml").content_string)["model_list"]}
    # The Ollama stand-in's capabilities: qwen3 thinks, llama3.2 and qwen2.5-coder do not.
    assert models["claude-*"]["additional_drop_params"] == ["thinking", "reasoning_effort"]
    assert models[ALIASES[0]]["additional_drop_params"] == ["thinking", "reasoning_effort"]
    assert "additional_drop_params" not in models[ALIASES[1]], models[ALIASES[1]]


def load_client(base_url, token, deadline, limit):
    """One client's loop until `deadline` (or `limit` requests): alternately a /v1/messages reply
    and a streamed chat completion on one kept-alive session; returns (status, complete) pairs."""
    results = []
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + token
    body = {"model": ALIASES[0], "max_tokens": 16, "messages": [{"role": "user", "content": "ccproxy under load"}]}
    while time.monotonic() < deadline and len(results) < limit:
        try:
            if len(results) % 2:
                reply = session.post(base_url + "/v1/chat/completions", json=dict(body, stream=True), stream=True,
                                     timeout=60)
                text = reply.text
                results.append((reply.status_code, text.rstrip().endswith("data: [DONE]")))
            else:
                reply = session.post(base_url + "/v1/messages", json=body, timeout=60)
                results.append((reply.status_code, reply.ok and reply.json().get("stop_reason") is not None))
        except requests.RequestException as error:
            results.append((type(error).__name__, False))
    return results


def test_twenty_clients_for_a_minute_get_every_answer_whole(root, base_url, token):
    """Issue F's load: 20 concurrent clients for 60 s through Traefik, streaming and not: no 5xx,
    every response complete, and the verifier's memory grows by a few MB at most."""
    _text, verifier = job(root, LABEL + ".auth")
    rss_before = int(root.check_output("ps -o rss= -p %s", str(verifier)))
    deadline = time.monotonic() + 60
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(load_client, base_url, token, deadline, 2000) for _ in range(20)]
        results = [result for future in futures for result in future.result(timeout=180)]
    failed = collections.Counter(status for status, complete in results if status != 200 or not complete)
    rss_after = int(root.check_output("ps -o rss= -p %s", str(verifier)))
    print("\nload: %d requests in 60 s from 20 clients, %d failed %s; verifier RSS %d -> %d KB"
          % (len(results), sum(failed.values()), dict(failed), rss_before, rss_after))
    assert len(results) >= 200 and not failed, dict(failed)
    assert job(root, LABEL + ".auth")[1] == verifier
    assert rss_after - rss_before < 5 * 1024


# Last: after every request the tests above sent, wrong tokens included.
def test_no_secret_in_any_log_plist_process_argument_or_traefik_s_view(root, token):
    """Issue F's search: the master key and the client token, in every log file, ccproxy's plists,
    every process's arguments, Traefik's API (its whole configuration) and its dynamic file."""
    key = root.file(ROOT + "/auth/master.key").content_string.strip()
    logs = root.check_output("find %s/logs -type f", ROOT).splitlines()
    plists = root.check_output("ls /Users/coder/Library/LaunchAgents/%s*.plist", LABEL).split()
    assert len(logs) >= 5 and len(plists) == 4, (logs, plists)
    # Bytes: a rotated log is compressed.
    places = {path: root.file(path).content for path in logs + plists + [ROOT + "/traefik/dynamic/ccproxy.yml"]}
    places["ps -eo args"] = root.check_output("ps -eo args").encode()
    places["Traefik's API"] = root.check_output(
        "python3 -c %s", "import urllib.request; print(urllib.request.urlopen("
        "'http://127.0.0.1:8090/api/rawdata', timeout=10).read().decode())").encode()
    assert b"ccproxy@file" in places["Traefik's API"]
    hidden = (key.encode(), token.encode())
    assert sorted(place for place, data in places.items() if any(secret in data for secret in hidden)) == []
