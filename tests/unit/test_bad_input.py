# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A wrong variable fails site.yml before any change: every variable of every role that a wrong
type or value can break (int, bool, dict, list, choices; any string is a string) gets one, and
the run must stop before its first task that reaches a Mac, naming each of them.

preflight's own variables are checked by the role's argument spec as it starts; the other roles'
by preflight's first task (their specs would otherwise be checked only when each role starts,
after the roles before it changed the Mac). So two runs: preflight's variables, and the rest."""

import datetime
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.visiquate.ccproxy.plugins.plugin_utils import tls

REPO = Path(__file__).resolve().parents[2]
MAC_PLAY = next(play for play in yaml.safe_load((REPO / "playbooks/site.yml").read_text())
                if play["name"] == "Deploy ccproxy")
SITE = {entry["role"].split(".")[-1] for entry in MAC_PLAY["roles"]}
# The roles site.yml runs, and the public roles their tasks include.
ROLES = sorted(SITE | {name for role in SITE for tasks in (REPO / "roles" / role / "tasks").glob("*.yml")
                       for name in re.findall(r"name: visiquate\.ccproxy\.([a-z]\w*)", tasks.read_text())})
FIRST_REMOTE_TASK = "Look up the service user, its GUI session, ccproxy's venvs and what listens on ccproxy's ports"


def options(role):
    return yaml.safe_load((REPO / "roles" / role / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def wrong(spec):
    """A value of the wrong type or outside the choices, or None where any value passes."""
    if spec.get("choices"):
        return "nonsense"
    return {"int": "many", "bool": "maybe", "float": "some", "dict": "not a mapping",
            "list": ["not a mapping"] if spec.get("elements") == "dict" else {"not": "a list"}}.get(spec.get("type", "str"))


def bad_variables(roles):
    found = {}
    for role in roles:
        for name, spec in options(role).items():
            if not spec.get("required") and wrong(spec) is not None:
                found[name] = wrong(spec)
    return found


PREFLIGHT = bad_variables(["preflight"])
OTHERS = {name: value for name, value in bad_variables(ROLES).items() if name not in PREFLIGHT}


def site_check(variables, tmp_path, gateway=False):
    """site.yml --check with these extra variables against a local stand-in host (and a gateway
    host): (rc, output)."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False}
    hosts = {"ccproxy_hosts": {"hosts": {"mac": local}}}
    if gateway:
        hosts["ccproxy_gateway"] = {"hosts": {"gateway": local}}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(hosts))
    extra = tmp_path / "bad.yml"
    extra.write_text(yaml.safe_dump(variables))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                           "-e", "@%s" % extra, "--check", "site.yml"],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("variables", [PREFLIGHT, OTHERS], ids=["preflight's", "the other roles'"])
def test_every_wrong_variable_is_named_before_any_task_reaches_the_mac(variables, tmp_path):
    assert len(variables) >= 8, variables
    rc, out = site_check(variables, tmp_path)
    assert rc == 2, out
    assert FIRST_REMOTE_TASK not in out, out
    assert "Wrong variables" in out or "Validation of arguments failed" in out, out
    assert sorted(name for name in variables if name not in out) == [], out


def test_an_alias_given_twice_is_refused_before_any_task_reaches_the_mac(tmp_path):
    rc, out = site_check({"ccproxy_models": [{"name": "gpt-4", "model": "llama3.2:3b"},
                                             {"name": "gpt-4", "model": "qwen3:8b"}]}, tmp_path)
    assert rc == 2 and FIRST_REMOTE_TASK not in out, out
    assert "ccproxy_models gives an alias more than once (gpt-4, gpt-4)" in " ".join(out.split()), out


def test_a_wrong_gateway_variable_stops_the_run_before_any_mac_changes(tmp_path):
    variables = bad_variables(["gateway"])
    variables = {name: value for name, value in variables.items() if name.startswith("ccproxy_gateway_")}
    assert len(variables) >= 8, variables
    rc, out = site_check(variables, tmp_path, gateway=True)
    assert rc == 2, out
    assert "PLAY [Deploy ccproxy]" not in out and FIRST_REMOTE_TASK not in out, out
    assert "Wrong variables" in out, out
    assert sorted(name for name in variables if name not in out) == [], out


def test_macs_with_different_tokens_behind_one_gateway_are_refused_before_any_change(tmp_path):
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False}
    tokens = [{"name": "alice", "token": "ccp-" + "a" * 40}]
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({
        "ccproxy_hosts": {"hosts": {"mac1": dict(local, ccproxy_client_tokens=tokens), "mac2": local}},
        "ccproxy_gateway": {"hosts": {"gateway": local}}}))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "--check",
                           "site.yml"], cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2 and "PLAY [Deploy ccproxy]" not in out, out
    assert "have different ccproxy_client_tokens" in out, out
    assert "ccp-" + "a" * 40 not in out  # names and hosts only, never a token


def test_a_gateway_certificate_that_would_not_serve_stops_the_run_before_any_mac_changes(tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    cert, other_key = tls.make(["gw.lan"], 30, now)[0], tls.make(["gw.lan"], 30, now)[1]
    rc, out = site_check({"ccproxy_gateway_tls": True, "ccproxy_gateway_tls_cert": cert,
                          "ccproxy_gateway_tls_key": other_key}, tmp_path, gateway=True)
    assert rc == 2 and "PLAY [Deploy ccproxy]" not in out, out
    assert ("ccproxy_gateway_tls_key is not the unencrypted PEM private key of ccproxy_gateway_tls_cert"
            in " ".join(out.split())), out
    assert other_key.splitlines()[1] not in out


def test_a_gateway_with_tls_and_an_http_client_url_is_refused_before_any_mac_changes(tmp_path):
    rc, out = site_check({"ccproxy_gateway_tls": True, "ccproxy_gateway_client_url": "http://gw.lan:8080"},
                         tmp_path, gateway=True)
    assert rc == 2 and "PLAY [Deploy ccproxy]" not in out, out
    assert ("ccproxy_gateway_client_url http://gw.lan:8080 says http://, but with ccproxy_gateway_tls the gateway "
            "answers over HTTPS only") in " ".join(out.split()), out
