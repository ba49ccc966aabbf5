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
    C(lookup('ansible.builtin.file', ...)). They travel in the module's arguments, so they must not be secret.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
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
options:
  files:
    description: The directories and files to ensure, in order (a directory before the files in it).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the directory or file.
        type: path
        required: true
      state:
        description:
          - V(directory) or V(file).
          - V(absent) removes a file that is there (a file no longer wanted, such as a flag); a directory or anything
            else in its place fails the module before any change.
        type: str
        choices: [directory, file, absent]
        default: file
      content:
        description: The file's whole content. Required for V(file).
        type: str
      owner:
        description: User owning the entry.
        type: str
      group:
        description: Group owning the entry.
        type: str
      mode:
        description: Permissions, as C(ansible.builtin.file) takes them (V("0644"), V(u=rw,go=r)).
        type: raw
      validate:
        description:
          - A command run on the new content before the file is replaced, with V(%s) standing for a temporary copy of
            it. A non-zero exit fails the module before it changes anything.
        type: str
      backup:
        description: Keep the file's old content in a timestamped copy beside it when it is replaced.
        type: bool
        default: false
      force:
        description:
          - V(false) keeps the content of a file that exists, whatever O(files[].content) says; only its owner, group
            and mode are managed. The content is written only when there is no file, as M(ansible.builtin.copy) does
            with O(ansible.builtin.copy#module:force=false); for a secret generated once and then kept.
        type: bool
        default: true
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

import os
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text


def current_state(path):
    """What is at ``path``: (None | "directory" | "file" | "other", the file's bytes or None)."""
    if os.path.islink(path):
        return "other", None
    if os.path.isdir(path):
        return "directory", None
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            return "file", handle.read()
    return ("other" if os.path.lexists(path) else None), None


def plan(entry, kind, old):
    """What ``entry`` needs given what is there: "mkdir", "write", "remove" or None; raises ValueError if it cannot
    be done."""
    if entry["state"] == "absent":
        if kind in (None, "file"):
            return "remove" if kind else None
        raise ValueError("%s exists and is not a regular file: not removed" % entry["path"])
    if entry["state"] == "directory":
        if kind == "directory":
            return None
        if kind is None:
            return "mkdir"
        raise ValueError("%s exists and is not a directory" % entry["path"])
    if kind not in (None, "file"):
        raise ValueError("%s exists and is not a regular file" % entry["path"])
    if kind == "file" and (not entry.get("force", True)
                           or old == to_bytes(entry["content"], errors="surrogate_or_strict")):
        return None
    return "write"


def missing_directories(path):
    """``path`` and its ancestors that do not exist, outermost first."""
    missing = []
    while path and not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing[::-1]


def attribute_args(module, entry, path):
    """``entry``'s owner, group and mode for ``path``, as set_fs_attributes_if_different takes them."""
    return module.load_file_common_arguments(
        {"path": path, "owner": entry["owner"], "group": entry["group"], "mode": entry["mode"]})


def content_diff(path, old, new):
    """The diff of a file's content, in the shape of ansible.builtin.copy's."""
    return {"before_header": path if old is not None else "%s (absent)" % path, "after_header": path,
            "before": to_text(old or b"", errors="surrogate_or_strict"), "after": new}


def validate(module, entry):
    """Run ``entry``'s validate command on its new content; fail the module if it does not pass."""
    handle, temp = tempfile.mkstemp(prefix=".validate-", dir=module.tmpdir)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(to_bytes(entry["content"], errors="surrogate_or_strict"))
        command = entry["validate"]
        rc, out, err = module.run_command(command % temp)
        if rc != 0:
            module.fail_json(msg="%s: the new content failed validation (%s), nothing was changed"
                                 % (entry["path"], command), rc=rc, stdout=out, stderr=err)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def write(module, entry):
    """Replace ``entry``'s file with its content atomically; return the backup's path or None."""
    path = entry["path"]
    backup = module.backup_local(path) if entry["backup"] and os.path.exists(path) else None
    # Beside the file (one filesystem, so the rename is atomic), with a name no config loader
    # takes for one of its files: Traefik loads every *.yml in its dynamic directory.
    try:
        handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
    except OSError as exc:
        module.fail_json(msg="%s: cannot write beside it: %s" % (path, to_native(exc)))
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(to_bytes(entry["content"], errors="surrogate_or_strict"))
        # The file takes the path with its owner, group and mode already set. atomic_move would
        # give a new file 0666 less the umask until they were (a secret, readable by anyone for
        # that moment), or the old file's mode to new content.
        if os.path.exists(path):
            old = os.stat(path)
            os.chown(temp, old.st_uid, old.st_gid)
            os.chmod(temp, stat.S_IMODE(old.st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temp, 0o666 & ~umask)
        module.set_fs_attributes_if_different(attribute_args(module, entry, temp), False)
        os.rename(temp, path)
    except OSError as exc:
        module.fail_json(msg="%s: cannot write it: %s" % (path, to_native(exc)))
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return backup


def run(module):
    entries = module.params["files"]
    for entry in entries:
        if entry["state"] == "file" and entry["content"] is None:
            module.fail_json(msg="%s: content is required for a file" % entry["path"])
        if entry["validate"] and "%s" not in entry["validate"]:
            module.fail_json(msg="%s: validate must contain %%s: %s" % (entry["path"], entry["validate"]))

    # Look at everything, and validate, before changing anything.
    plans = []
    for entry in entries:
        try:
            kind, old = current_state(entry["path"])
            plans.append((entry, plan(entry, kind, old), old))
        except ValueError as exc:
            module.fail_json(msg=to_native(exc))
        except OSError as exc:
            module.fail_json(msg="%s: cannot read it: %s" % (entry["path"], to_native(exc.strerror or exc)))
    if not module.check_mode:
        for entry, action, _old in plans:
            if action == "write" and entry["validate"]:
                validate(module, entry)

    results, diffs = [], []
    for entry, action, old in plans:
        path = entry["path"]
        result = {"path": path, "state": entry["state"], "changed": action is not None}
        # Attributes as ansible.builtin.file shows them; content as ansible.builtin.copy does.
        attributes = {"before": {"path": path}, "after": {"path": path}}
        if action == "mkdir":
            attributes["before"]["state"], attributes["after"]["state"] = "absent", "directory"
            if not module.check_mode:
                for created in missing_directories(path):
                    try:
                        os.mkdir(created)
                    except OSError as exc:
                        module.fail_json(msg="%s: cannot create it: %s" % (created, to_native(exc.strerror or exc)),
                                         files=results)
                    if created != path:
                        module.set_fs_attributes_if_different(attribute_args(module, entry, created), True)
        elif action == "remove":
            attributes["before"]["state"], attributes["after"]["state"] = "file", "absent"
            diffs.append(content_diff(path, old, ""))
            if not module.check_mode:
                try:
                    os.remove(path)
                except OSError as exc:
                    module.fail_json(msg="%s: cannot remove it: %s" % (path, to_native(exc.strerror or exc)),
                                     files=results)
        elif action == "write":
            diffs.append(content_diff(path, old, entry["content"]))
            if not module.check_mode:
                backup = write(module, entry)
                if backup:
                    result["backup_file"] = backup
        # A path that check mode did not create has no attributes to compare: it is changed already.
        if os.path.lexists(path) and entry["state"] != "absent":
            result["changed"] = module.set_fs_attributes_if_different(
                attribute_args(module, entry, path), result["changed"], attributes)
        if len(attributes["before"]) > 1 or len(attributes["after"]) > 1:
            diffs.append(attributes)
        results.append(result)
    return results, diffs


def main():
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "required": True, "options": {
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["directory", "file", "absent"], "default": "file"},
            "content": {"type": "str"},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "mode": {"type": "raw"},
            "validate": {"type": "str"},
            "backup": {"type": "bool", "default": False},
            "force": {"type": "bool", "default": True},
        }}},
        supports_check_mode=True,
    )
    results, diffs = run(module)
    extra = {"diff": diffs} if module._diff else {}
    module.exit_json(changed=any(result["changed"] for result in results), files=results, **extra)


if __name__ == "__main__":
    main()
