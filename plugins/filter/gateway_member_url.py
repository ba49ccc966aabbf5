# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: gateway_member_url
short_description: The URL a gateway reaches a Mac's Traefik at
version_added: 0.1.0
description:
  - The Mac's C(ccproxy_gateway_url) when it has one; else C(https://) for a Mac that serves over TLS
    (C(ccproxy_traefik_tls)), C(http://) for one that does not, to its address and C(ccproxy_traefik_port).
  - The one place the gateway role (the servers of its pools) and traefik_route (a roll-out's look
    for the Mac in each gateway's pool) derive it from, so that they agree. The default client URLs
    (C(ccproxy_client_base_url), C(ccproxy_gateway_client_url)) are made by it too, so that an IPv6
    address is in brackets there as well.
options:
  _input:
    description: The Mac's address (C(ansible_host), else its inventory name). An IPv6 address is put in brackets.
    type: string
    required: true
  port:
    description: Its Traefik's entrypoint port (C(ccproxy_traefik_port)), used as given (the argument specs check it).
    type: integer
    required: true
  tls:
    description: Whether it serves over TLS (C(ccproxy_traefik_tls)).
    type: boolean
    default: false
  url:
    description: Its C(ccproxy_gateway_url), which wins when given (not empty).
    type: string
"""

EXAMPLES = r"""
- name: Show where a gateway reaches mac1
  ansible.builtin.debug:
    msg: >-
      {{ hostvars['mac1'].ansible_host | default('mac1')
         | visiquate.ccproxy.gateway_member_url(8080, true, hostvars['mac1'].ccproxy_gateway_url | default(none)) }}
  # https://198.18.0.11:8080
"""

RETURN = r"""
_value:
  description: The URL, without a trailing slash.
  type: string
"""


def gateway_member_url(address, port, tls=False, url=None):
    """``url`` if given, else ``http(s)://address:port``, the scheme by ``tls``."""
    if url:
        return url
    # The port as given: a default made with this filter is rendered when the roles' argument
    # specs are checked, and the spec's error names a wrong port's variable; an error here would not.
    address = str(address)
    if ":" in address and not address.startswith("["):
        address = "[%s]" % address
    return "%s://%s:%s" % ("https" if tls else "http", address, port)


class FilterModule:
    def filters(self):
        return {"gateway_member_url": gateway_member_url}
