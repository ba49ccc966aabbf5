# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.boot_readiness's action: each tool's command, as the connection would run it
on the Mac, runs here under /bin/sh against stand-in tools that print what macOS prints (the
fixtures of the module's own tests); a tool that is not there is unknown, not an error. What the
facts mean is module_utils/boot.py's, tested with the module (test_boot_readiness.yaml)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from unittest import mock

import pytest

from ansible.errors import AnsibleActionFail
from ansible_collections.visiquate.ccproxy.plugins.action.boot_readiness import ActionModule, tool_command

FIXTURES = Path(__file__).parents[2] / "fixtures" / "boot"


def stand_in(directory, name, out="", err="", rc=0, expect_args=None):
    """An executable ``name`` that prints ``out`` and ``err`` and exits ``rc``; with ``expect_args``,
    exits 99 unless its arguments are those."""
    script = directory / name
    check = ""
    if expect_args is not None:
        check = '[ "$*" = %s ] || { echo "called with: $*" >&2; exit 99; }\n' % subprocess.list2cmdline([expect_args])
    script.write_text("#!/bin/sh\n%scat <<'OUT'\n%sOUT\ncat >&2 <<'ERR'\n%sERR\nexit %d\n" % (check, out, err, rc))
    script.chmod(0o755)


def action(args, tools):
    task = mock.MagicMock(args=args, check_mode=False, async_val=0, environment=[{}])
    connection = mock.MagicMock(transport="ssh")
    connection.has_option.return_value = True
    plugin = ActionModule(task, connection, mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    commands = []

    def execute(command, sudoable=True):
        commands.append(command)
        # As the Mac's shell would run it; /usr/bin and /bin for sh's own needs, none of macOS's tools.
        ran = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=False,
                             env={"PATH": "%s:/usr/bin:/bin" % tools})
        return {"rc": ran.returncode, "stdout": ran.stdout, "stderr": ran.stderr}

    plugin._low_level_execute_command = execute
    return plugin, connection, commands


def test_a_mac_set_up_to_serve_gives_no_warning_and_no_terminal_is_asked_for(tmp_path):
    stand_in(tmp_path, "fdesetup", "FileVault is Off.\n", expect_args="status")
    stand_in(tmp_path, "defaults", err="\nThe domain/default pair of (/Library/Preferences/com.apple.loginwindow, "
             "autoLoginUser) does not exist\n", rc=1,
             expect_args="read /Library/Preferences/com.apple.loginwindow autoLoginUser")
    stand_in(tmp_path, "pmset", (FIXTURES / "pmset-g-server.txt").read_text(), expect_args="-g")
    plugin, connection, commands = action({"user": "coder", "mode": "daemon", "connection": "ssh"}, tmp_path)
    result = plugin.run(task_vars={})
    assert result["boot"] == {"filevault": "off", "auto_login_user": "", "sleep_minutes": 0, "autorestart": True,
                              "remote_login": "on"}
    assert result["warnings_found"] == [] and "warnings" not in result and result["changed"] is False
    # Over SSH Remote Login is on, and is not asked: three round trips.
    assert len(commands) == 3
    connection.set_option.assert_called_once_with("use_tty", False)


def test_agent_mode_on_a_mac_with_its_defaults_warns_with_the_fix(tmp_path):
    stand_in(tmp_path, "fdesetup", "FileVault is On.\n")
    stand_in(tmp_path, "defaults", "admin\n")
    stand_in(tmp_path, "pmset", (FIXTURES / "pmset-g-defaults.txt").read_text())
    stand_in(tmp_path, "launchctl", err='Could not find service "com.openssh.sshd" in domain for system\n', rc=113,
             expect_args="print system/com.openssh.sshd")
    plugin, dummy, commands = action({"user": "coder", "mode": "agent", "connection": "local"}, tmp_path)
    result = plugin.run(task_vars={})
    assert result["boot"] == {"filevault": "on", "auto_login_user": "admin", "sleep_minutes": 10,
                              "autorestart": False, "remote_login": "off"}
    assert [w["fact"] for w in result["warnings_found"]] == \
        ["filevault", "auto_login_user", "sleep_minutes", "autorestart", "remote_login"]
    assert result["warnings"][2] == \
        "The Mac sleeps after 10 idle minutes, and a sleeping Mac serves nothing. Fix: sudo pmset -a sleep 0"
    assert len(commands) == 4


def test_tools_that_are_not_there_are_unknown_and_warned_about(tmp_path):
    plugin, dummy, dummy = action({"user": "coder"}, tmp_path)
    result = plugin.run(task_vars={})
    assert result["boot"] == {"filevault": "unknown", "auto_login_user": "unknown", "sleep_minutes": None,
                              "autorestart": None, "remote_login": "unknown"}
    assert not result.get("failed") and len(result["warnings"]) == 4


def test_a_wrong_option_fails_as_the_module_would(tmp_path):
    with pytest.raises(AnsibleActionFail, match="mode"):
        action({"user": "coder", "mode": "sometimes"}, tmp_path)[0].run(task_vars={})


def test_each_argument_reaches_the_tool_whole():
    assert tool_command(["defaults", "read", "/Library/My Prefs", "it's"]) == (
        "PATH=$PATH:/usr/sbin:/sbin; command -v defaults >/dev/null 2>&1 || exit 127; "
        "exec defaults read '/Library/My Prefs' 'it'\"'\"'s'")
