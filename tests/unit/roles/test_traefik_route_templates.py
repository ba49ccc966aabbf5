"""The traefik_route role's templates, rendered by Ansible's own templar with the role's defaults and vars.

traefik_fixture/ is the Traefik configuration proven end to end through a real Traefik
(test_ccproxy_auth_traefik.py). The role's dynamic file must be that file, and its static config
that file plus the role's logs; the token store must be what the verifier loads, hashes only.
"""
import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "traefik_route"
FIXTURE = Path(__file__).parent / "traefik_fixture"
TOKENS = {"alice": "ccp-" + "a" * 40, "bob": "ccp-" + "b" * 40}


def render(template, **overrides):
    return render_text((ROLE / "templates" / template).read_text(), **overrides)


def render_text(source, **overrides):
    """`source` templated with the role's defaults and vars, and these overrides."""
    loader = DataLoader()
    variables = {**loader.load_from_file(str(ROLE / "defaults/main.yml"), trusted_as_template=True),
                 **loader.load_from_file(str(ROLE / "vars/main.yml"), trusted_as_template=True),
                 "ansible_managed": "Ansible managed", "playbook_dir": "/work/inventory", **overrides}
    return Templar(loader=loader, variables=variables).template(trust_as_template(source))


def squeeze(rule):
    return " ".join(rule.split())


def test_dynamic_file_is_the_proven_fixture():
    # One worker, as the fixture (one server, which test_ccproxy_auth_traefik points at its
    # backend); the servers of more are test_each_litellm_worker_is_a_server_of_the_one_service's.
    rendered = render("ccproxy.yml.j2", ccproxy_traefik_manage=True, ccproxy_litellm_workers=1)
    assert rendered.startswith("# Ansible managed (visiquate.ccproxy.traefik_route)\n")
    mine, proven = yaml.safe_load(rendered), yaml.safe_load((FIXTURE / "ccproxy.yml").read_text())
    for config in (mine, proven):
        router = config["http"]["routers"]["ccproxy"]
        router["rule"] = squeeze(router["rule"])
    assert mine == proven


def traefik_retry_wait(attempts, initial_interval):
    """Seconds Traefik's retry middleware waits in all before its last attempt, on average: its
    backoff starts at initialInterval and grows by 2 ** (1 / (attempts - 1)) each time (Traefik's
    pkg/middlewares/retry), its randomisation averaging out."""
    return sum(initial_interval * 2 ** (k / (attempts - 1)) for k in range(attempts - 1))


@pytest.mark.parametrize("seconds", [1, 10, 30, 120])
def test_a_request_is_held_through_a_restart_for_the_seconds_given(seconds):
    config = yaml.safe_load(render("ccproxy.yml.j2", ccproxy_traefik_retry_seconds=seconds))["http"]
    assert config["routers"]["ccproxy"]["middlewares"] == ["ccproxy-auth", "ccproxy-strip-api-key", "ccproxy-retry"]
    assert config["routers"]["ccproxy-health"]["middlewares"][-1] != "ccproxy-retry"  # a gateway sees it down
    retry = config["middlewares"]["ccproxy-retry"]["retry"]
    assert retry["initialInterval"] == "250ms"
    wait = traefik_retry_wait(retry["attempts"], 0.25)
    assert seconds <= wait < seconds + 0.5, (retry, wait)
    # One service, no active health check: a restarting LiteLLM would be "no available server".
    assert "healthCheck" not in config["services"]["ccproxy-litellm"]["loadBalancer"]


@pytest.mark.parametrize("seconds", [0, -5])
def test_no_request_is_held_at_zero_seconds(seconds):
    config = yaml.safe_load(render("ccproxy.yml.j2", ccproxy_traefik_retry_seconds=seconds))["http"]
    assert config["routers"]["ccproxy"]["middlewares"] == ["ccproxy-auth", "ccproxy-strip-api-key"]
    assert "ccproxy-retry" not in config["middlewares"]


def test_dynamic_file_follows_the_ports_priority_and_entrypoint():
    config = yaml.safe_load(render("ccproxy.yml.j2", ccproxy_auth_port=9082, ccproxy_litellm_port=9081,
                                   ccproxy_traefik_router_priority=42, ccproxy_traefik_entrypoint="websecure"))
    http = config["http"]
    assert http["routers"]["ccproxy"]["entryPoints"] == ["websecure"]
    assert http["routers"]["ccproxy"]["priority"] == 42
    assert http["middlewares"]["ccproxy-auth"]["forwardAuth"]["address"] == "http://127.0.0.1:9082/verify"
    # The default two workers: the first on ccproxy_litellm_port, the second on the default 8084.
    assert http["services"]["ccproxy-litellm"]["loadBalancer"]["servers"] == [{"url": "http://127.0.0.1:9081"},
                                                                              {"url": "http://127.0.0.1:8084"}]


@pytest.mark.parametrize("workers, ports", [(1, [8081]), (2, [8081, 9100]), (3, [8081, 9100, 9101])])
def test_each_litellm_worker_is_a_server_of_the_one_service(workers, ports):
    config = yaml.safe_load(render("ccproxy.yml.j2", ccproxy_litellm_workers=workers,
                                   ccproxy_litellm_extra_ports_from=9100))
    servers = config["http"]["services"]["ccproxy-litellm"]["loadBalancer"]["servers"]
    assert servers == [{"url": "http://127.0.0.1:%d" % port} for port in ports]
    # A gateway's health check asks the next worker when it meets a stopped one; alone, none.
    retry = config["http"]["middlewares"].get("ccproxy-health-retry")
    assert ("ccproxy-health-retry" in config["http"]["routers"]["ccproxy-health"]["middlewares"]) == (workers > 1)
    assert retry == (None if workers == 1 else {"retry": {"attempts": 2 * workers, "initialInterval": "10ms"}})


def subset(small, big, path=""):
    """Every key of `small` is in `big` with an equal value (recursively for mappings)."""
    if isinstance(small, dict):
        assert isinstance(big, dict), path
        for key, value in small.items():
            assert key in big, path + "/" + key
            subset(value, big[key], path + "/" + key)
    else:
        assert small == big, path


def test_static_config_is_the_proven_fixture_plus_the_logs():
    config = yaml.safe_load(render("traefik.yml.j2", ccproxy_traefik_manage=True))
    proven = yaml.safe_load((FIXTURE / "traefik.yml").read_text())
    proven["providers"]["file"]["directory"] = "/Users/coder/ccproxy/traefik/dynamic"
    subset(proven, config)
    # Traefik's own log goes to stdout, for the launcher to write (it would not reopen a file).
    assert "filePath" not in config["log"] and config["log"]["noColor"] is True
    assert config["accessLog"]["filePath"] == "/Users/coder/ccproxy/logs/traefik-access.log"
    assert config["accessLog"]["fields"]["headers"]["defaultMode"] == "drop"


def test_static_config_keeps_the_api_on_loopback_whatever_the_ports():
    config = yaml.safe_load(render("traefik.yml.j2", ccproxy_traefik_manage=True, ccproxy_traefik_port=9080,
                                   ccproxy_traefik_api_port=9090))
    assert config["entryPoints"]["web"]["address"] == ":9080"
    assert config["entryPoints"]["traefik"]["address"] == "127.0.0.1:9090"
    assert config["api"] == {"insecure": True, "dashboard": False}


@pytest.mark.parametrize("manage, directory", [(True, "/Users/coder/ccproxy/traefik/dynamic"),
                                               (False, "/opt/homebrew/etc/traefik/dynamic"),
                                               ("false", "/opt/homebrew/etc/traefik/dynamic")])
def test_one_rule_for_the_dynamic_directory(manage, directory):
    loader = DataLoader()
    variables = {**loader.load_from_file(str(ROLE / "defaults/main.yml"), trusted_as_template=True),
                 **loader.load_from_file(str(ROLE / "vars/main.yml"), trusted_as_template=True),
                 "ccproxy_traefik_manage": manage}
    templar = Templar(loader=loader, variables=variables)
    assert templar.template(trust_as_template("{{ _ccproxy_traefik_dynamic_dir }}")) == directory


def load_verifier():
    spec = importlib.util.spec_from_file_location("ccproxy_auth", ROLE / "files" / "ccproxy_auth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_token_store_is_what_the_verifier_loads_and_holds_no_token():
    clients = [{"name": name, "token": token} for name, token in TOKENS.items()]
    rendered = render("tokens.json.j2", ccproxy_client_tokens=clients)
    for token in TOKENS.values():
        assert token not in rendered
    assert json.loads(rendered)["tokens"] == [
        {"name": name, "sha256": hashlib.sha256(token.encode()).hexdigest()} for name, token in TOKENS.items()]
    store = load_verifier().TokenStore("unused")
    store.tokens = store.parse(rendered.encode())
    assert [store.lookup(token) for token in TOKENS.values()] == list(TOKENS)
    assert store.lookup("ccp-" + "c" * 40) is None


def test_the_allowlist_rule_names_each_path_once_and_nothing_else():
    loader = DataLoader()
    variables = loader.load_from_file(str(ROLE / "vars/main.yml"), trusted_as_template=True)
    rule = Templar(loader=loader, variables=variables).template(trust_as_template("{{ _ccproxy_traefik_rule }}"))
    assert rule.split(" || ") == ["Path(`%s`)" % path for path in variables["_ccproxy_traefik_paths"]]


CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("manage", [True, False])
def test_with_tls_the_router_answers_over_tls_only_with_the_role_s_files(manage):
    config = yaml.safe_load(render("ccproxy.yml.j2", ccproxy_traefik_manage=manage, ccproxy_traefik_tls=True,
                                   ccproxy_traefik_tls_cert=CERT, ccproxy_traefik_tls_key="KEY"))
    assert config["http"]["routers"]["ccproxy"]["tls"] == {}
    files = {"certFile": "/Users/coder/ccproxy/tls/ccproxy.crt", "keyFile": "/Users/coder/ccproxy/tls/ccproxy.key"}
    assert config["tls"]["certificates"] == [files]
    # The default certificate of an existing Traefik is its owner's.
    assert config["tls"].get("stores") == ({"default": {"defaultCertificate": files}} if manage else None)


def test_a_new_certificate_changes_the_dynamic_file_and_without_tls_there_is_none():
    first, second = (render("ccproxy.yml.j2", ccproxy_traefik_tls=True, ccproxy_traefik_tls_cert=cert,
                            ccproxy_traefik_tls_key="KEY") for cert in (CERT, CERT.replace("MIIB", "MIIC")))
    assert first != second  # Traefik reads the certificate's file again only when this file changes
    plain = yaml.safe_load(render("ccproxy.yml.j2"))
    assert "tls" not in plain and "tls" not in plain["http"]["routers"]["ccproxy"]


@pytest.mark.parametrize("overrides, url, names", [
    ({}, "http://mac1:8080", None),
    ({"ccproxy_traefik_tls": True, "ansible_host": "198.18.0.11"}, "https://198.18.0.11:8080",
     ["mac1", "198.18.0.11"]),
    ({"ccproxy_traefik_tls": True, "ansible_host": "198.18.0.11", "ccproxy_traefik_tls_names": ["mac1.lan"],
      "ccproxy_client_base_url": "https://ccproxy.example.internal/"}, "https://ccproxy.example.internal",
     ["mac1", "198.18.0.11", "ccproxy.example.internal", "mac1.lan"]),
])
def test_the_client_url_and_the_self_signed_certificate_s_names(overrides, url, names):
    loader = DataLoader()
    variables = {**loader.load_from_file(str(ROLE / "defaults/main.yml"), trusted_as_template=True),
                 **loader.load_from_file(str(ROLE / "vars/main.yml"), trusted_as_template=True),
                 "inventory_hostname": "mac1", "playbook_dir": "/work/inventory", **overrides}
    templar = Templar(loader=loader, variables=variables)
    assert templar.template(trust_as_template("{{ _ccproxy_client_url }}")) == url
    if names:
        assert templar.template(trust_as_template("{{ _ccproxy_traefik_tls_names }}")) == names


HTTP, HTTPS = "http://198.18.0.11:8080", "https://198.18.0.11:8080"


# A roll-out through gateways (drain.yml): the URL each gateway lists the Mac under, and whether it
# can take the Mac back before its own play (a new certificate to pin, or a new URL: it cannot).
@pytest.mark.parametrize("tls, listed, cert_changed, listing, later", [
    (False, {HTTP: "UP"}, False, [{"gateway": "gw1", "url": HTTP}], False),
    (True, {HTTPS: "UP"}, False, [{"gateway": "gw1", "url": HTTPS}], False),
    (True, {HTTP: "UP"}, False, [{"gateway": "gw1", "url": HTTP}], True),  # switched to TLS in this run
    (False, {HTTPS: "UP"}, False, [{"gateway": "gw1", "url": HTTPS}], True),  # and back
    (True, {HTTPS: "UP"}, True, [{"gateway": "gw1", "url": HTTPS}], True),  # a new certificate
    (False, {"http://198.18.0.12:8080": "UP"}, False, [], False),  # another Mac's gateway
], ids=["http", "https", "to tls", "from tls", "new certificate", "not listed"])
def test_a_roll_out_finds_the_mac_in_each_gateway_s_pool(tls, listed, cert_changed, listing, later):
    pools = {"results": [{"item": "gw1", "json": {"serverStatus": listed}}, {"item": "gw2", "skipped": True}]}
    facts = {"inventory_hostname": "mac1", "ansible_host": "198.18.0.11", "ccproxy_traefik_tls": tls,
             "__ccproxy_traefik_gateway_pools": pools}
    if tls:
        facts["__ccproxy_traefik_tls_cert"] = {"changed": cert_changed}
    assert json.loads(render_text("{{ _ccproxy_traefik_gateway_listing | to_json }}", **facts)) == listing
    assert render_text("{{ _ccproxy_traefik_gateway_rejoins_later }}", **facts) is later
