# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action for visiquate.ccproxy.boot_readiness: each macOS tool runs on the Mac as a command of its
own over the connection (an SSH round trip), and what it printed is judged here. A module run would
cost a Python start and Ansible's module code on the Mac first (~0.25 s on the test bed), on every
converge, for four commands."""

from __future__ import annotations

import shlex

from ansible.plugins.action import ActionBase

from ansible_collections.visiquate.ccproxy.plugins.module_utils import boot
from ansible_collections.visiquate.ccproxy.plugins.modules.boot_readiness import ARGUMENT_SPEC

# The shell's own exit code for a command it cannot find: the tool is not on this machine.
MISSING = 127


def tool_command(argv):
    """The shell command that runs ``argv`` where macOS keeps its tools, or exits MISSING without it."""
    return "PATH=$PATH:/usr/sbin:/sbin; command -v %s >/dev/null 2>&1 || exit %d; exec %s" % (
        shlex.quote(argv[0]), MISSING, " ".join(shlex.quote(arg) for arg in argv))


class ActionModule(ActionBase):

    _supports_check_mode = True  # it only reads

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # Raises AnsibleActionFail with the module's own wording for a wrong option.
        dummy, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        # A terminal would turn each \n of a tool's output into \r\n and mix its stderr into stdout.
        if self._connection.has_option("use_tty"):
            self._connection.set_option("use_tty", False)
        facts = boot.read(self.run_tool, params["connection"])
        found = boot.assess(facts, params["user"], params["mode"])
        result.update(changed=False, boot=facts, warnings_found=found)
        if found:
            result["warnings"] = [boot.warning_text(warning) for warning in found]
        return result

    def run_tool(self, argv):
        """(rc, out, err) of a macOS tool on the target, or None when it is not there."""
        ran = self._low_level_execute_command(tool_command(argv), sudoable=True)
        if ran["rc"] == MISSING:
            return None
        return ran["rc"], ran["stdout"], ran["stderr"]
