# Copyright (c) 2025, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for visiquate.ccproxy.health_check (and ollama_models' requests): match one HTTP
response against an expectation, keep secrets out of what is shown, and give a request only the
TLS context it needs. Plain data in, plain data out, but for that context."""

from __future__ import annotations

import json
import re
import ssl

REDACTED = "********"
# Header values never shown, whichever side of the exchange they are on.
SENSITIVE_HEADERS = frozenset(("authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie"))
BODY_LIMIT = 4096  # characters of a non-JSON body returned to the play
EXCERPT_LIMIT = 200  # characters of a body quoted in a failure message
# Token options and the request header each one fills.
TOKEN_HEADERS = {"bearer_token": "Authorization", "api_key": "X-Api-Key"}
_MISSING = object()


def tls_context(url, follow_redirects):
    """The ``context`` for ``urls.Request``: ``None`` where the request may use TLS (it then makes
    one, loading the system's CAs: ~50 ms of CPU a request); for a plain http URL whose redirects
    are not followed, an empty one that is never used."""
    if follow_redirects or not url.lower().startswith("http://"):
        return None
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def invalid_options(params):
    """Problems with the module's options themselves, which no retry can fix."""
    problems = []
    if not re.match(r"https?://", params["url"], re.IGNORECASE):
        problems.append(f"url must start with http:// or https://, got {params['url']!r}")
    problems.extend(f"status {code} is not an HTTP status code" for code in params["status"] if not 100 <= code <= 599)
    if params["timeout"] <= 0:
        problems.append(f"timeout must be more than 0, got {params['timeout']}")
    if params["wait"] < 0:
        problems.append(f"wait must be 0 or more, got {params['wait']}")
    if params["delay"] <= 0:  # 0 would hammer the service for the whole wait
        problems.append(f"delay must be more than 0, got {params['delay']}")
    problems.extend(_invalid_patterns(params))
    sent = {name.lower() for name in params["headers"]}
    for option, header in TOKEN_HEADERS.items():
        if params[option] is not None and header.lower() in sent:
            problems.append(f"give {option} or the {header} header, not both")
    return problems


def _invalid_patterns(params):
    patterns = [("body_regex", params["body_regex"])]
    patterns.extend((f"header_regex[{name}]", pattern) for name, pattern in params["header_regex"].items())
    for where, pattern in patterns:
        if pattern is None:
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            yield f"{where} is not a valid regular expression: {exc}"


def decode(body):
    """The body as text; undecodable bytes must not hide the rest of the answer."""
    return body.decode("utf-8", errors="replace")


def parse_json(text):
    """The JSON value of ``text``, or ``_MISSING`` when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return _MISSING


def mismatches(status, headers, body, expect):
    """How a response differs from ``expect``; an empty list means it passes.

    ``headers`` is a list of (name, value) pairs, ``body`` bytes. ``expect`` has ``status`` (the
    accepted codes), ``json`` (a subset, or None), ``body_regex`` (or None) and ``header_regex``
    (header name -> regex).
    """
    text = decode(body)
    problems = []
    if status not in expect["status"]:
        body_note = f" with body {_quote(text)}" if text else ""
        problems.append(f"status: expected one of {expect['status']}, got {status}{body_note}")
    if expect["json"] is not None:
        actual = parse_json(text)
        if actual is _MISSING:
            problems.append(f"json: expected a JSON body containing {_show(expect['json'])}, got {_quote(text)}")
        else:
            problems.extend(json_mismatches(actual, expect["json"]))
    if expect["body_regex"] is not None and not re.search(expect["body_regex"], text):
        problems.append(f"body: expected to match /{expect['body_regex']}/, got {_quote(text)}")
    for name, pattern in expect["header_regex"].items():
        problems.extend(_header_mismatch(headers, name, pattern))
    return problems


def json_mismatches(actual, expected, path="json"):
    """How ``actual`` fails to contain ``expected``.

    Objects: every expected key must be present and its value must match, recursively; other keys
    are ignored. Lists: each expected item must match a different item of the actual list, in any
    order; other items are ignored. Scalars: equal, where true/false never equal 1/0.
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {_show(actual)}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems.extend(json_mismatches(actual[key], value, f"{path}.{key}"))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or not _contains_items(actual, expected):
            return [f"{path}: expected a list containing {_show(expected)}, got {_show(actual)}"]
        return []
    if isinstance(expected, bool) != isinstance(actual, bool) or expected != actual:
        return [f"{path}: expected {_show(expected)}, got {_show(actual)}"]
    return []


def _contains_items(actual, expected):
    """True when each expected item matches a distinct actual item (backtracking: lists in a
    health check are short, and a greedy pick can miss a valid pairing)."""
    if not expected:
        return True
    first, rest = expected[0], expected[1:]
    for index, item in enumerate(actual):
        if not json_mismatches(item, first) and _contains_items(actual[:index] + actual[index + 1:], rest):
            return True
    return False


def _header_mismatch(headers, name, pattern):
    values = [value for key, value in headers if key.lower() == name.lower()]
    if not values:
        return [f"header {name}: expected to match /{pattern}/, missing"]
    value = ", ".join(values)  # repeated headers, folded as RFC 9110 allows
    if re.search(pattern, value):
        return []
    shown = REDACTED if name.lower() in SENSITIVE_HEADERS else value
    return [f"header {name}: expected to match /{pattern}/, got {shown!r}"]


def seen(body):
    """What the play gets of a body: its JSON value, or its first BODY_LIMIT characters."""
    text = decode(body)
    value = parse_json(text)
    if value is _MISSING:
        return {"body": text[:BODY_LIMIT]}
    return {"json": value}


def _quote(text):
    """A body as a failure message shows it: quoted, and cut to EXCERPT_LIMIT characters."""
    if not text:
        return "no body"
    return repr(text[:EXCERPT_LIMIT]) + ("..." if len(text) > EXCERPT_LIMIT else "")


def _show(value):
    return json.dumps(value, sort_keys=True)


def secrets(headers, tokens=()):
    """The values to hide: the tokens and every sensitive header value sent."""
    found = [value for name, value in headers.items() if name.lower() in SENSITIVE_HEADERS and value]
    found.extend(token for token in tokens if token)
    return sorted(set(found), key=len, reverse=True)  # longest first: "Bearer x" before "x"


def redact(value, hidden):
    """``value`` (str, list, tuple or dict, nested) with every hidden string replaced by REDACTED."""
    if isinstance(value, str):
        for secret in hidden:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item, hidden) for item in value)
    if isinstance(value, dict):
        return {redact(key, hidden): redact(item, hidden) for key, item in value.items()}
    return value
