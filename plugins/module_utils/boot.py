# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether a Mac serves again, unattended, after a reboot: parse what macOS says, then judge.

Functions of their arguments only: ``read`` takes the function that runs a macOS tool
(``fdesetup status``, ``defaults read`` of loginwindow's ``autoLoginUser``, ``pmset -g``,
``launchctl print system/com.openssh.sshd``): the boot_readiness action's (an SSH round trip a
tool, from the controller) or the module's (``run_command`` on the Mac).
"""

from __future__ import annotations

import re

UNKNOWN = "unknown"
LOGINWINDOW = "/Library/Preferences/com.apple.loginwindow"
SSH_CONNECTIONS = ("ssh", "paramiko", "paramiko_ssh", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh")


def parse_filevault(rc, out):
    """`fdesetup status` -> on, off, pending (on after the next restart) or unknown.

    macOS prints "FileVault is On.", "FileVault is Off.", "FileVault is Off, but will be enabled
    after the next restart.", or "Encryption in progress: ..." / "Decryption in progress: ...".
    """
    text = out.strip()
    if rc != 0 or not text:
        return UNKNOWN
    if text.startswith("FileVault is On") or text.startswith(("Encryption in progress", "Decryption in progress")):
        return "on"
    if text.startswith("FileVault is Off"):
        return "pending" if "will be enabled" in text else "off"
    return UNKNOWN


def parse_auto_login(rc, out, err):
    """`defaults read /Library/Preferences/com.apple.loginwindow autoLoginUser` -> user, "" or unknown.

    Exit 1 with "does not exist" means auto-login is off.
    """
    if rc == 0:
        return out.strip()
    if "does not exist" in err:
        return ""
    return UNKNOWN


def parse_pmset(out):
    """`pmset -g` -> {setting: value} of the settings in use (values as pmset prints them, first word)."""
    settings = {}
    for line in out.splitlines():
        # " sleep                1 (sleep prevented by powerd)"; headings start in column 0.
        found = re.match(r"^\s+(\w+)\s+(\S+)", line)
        if found:
            settings.setdefault(found.group(1), found.group(2))
    return settings


def remote_login(connection, rc):
    """on when this run came over SSH (it is on, then), else from the exit code of
    `launchctl print system/com.openssh.sshd` (None: launchctl could not be run)."""
    if connection in SSH_CONNECTIONS:
        return "on"
    if rc == 0:
        return "on"
    if rc == 113:  # launchd knows no such service: Remote Login is off
        return "off"
    return UNKNOWN


def assess(facts, user, mode):
    """The warnings for these facts: a list of {fact, message, fix}. An unknown fact is a warning too."""
    warnings = []

    def warn(fact, message, fix):
        warnings.append({"fact": fact, "message": message, "fix": fix})

    filevault = facts["filevault"]
    if filevault in ("on", "pending"):
        warn("filevault",
             "FileVault is %s: after a reboot the Mac waits at the disk unlock screen, and neither an "
             "auto-login nor ccproxy's jobs start until someone unlocks it."
             % ("on" if filevault == "on" else "turned on for the next restart"),
             "sudo fdesetup authrestart before a planned restart (it unlocks once), or sudo fdesetup disable")
    elif filevault == UNKNOWN:
        warn("filevault", "Could not read FileVault's state (fdesetup status).", "sudo fdesetup status")

    auto_login = facts["auto_login_user"]
    if mode == "agent" and auto_login != user:
        if auto_login == UNKNOWN:
            message = "Could not read whether %s logs in automatically; agent mode needs that login." % user
        else:
            message = ("Agent mode runs ccproxy in %s's GUI login, but the Mac logs in automatically as %s: "
                       "after a reboot nothing of ccproxy runs until %s logs in."
                       % (user, auto_login or "nobody", user))
        warn("auto_login_user", message,
             "sudo sysadminctl -autologin set -userName %s -password - (FileVault must be off), "
             "or set ccproxy_launchd_mode: daemon" % user)

    sleep = facts["sleep_minutes"]
    if sleep is None:
        warn("sleep_minutes", "Could not read the Mac's sleep setting (pmset -g).", "pmset -g")
    elif sleep != 0:
        warn("sleep_minutes",
             "The Mac sleeps after %d idle minutes, and a sleeping Mac serves nothing." % sleep,
             "sudo pmset -a sleep 0")

    if facts["autorestart"] is False:
        warn("autorestart", "The Mac stays off after a power failure.", "sudo pmset -a autorestart 1")

    if facts["remote_login"] == "off":
        warn("remote_login", "Remote Login is off: Ansible cannot reach this Mac over SSH.",
             "sudo systemsetup -setremotelogin on (or System Settings > General > Sharing > Remote Login)")
    elif facts["remote_login"] == UNKNOWN:
        warn("remote_login", "Could not read whether Remote Login is on.",
             "sudo launchctl print system/com.openssh.sshd")
    return warnings


def warning_text(warning):
    """One warning of ``assess`` as Ansible shows it."""
    return "%s Fix: %s" % (warning["message"], warning["fix"])


def facts_from(filevault, auto_login, pmset_out, remote):
    """The facts dict from parsed parts; pmset_out None means pmset could not be run."""
    settings = parse_pmset(pmset_out) if pmset_out is not None else {}
    sleep = settings.get("sleep")
    autorestart = settings.get("autorestart")
    return {
        "filevault": filevault,
        "auto_login_user": auto_login,
        "sleep_minutes": int(sleep) if sleep is not None and sleep.isdigit() else None,
        "autorestart": None if autorestart is None or not autorestart.isdigit() else autorestart != "0",
        "remote_login": remote,
    }


def read(run, connection):
    """The facts, from ``run(argv)``: a macOS tool's ``(rc, out, err)``, or None when the tool is not on the
    machine. Over SSH, Remote Login is evidently on and not read."""
    filevault = run(["fdesetup", "status"])
    auto_login = run(["defaults", "read", LOGINWINDOW, "autoLoginUser"])
    pmset = run(["pmset", "-g"])
    sshd = None if connection in SSH_CONNECTIONS else run(["launchctl", "print", "system/com.openssh.sshd"])
    return facts_from(
        parse_filevault(filevault[0], filevault[1]) if filevault else UNKNOWN,
        parse_auto_login(*auto_login) if auto_login else UNKNOWN,
        pmset[1] if pmset and pmset[0] == 0 else None,
        remote_login(connection, sshd[0] if sshd else None),
    )
