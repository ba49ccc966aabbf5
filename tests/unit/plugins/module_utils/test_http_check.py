# Copyright (c) 2025, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Table tests of the pure response matching and redaction in module_utils/http_check."""

from __future__ import annotations

import ssl

import pytest

from ansible_collections.visiquate.ccproxy.plugins.module_utils import http_check


def expect(status=(200,), json=None, body_regex=None, header_regex=None):
    return dict(status=list(status), json=json, body_regex=body_regex, header_regex=header_regex or {})


JSON_OK = b'{"status": "healthy", "db": {"ok": true, "ms": 3}, "models": [{"id": "a"}, {"id": "b", "up": 1}]}'

MISMATCHES = {
    "passes with status only": (200, [], b"", expect(), []),
    "status outside the list": (
        503, [], b"down", expect(status=(200, 204)),
        ["status: expected one of [200, 204], got 503 with body 'down'"]),
    "status outside the list, no body": (401, [], b"", expect(), ["status: expected one of [200], got 401"]),
    "json subset passes": (200, [], JSON_OK, expect(json={"status": "healthy", "db": {"ok": True}}), []),
    "json value differs": (
        200, [], JSON_OK, expect(json={"status": "ready"}),
        ['json.status: expected "ready", got "healthy"']),
    "json nested key missing": (200, [], JSON_OK, expect(json={"db": {"pool": 1}}), ["json.db.pool: missing"]),
    "json every problem listed": (
        200, [], JSON_OK, expect(json={"status": "x", "db": {"ok": False}, "gone": 1}),
        ['json.status: expected "x", got "healthy"', "json.db.ok: expected false, got true", "json.gone: missing"]),
    "json true is not 1": (200, [], JSON_OK, expect(json={"models": [{"up": True}]}),
                           ['json.models: expected a list containing [{"up": true}], got [{"id": "a"}, {"id": "b", "up": 1}]']),
    "json 3 equals 3.0": (200, [], JSON_OK, expect(json={"db": {"ms": 3.0}}), []),
    "json list items in any order": (200, [], JSON_OK, expect(json={"models": [{"id": "b"}, {"id": "a"}]}), []),
    "json list items must be distinct": (
        200, [], b'[{"a": 1, "b": 2}, {"c": 3}]', expect(json=[{"a": 1}, {"a": 1}]),
        ['json: expected a list containing [{"a": 1}, {"a": 1}], got [{"a": 1, "b": 2}, {"c": 3}]']),
    "json list pairing needs backtracking": (
        200, [], b'[{"a": 1, "b": 2}, {"a": 1}]', expect(json=[{"a": 1}, {"a": 1, "b": 2}]), []),
    "json object expected, list found": (
        200, [], b"[1]", expect(json={"a": 1}), ["json: expected an object, got [1]"]),
    "json expected, body is not JSON": (
        200, [], b"<html>", expect(json={"a": 1}), ["json: expected a JSON body containing {\"a\": 1}, got '<html>'"]),
    "json expected, no body": (204, [], b"", expect(status=(204,), json={}), ["json: expected a JSON body containing {}, got no body"]),
    "body_regex matches": (200, [], b"I'm alive!", expect(body_regex=r"alive"), []),
    "body_regex does not match": (
        200, [], b"starting", expect(body_regex=r"^alive"), ["body: expected to match /^alive/, got 'starting'"]),
    "undecodable bytes do not hide the rest": (200, [], b"\xff ok", expect(body_regex=r"ok$"), []),
    "long bodies are cut in messages": (
        500, [], b"x" * 300, expect(), [f"status: expected one of [200], got 500 with body '{'x' * 200}'..."]),
    "header_regex matches case-insensitively": (
        401, [("www-authenticate", 'Bearer realm="ccproxy"')], b"", expect(status=(401,), header_regex={"WWW-Authenticate": "^Bearer"}), []),
    "header_regex sees repeated headers joined": (
        200, [("Vary", "Accept"), ("vary", "Origin")], b"", expect(header_regex={"Vary": "Accept, Origin"}), []),
    "header_regex on a missing header": (
        200, [], b"", expect(header_regex={"X-Ready": "yes"}), ["header X-Ready: expected to match /yes/, missing"]),
    "header_regex mismatch shows the value": (
        200, [("Content-Type", "text/html")], b"", expect(header_regex={"content-type": "json"}),
        ["header content-type: expected to match /json/, got 'text/html'"]),
    "header_regex mismatch hides a sensitive value": (
        200, [("Set-Cookie", "session=s3cret")], b"", expect(header_regex={"Set-Cookie": "^id="}),
        ["header Set-Cookie: expected to match /^id=/, got '********'"]),
}


@pytest.mark.parametrize("status, headers, body, expectation, problems", MISMATCHES.values(), ids=MISMATCHES.keys())
def test_mismatches(status, headers, body, expectation, problems):
    assert http_check.mismatches(status, headers, body, expectation) == problems


GOOD = dict(url="http://127.0.0.1:8081/health", status=[200], body_regex=None, header_regex={}, headers={},
            bearer_token=None, api_key=None, timeout=10.0, wait=0.0, delay=1.0)

INVALID_OPTIONS = {
    "valid": ({}, []),
    "https, any case": ({"url": "HTTPS://mac-1:8443/"}, []),
    "no scheme": ({"url": "127.0.0.1:8081"}, ["url must start with http:// or https://, got '127.0.0.1:8081'"]),
    "status not HTTP": ({"status": [200, 42, 600]}, ["status 42 is not an HTTP status code", "status 600 is not an HTTP status code"]),
    "durations out of range": (
        {"timeout": 0.0, "wait": -1.0, "delay": 0.0},
        ["timeout must be more than 0, got 0.0", "wait must be 0 or more, got -1.0", "delay must be more than 0, got 0.0"]),
    "bad body_regex": ({"body_regex": "("}, ["body_regex is not a valid regular expression: missing ), unterminated subpattern at position 0"]),
    "bad header_regex": ({"header_regex": {"Vary": "["}}, ["header_regex[Vary] is not a valid regular expression: unterminated character set at position 0"]),
    "token and Authorization header": (
        {"bearer_token": "t", "headers": {"authorization": "Basic x"}}, ["give bearer_token or the Authorization header, not both"]),
    "api_key and X-Api-Key header": (
        {"api_key": "k", "headers": {"x-api-key": "k2"}}, ["give api_key or the X-Api-Key header, not both"]),
    "tokens without their headers": ({"bearer_token": "t", "api_key": "k", "headers": {"Accept": "*/*"}}, []),
}


@pytest.mark.parametrize("options, problems", INVALID_OPTIONS.values(), ids=INVALID_OPTIONS.keys())
def test_invalid_options(options, problems):
    assert http_check.invalid_options(dict(GOOD, **options)) == problems


SEEN = {
    "JSON body": (b'{"status": "ok"}', {"json": {"status": "ok"}}),
    "JSON scalar": (b"3", {"json": 3}),
    "text body": (b"I'm alive!", {"body": "I'm alive!"}),
    "empty body": (b"", {"body": ""}),
    "long text body is cut": (b"y" * 5000, {"body": "y" * http_check.BODY_LIMIT}),
}


@pytest.mark.parametrize("body, shown", SEEN.values(), ids=SEEN.keys())
def test_seen(body, shown):
    assert http_check.seen(body) == shown


def test_secrets_are_the_sensitive_header_values_and_the_token_longest_first():
    headers = {"Authorization": "Bearer tok", "X-Api-Key": "key-1", "Accept": "application/json", "Cookie": ""}
    assert http_check.secrets(headers, ["tok", None]) == ["Bearer tok", "key-1", "tok"]


REDACT = {
    "string": ("echoed tok back", "echoed ******** back"),
    "nested": ({"json": {"echo": ["Bearer tok", 3, None]}}, {"json": {"echo": ["********", 3, None]}}),
    "keys too": ({"tok": 1}, {"********": 1}),
    "tuple": (({"body": "tok"}, "msg tok"), ({"body": "********"}, "msg ********")),
    "nothing to hide": ("plain", "plain"),
}


@pytest.mark.parametrize("value, redacted", REDACT.values(), ids=REDACT.keys())
def test_redact(value, redacted):
    assert http_check.redact(value, ["Bearer tok", "tok"]) == redacted


@pytest.mark.parametrize("url, follow_redirects, made_by_request", [
    ("http://127.0.0.1:8081/health/readiness", False, False),
    ("HTTP://mac-mini-1.example.internal:8080/v1/models", False, False),
    ("http://127.0.0.1:8081/health/readiness", True, True),  # a redirect may go to https
    ("https://mac-mini-1.example.internal:8080/v1/models", False, True),
])
def test_only_a_request_that_may_use_tls_loads_the_system_cas(url, follow_redirects, made_by_request):
    context = http_check.tls_context(url, follow_redirects)
    if made_by_request:
        assert context is None  # urls.Request makes it, with the system's CAs or ca_path
    else:
        assert isinstance(context, ssl.SSLContext) and context.cert_store_stats()["x509"] == 0
