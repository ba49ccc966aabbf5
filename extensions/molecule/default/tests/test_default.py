# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""molecule default's verify (testinfra): the deployment on the Mac, and what clients see.

On the Mac, over the same SSH Ansible uses: launchd runs the three jobs, only Traefik listens
beyond 127.0.0.1, owners and modes are least-privilege, no secret is where others can read it.
From the controller, through the Mac's address and Traefik: the refusals, and real clients (the
official anthropic and openai SDKs) getting completions from the Ollama stand-in.
"""

import hashlib
import json
import os
import re
from pathlib import Path

import anthropic
import openai
import pytest
import requests

ROOT = "/Users/coder/ccproxy"
LABEL = "com.visiquate.ccproxy"
DOMAIN = "gui/501"
# The default scenario's inventory and molecule's extra variables (config.yml).
ALIASES = ["claude-3-5-sonnet", "gpt-4"]
MODELS = {"llama3.2:3b", "qwen2.5-coder:7b"}
SECRETS = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[4])) / ".cache/secrets/default"


@pytest.fixture(scope="module")
def root(host):
    with host.sudo():
        yield host


@pytest.fixture(scope="module")
def token():
    return (SECRETS / "client-token").read_text().strip()


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


@pytest.mark.parametrize("label", [LABEL, LABEL + ".auth", LABEL + ".traefik"])
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
    for port in (8081, 8082, 8090):
        bound = {a for a in found if a.endswith(":%d" % port)}
        assert bound == {"127.0.0.1:%d" % port}, (port, found)


@pytest.mark.parametrize("path, owner, mode", [
    (".", "root", 0o755),
    ("config.yaml", "root", 0o644),
    ("auth/master.key", "coder", 0o600),
    ("auth/tokens.json", "root", 0o644),
    ("bin/with-master-key", "root", 0o755),
    ("bin/ccproxy_auth.py", "root", 0o644),
    ("bin/with-pidfile", "root", 0o755),
    ("traefik/traefik.yml", "root", 0o644),
    ("traefik/dynamic/ccproxy.yml", "root", 0o644),
    ("logs", "coder", 0o700),
])
def test_owners_and_modes_are_least_privilege(root, path, owner, mode):
    f = root.file("%s/%s" % (ROOT, path))
    assert f.exists and f.user == owner and f.mode == mode


def test_the_venv_is_root_s_and_read_only_to_others(root):
    assert root.check_output("find %s/venv/ ! -user root -o -perm /022 ! -type l", ROOT) == ""


def test_logs_are_written_and_rotated_by_newsyslog(root):
    for log in ("litellm.log", "auth.log", "traefik-access.log"):
        assert root.file("%s/logs/%s" % (ROOT, log)).size > 0, log
    conf = root.file("/etc/newsyslog.d/ccproxy.conf")
    assert conf.user == "root" and conf.mode == 0o644
    assert "%s/logs/litellm.log" % ROOT in conf.content_string
    assert "%s/logs/traefik.pid  30" % ROOT in conf.content_string


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
