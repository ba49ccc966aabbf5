# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The launchctl runner: the only code in the collection that executes ``launchctl``.

One ``Launchctl`` is bound to one job (a domain, a label and its plist). It owns the binary
path, builds each argv from a step name, forces the C locale, refuses mutating steps in check
mode, and turns a failed exit status into a ``CommandFailed`` whose message comes from
``launchd.explain``. Waiting is bounded by one deadline and uses ``time.monotonic`` and
``time.sleep`` through ``time``, so tests can substitute a clock.
"""

from __future__ import annotations

import time
from collections import namedtuple

from ansible_collections.visiquate.ccproxy.plugins.module_utils import launchd
from ansible_collections.visiquate.ccproxy.plugins.module_utils.launchd import LaunchdError

Result = namedtuple("Result", "argv rc out err")

_SERVICE, _DOMAIN, _PLIST = "<service>", "<domain>", "<plist>"
# Step name (launchd.plan's vocabulary, plus the two reads) -> argv after the binary.
_ARGV = {
    "print": ("print", _SERVICE),
    "print-disabled": ("print-disabled", _DOMAIN),
    "bootstrap": ("bootstrap", _DOMAIN, _PLIST),
    "bootout": ("bootout", _SERVICE),
    "enable": ("enable", _SERVICE),
    "disable": ("disable", _SERVICE),
    "kickstart": ("kickstart", _SERVICE),
    "restart": ("kickstart", "-k", _SERVICE),
}
# bootout is asynchronous: each poll waits twice as long as the last, up to a second, never
# past the deadline. An eighth of a second to start: binary fractions keep the sums exact.
_FIRST_DELAY, _MAX_DELAY = 0.125, 1.0
_STALE = object()  # the job changed since it was last printed
# What read(missing_domain_ok=True) returns for a domain that does not exist (a gui domain with
# nobody logged in): not a job, and not a job that is merely not loaded.
DOMAIN_MISSING = object()


class CommandFailed(LaunchdError):
    """launchctl exited non-zero; ``details`` carry argv, rc and output for fail_json."""

    def __init__(self, msg, result):
        super().__init__(msg, cmd=result.argv, rc=result.rc, stdout=result.out,
                         stderr=result.err)


class NotRunning(LaunchdError):
    """The job did not keep one PID for ``min_uptime`` before the deadline."""

    def __init__(self, job, pids):
        super().__init__("not running")
        self.job, self.pids = job, pids


def _delays():
    delay = _FIRST_DELAY
    while True:
        yield delay
        delay = min(delay * 2, _MAX_DELAY)


class Launchctl:
    """Runs launchctl for one job: ``<domain>/<label>``, bootstrapped from ``plist``."""

    def __init__(self, module, domain, label, plist=None):
        self.module = module
        self.binary = module.get_bin_path("launchctl", required=True)
        self.domain, self.label, self.plist = domain, label, plist
        self.target = "%s/%s" % (domain, label)

    def argv(self, step):
        values = {_SERVICE: self.target, _DOMAIN: self.domain,
                  _PLIST: self.plist.path if self.plist else None}
        return [self.binary] + [values.get(word, word) for word in _ARGV[step]]

    def run(self, step):
        if step in launchd.MUTATING and self.module.check_mode:
            raise LaunchdError("refusing to run launchctl %s in check mode" % step)
        argv = self.argv(step)
        # Parsers need launchctl's own words, whatever the Mac's language.
        rc, out, err = self.module.run_command(argv, environ_update={"LANG": "C", "LC_ALL": "C"})
        return Result(argv, rc, out, err)

    def fail(self, result):
        return CommandFailed(launchd.explain(result.rc, result.err, result.argv[1], self.domain,
                                             self.label, self.plist), result)

    def checked(self, step, ok=(0,)):
        result = self.run(step)
        if result.rc not in ok:
            raise self.fail(result)
        return result

    # ------------------------------------------------------------------------- reads

    def read(self, missing_domain_ok=False):
        """The loaded job as ``launchd.parse_print`` sees it, or ``None`` when not loaded.

        ``missing_domain_ok``: a domain that does not exist (a gui domain with nobody logged in)
        holds no job; it reads as ``DOMAIN_MISSING`` instead of failing.
        """
        ok = (0, launchd.NOT_LOADED) + (launchd.NO_DOMAIN if missing_domain_ok else ())
        result = self.checked("print", ok=ok)
        if result.rc in launchd.NO_DOMAIN:
            return DOMAIN_MISSING
        return launchd.parse_print(result.out) if result.rc == 0 else None

    def disabled(self):
        """Whether the domain's persistent store disables the label (absent: enabled)."""
        out = self.checked("print-disabled").out
        return launchd.parse_print_disabled(out).get(self.label, False)

    # ------------------------------------------------------------------------- acting

    def apply(self, steps, timeout, min_uptime=0, old_pid=None, job=None):
        """Run ``launchd.plan`` steps within ``timeout`` seconds; return the job as last seen
        (``None`` when not loaded). ``job`` is the job as printed before the first step."""
        deadline = time.monotonic() + timeout
        for step in steps:
            if step == "wait_gone":
                self.wait_gone(deadline)
                job = None
            elif step == "wait_running":
                job = self.wait_running(deadline, min_uptime, old_pid)
            elif step == "bootstrap":
                self.bootstrap(deadline, retry="bootout" in steps)
                job = _STALE
            elif step == "bootout":
                # 3/113: it went away by itself; 36/37: another bootout is under way.
                self.checked(step, ok=(0, launchd.NO_PROCESS, launchd.NOT_LOADED, 36, 37))
                job = _STALE
            else:
                self.checked(step)
        return self.read() if job is _STALE else job

    def bootstrap(self, deadline, retry):
        """bootstrap; after a bootout, launchd may still be tearing the old job down (5, 36,
        37), so those are retried with backoff until the deadline."""
        for delay in _delays():
            result = self.run("bootstrap")
            if result.rc == 0:
                return
            now = time.monotonic()
            if not retry or result.rc not in launchd.RETRY_AFTER_BOOTOUT or now >= deadline:
                raise self.fail(result)
            time.sleep(min(delay, deadline - now))

    def wait_gone(self, deadline):
        """Poll until launchd no longer knows the job: bootout returns before it is gone."""
        for delay in _delays():
            if self.read() is None:
                return
            now = time.monotonic()
            if now >= deadline:
                raise LaunchdError(
                    "%s was still loaded when the timeout ran out after bootout: its process "
                    "may be slow to exit (launchd sends SIGKILL after the job's ExitTimeOut, "
                    "shown as exit timeout by launchctl print); raise timeout" % self.target)
            time.sleep(min(delay, deadline - now))

    def wait_running(self, deadline, min_uptime=0, old_pid=None):
        """Poll until one PID (other than ``old_pid``) has been seen for ``min_uptime`` seconds.

        A crash-looping job shows a PID for most of each ThrottleInterval, then another: each
        new PID starts the count again, and the deadline ends it with ``NotRunning``.
        """
        pid, since, pids = None, None, []
        for delay in _delays():
            job = self.read()
            if job is None:
                raise LaunchdError("%s was booted out while waiting for it to run" % self.target)
            now = time.monotonic()
            if job["pid"] and job["pid"] != old_pid:
                if job["pid"] != pid:
                    pid, since = job["pid"], now
                    pids.append(pid)
                if now - since >= min_uptime:
                    return job
            else:
                pid = None
            if now >= deadline:
                raise NotRunning(job, pids)
            pause = min(delay, deadline - now)
            if pid:
                pause = min(pause, since + min_uptime - now)
            time.sleep(pause)
