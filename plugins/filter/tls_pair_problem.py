# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: tls_pair_problem
short_description: What keeps a given TLS certificate and key from serving
version_added: 0.1.0
description:
  - Reads a certificate and its private key (PEM text) on the controller and says what is wrong
    with them, naming the variable to fix; an empty string when they will serve.
  - Wrong are one of the two given without the other, a certificate that is not PEM text (a
    file's path given instead, say), a key that is not the certificate's (or not PEM, or
    encrypted), and an expired certificate. Traefik would load none of them and serve its own
    default certificate, which no client trusts. Neither given is right (a self-signed one is made).
  - traefik_route's preflight checks C(ccproxy_traefik_tls_cert) and C(ccproxy_traefik_tls_key)
    with it before any change, the gateway role's C(ccproxy_gateway_tls_cert) and
    C(ccproxy_gateway_tls_key).
options:
  _input:
    description: The certificate (C(ccproxy_traefik_tls_cert)).
    type: string
    required: true
  key:
    description: Its private key (C(ccproxy_traefik_tls_key)).
    type: string
    required: true
  variables:
    description: The prefix of the two variables the sentence names, C(<variables>_cert) and C(<variables>_key).
    type: string
    default: ccproxy_traefik_tls
"""

EXAMPLES = r"""
- name: Refuse a certificate and key that would not serve
  ansible.builtin.assert:
    that: _problem | length == 0
    fail_msg: "{{ _problem }}"
    quiet: true
  vars:
    _problem: "{{ ccproxy_traefik_tls_cert | visiquate.ccproxy.tls_pair_problem(ccproxy_traefik_tls_key) }}"

- name: The same for the gateway's pair, named by its variables
  ansible.builtin.assert:
    that: _problem | length == 0
    fail_msg: "{{ _problem }}"
    quiet: true
  vars:
    _problem: >-
      {{ ccproxy_gateway_tls_cert
         | visiquate.ccproxy.tls_pair_problem(ccproxy_gateway_tls_key, 'ccproxy_gateway_tls') }}
"""

RETURN = r"""
_value:
  description: A sentence naming what is wrong and the variable to fix, or an empty string.
  type: string
"""

import datetime

from ansible_collections.visiquate.ccproxy.plugins.plugin_utils import tls


def tls_pair_problem(cert, key, variables="ccproxy_traefik_tls"):
    """``tls.given_pair_problem`` now."""
    return tls.given_pair_problem(str(cert or ""), str(key or ""), datetime.datetime.now(datetime.timezone.utc),
                                  str(variables))


class FilterModule:
    def filters(self):
        return {"tls_pair_problem": tls_pair_problem}
