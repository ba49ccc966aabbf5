# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The files of visiquate.ccproxy.managed_files, shared with launchd_service (which writes a job's files and plist in
the run that loads it): look at every entry and validate before changing anything, then write atomically."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text


# The argument spec of one entry, for every module that takes ``files``.
ENTRY_OPTIONS = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["directory", "file", "absent"], "default": "file"},
    "content": {"type": "str"},
    # Its value is masked in everything the module returns and logs (the module's invocation,
    # which macOS's unified log keeps, included), from the moment the arguments are read.
    "secret_content": {"type": "str", "no_log": True},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "mode": {"type": "raw"},
    "validate": {"type": "str"},
    "backup": {"type": "bool", "default": False},
    "force": {"type": "bool", "default": True},
}


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


def content_diff(path, old, new, secret=False):
    """The diff of a file's content, in the shape of ansible.builtin.copy's; a secret's content replaced by a line
    saying so (two different lines, so that the diff still shows a change)."""
    before = to_text(old or b"", errors="surrogate_or_strict")
    if secret:
        before, new = ("(the old secret, not shown)\n" if old else ""), ("(the new secret, not shown)\n" if new else "")
    return {"before_header": path if old is not None else "%s (absent)" % path, "after_header": path,
            "before": before, "after": new}


def resolved(module, entry):
    """``entry`` with its content taken from content or secret_content, and ``secret`` saying which."""
    if entry.get("secret_content") is None:
        return dict(entry, secret=False)
    if entry["content"] is not None:
        module.fail_json(msg="%s: give content or secret_content, not both" % entry["path"])
    return dict(entry, content=entry["secret_content"], secret=True)


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


def account_id(name, kind):
    """The uid (``kind`` "user") or gid ("group") of ``name``, a name or a number; KeyError if
    this host has no such account."""
    if name.isdigit():
        return int(name)
    return pwd.getpwnam(name).pw_uid if kind == "user" else grp.getgrnam(name).gr_gid


def new_file_attributes(module, entry):
    """The owner, group and mode (-1: the writer's own) that ``entry``'s new content is written
    with: the entry's, else those of the file it replaces, else a new file's (0666 less the umask)."""
    try:
        old = os.lstat(entry["path"])
    except OSError:
        old = None
    ids = []
    for name, kind, kept in ((entry["owner"], "user", old and old.st_uid), (entry["group"], "group", old and old.st_gid)):
        if name is None:
            ids.append(-1 if old is None else kept)
            continue
        try:
            ids.append(account_id(name, kind))
        except KeyError:
            module.fail_json(msg="%s: no %s %s on this host" % (entry["path"], kind, name))
    mode = entry["mode"]
    if mode is None:
        if old is not None:
            mode = stat.S_IMODE(old.st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    elif not isinstance(mode, int):
        try:
            mode = int(mode, 8)
        except ValueError:
            # A symbolic mode, from the replaced file's mode or a new file's 0600 (mkstemp's).
            mode = module._symbolic_mode_to_octal(old or os.stat_result((0o100600,) + (0,) * 9), mode)
    return ids[0], ids[1], mode


def write(module, entry):
    """Replace ``entry``'s file with its content atomically; return the backup's path or None."""
    path = entry["path"]
    uid, gid, mode = new_file_attributes(module, entry)
    backup = module.backup_local(path) if entry["backup"] and os.path.exists(path) else None
    # Beside the file (one filesystem, so the rename is atomic), with a name no config loader
    # takes for one of its files: Traefik loads every *.yml in its dynamic directory.
    try:
        handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
    except OSError as exc:
        module.fail_json(msg="%s: cannot write beside it: %s" % (path, to_native(exc)))
    try:
        with os.fdopen(handle, "wb") as out:
            # Owner, group and mode on the open file, before any content: the content is never
            # under another mode (a secret, readable by anyone for a moment), and nothing is done
            # by name, which another user could swap for a link in a directory of theirs (a
            # LaunchAgents directory): root would chown or chmod the link's target.
            os.fchown(out.fileno(), uid, gid)
            os.fchmod(out.fileno(), mode)
            out.write(to_bytes(entry["content"], errors="surrogate_or_strict"))
        os.rename(temp, path)
    except OSError as exc:
        module.fail_json(msg="%s: cannot write it: %s" % (path, to_native(exc)))
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return backup


def ensure(module, entries):
    """Ensure ``entries`` in order (every validation first); their results and diffs. Fails the module on the
    first entry that cannot be ensured."""
    entries = [resolved(module, entry) for entry in entries]
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
            diffs.append(content_diff(path, old, "", entry["secret"]))
            if not module.check_mode:
                try:
                    os.remove(path)
                except OSError as exc:
                    module.fail_json(msg="%s: cannot remove it: %s" % (path, to_native(exc.strerror or exc)),
                                     files=results)
        elif action == "write":
            diffs.append(content_diff(path, old, entry["content"], entry["secret"]))
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
