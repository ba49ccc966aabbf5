# Copyright (c) 2025, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""UTHelper: module unit tests as data (community.general's contract, our own code).

A module's test is one call in ``test_<module>.py``::

    from ansible_collections.visiquate.ccproxy.plugins.modules import launchd_service
    from ansible_collections.visiquate.ccproxy.tests.unit.plugins.modules.uthelper import (
        ClockMock, HttpMock, RunCommandMock, UTHelper)

    UTHelper.from_module(launchd_service, __name__, mocks=[RunCommandMock, HttpMock, ClockMock])

It reads ``test_<module>.yaml`` beside the test file and adds one pytest test, ``test_module``,
parametrized over the cases (test ids are the case ids). Each case runs the module's ``main()``
under ansible-core's ``patch_module_args`` and checks what it printed.

The YAML contract
-----------------
Top level: ``anchors`` (optional, free-form; a place for YAML anchors, never read) and
``test_cases`` (a list). Unknown keys anywhere below are errors at collection time, so a typo
cannot turn a check off. Each case:

``id``            the pytest id; unique in the file.
``flags``         ``check: true`` (check mode), ``diff: true`` (diff mode),
                  ``xfail: <reason>`` (strict: the case must fail; there is no ``skip``).
``input``         the module arguments.
``output``        a subset of the result: each key must be in the result and equal to this
                  value exactly (``changed``, ``failed``, ``msg``, ``diff``, return values).
``output_regex``  result key -> regex that must ``re.search`` the value (a string). Prefer an
                  exact ``msg`` in ``output``; use this where only part of a long text matters.
``mocks``         what the module sees of the outside world, by mock name (below).

Every mock passed to ``from_module(mocks=...)`` is active in EVERY case: a case that omits
``run_command`` expects no command, one that omits ``http`` expects no request, and one that
omits ``clock`` still runs on a fake clock starting at 0. Nothing in a unit test runs a real
command, opens a socket or sleeps. A mock's complaint is reported before the output is compared,
since a wrong call explains a wrong result.

``run_command`` (RunCommandMock): the exact, ordered list of ``AnsibleModule.run_command`` calls.
  ``command``   argv, a list (or the string the module passes). ``get_bin_path(name)`` returns
                ``/testbin/<name>`` so argv does not depend on the machine.
  ``environ``   optional: a subset of the ``environ_update`` the module passes.
  ``rc``        default 0.
  ``out`` or ``out_file``  stdout (``out_file``: a path relative to ``tests/unit/fixtures/``).
  ``err``       stderr, default ''.
  ``elapsed``   optional: seconds the call takes on the fake clock.
  ``check_rc=True`` with a non-zero ``rc`` fails the module as the real method does.

``http`` (HttpMock): the exact, ordered list of requests made through
``ansible.module_utils.urls`` (it patches ``Request.open``, which ``open_url`` and ``fetch_url``
both call). Each item has ``request``, then ``response`` or ``error``, and optional ``elapsed``.
  ``request``   ``url`` (exact), ``method`` (default GET), ``headers`` (a subset; names are
                case-insensitive), ``body`` (exact text) or ``json`` (equal once parsed): without
                either, the request must carry no body. ``options``: a subset of the other
                settings ``Request.open`` uses: each given to the call, else the one given to
                ``Request()`` (``timeout``, ``validate_certs``, ``follow_redirects``...).
  ``response``  ``status`` (default 200), ``headers``, ``body`` (text) or ``json`` (serialized,
                Content-Type application/json unless given). Like urllib, a status outside
                2xx raises ``urllib.error.HTTPError`` carrying the headers and body.
  ``error``     instead of a response, raise what urllib raises for: ``connection refused``,
                ``timeout`` (connecting), ``read timeout``, ``connection reset``,
                ``remote disconnected``, ``name not resolved``.

``clock`` (ClockMock): ``start`` (default 0) and optional ``sleeps``, the exact list of
  ``time.sleep`` durations the module must make. The fake clock replaces the name ``time`` in
  every loaded ``ansible_collections.visiquate.ccproxy.plugins`` module, so the rule for module
  code is: ``import time`` and call ``time.monotonic()`` / ``time.sleep()`` at call time (never
  ``from time import ...``, never a default argument bound at import). ``sleep`` advances the
  clock, and so do the ``elapsed`` of run_command and http items.
"""

from __future__ import annotations

import contextlib
import errno
import http
import http.client
import io
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.response
from pathlib import Path
from unittest import mock

import pytest
import yaml

from ansible.module_utils import basic, urls
from ansible.module_utils.testing import patch_module_args

FIXTURES = Path(__file__).parents[2] / "fixtures"

SPEC_KEYS = {"anchors", "test_cases"}
CASE_KEYS = {"id", "flags", "input", "output", "output_regex", "mocks"}
FLAG_KEYS = {"check", "diff", "xfail"}


def _check_keys(data, allowed, where, required=()):
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {data!r}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing}")


def _check_list(data, where):
    if not isinstance(data, list):
        raise ValueError(f"{where}: expected a list, got {data!r}")
    return data


class UnexpectedCall(AssertionError):
    """Raised into the module on a call the case does not list (and recorded, in case the
    module swallows it)."""


class FakeClock:
    """Monotonic time that moves only when slept on or advanced."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds):
        self.now += seconds


class _FakeTimeModule:
    """Stands in for the ``time`` module inside plugin code; anything not faked is real."""

    def __init__(self, clock):
        self._clock = clock

    def __getattr__(self, name):
        return getattr(time, name)

    def monotonic(self):
        return self._clock.monotonic()

    perf_counter = monotonic
    time = monotonic  # wall time is as fake as the rest: the start of the case plus its sleeps

    def sleep(self, seconds):
        self._clock.sleep(seconds)


class CaseMock:
    """One kind of outside world. ``parse`` checks a case's spec when the file is loaded; an
    instance lives for one run: ``install`` patches, ``verify`` complains afterwards."""

    name = ""

    @classmethod
    def parse(cls, spec, where):
        raise NotImplementedError

    def __init__(self, spec, clock):
        self.spec = spec
        self.clock = clock
        self.errors = []

    def install(self, stack):
        raise NotImplementedError

    def raise_recorded(self):
        """Report the first unexpected call, even if the module caught what was raised."""
        if self.errors:
            raise AssertionError(self.errors[0])

    def verify(self):
        self.raise_recorded()

    def unexpected(self, message):
        self.errors.append(message)
        raise UnexpectedCall(message)


class _CallListMock(CaseMock):
    """An exact, ordered list of expected calls; subclasses match one call and answer it."""

    noun = "call"

    def __init__(self, spec, clock):
        super().__init__(spec, clock)
        self.made = 0

    def next_expected(self, seen):
        """The expected item for the call just made (``seen`` describes it), or a failure."""
        index = self.made
        self.made += 1
        if index >= len(self.spec):
            self.unexpected(f"{self.name} {self.noun} #{index + 1} was not expected (the case lists "
                            f"{len(self.spec)}): {seen}")
        return index + 1, self.spec[index]

    def verify(self):
        super().verify()
        if self.made < len(self.spec):
            missing = len(self.spec) - self.made
            raise AssertionError(f"{self.name}: {missing} expected {self.noun}(s) never made, the first: "
                                 f"#{self.made + 1} {self.describe(self.spec[self.made])}")

    def describe(self, item):
        raise NotImplementedError


class RunCommandMock(_CallListMock):
    name = "run_command"
    KEYS = {"command", "environ", "rc", "out", "out_file", "err", "elapsed"}

    @classmethod
    def parse(cls, spec, where):
        calls = []
        for number, item in enumerate(_check_list(spec or [], where), 1):
            at = f"{where} #{number}"
            _check_keys(item, cls.KEYS, at, required=["command"])
            if "out" in item and "out_file" in item:
                raise ValueError(f"{at}: give out or out_file, not both")
            out = item.get("out", "")
            if "out_file" in item:
                out = (FIXTURES / item["out_file"]).read_text(encoding="utf-8")
            calls.append(dict(command=_argv(item["command"]), environ=item.get("environ", {}),
                              rc=item.get("rc", 0), out=out, err=item.get("err", ""),
                              elapsed=item.get("elapsed", 0)))
        return calls

    def describe(self, item):
        return item["command"]

    def install(self, stack):
        def run_command(module, args, **kwargs):
            return self.answer(module, _argv(args), kwargs)

        def get_bin_path(module, arg, *args, **kwargs):
            return "/testbin/" + os.path.basename(arg)

        stack.enter_context(mock.patch.object(basic.AnsibleModule, "run_command", run_command))
        stack.enter_context(mock.patch.object(basic.AnsibleModule, "get_bin_path", get_bin_path))

    def answer(self, module, argv, kwargs):
        number, want = self.next_expected(argv)
        if argv != want["command"]:
            self.unexpected(f"run_command call #{number}: expected {want['command']}, got {argv}")
        environ = kwargs.get("environ_update") or {}
        lacking = {k: v for k, v in want["environ"].items() if environ.get(k) != v}
        if lacking:
            self.unexpected(f"run_command call #{number} {argv}: environ_update {environ} lacks {lacking}")
        self.clock.advance(want["elapsed"])
        rc, out, err = want["rc"], want["out"], want["err"]
        if kwargs.get("check_rc") and rc != 0:
            module.fail_json(cmd=argv, rc=rc, stdout=out, stderr=err, msg=err.rstrip())
        if "encoding" in kwargs and kwargs["encoding"] is None:
            return rc, out.encode(), err.encode()
        return rc, out, err


def _argv(command):
    return command if isinstance(command, str) else [str(arg) for arg in command]


# What urllib raises for each failure: connect-time OSErrors come wrapped in URLError; errors
# while reading the response come bare.
HTTP_ERRORS = {
    "connection refused": lambda: urllib.error.URLError(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")),
    "timeout": lambda: urllib.error.URLError(socket.timeout("timed out")),
    "read timeout": lambda: socket.timeout("timed out"),
    "connection reset": lambda: ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
    "remote disconnected": lambda: http.client.RemoteDisconnected("Remote end closed connection without response"),
    "name not resolved": lambda: urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known")),
}


class HttpMock(_CallListMock):
    name = "http"
    noun = "request"
    KEYS = {"request", "response", "error", "elapsed"}
    REQUEST_KEYS = {"method", "url", "headers", "body", "json", "options"}
    RESPONSE_KEYS = {"status", "headers", "body", "json"}

    @classmethod
    def parse(cls, spec, where):
        items = []
        for number, item in enumerate(_check_list(spec or [], where), 1):
            at = f"{where} #{number}"
            _check_keys(item, cls.KEYS, at, required=["request"])
            _check_keys(item["request"], cls.REQUEST_KEYS, f"{at} request", required=["url"])
            if ("response" in item) == ("error" in item):
                raise ValueError(f"{at}: give exactly one of response or error")
            if "response" in item:
                _check_keys(item["response"], cls.RESPONSE_KEYS, f"{at} response")
            elif item["error"] not in HTTP_ERRORS:
                raise ValueError(f"{at}: unknown error {item['error']!r}; known: {sorted(HTTP_ERRORS)}")
            for part in ("request", "response"):
                if "body" in item.get(part, {}) and "json" in item.get(part, {}):
                    raise ValueError(f"{at} {part}: give body or json, not both")
            items.append(item)
        return items

    def describe(self, item):
        request = item["request"]
        return f"{request.get('method', 'GET')} {request['url']}"

    def install(self, stack):
        def open_(request, method, url, data=None, headers=None, **kwargs):
            # As Request.open: a setting the call leaves None is the one given to Request().
            options = {name: value for name, value in vars(request).items() if name != "headers"}
            options.update((name, value) for name, value in kwargs.items() if value is not None)
            return self.answer(method.upper(), url, data, dict(request.headers, **(headers or {})), options)

        stack.enter_context(mock.patch.object(urls.Request, "open", open_))

    def answer(self, method, url, data, headers, options):
        number, item = self.next_expected(f"{method} {url}")
        problems = _request_mismatches(item["request"], method, url, data, headers, options)
        if problems:
            self.unexpected(f"http request #{number} ({method} {url}): " + "; ".join(problems))
        self.clock.advance(item.get("elapsed", 0))
        if "error" in item:
            raise HTTP_ERRORS[item["error"]]()
        return _response(url, item["response"])


def _request_mismatches(want, method, url, data, headers, options):
    problems = []
    if method != want.get("method", "GET").upper():
        problems.append(f"method: expected {want.get('method', 'GET')}, got {method}")
    if url != want["url"]:
        problems.append(f"url: expected {want['url']}, got {url}")
    sent = {name.lower(): value for name, value in headers.items()}
    for name, value in want.get("headers", {}).items():
        if sent.get(name.lower()) != value:
            problems.append(f"header {name}: expected {value!r}, got {sent.get(name.lower())!r}")
    body = data.decode("utf-8") if isinstance(data, bytes) else data
    if "json" in want:
        if body is None or json.loads(body) != want["json"]:
            problems.append(f"json body: expected {want['json']!r}, got {body!r}")
    elif body != want.get("body"):
        problems.append(f"body: expected {want.get('body')!r}, got {body!r}")
    for name, value in want.get("options", {}).items():
        if options.get(name) != value:
            problems.append(f"option {name}: expected {value!r}, got {options.get(name)!r}")
    return problems


def _response(url, spec):
    status = spec.get("status", 200)
    headers = http.client.HTTPMessage()
    body = spec.get("body", "")
    if "json" in spec:
        body = json.dumps(spec["json"])
        headers["Content-Type"] = "application/json"
    for name, value in spec.get("headers", {}).items():
        del headers[name]
        headers[name] = str(value)
    fp = io.BytesIO(body.encode("utf-8"))
    if 200 <= status < 300:
        return urllib.response.addinfourl(fp, headers, url, status)
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    raise urllib.error.HTTPError(url, status, reason, headers, fp)


class ClockMock(CaseMock):
    name = "clock"
    KEYS = {"start", "sleeps"}
    # Modules whose name starts with one of these get the fake ``time``.
    packages = ("ansible_collections.visiquate.ccproxy.plugins.",)

    @classmethod
    def parse(cls, spec, where):
        spec = spec or {}
        _check_keys(spec, cls.KEYS, where)
        return spec

    def install(self, stack):
        self.clock.now = float(self.spec.get("start", 0))
        fake = _FakeTimeModule(self.clock)
        for name, module in list(sys.modules.items()):
            if name.startswith(self.packages) and getattr(module, "time", None) is time:
                stack.enter_context(mock.patch.object(module, "time", fake))

    def verify(self):
        super().verify()
        if "sleeps" in self.spec and self.clock.sleeps != self.spec["sleeps"]:
            raise AssertionError(f"clock: expected sleeps {self.spec['sleeps']}, got {self.clock.sleeps}")


class Case:
    """One test case, checked on load."""

    def __init__(self, spec, mock_classes):
        where = f"test case {spec.get('id')!r}" if isinstance(spec, dict) else "test case"
        _check_keys(spec, CASE_KEYS, where, required=["id"])
        self.id = spec["id"]
        self.flags = spec.get("flags") or {}
        _check_keys(self.flags, FLAG_KEYS, f"{where} flags")
        self.input = spec.get("input") or {}
        self.output = spec.get("output") or {}
        self.output_regex = spec.get("output_regex") or {}
        mocks = spec.get("mocks") or {}
        _check_keys(mocks, mock_classes, f"{where} mocks")
        self.mock_specs = {name: cls.parse(mocks.get(name), f"{where} mocks.{name}")
                           for name, cls in mock_classes.items()}

    @property
    def module_args(self):
        args = dict(self.input)
        if self.flags.get("check"):
            args["_ansible_check_mode"] = True
        if self.flags.get("diff"):
            args["_ansible_diff"] = True
        return args

    @property
    def marks(self):
        if "xfail" in self.flags:
            return [pytest.mark.xfail(reason=self.flags["xfail"], strict=True)]
        return []

    def check_output(self, result):
        problems = []
        for key, want in self.output.items():
            if key not in result:
                problems.append(f"{key}: missing from the result")
            elif result[key] != want:
                problems.append(f"{key}: expected {want!r}, got {result[key]!r}")
        for key, pattern in self.output_regex.items():
            value = result.get(key)
            if not isinstance(value, str) or not re.search(pattern, value):
                problems.append(f"{key}: {value!r} does not match /{pattern}/")
        if problems:
            raise AssertionError("\n".join(problems) + "\nresult: " + json.dumps(result, indent=2, sort_keys=True))


class UTHelper:
    """Loads a test specification and runs its cases against a module's ``main()``."""

    def __init__(self, module, spec, mocks=()):
        _check_keys(spec, SPEC_KEYS, "test specification", required=["test_cases"])
        self.module = module
        self.mock_classes = {cls.name: cls for cls in mocks}
        self.cases = [Case(case, self.mock_classes) for case in _check_list(spec["test_cases"], "test_cases")]
        ids = [case.id for case in self.cases]
        duplicates = sorted({case_id for case_id in ids if ids.count(case_id) > 1})
        if duplicates:
            raise ValueError(f"duplicate test case id(s): {duplicates}")

    @classmethod
    def from_spec(cls, module, test_module, spec, mocks=()):
        helper = cls(module, spec, mocks)
        helper.install(test_module)
        return helper

    @classmethod
    def from_file(cls, module, test_module, path, mocks=()):
        with open(path, encoding="utf-8") as stream:
            return cls.from_spec(module, test_module, yaml.safe_load(stream), mocks)

    @classmethod
    def from_module(cls, module, test_module_name, mocks=()):
        test_module = sys.modules[test_module_name]
        stem = os.path.splitext(test_module.__file__)[0]
        for path in (stem + ".yaml", stem + ".yml"):
            if os.path.exists(path):
                return cls.from_file(module, test_module, path, mocks)
        raise FileNotFoundError(f"no {stem}.yaml (or .yml) beside {test_module.__file__}")

    def install(self, test_module):
        """Add ``test_module``, one parametrized test over the cases, to the test module."""
        params = [pytest.param(case, id=case.id, marks=case.marks) for case in self.cases]

        @pytest.mark.parametrize("case", params)
        def test_module_(case):
            self.run(case)

        test_module.test_module = test_module_

    def run(self, case):
        """Run one case; raise AssertionError on a wrong call or a wrong result."""
        clock = FakeClock()
        mocks = [cls(case.mock_specs[name], clock) for name, cls in self.mock_classes.items()]
        try:
            printed = self._call_main(case, mocks)
        except Exception:
            for case_mock in mocks:
                case_mock.raise_recorded()  # a wrong call explains the crash better than its traceback
            raise
        for case_mock in mocks:
            case_mock.verify()
        try:
            result = json.loads(printed)
        except ValueError:
            raise AssertionError(f"the module printed no JSON result: {printed!r}") from None
        case.check_output(result)

    def _call_main(self, case, mocks):
        printed = io.StringIO()
        with contextlib.ExitStack() as stack:
            stack.enter_context(patch_module_args(case.module_args))
            for case_mock in mocks:
                case_mock.install(stack)
            stack.enter_context(contextlib.redirect_stdout(printed))
            try:
                self.module.main()
            except SystemExit:
                return printed.getvalue()
        raise AssertionError(f"{self.module.__name__}.main() returned without exit_json() or fail_json()")
