#!/usr/bin/python
# Copyright (c) 2025, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: health_check
short_description: Assert that an HTTP service is up and behaves, within a deadline
version_added: 0.1.0
author:
  - VisiQuate ccproxy maintainers (@visiquate)
description:
  - Sends one HTTP request and checks the response against an expectation, made of accepted status codes, a JSON
    subset, a body pattern and header patterns.
  - With O(wait), repeats the request every O(delay) seconds until the response passes or O(wait) seconds have
    passed, so a play can wait for a service it has just (re)started. A request that gets no answer (connection
    refused, timeout, reset) is retried the same way; at the deadline the module fails with the last error.
  - Read-only by intent, so it never reports C(changed) and runs in check mode too.
  - On failure the message shows what was expected and what the last attempt saw.
  - Secrets are replaced by C(********) in messages and results. They are O(bearer_token), O(api_key), the values
    of the C(Authorization), C(Proxy-Authorization), C(X-Api-Key) and C(Cookie) request headers, and the values of
    those and C(Set-Cookie) response headers.
  - Uses only C(ansible.module_utils.urls), so it runs on the target's own Python with no extra packages.
  - When the task runs on the controller (C(delegate_to=localhost), a local connection), its action plugin
    sends the request from the controller's own process instead of starting a module there, saving that
    start-up (about half a second a task on a small machine). It does so only without C(async) and without
    the C(environment) keyword, whose settings only a module process would see.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: The request is sent in check mode as well, whatever O(method) is.
  diff_mode:
    support: N/A
    details: The module never changes anything, so there is nothing to diff.
  action:
    support: full
    details: Runs in the controller's process for a local connection; elsewhere the module runs on the target.
  async:
    support: full
  bypass_host_loop:
    support: none
  platform:
    platforms: posix
options:
  url:
    description:
      - The URL to request, C(http://) or C(https://).
    type: str
    required: true
  method:
    description:
      - The HTTP method.
      - The request is sent in check mode too, so use a method and URL without lasting effects.
    type: str
    default: GET
    choices: [GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS]
  headers:
    description:
      - Request headers, name to value.
      - Values of the C(Authorization), C(Proxy-Authorization), C(X-Api-Key) and C(Cookie) headers are hidden from
        the message and the results, but not from the task's own arguments, which Ansible shows at C(-v) like any
        option. Pass tokens in O(bearer_token) or O(api_key), which are never shown.
    type: dict
    default: {}
  bearer_token:
    description:
      - "Sent as C(Authorization: Bearer <token>)."
      - Mutually exclusive with an C(Authorization) header in O(headers).
    type: str
  api_key:
    description:
      - Sent as the C(X-Api-Key) header, the way Anthropic clients send their key.
      - Mutually exclusive with an C(X-Api-Key) header in O(headers).
    type: str
  body:
    description:
      - The request body, sent as given.
      - Mutually exclusive with O(json_body).
    type: str
  json_body:
    description:
      - "A value sent as the JSON request body, with C(Content-Type: application/json) unless O(headers) sets it."
      - Mutually exclusive with O(body).
    type: raw
  status:
    description:
      - The accepted status codes.
      - Redirects are not followed unless O(follow_redirects=true), so a C(3xx) status can be asserted too.
    type: list
    elements: int
    default: [200]
  json:
    description:
      - A subset the response body, parsed as JSON, must contain.
      - An object matches when every key given is present and its value matches, recursively; other keys are
        ignored.
      - A list matches when each item given matches a different item of the response's list, in any order; other
        items are ignored.
      - Other values must be equal. V(true) and V(false) never equal V(1) and V(0).
      - V(null) means no JSON check.
    type: raw
  body_regex:
    description:
      - A regular expression (Python syntax) that must match somewhere in the response body.
    type: str
  header_regex:
    description:
      - Response header name to a regular expression that must match somewhere in its value.
      - Header names are case-insensitive. A repeated header's values are joined with C(, ).
      - A header named here that is missing from the response fails the check.
    type: dict
    default: {}
  timeout:
    description:
      - Seconds each request may take, to connect and to read the response.
    type: float
    default: 10
  wait:
    description:
      - Seconds to keep trying until the response passes. The deadline is this long after the first request
        starts.
      - V(0) sends a single request.
      - The module can run past the deadline by up to O(timeout), the time the last request may take.
    type: float
    default: 0
  delay:
    description:
      - Seconds to pause between attempts while O(wait) lasts. The last pause is cut short so that the last
        attempt starts at the deadline.
    type: float
    default: 1
  validate_certs:
    description:
      - Verify the server's TLS certificate. Prefer O(ca_path) for a self-signed certificate to turning this off.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of the certificates to trust, instead of the system's, for example a host's self-signed
        certificate.
    type: path
  follow_redirects:
    description:
      - Follow redirects of C(GET) and C(HEAD) requests and check the final response.
      - When V(false), the redirect itself is the response, and its status must be in O(status).
    type: bool
    default: false
  use_proxy:
    description:
      - Use the proxy that the environment (C(http_proxy), C(https_proxy), C(no_proxy)) names, if any.
    type: bool
    default: true
notes:
  - The response body is read up to 1 MiB. The O(json) and O(body_regex) checks see all of that.
seealso:
  - module: ansible.builtin.uri
    description: Any HTTP request, without a deadline.
  - module: ansible.builtin.wait_for
    description: Wait for a port to open, without looking at what answers.
"""

EXAMPLES = r"""
---
- name: Wait up to 60 s for LiteLLM to come up after a restart
  visiquate.ccproxy.health_check:
    url: http://127.0.0.1:8081/health/liveliness
    wait: 60
    delay: 2

- name: Check that LiteLLM is ready and says so
  visiquate.ccproxy.health_check:
    url: http://127.0.0.1:8081/health/readiness
    json:
      status: healthy
    wait: 30

- name: Check that Traefik refuses a request without a token
  visiquate.ccproxy.health_check:
    url: "http://{{ inventory_hostname }}:8080/v1/models"
    status: [401]
    header_regex:
      WWW-Authenticate: ^Bearer
  delegate_to: localhost

- name: Check that a client token lists the Claude aliases
  visiquate.ccproxy.health_check:
    url: "http://{{ inventory_hostname }}:8080/v1/models"
    bearer_token: "{{ ccproxy_client_token }}"
    json:
      data:
        - id: claude-sonnet-4-5
  delegate_to: localhost
  register: models

- name: Send a chat completion and expect an answer from the model
  visiquate.ccproxy.health_check:
    url: http://127.0.0.1:8080/v1/chat/completions
    method: POST
    api_key: "{{ ccproxy_client_token }}"
    json_body:
      model: claude-sonnet-4-5
      max_tokens: 8
      messages:
        - role: user
          content: Say OK.
    body_regex: '"choices"'
    timeout: 120
"""

RETURN = r"""
---
status:
  description: The HTTP status of the last response.
  returned: when the last attempt got a response
  type: int
  sample: 200
json:
  description: The body of the last response, parsed as JSON, with secrets replaced by C(********).
  returned: when the last attempt got a response whose body is JSON
  type: raw
  sample: {"status": "healthy", "litellm_version": "1.74.9"}
body:
  description: The first 4096 characters of the body of the last response, with secrets replaced by C(********).
  returned: when the last attempt got a response whose body is not JSON
  type: str
  sample: "I'm alive!"
latency_ms:
  description: Milliseconds the last attempt took, from sending the request to reading the body (or the error).
  returned: always
  type: int
  sample: 12
attempts:
  description: The number of requests sent.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds from the first request to the end of the last attempt.
  returned: always
  type: float
  sample: 4.012
"""

import http.client
import json
import time
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import urls

from ansible_collections.visiquate.ccproxy.plugins.module_utils import http_check

READ_LIMIT = 1024 * 1024  # bytes of a response body read and checked
# What a request can raise without a response; HTTPError (a response) is handled before these.
REQUEST_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException, urls.ConnectionError)


def request_of(params):
    """The keyword arguments of ``Request.open`` (what ``open_url`` calls) for one attempt."""
    headers = {name: str(value) for name, value in params["headers"].items()}
    data = None
    if params["bearer_token"] is not None:
        headers["Authorization"] = "Bearer " + params["bearer_token"]
    if params["api_key"] is not None:
        headers["X-Api-Key"] = params["api_key"]
    if params["json_body"] is not None:
        data = json.dumps(params["json_body"]).encode("utf-8")
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    elif params["body"] is not None:
        data = params["body"].encode("utf-8")
    return dict(url=params["url"], method=params["method"], headers=headers, data=data, timeout=params["timeout"],
                validate_certs=params["validate_certs"], ca_path=params["ca_path"], use_proxy=params["use_proxy"],
                follow_redirects="safe" if params["follow_redirects"] else "none",
                context=http_check.tls_context(params["url"], params["follow_redirects"]))


def send(request):
    """(status, header pairs, body bytes) of one request; a status outside 2xx is an answer too."""
    try:
        response = urls.Request().open(**request)
    except urllib.error.HTTPError as exc:
        if exc.fp is None:  # an error built without a body (the with below would fail on it)
            return exc.code, list(exc.headers.items()), b""
        response = exc
    with response:
        return response.code, list(response.headers.items()), response.read(READ_LIMIT)


def attempt(request, expect):
    """One request, checked: a dict with ``problems`` (empty when it passes), ``latency_ms`` and,
    when there was an answer, ``status`` and ``body``."""
    started = time.monotonic()
    try:
        status, headers, body = send(request)
    except REQUEST_ERRORS as exc:
        return dict(problems=[f"expected a response, got {describe(exc)}"], latency_ms=_ms_since(started))
    return dict(problems=http_check.mismatches(status, headers, body, expect), latency_ms=_ms_since(started),
                status=status, body=body)


def describe(exc):
    reason = getattr(exc, "reason", None)  # URLError wraps the OSError that says what happened
    if isinstance(exc, urllib.error.URLError) and reason is not None:
        return str(reason)
    return str(exc) or type(exc).__name__


def _ms_since(started):
    return int(round((time.monotonic() - started) * 1000))


def probe_until(try_once, wait, delay, clock, sleep):
    """Call ``try_once`` until its result has no problems or ``wait`` seconds have passed.

    The last pause is cut short so that one attempt starts at the deadline. Returns the last
    result, the number of attempts and the seconds elapsed.
    """
    start = clock()
    deadline = start + wait
    attempts = 0
    while True:
        attempts += 1
        outcome = try_once()
        remaining = deadline - clock()
        if not outcome["problems"] or remaining <= 0:
            return outcome, attempts, clock() - start
        sleep(min(delay, remaining))


ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True),
    method=dict(type="str", default="GET", choices=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    headers=dict(type="dict", default={}),
    bearer_token=dict(type="str", no_log=True),
    api_key=dict(type="str", no_log=True),
    body=dict(type="str"),
    json_body=dict(type="raw"),
    status=dict(type="list", elements="int", default=[200]),
    json=dict(type="raw"),
    body_regex=dict(type="str"),
    header_regex=dict(type="dict", default={}),
    timeout=dict(type="float", default=10),
    wait=dict(type="float", default=0),
    delay=dict(type="float", default=1),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    follow_redirects=dict(type="bool", default=False),
    use_proxy=dict(type="bool", default=True),
)


def report(params, outcome, attempts, elapsed):
    """The result of the last attempt and, when it did not pass, the message that says why."""
    result = dict(latency_ms=outcome["latency_ms"], attempts=attempts, elapsed=round(elapsed, 3))
    if "status" in outcome:
        result.update(status=outcome["status"], **http_check.seen(outcome["body"]))
    if not outcome["problems"]:
        return result, None
    msg = (f"{params['method']} {params['url']}: no passing response after {attempts} attempt(s) in "
           f"{result['elapsed']} s; last seen: {'; '.join(outcome['problems'])}")
    return result, msg


MUTUALLY_EXCLUSIVE = [("body", "json_body")]


def check(params):
    """Run the check that ``params`` (validated against ARGUMENT_SPEC) describe: the result to
    return and, when it failed, the message. Shared with the action plugin, which calls it in the
    controller's own process when the task runs there."""
    problems = http_check.invalid_options(params)
    if problems:
        return {}, "; ".join(problems)
    request = request_of(params)
    expect = dict(status=params["status"], json=params["json"], body_regex=params["body_regex"],
                  header_regex=params["header_regex"])
    # time is looked up here, at call time, so that unit tests can put a fake clock in its place.
    outcome, attempts, elapsed = probe_until(lambda: attempt(request, expect), params["wait"], params["delay"],
                                             time.monotonic, time.sleep)
    hidden = http_check.secrets(request["headers"], [params["bearer_token"], params["api_key"]])
    return http_check.redact(report(params, outcome, attempts, elapsed), hidden)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                           supports_check_mode=True)
    result, msg = check(module.params)
    if msg:
        module.fail_json(msg=msg, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
