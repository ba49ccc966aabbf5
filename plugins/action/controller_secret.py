# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action for visiquate.ccproxy.controller_secret: all of it runs here, on the controller."""

from __future__ import annotations

import os
import secrets
import stat
import string

from ansible.plugins.action import ActionBase

from ansible_collections.visiquate.ccproxy.plugins.modules.controller_secret import ARGUMENT_SPEC
from ansible_collections.visiquate.ccproxy.plugins.plugin_utils.private_files import write_private

ALPHABET = string.ascii_letters + string.digits + "-_"
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
MIN_LENGTH = 32


def mode_of(path):
    """The permission bits of ``path`` (following links), or None when there is nothing."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def plan(directory_mode, file_mode):
    """The steps from the modes seen (None: missing) to a private directory holding the secret."""
    steps = []
    if directory_mode is not None and directory_mode != DIRECTORY_MODE:
        steps.append("chmod directory")
    if file_mode is None:
        steps.append("generate")
    elif file_mode != FILE_MODE:
        steps.append("chmod file")
    return steps


def unfit_directory(directory, st_mode, st_uid, uid):
    """Why ``directory`` must not be made private (None when it may): it is shared (sticky, as
    /tmp is) or someone else's; chmod 0700 would lock the others out of it."""
    if st_mode & stat.S_ISVTX:
        return "%s is a shared directory (sticky, as /tmp is)" % directory
    if st_uid != uid:
        return "%s belongs to uid %d, not to this user (uid %d)" % (directory, st_uid, uid)
    return None


def describe(directory, directory_mode, path, file_mode):
    """The diff's view: modes only, never the secret."""
    def line(name, mode, what):
        return "%s: %s\n" % (name, "absent" if mode is None else "mode %04o%s" % (mode, what))
    return line(directory, directory_mode, "") + line(path, file_mode, ", a secret")


def generate(prefix, length):
    return prefix + "".join(secrets.choice(ALPHABET) for dummy in range(length)) + "\n"


class ActionModule(ActionBase):

    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        path = params["path"]
        directory = os.path.dirname(path) or "."
        if params["length"] < MIN_LENGTH:
            return dict(result, failed=True, msg="length must be at least %d, not %d" % (MIN_LENGTH, params["length"]))
        if os.path.isdir(path):
            return dict(result, failed=True, msg="%s is a directory, not a file for the secret" % path)
        directory_mode, file_mode = mode_of(directory), mode_of(path)
        if file_mode is not None and os.path.getsize(path) == 0:
            return dict(result, failed=True, msg="%s is empty, so it holds no secret: remove it to have a new one"
                        " generated (and give the new one to whoever used the old)" % path)
        steps = plan(directory_mode, file_mode)
        if "chmod directory" in steps:
            st = os.stat(directory)
            why = unfit_directory(directory, st.st_mode, st.st_uid, os.geteuid())
            if why:
                return dict(result, failed=True, msg="%s: the secret's directory is made readable by its owner only, "
                            "and this one is not for that. Keep the secret in a directory of its own." % why)
        if steps and not self._task.check_mode:
            try:
                if "chmod directory" in steps:
                    os.chmod(directory, DIRECTORY_MODE)
                if "generate" in steps:
                    write_private(path, generate(params["prefix"], params["length"]), FILE_MODE)
                if "chmod file" in steps:
                    os.chmod(path, FILE_MODE)
            except OSError as exc:
                return dict(result, failed=True, msg="%s: %s" % (exc.filename or path, exc.strerror))
        result.update(changed=bool(steps), path=path, generated="generate" in steps)
        if self._task.diff and steps:
            result["diff"] = dict(before=describe(directory, directory_mode, path, file_mode),
                                  after=describe(directory, DIRECTORY_MODE, path, FILE_MODE))
        return result
