#!/usr/bin/python
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: boot_readiness
short_description: Tell whether a Mac will serve again, with nobody at it, after a reboot
version_added: 0.1.0
author:
  - VisiQuate ccproxy maintainers (@visiquate)
description:
  - Reads the macOS settings that decide whether ccproxy comes back by itself after a reboot or a
    power failure, and warns about each one that stops it, with the command that fixes it.
  - "FileVault (C(fdesetup status)): when on, the Mac waits at the disk unlock screen after a
    reboot; neither an auto-login nor LaunchDaemons start until someone unlocks it."
  - "Auto-login (loginwindow's C(autoLoginUser)): O(mode=agent) runs ccproxy in O(user)'s GUI login,
    which after a reboot exists only if the Mac logs in as O(user) by itself."
  - "Sleep and restart after a power failure (C(pmset -g)): a sleeping Mac serves nothing."
  - "Remote Login (C(launchctl print system/com.openssh.sshd)), unless this run came over SSH."
  - Changes nothing and never fails on what it finds; it fails only on bad arguments.
  - Its action plugin runs each of these tools on the target as a command of its own over the connection (an SSH
    round trip each, with the task's C(become)) and judges their output on the controller. No module runs on the
    Mac, whose Python start and module code would cost more than the four commands.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Only reads; the same in check mode.
  diff_mode:
    support: N/A
    details: The module never changes anything, so there is nothing to diff.
  action:
    support: full
    details: The tools run on the target one command each; their output is judged on the controller.
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    platforms: darwin
options:
  user:
    description: The account that runs ccproxy's jobs (the roles' C(ccproxy_user)).
    type: str
    required: true
  mode:
    description: How ccproxy's jobs run (the roles' C(ccproxy_launchd_mode)); only V(agent) needs auto-login.
    type: str
    choices: [agent, daemon]
    default: agent
  connection:
    description:
      - The connection this run uses (pass C(ansible_connection)). Over SSH, Remote Login is evidently on
        and is not read.
    type: str
    default: ""
seealso:
  - module: visiquate.ccproxy.launchd_service
notes:
  - Each warning is also returned in RV(warnings_found), and shown as an Ansible warning.
  - A setting that cannot be read (for example a command missing on a machine that is not a Mac)
    is reported as unknown, with a warning.
"""

EXAMPLES = r"""
- name: Warn about what would keep ccproxy down after a reboot
  visiquate.ccproxy.boot_readiness:
    user: "{{ ccproxy_user }}"
    mode: "{{ ccproxy_launchd_mode }}"
    connection: "{{ ansible_connection }}"
  register: boot

- name: Fail a fleet roll-out on a Mac that would not come back after a reboot
  ansible.builtin.assert:
    that: boot.warnings_found | length == 0
    fail_msg: "{{ boot.warnings_found | map(attribute='fix') | list }}"
"""

RETURN = r"""
boot:
  description: What was read. C(unknown) (or null for numbers) where it could not be read.
  returned: always
  type: dict
  contains:
    filevault:
      description: V(on), V(off), V(pending) (on after the next restart) or V(unknown).
      type: str
      sample: "off"
    auto_login_user:
      description: The account the Mac logs in as by itself, an empty string for none, or V(unknown).
      type: str
      sample: coder
    sleep_minutes:
      description: Idle minutes before the system sleeps, C(0) for never.
      type: int
      sample: 0
    autorestart:
      description: Whether the Mac starts again after a power failure; null where pmset does not say.
      type: bool
      sample: true
    remote_login:
      description: V(on), V(off) or V(unknown).
      type: str
      sample: "on"
warnings_found:
  description: One entry per setting that would keep ccproxy down, or that could not be read.
  returned: always
  type: list
  elements: dict
  contains:
    fact:
      description: The key of RV(boot) the warning is about.
      type: str
    message:
      description: What happens after a reboot, and why.
      type: str
    fix:
      description: The command (or setting) that fixes it.
      type: str
  sample:
    - fact: sleep_minutes
      message: The Mac sleeps after 10 idle minutes, and a sleeping Mac serves nothing.
      fix: sudo pmset -a sleep 0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.visiquate.ccproxy.plugins.module_utils import boot

# The action plugin (plugins/action/boot_readiness.py) checks its arguments against the same spec.
ARGUMENT_SPEC = dict(
    user=dict(type="str", required=True),
    mode=dict(type="str", choices=["agent", "daemon"], default="agent"),
    connection=dict(type="str", default=""),
)


def run(module, argv):
    """(rc, out, err) of a macOS tool, or None when the tool is not on this machine."""
    path = module.get_bin_path(argv[0])
    if path is None:
        return None
    return module.run_command([path] + list(argv[1:]))


def main():
    # Only reached when the action plugin is bypassed (the module sent to the Mac as it is).
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    facts = boot.read(lambda argv: run(module, argv), module.params["connection"])
    found = boot.assess(facts, module.params["user"], module.params["mode"])
    for warning in found:
        module.warn(boot.warning_text(warning))
    module.exit_json(changed=False, boot=facts, warnings_found=found)


if __name__ == "__main__":
    main()
