# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""molecule default's verify (testinfra), for every Mac of the fleet: each serves its own model
list (inventory/hosts.yml) through its Traefik, with the fleet's one generated token, to the
official anthropic and openai SDKs, streaming and not; and another Mac on the same network
reaches its Traefik only, not LiteLLM, the token verifier or Traefik's API."""

import json
import os
import subprocess
import sys
from pathlib import Path

import anthropic
import openai
import pytest
import yaml

testinfra_hosts = ["mac1", "mac2", "mac3"]
SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[4]))
INVENTORY = yaml.safe_load((SCENARIO / "inventory/hosts.yml").read_text())["ccproxy_hosts"]
PROMPT = [{"role": "user", "content": "ccproxy fleet"}]
# Traefik's entrypoint, then LiteLLM's two workers, the token verifier, Traefik's API and a
# gateway's (the roles' defaults).
PORTS = {8080: "open", 8081: "ConnectionRefusedError", 8084: "ConnectionRefusedError", 8082: "ConnectionRefusedError",
         8090: "ConnectionRefusedError", 8091: "ConnectionRefusedError"}
# Run on a Mac: how each port of another address answers a TCP connect.
PROBE = """
import socket, sys
for port in sys.argv[2:]:
    try:
        socket.create_connection((sys.argv[1], int(port)), timeout=5).close()
        print(port, "open")
    except OSError as error:
        print(port, type(error).__name__)
"""


def aliases(name):
    """The aliases the inventory gives a Mac: its own ccproxy_models, else the group's."""
    models = (INVENTORY["hosts"][name] or {}).get("ccproxy_models", INVENTORY["vars"]["ccproxy_models"])
    return [model["name"] for model in models]


@pytest.fixture(scope="module")
def addresses():
    """Every Mac's address, from the test bed's inventory script."""
    out = subprocess.run([sys.executable, str(PROJECT / "tests/testbed/macs/inventory.py"), "--list"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return {name: hostvars["ansible_host"] for name, hostvars in json.loads(out)["_meta"]["hostvars"].items()}


@pytest.fixture()
def mac(host):
    variables = host.ansible.get_variables()
    return variables["inventory_hostname"], "http://%s:8080" % variables["ansible_host"]


def test_each_mac_lists_its_own_aliases_and_no_other_mac_s(mac, token):
    name, base_url = mac
    others = {alias for other in INVENTORY["hosts"] for alias in aliases(other)} - set(aliases(name))
    gpt = openai.OpenAI(base_url=base_url + "/v1", api_key=token, max_retries=0, timeout=30)
    listed = {model.id for model in gpt.models.list()}
    assert set(aliases(name)) <= listed and not others & listed, (name, listed)


def test_the_anthropic_sdk_gets_a_reply_and_a_stream(mac, token):
    name, base_url = mac
    client = anthropic.Anthropic(base_url=base_url, auth_token=token, max_retries=0, timeout=60)
    message = client.messages.create(model=aliases(name)[0], max_tokens=16, messages=PROMPT)
    # A model that thinks (mac2's qwen3:8b) answers with a thinking block before its text.
    assert message.type == "message" and any(block.type == "text" and block.text for block in message.content), message
    with client.messages.stream(model=aliases(name)[0], max_tokens=16, messages=PROMPT) as stream:
        assert "".join(stream.text_stream)


def test_the_openai_sdk_gets_a_completion_and_a_stream(mac, token):
    name, base_url = mac
    client = openai.OpenAI(base_url=base_url + "/v1", api_key=token, max_retries=0, timeout=60)
    chat = client.chat.completions.create(model=aliases(name)[0], max_tokens=16, messages=PROMPT)
    assert chat.choices[0].message.content, chat
    chunks = client.chat.completions.create(model=aliases(name)[0], max_tokens=16, messages=PROMPT, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


def test_another_mac_reaches_traefik_only(host, mac, addresses):
    name, _base_url = mac
    others = sorted(set(addresses) - {name})
    assert others, addresses
    for other in others:
        out = host.check_output("python3 -c %s %s " + " ".join(map(str, PORTS)), PROBE, addresses[other])
        assert dict(line.split() for line in out.splitlines()) == {str(port): seen for port, seen in PORTS.items()}, (
            name, other, out)
