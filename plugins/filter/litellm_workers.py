# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: litellm_workers
short_description: The launchd label and port of each LiteLLM worker
version_added: 0.1.0
description:
  - Each LiteLLM worker is a launchd job of its own, one LiteLLM process on a port of its own
    behind Traefik's load balancer, so that they start and restart one at a time.
  - The first worker keeps the job's label and O(port); the others are C(<label>.2), C(<label>.3),
    ... on O(extra_ports_from) and the ports after it.
  - The one place the roles (litellm_config, service, traefik_route, preflight) derive the workers from.
options:
  _input:
    description: The LiteLLM job's launchd label (C(ccproxy_label)).
    type: string
    required: true
  port:
    description: The first worker's port (C(ccproxy_litellm_port)).
    type: integer
    required: true
  count:
    description: How many workers (C(ccproxy_litellm_workers)), at least 1.
    type: integer
    required: true
  extra_ports_from:
    description: The second worker's port (C(ccproxy_litellm_extra_ports_from)); the third's is the next, and so on.
    type: integer
    required: true
"""

EXAMPLES = r"""
- name: Show the workers ccproxy runs
  ansible.builtin.debug:
    msg: >-
      {{ 'com.visiquate.ccproxy' | visiquate.ccproxy.litellm_workers(8081, 3, 8084) }}
  # [{"label": "com.visiquate.ccproxy", "port": 8081, "worker": 1},
  #  {"label": "com.visiquate.ccproxy.2", "port": 8084, "worker": 2},
  #  {"label": "com.visiquate.ccproxy.3", "port": 8085, "worker": 3}]
"""

RETURN = r"""
_value:
  description: One entry per worker, the first first.
  type: list
  elements: dictionary
  contains:
    label:
      description: The worker's launchd label.
      type: string
    port:
      description: The port it listens on (127.0.0.1).
      type: integer
    worker:
      description: Its number, from 1.
      type: integer
"""

from ansible.errors import AnsibleFilterError


def litellm_workers(label, port, count, extra_ports_from):
    """The workers as [{label, port, worker}], the first on ``port`` with ``label`` itself."""
    try:
        port, count, extra_ports_from = int(port), int(count), int(extra_ports_from)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("litellm_workers: port, count and extra_ports_from must be integers (%s)" % exc)
    if count < 1:
        raise AnsibleFilterError("litellm_workers: count must be at least 1, not %d" % count)
    return [{"label": label, "port": port, "worker": 1}] + [
        {"label": "%s.%d" % (label, worker), "port": extra_ports_from + worker - 2, "worker": worker}
        for worker in range(2, count + 1)
    ]


class FilterModule:
    def filters(self):
        return {"litellm_workers": litellm_workers}
