# Copyright (c) 2025, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action for visiquate.ccproxy.health_check: a check that runs on the controller (the verification
from the client's side, ``delegate_to: localhost``) is made in this process, not in a module that a
new Python would have to start and unpack; anywhere else the module runs as usual."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.visiquate.ccproxy.plugins.modules import health_check


class ActionModule(ActionBase):

    _supports_check_mode = True  # the check only reads
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        if not self.in_process():
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result

        # Raises AnsibleActionFail with the module's own wording for a wrong option.
        dummy, params = self.validate_argument_spec(argument_spec=health_check.ARGUMENT_SPEC,
                                                    mutually_exclusive=health_check.MUTUALLY_EXCLUSIVE)
        checked, msg = health_check.check(params)
        result.update(checked, changed=False)
        if msg:
            result.update(failed=True, msg=msg)
        return result

    def in_process(self):
        """True when the module would run on this machine, as this process could run it: a local
        connection, no async, and no ``environment`` that only a module's process would get."""
        return (self._connection.transport == "local" and not self._task.async_val
                and not any(self._task.environment or ()))
