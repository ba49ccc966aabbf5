#!/usr/bin/python
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ollama_models
short_description: Ask Ollama which models it has and what each of them can do
version_added: 0.1.0
author:
  - VisiQuate ccproxy maintainers (@visiquate)
description:
  - Asks an Ollama server which models it has pulled (C(GET /api/tags)) and, for each of O(models) that it has,
    what the model can do (C(POST /api/show), its C(capabilities) such as C(completion), C(tools), C(thinking)).
  - One module run for what would otherwise be one request, and one task, per model.
  - Read-only, so it never reports C(changed) and runs in check mode too.
  - Fails when Ollama does not answer, or answers either request with anything but C(200).
  - Uses only C(ansible.module_utils.urls), so it runs on the target's own Python with no extra packages.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Only reads; the same in check mode.
  diff_mode:
    support: N/A
    details: The module never changes anything, so there is nothing to diff.
  platform:
    platforms: posix
options:
  url:
    description: Ollama's base URL, without a path.
    type: str
    default: http://127.0.0.1:11434
  models:
    description:
      - The models to look for, named as C(ollama pull) takes them. A name without a tag means its C(:latest),
        as in Ollama.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 10
seealso:
  - name: Ollama API
    description: The C(/api/tags) and C(/api/show) endpoints.
    link: https://github.com/ollama/ollama/blob/main/docs/api.md
"""

EXAMPLES = r"""
- name: Ask Ollama which models it has and what they can do
  visiquate.ccproxy.ollama_models:
    models: [llama3.2:3b, qwen3:8b]
  register: ollama

- name: Ensure every model is pulled
  ansible.builtin.assert:
    that: ollama.missing | length == 0
    fail_msg: "Run: {{ ollama.missing | map('regex_replace', '^', 'ollama pull ') | join('; ') }}"

- name: Show the models that can think
  ansible.builtin.debug:
    msg: "{{ ollama.capabilities | dict2items | selectattr('value', 'contains', 'thinking') | map(attribute='key') }}"
"""

RETURN = r"""
pulled:
  description: Every model Ollama has, named as C(/api/tags) lists them.
  returned: success
  type: list
  elements: str
  sample: [llama3.2:3b, qwen3:8b]
missing:
  description: The names in O(models), as given and without repeats, that Ollama does not have.
  returned: success
  type: list
  elements: str
  sample: [qwen2.5-coder:7b]
capabilities:
  description:
    - For each name in O(models) that Ollama has, as given, the capabilities C(/api/show) lists for it. Empty for an
      Ollama too old to report them.
  returned: success
  type: dict
  sample: {llama3.2:3b: [completion, tools], qwen3:8b: [completion, tools, thinking]}
"""

import json
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import urls

from ansible_collections.visiquate.ccproxy.plugins.module_utils import http_check

READ_LIMIT = 16 * 1024 * 1024  # bytes: /api/show carries the model's template and license


def full_name(name):
    """The name Ollama lists for ``name``: without a tag, its ``:latest``."""
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def missing(wanted, pulled):
    """The names in ``wanted`` (as given, first occurrence only) that ``pulled`` lacks."""
    have = {full_name(name) for name in pulled}
    seen = set()
    result = []
    for name in wanted:
        if full_name(name) not in have and name not in seen:
            result.append(name)
        seen.add(name)
    return result


def pulled_names(tags):
    """The model names in an ``/api/tags`` answer."""
    return [model["name"] for model in tags.get("models") or []]


def capabilities_of(show):
    """The capabilities in an ``/api/show`` answer; none for an Ollama that does not report them."""
    return list(show.get("capabilities") or [])


class OllamaError(Exception):
    pass


def session(url):
    """One ``urls.Request`` for every question of a run: Ollama's API does not redirect, so a
    plain http URL needs no TLS context (the system's CAs loaded once per request otherwise)."""
    return urls.Request(follow_redirects="none", context=http_check.tls_context(url, follow_redirects=False))


def ask(request, url, timeout, data=None):
    """The JSON of Ollama's answer to one request: GET, or POST with ``data`` as its JSON body."""
    try:
        response = request.open("GET" if data is None else "POST", url, timeout=timeout,
                                data=None if data is None else json.dumps(data),
                                headers={"Content-Type": "application/json"})
        with response:
            answer = json.loads(response.read(READ_LIMIT))
    except urllib.error.HTTPError as exc:
        raise OllamaError(f"{url} answered {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError, urls.ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise OllamaError(f"{url}: {reason}") from exc
    if not isinstance(answer, dict):  # something else on Ollama's port
        raise OllamaError(f"{url} answered JSON that is not an object: is Ollama what listens there?")
    return answer


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", default="http://127.0.0.1:11434"),
            models=dict(type="list", elements="str", default=[]),
            timeout=dict(type="float", default=10),
        ),
        supports_check_mode=True,
    )
    base = module.params["url"].rstrip("/")
    timeout = module.params["timeout"]
    request = session(base)
    try:
        pulled = pulled_names(ask(request, base + "/api/tags", timeout))
        absent = missing(module.params["models"], pulled)
        capabilities = {}
        for name in module.params["models"]:
            if name not in absent and name not in capabilities:
                capabilities[name] = capabilities_of(ask(request, base + "/api/show", timeout, {"model": name}))
    except OllamaError as exc:
        module.fail_json(msg=f"Ollama did not answer as expected: {exc}")
    module.exit_json(changed=False, pulled=pulled, missing=absent, capabilities=capabilities)


if __name__ == "__main__":
    main()
