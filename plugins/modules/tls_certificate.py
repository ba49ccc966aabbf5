#!/usr/bin/python
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tls_certificate
short_description: Keep a self-signed TLS certificate for a host's names, on the controller
version_added: 0.1.0
author:
  - VisiQuate ccproxy maintainers (@visiquate)
description:
  - Ensures that O(cert_path) holds a self-signed certificate for exactly O(names) that is valid for at least
    O(renew_days) more days, and that O(key_path) holds its private key. Otherwise makes a new EC P-256 key and
    certificate (O(days) long, for TLS servers only, not a CA) and writes both, the key readable by its owner only.
  - Runs on the controller, whatever the task's host, through its action plugin and the controller's
    C(cryptography) (a dependency of ansible-core). The Mac gets the files from the role (C(traefik_route)), and
    clients trust the certificate itself (for example C(SSL_CERT_FILE), C(NODE_EXTRA_CA_CERTS)).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports whether and why a new certificate would be made, and writes nothing.
  diff_mode:
    support: full
    details: The names and the expiry date before and after.
  platform:
    platforms: posix
    details: The controller's.
options:
  cert_path:
    description: Where the certificate (PEM) is kept on the controller. Its directory is created, mode C(0700).
    type: path
    required: true
  key_path:
    description: Where its private key (PEM, unencrypted) is kept on the controller, mode C(0600).
    type: path
    required: true
  names:
    description:
      - The DNS names and IP addresses clients use for the host. All are in the certificate's subject alternative
        names, which is what clients check; its common name is the first DNS name (lower-cased), or the first address
        if there is none. Repeats do not matter.
    type: list
    elements: str
    required: true
  days:
    description: How long a new certificate is valid, in days. 825 is the most that Apple's platforms accept.
    type: int
    default: 825
  renew_days:
    description: A certificate that expires within this many days is replaced.
    type: int
    default: 30
notes:
  - A certificate that is replaced must be given to the clients again, since they trust this certificate, not a CA.
"""

EXAMPLES = r"""
- name: Keep a certificate for the Mac's name and address, on the controller
  visiquate.ccproxy.tls_certificate:
    cert_path: ~/.config/ccproxy/tls/mac-mini-1.example.internal.crt
    key_path: ~/.config/ccproxy/tls/mac-mini-1.example.internal.key
    names: [mac-mini-1.example.internal, 192.0.2.21]
  delegate_to: localhost
  become: false
"""

RETURN = r"""
cert_path:
  description: The certificate's path on the controller.
  returned: always
  type: str
  sample: /home/admin/.config/ccproxy/tls/mac-mini-1.example.internal.crt
names:
  description: The names the certificate is for, DNS names then IP addresses, sorted.
  returned: always
  type: list
  elements: str
  sample: [mac-mini-1.example.internal, 192.0.2.21]
not_after:
  description: When the certificate expires (ISO 8601, UTC).
  returned: always
  type: str
  sample: "2029-03-02T10:15:00+00:00"
reason:
  description: Why a new certificate was (or in check mode, would be) made; empty when the current one was kept.
  returned: always
  type: str
  sample: no certificate yet
"""

from ansible.module_utils.basic import AnsibleModule

# The action plugin validates against this, too.
ARGUMENT_SPEC = dict(
    cert_path=dict(type="path", required=True),
    key_path=dict(type="path", required=True),
    names=dict(type="list", elements="str", required=True),
    days=dict(type="int", default=825),
    renew_days=dict(type="int", default=30),
)


def main():
    # Only reached when the action plugin is bypassed (for example by running this file directly).
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="visiquate.ccproxy.tls_certificate runs on the controller, through its action plugin")


if __name__ == "__main__":
    main()
