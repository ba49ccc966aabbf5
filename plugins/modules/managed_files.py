#!/usr/bin/python
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: managed_files
short_description: Ensure a role's directories and files, with their contents, owners and modes, in one run
version_added: 0.1.0
author:
  - VisiQuate ccproxy maintainers (@visiquate)
description:
  - Ensures each entry of O(files) in order, in one module run on the target, where C(ansible.builtin.template) or
    C(ansible.builtin.copy) cost two (C(stat), then C(file)) per file and C(ansible.builtin.file) one per directory.
    On a converged Mac most of a no-op run's time is these runs.
  - A directory is created if missing, and so are its missing parents, each with the directory's owner, group and
    mode (as C(ansible.builtin.file) does). A file is written when its content differs, to a temporary file beside it
    that is renamed over it, so that a reader never sees half a file.
  - Every O(files[].validate) command runs before anything is changed. If one fails, nothing is changed and the module
    fails with the command's output.
  - Contents come from the controller, usually with C(lookup('ansible.builtin.template', ...)) or
    C(lookup('ansible.builtin.file', ...)). A secret goes in O(files[].secret_content), which the module never shows.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - visiquate.ccproxy.managed_files
attributes:
  check_mode:
    support: full
    details: Reports what would change and changes nothing; validation commands are not run (the tools they use may
      not exist yet).
  diff_mode:
    support: full
    details: One diff per changed entry, with the file's old and new content and any owner, group or mode change.
  platform:
    platforms: posix
notes:
  - The entries' SELinux contexts and extended attributes are not managed; a Mac has no SELinux.
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Ensure the app's directories, launcher and config are in place
  visiquate.ccproxy.managed_files:
    files:
      - {path: /opt/app, state: directory, owner: root, group: wheel, mode: "0755"}
      - path: /opt/app/run.sh
        content: "{{ lookup('ansible.builtin.template', 'run.sh.j2') }}"
        owner: root
        group: wheel
        mode: "0755"
      - path: /opt/app/config.yaml
        content: "{{ lookup('ansible.builtin.template', 'config.yaml.j2') }}"
        owner: root
        group: staff
        mode: "0644"
        validate: python3 -c "import sys, yaml; yaml.safe_load(open(sys.argv[1]))" %s
        backup: true
      # Generated once, then kept; the other entries' diffs still show.
      - path: /opt/app/api.key
        secret_content: "{{ lookup('ansible.builtin.password', '/dev/null', length=48) }}"
        force: false
        owner: app
        group: staff
        mode: "0600"
      # Gone once the maintenance is over.
      - {path: /opt/app/maintenance.flag, state: absent}
  register: app_files

- name: Restart the app when its config changed
  ansible.builtin.debug:
    msg: restart
  when: app_files.files | selectattr('path', 'eq', '/opt/app/config.yaml') | selectattr('changed') | length > 0
"""

RETURN = r"""
files:
  description: One result per entry of O(files), in the same order.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The entry's path.
      type: str
    state:
      description: V(directory), V(file) or V(absent), as asked.
      type: str
    changed:
      description: Whether the entry was (in check mode, would be) created, rewritten or given other attributes.
      type: bool
    backup_file:
      description: Where the old content was kept, when O(files[].backup) replaced an existing file.
      type: str
      returned: when a backup was made
  sample:
    - {path: /opt/app, state: directory, changed: false}
    - {path: /opt/app/config.yaml, state: file, changed: true, backup_file: /opt/app/config.yaml.1234.2026-11-27@05:00:00~}
    - {path: /opt/app/maintenance.flag, state: absent, changed: false}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.visiquate.ccproxy.plugins.module_utils.managed_files import ENTRY_OPTIONS, ensure


def main():
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "default": [], "options": ENTRY_OPTIONS}},
        supports_check_mode=True,
    )
    results, diffs = ensure(module, module.params["files"])
    extra = {"diff": diffs} if module._diff else {}
    module.exit_json(changed=any(result["changed"] for result in results), files=results, **extra)


if __name__ == "__main__":
    main()
