#!/usr/bin/python
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: controller_secret
short_description: Keep a random secret in a file on the controller, readable by its owner only
version_added: 0.2.0
author:
  - VisiQuate ccproxy maintainers (@visiquate)
description:
  - Ensures that O(path) holds a secret, generated once and then reused, in a file of mode C(0600) whose directory
    has mode C(0700). A missing file is generated (O(prefix) and O(length) random letters, digits, C(-) and C(_),
    then a newline); an existing one is kept as it is, only its mode and its directory's mode are corrected.
  - Runs on the controller, whatever the task's host, through its action plugin, in the Ansible process itself; a
    converged run costs no module run. The secret is never returned, logged or shown in a diff; read it from the
    file (for example with P(ansible.builtin.file#lookup)).
  - An empty file fails the task before anything changes, since it is no secret; remove it to have a new one made.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would be generated or corrected, and writes nothing.
  diff_mode:
    support: full
    details: The modes of the directory and the file before and after; never the secret.
  platform:
    platforms: posix
    details: The controller's.
options:
  path:
    description:
      - The file on the controller. Its directory is created if missing (with mode C(0700); any missing parents
        with the umask's), or given mode C(0700).
      - A directory shared with others (sticky, as C(/tmp) is) or owned by another user fails the task before any
        change, rather than be locked to its owner.
    type: path
    required: true
  prefix:
    description: Text in front of the random part of a new secret (it tells one kind of secret from another).
    type: str
    default: ""
  length:
    description: The number of random characters of a new secret (at least 32, 6 bits each).
    type: int
    default: 40
notes:
  - Keep the file in a backup; a secret that is lost and generated again must be given to its users again.
seealso:
  - module: visiquate.ccproxy.tls_certificate
"""

EXAMPLES = r"""
- name: Ensure a client token is kept on the controller (generated once, then reused)
  visiquate.ccproxy.controller_secret:
    path: ~/.config/ccproxy/secrets/client-token
    prefix: ccp-
  run_once: true
  delegate_to: localhost
  become: false
"""

RETURN = r"""
path:
  description: The file's path on the controller.
  returned: always
  type: str
  sample: /home/admin/.config/ccproxy/secrets/client-token
generated:
  description: Whether a new secret was (or in check mode, would be) generated.
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule

# The action plugin validates against this, too.
ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    prefix=dict(type="str", default=""),
    length=dict(type="int", default=40),
)


def main():
    # Only reached when the action plugin is bypassed (for example by running this file directly).
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="visiquate.ccproxy.controller_secret runs on the controller, through its action plugin")


if __name__ == "__main__":
    main()
