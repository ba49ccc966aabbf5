# Copyright (c) 2025, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The harness must not pass silently: each kind of wrong call or result fails its case."""

from __future__ import annotations

import time
import types
import urllib.error

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import Request, open_url

from ansible_collections.visiquate.ccproxy.tests.unit.plugins.modules import uthelper
from ansible_collections.visiquate.ccproxy.tests.unit.plugins.modules.uthelper import (
    ClockMock, HttpMock, RunCommandMock, UTHelper)


class LocalClock(ClockMock):
    packages = (__name__,)


def _main():
    """A stand-in module: runs each argv in O(commands), fetches each URL in O(urls) (through one
    Request(follow_redirects=O(redirects)) when given) and sleeps O(pause) after each, then
    reports what it saw."""
    module = AnsibleModule(argument_spec=dict(
        commands=dict(type="list", elements="raw", default=[]),
        urls=dict(type="list", elements="str", default=[]),
        pause=dict(type="float", default=0),
        redirects=dict(type="str"),
        swallow=dict(type="bool", default=False),
        crash=dict(type="bool", default=False),
    ), supports_check_mode=True)
    if module.params["crash"]:
        return
    try:
        rcs = [_run_command(module, argv) for argv in module.params["commands"]]
        session = Request(follow_redirects=module.params["redirects"]) if module.params["redirects"] else None
        seen = [_fetch(url, module.params["pause"], session) for url in module.params["urls"]]
    except AssertionError:
        if not module.params["swallow"]:
            raise
        module.exit_json(changed=False, swallowed=True)
    module.exit_json(changed=bool(rcs), rcs=rcs, seen=seen, check_mode=module.check_mode, now=time.monotonic(),
                     summary=f"{len(rcs)} command(s), {len(seen)} request(s)")


def _run_command(module, argv):
    binary = module.get_bin_path(argv[0], required=True)
    return module.run_command([binary] + argv[1:], environ_update={"LC_ALL": "C"})[0]


def _fetch(url, pause, session=None):
    get = session.open if session else lambda method, url, **options: open_url(url, **options)
    try:
        with get("GET", url, headers={"Accept": "application/json"}, timeout=3) as response:
            seen = [response.status, response.read().decode()]
    except urllib.error.HTTPError as exc:
        seen = [exc.code, exc.read().decode()]
    except urllib.error.URLError as exc:
        seen = [None, str(exc.reason)]
    time.sleep(pause)
    return seen


FAKE_MODULE = types.SimpleNamespace(__name__="fake_module", main=_main)
URL = "http://127.0.0.1:8081/health/liveliness"


def _run(case, mocks=(RunCommandMock, HttpMock, LocalClock)):
    helper = UTHelper(FAKE_MODULE, {"test_cases": [dict(id="case", **case)]}, mocks)
    helper.run(helper.cases[0])


TRUE = {"command": ["/testbin/true"], "rc": 0, "out": ""}

PASSING = {
    "commands and output": dict(
        input={"commands": [["true"], ["false", "-x"]]},
        output={"changed": True, "rcs": [0, 1]},
        mocks={"run_command": [TRUE, {"command": ["/testbin/false", "-x"], "rc": 1, "environ": {"LC_ALL": "C"}}]}),
    "check flag": dict(flags={"check": True}, output={"check_mode": True, "changed": False}),
    "http response, HTTPError, URLError": dict(
        input={"urls": [URL, URL, URL]},
        output={"seen": [[200, '{"status": "ok"}'], [503, "down"], [None, "[Errno 111] Connection refused"]]},
        mocks={"http": [
            {"request": {"url": URL, "headers": {"accept": "application/json"}, "options": {"timeout": 3}},
             "response": {"json": {"status": "ok"}}},
            {"request": {"url": URL}, "response": {"status": 503, "body": "down"}},
            {"request": {"url": URL}, "error": "connection refused"},
        ]}),
    "clock: sleeps and elapsed": dict(
        input={"urls": [URL, URL], "pause": 1.5},
        output={"now": 105.0},
        mocks={"clock": {"start": 100, "sleeps": [1.5, 1.5]},
               "http": [{"request": {"url": URL}, "error": "timeout", "elapsed": 2},
                        {"request": {"url": URL}, "response": {}}]}),
    "an option given to Request(), not to open()": dict(
        input={"urls": [URL], "redirects": "none"}, output={"seen": [[200, ""]]},
        mocks={"http": [{"request": {"url": URL, "options": {"follow_redirects": "none", "timeout": 3}},
                         "response": {}}]}),
    "output_regex": dict(input={"urls": [URL]}, output_regex={"summary": r"^0 command\(s\), 1 "},
                         mocks={"http": [{"request": {"url": URL}, "response": {"body": "ready"}}]}),
}


@pytest.mark.parametrize("case", PASSING.values(), ids=PASSING.keys())
def test_case_passes(case):
    _run(case)


def test_out_file_is_read_from_the_fixtures_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(uthelper, "FIXTURES", tmp_path)
    (tmp_path / "print.txt").write_text("state = running\n", encoding="utf-8")
    (calls,) = [RunCommandMock.parse([{"command": ["x"], "out_file": "print.txt"}], "run_command")]
    assert calls[0]["out"] == "state = running\n"


FAILING = {
    "wrong argv": (
        dict(input={"commands": [["false"]]}, mocks={"run_command": [TRUE]}),
        r"run_command call #1: expected \['/testbin/true'\], got \['/testbin/false'\]"),
    "missing call": (
        dict(input={"commands": [["true"]]}, mocks={"run_command": [TRUE, TRUE]}),
        r"run_command: 1 expected call\(s\) never made, the first: #2 \['/testbin/true'\]"),
    "extra call": (
        dict(input={"commands": [["true"], ["true"]]}, mocks={"run_command": [TRUE]}),
        r"run_command call #2 was not expected \(the case lists 1\)"),
    "a call when the case lists none": (
        dict(input={"commands": [["true"]]}),
        r"run_command call #1 was not expected \(the case lists 0\)"),
    "environ not passed": (
        dict(input={"commands": [["true"]]}, mocks={"run_command": [dict(TRUE, environ={"LANG": "C"})]}),
        r"environ_update \{'LC_ALL': 'C'\} lacks \{'LANG': 'C'\}"),
    "the module swallows the complaint": (
        dict(input={"commands": [["false"]], "swallow": True}, output={"swallowed": True},
             mocks={"run_command": [TRUE]}),
        r"run_command call #1: expected"),
    "wrong url": (
        dict(input={"urls": [URL + "x"]}, mocks={"http": [{"request": {"url": URL}, "response": {}}]}),
        r"http request #1 \(GET .*x\): url: expected .*liveliness, got .*livelinessx"),
    "missing header": (
        dict(input={"urls": [URL]},
             mocks={"http": [{"request": {"url": URL, "headers": {"X-Api-Key": "k"}}, "response": {}}]}),
        r"header X-Api-Key: expected 'k', got None"),
    "unexpected body": (
        dict(input={"urls": [URL]}, mocks={"http": [{"request": {"url": URL, "body": "{}"}, "response": {}}]}),
        r"body: expected '\{\}', got None"),
    "wrong option": (
        dict(input={"urls": [URL]},
             mocks={"http": [{"request": {"url": URL, "options": {"timeout": 9}}, "response": {}}]}),
        r"option timeout: expected 9, got 3"),
    "wrong option given to Request()": (
        dict(input={"urls": [URL], "redirects": "safe"},
             mocks={"http": [{"request": {"url": URL, "options": {"follow_redirects": "none"}}, "response": {}}]}),
        r"option follow_redirects: expected 'none', got 'safe'"),
    "missing request": (
        dict(mocks={"http": [{"request": {"url": URL}, "response": {}}]}),
        r"http: 1 expected request\(s\) never made, the first: #1 GET http"),
    "wrong sleeps": (
        dict(input={"urls": [URL], "pause": 1},
             mocks={"clock": {"sleeps": [2]}, "http": [{"request": {"url": URL}, "response": {}}]}),
        r"clock: expected sleeps \[2\], got \[1.0\]"),
    "wrong output": (
        dict(input={"commands": [["true"]]}, output={"changed": False}, mocks={"run_command": [TRUE]}),
        r"changed: expected False, got True"),
    "output key missing": (
        dict(output={"nope": 1}),
        r"nope: missing from the result"),
    "output_regex does not match": (
        dict(output_regex={"summary": "^1 ", "rcs": "x"}),
        r"summary: '0 command\(s\), 0 request\(s\)' does not match /\^1 /\nrcs: \[\] does not match /x/"),
    "main returns without exiting": (
        dict(input={"crash": True}),
        r"fake_module.main\(\) returned without exit_json\(\) or fail_json\(\)"),
}


@pytest.mark.parametrize("case, message", FAILING.values(), ids=FAILING.keys())
def test_case_fails(case, message):
    with pytest.raises(AssertionError, match=message):
        _run(case)


INVALID = {
    "unknown top-level key": ({"test_cases": [], "cases": []}, r"unknown key\(s\) \['cases'\]"),
    "unknown case key": ({"test_cases": [{"id": "a", "outputs": {}}]}, r"'a': unknown key\(s\) \['outputs'\]"),
    "skip is not a flag": ({"test_cases": [{"id": "a", "flags": {"skip": "x"}}]}, r"unknown key\(s\) \['skip'\]"),
    "unknown mock": ({"test_cases": [{"id": "a", "mocks": {"shell": []}}]}, r"unknown key\(s\) \['shell'\]"),
    "duplicate ids": ({"test_cases": [{"id": "a"}, {"id": "a"}]}, r"duplicate test case id\(s\): \['a'\]"),
    "out and out_file": (
        {"test_cases": [{"id": "a", "mocks": {"run_command": [dict(TRUE, out_file="x")]}}]},
        r"give out or out_file, not both"),
    "unknown http error": (
        {"test_cases": [{"id": "a", "mocks": {"http": [{"request": {"url": URL}, "error": "boom"}]}}]},
        r"unknown error 'boom'"),
    "response and error": (
        {"test_cases": [{"id": "a", "mocks": {"http": [{"request": {"url": URL}, "response": {}, "error": "timeout"}]}}]},
        r"exactly one of response or error"),
}


@pytest.mark.parametrize("spec, message", INVALID.values(), ids=INVALID.keys())
def test_invalid_spec_is_refused_on_load(spec, message):
    with pytest.raises(ValueError, match=message):
        UTHelper(FAKE_MODULE, spec, (RunCommandMock, HttpMock, LocalClock))


def test_install_adds_one_parametrized_test_with_strict_xfail():
    test_module = types.ModuleType("test_fake")
    spec = {"test_cases": [{"id": "a"}, {"id": "b", "flags": {"xfail": "not yet"}}]}
    UTHelper.from_spec(FAKE_MODULE, test_module, spec, (RunCommandMock,))
    (parametrize,) = [mark for mark in test_module.test_module.pytestmark if mark.name == "parametrize"]
    params = parametrize.args[1]
    assert [param.id for param in params] == ["a", "b"]
    (xfail,) = params[1].marks
    assert xfail.kwargs == {"reason": "not yet", "strict": True}
