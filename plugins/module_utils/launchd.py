# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""launchd knowledge as data: parse ``launchctl`` output, compare jobs, plan, explain.

Everything here is a function of its arguments, except ``load_plist``, ``tail`` and ``modified``
(small file reads) and ``precise_start`` (a read of the kernel's process table). Nothing runs
``launchctl`` (that is ``launchctl.py``) and nothing imports ``AnsibleModule``, so each rule can
be tested as a table.
"""

from __future__ import annotations

import base64
import ctypes
import datetime
import json
import os
import plistlib
import posixpath
import re
import stat
import struct
import sys
import time
from collections import namedtuple


class LaunchdError(Exception):
    """A wanted state that cannot be reached; the message says what to do about it.

    ``details`` are extra results for ``fail_json`` (the command, its rc and output...).
    """

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = details


# ----------------------------------------------------------------------------- `print`

# "key = value"; "=>" lines belong to nested blocks. "properties = " may end in the "=".
_FIELD = re.compile(r"^(.+?)\s=(?!>)\s?(.*)$")
_CODE = re.compile(r"^(-?\d+)")
# Blocks whose entries are read (one value a line, never nested); every other block is skipped.
_FLAT_BLOCKS = ("arguments", "environment", "semaphores")


def _indent(line):
    return len(line) - len(line.lstrip())


def _take_block(lines, start, opener_indent, flat):
    """Collect the lines of the block opened just before ``lines[start]``.

    launchd indents each level by one tab, so a block ends at the first ``}`` indented no deeper
    than its opener: an argument that is literally ``}`` stays content. Skipped blocks may nest
    (``event triggers`` does); brace counting with the same indentation rule also copes with
    text whose indentation was lost.
    """
    content, levels, i = [], [opener_indent], start
    while i < len(lines):
        line = lines[i]
        text, indent = line.strip(), _indent(line)
        i += 1
        if text == "}" and indent <= levels[-1]:
            levels.pop()
            if not levels:
                break
        elif not flat and text.endswith("{") and text != "{":
            levels.append(indent)
        if flat:
            content.append(line)
    return [line.strip() for line in content if line.strip()], i


def _split_print(text):
    """The job block's own ``key = value`` fields and its flat blocks; nested blocks skipped."""
    lines = text.splitlines()
    start = next((n for n, line in enumerate(lines) if line.rstrip().endswith("{")), None)
    target = None if start is None else lines[start].strip()[:-1].rstrip().rstrip("=").strip()
    if not target:
        # `launchctl list <label>` opens with a bare "{": its "PID" must never pass for a pid.
        raise LaunchdError("not launchctl print output (no <service target> = { line): %r"
                           % text[:200])
    fields, blocks, i = {}, {}, start + 1
    top_indent = _indent(lines[start])
    while i < len(lines):
        line = lines[i]
        text_, indent = line.strip(), _indent(line)
        i += 1
        if text_ == "}" and indent <= top_indent:
            break
        match = _FIELD.match(text_)
        if not match:
            continue
        key, value = match.group(1).strip(), match.group(2).strip()
        if value == "{":
            content, i = _take_block(lines, i, indent, key in _FLAT_BLOCKS)
            blocks.setdefault(key, content)
        elif value.startswith("{") and value.endswith("}"):
            # One-line form, as some people paste it: "semaphores = { successful exit => 0 }".
            inner = value[1:-1].strip()
            blocks.setdefault(key, [inner] if inner else [])
        else:
            fields.setdefault(key, value)
    return target, fields, blocks


def _int(value):
    match = _CODE.match(value or "")
    return int(match.group(1)) if match else None


def _mapping(entries):
    pairs = (entry.partition(" => ") for entry in entries)
    return {key.strip().strip('"'): value.strip() for key, sep, value in pairs if sep}


def parse_print(text):
    """Parse ``launchctl print <domain>/<label>`` into a dict.

    Apple documents this output as "NOT API", so only the job's own top-level fields are read,
    nested blocks (coalitions, event triggers, endpoints...) are skipped with their own
    ``state =``/``pid =`` lines, and unknown fields are ignored. Fields launchd omits (no
    working directory, no pid...) come back as ``None``. ``keepalive`` is ``True`` for
    ``KeepAlive: true`` (the ``keepalive`` property), the ``semaphores`` as a dict for a
    conditional ``KeepAlive`` (macOS shows ``successful exit => 0`` and no ``keepalive``
    property), ``False`` otherwise; ``None`` when there is no ``properties`` line at all.
    """
    target, fields, blocks = _split_print(text)
    last_exit = fields.get("last exit code")
    signal = fields.get("last terminating signal")
    props = fields.get("properties")
    properties = None if props is None else [p.strip() for p in props.split("|") if p.strip()]
    semaphores = {k: _int(v) if _CODE.match(v) else v
                  for k, v in _mapping(blocks.get("semaphores", [])).items()}
    if properties is None:
        keepalive = None
    elif "keepalive" in properties:
        keepalive = True
    else:
        keepalive = semaphores or False
    pid = _int(fields.get("pid"))
    return {
        "target": target,
        "state": fields.get("state"),
        "job_state": fields.get("job state"),
        "type": fields.get("type"),
        "domain": fields.get("domain"),
        "pid": pid if pid and pid > 0 else None,
        "runs": _int(fields.get("runs")),
        # "0", "78: EX_CONFIG", "(never exited)" (None), or absent after a signal (None).
        "last_exit_code": _int(last_exit),
        "last_exit": last_exit,
        "last_signal": _int(signal),
        "last_terminating_signal": signal,
        "path": fields.get("path"),
        "program": fields.get("program"),
        "arguments": blocks.get("arguments"),
        "environment": _mapping(blocks["environment"]) if "environment" in blocks else None,
        "working_directory": fields.get("working directory"),
        "stdout_path": fields.get("stdout path"),
        "stderr_path": fields.get("stderr path"),
        "properties": properties,
        "keepalive": keepalive,
        "runatload": None if properties is None else "runatload" in properties,
    }


_DISABLED = {"disabled": True, "true": True, "enabled": False, "false": False}


def parse_print_disabled(text):
    """``launchctl print-disabled <domain>`` → ``{label: disabled}``.

    Darwin 25 prints ``"label" => disabled|enabled``; older macOS ``"label" => true|false``
    (true means disabled). Only the ``disabled services`` block is read when there is one:
    later blocks (``login item associations``) use ``=>`` too.
    """
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if line.strip().startswith("disabled services") and line.rstrip().endswith("{"):
            lines = _take_block(lines, n + 1, _indent(line), flat=True)[0]
            break
    entries = _mapping(lines)
    return {label: _DISABLED[v.lower()] for label, v in entries.items() if v.lower() in _DISABLED}


# ----------------------------------------------------------------------------- plist on disk

PlistFile = namedtuple("PlistFile", "path data uid mode")


def load_plist(path):
    """Read a plist and its owner and mode; ``None`` when the file does not exist."""
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            raw = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LaunchdError("cannot read %s: %s" % (path, exc)) from exc
    return parse_plist(path, raw, st.st_uid, stat.S_IMODE(st.st_mode))


def parse_plist(path, raw, uid, mode):
    """The ``PlistFile`` of a plist's bytes (read from ``path``, or to be written there)."""
    try:
        data = plistlib.loads(raw)
    except Exception as exc:  # plistlib raises several types for bad input
        raise LaunchdError("%s is not a valid plist (check it with plutil -lint): %s"
                           % (path, exc)) from exc
    if not isinstance(data, dict):
        raise LaunchdError("%s does not hold a dictionary at its top level" % path)
    return PlistFile(path, data, uid, mode)


# launchd.plist(5) KeepAlive keys shown as `print` semaphores (the others are not compared).
_SEMAPHORES = {"SuccessfulExit": "successful exit", "Crashed": "after crash"}


def plist_job(path, data):
    """The fields of a plist, in the shape ``parse_print`` gives for the loaded job.

    ``None`` marks what cannot be predicted, and ``drift`` does not compare it: RunAtLoad when
    only implied by ``KeepAlive: {SuccessfulExit: ...}`` (launchd.plist(5)).
    """
    arguments = data.get("ProgramArguments")
    keep_alive = data.get("KeepAlive", False)
    if isinstance(keep_alive, dict):
        keepalive = {name: int(bool(keep_alive[key]))
                     for key, name in _SEMAPHORES.items() if key in keep_alive} or False
    else:
        keepalive = bool(keep_alive)
    runatload = bool(data.get("RunAtLoad", False))
    if not runatload and isinstance(keep_alive, dict) and "SuccessfulExit" in keep_alive:
        runatload = None
    environment = data.get("EnvironmentVariables") or {}
    return {
        "label": data.get("Label"),
        "path": path,
        "program": data.get("Program") or (arguments[0] if arguments else None),
        "arguments": [str(a) for a in arguments] if arguments else None,
        "environment": {str(k): str(v) for k, v in environment.items()},
        "working_directory": data.get("WorkingDirectory"),
        "stdout_path": data.get("StandardOutPath"),
        "stderr_path": data.get("StandardErrorPath"),
        "keepalive": keepalive,
        "runatload": runatload,
    }


# ----------------------------------------------------------------------------- drift

DRIFT_FIELDS = ("path", "program", "arguments", "environment", "working_directory",
                "stdout_path", "stderr_path", "keepalive", "runatload")


def field_value(job, field):
    """A field as drift() compares it (and the diff shows it)."""
    value = job.get(field)
    if field == "path" and value:
        return posixpath.normpath(value)
    if field == "arguments":
        # A Program-only job shows its program as its one argument (or no arguments block).
        value = value or ([job["program"]] if job.get("program") else [])
        return [a.strip() for a in value]
    if field == "environment":
        # launchd adds XPC_SERVICE_NAME to every job's environment.
        return {k: v.strip() for k, v in (value or {}).items() if k != "XPC_SERVICE_NAME"}
    return value


def changed_keys(old, new):
    """The top-level keys whose values differ between two plists' data (``PlistFile.data``),
    sorted: the drift of a plist rewritten in this run in keys ``launchctl print`` does not show
    (UserName, GroupName, ThrottleInterval, ...), which only a bootstrap reads."""
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


def drift(loaded, on_disk):
    """Fields where the loaded job (``parse_print``) differs from the plist (``plist_job``).

    A loaded job keeps what it was bootstrapped with: ``kickstart`` never re-reads the plist,
    so any field listed here needs a bootout and a bootstrap.
    """
    if not loaded or not on_disk:
        return []
    changed = []
    for field in DRIFT_FIELDS:
        if field in ("keepalive", "runatload") and None in (loaded.get(field), on_disk.get(field)):
            continue
        if field_value(loaded, field) != field_value(on_disk, field):
            changed.append(field)
    return changed


# ----------------------------------------------------------------------------- domain

_TARGET = re.compile(r"^(gui|user)/(\d+)$")
DAEMON_DIRS = ("/Library/LaunchDaemons/", "/System/Library/LaunchDaemons/")


def resolve_domain(domain, plist=None, plist_uid=None, euid=None):
    """The launchd domain target for the ``domain`` option.

    ``auto``: ``system`` for a plist in a LaunchDaemons directory, else ``gui/<uid of the
    plist's owner>``. ``gui``/``user``: that kind, for the plist's owner (or the caller without
    a plist). ``system``, ``gui/<uid>``, ``user/<uid>``: as given.
    """
    if domain == "system" or _TARGET.match(domain or ""):
        return domain
    if domain not in ("auto", "gui", "user"):
        raise LaunchdError("domain must be auto, system, gui, user, gui/<uid> or user/<uid>, "
                           "not %r" % domain)
    if domain == "auto":
        if not plist:
            raise LaunchdError("domain=auto needs plist to choose the domain: set plist, or "
                               "domain to system, gui/<uid> or user/<uid>")
        if plist.startswith(DAEMON_DIRS):
            return "system"
        domain = "gui"
    if plist:
        if plist_uid is None:
            raise LaunchdError("%s does not exist, so its owner cannot choose the %s domain: "
                               "set domain to %s/<uid>" % (plist, domain, domain))
        uid = plist_uid
    else:
        uid = euid
    if uid == 0:
        # root has no GUI session; a root-owned agent plist may serve any user.
        raise LaunchdError("cannot tell which user's %s domain to use (%s): set domain to "
                           "%s/<uid> of the user whose session runs the job, or to system for "
                           "a LaunchDaemon" % (domain, "%s is owned by root" % plist if plist
                                               else "running as root, without a plist", domain))
    return "%s/%d" % (domain, uid)


# ----------------------------------------------------------------------------- plan

MUTATING = frozenset(("enable", "disable", "bootout", "bootstrap", "kickstart", "restart"))


def plan(current, wanted):
    """Steps that bring the job from ``current`` to ``wanted``; ``[]`` when it is there.

    ``current``: ``loaded`` (bool), ``pid`` (int or None), ``disabled`` (bool), ``drift`` (list
    of fields, see ``drift``), ``newer_files`` (files the running process has not read, see
    ``newer_than``). ``wanted``: ``state`` (running, loaded, restarted, stopped or
    None), ``enabled`` (bool or None), ``min_uptime`` (seconds), ``plist`` (True when there is a
    plist to bootstrap), ``domain`` and ``label`` (for messages). Steps: ``enable``,
    ``disable``, ``bootout``, ``wait_gone``, ``bootstrap``, ``kickstart`` (start it),
    ``restart`` (kickstart -k), ``wait_running``; a restart is graceful where it can be (see
    ``restart``). Raises ``LaunchdError`` when ``wanted`` cannot be reached from ``current``.
    """
    state, enabled = wanted.get("state"), wanted.get("enabled")
    loaded, disabled = current.get("loaded", False), current.get("disabled", False)
    # A disabled job cannot be bootstrapped (119), so enable goes first; disable goes last, as
    # it only stops the next load (a job may run now and stay off after a reboot).
    steps = ["enable"] if enabled is True and disabled else []
    if state == "stopped" and loaded:
        steps += ["bootout", "wait_gone"]
    elif state in ("loaded", "running", "restarted"):
        reload_job = loaded and bool(current.get("drift"))
        if not loaded or reload_job:
            if not wanted.get("plist"):
                raise LaunchdError(
                    "%s/%s is not loaded, and there is no plist to bootstrap it from (plist is "
                    "unset, or the file does not exist)" % (wanted.get("domain"), wanted.get("label")))
            if disabled and enabled is not True:
                raise LaunchdError(explain(119, domain=wanted.get("domain"),
                                           label=wanted.get("label")))
            steps += (["bootout", "wait_gone"] if reload_job else []) + ["bootstrap"]
        started = "bootstrap" in steps
        if state == "restarted":
            steps += ["kickstart", "wait_running"] if started else restart(current, wanted)
        elif state == "running" and (started or not current.get("pid")):
            steps += ["kickstart", "wait_running"]
        elif state == "running" and current.get("newer_files"):
            steps += restart(current, wanted)  # files it reads at start changed since
        elif state == "running" and wanted.get("min_uptime"):
            steps.append("wait_running")  # running now: prove that it stays up
    if enabled is False and not disabled:
        steps.append("disable")
    return steps


def restart(current, wanted):
    """Steps that restart a loaded job (a new process).

    ``kickstart -k`` SIGKILLs the process, and what it had in flight dies with it: for a server,
    every request it was answering. So a running job whose plist is at hand is booted out
    instead, which sends SIGTERM and lets it finish (launchd SIGKILLs it after its ExitTimeOut),
    then bootstrapped and started again. A disabled job could not be bootstrapped again (119)
    unless it is enabled first."""
    if current.get("pid") and wanted.get("plist") and (not current.get("disabled") or wanted.get("enabled") is True):
        return ["bootout", "wait_gone", "bootstrap", "kickstart", "wait_running"]
    return ["restart", "wait_running"]


def parse_etime(text):
    """Seconds from ``ps -o etime=`` (``[[dd-]hh:]mm:ss``, macOS's and procps's format)."""
    days, dash, clock = text.strip().rpartition("-")
    parts = clock.split(":")
    if not 2 <= len(parts) <= 3 or not all(part.isdigit() for part in parts) or (dash and not days.isdigit()):
        raise ValueError("not an elapsed time from ps -o etime: %r" % text)
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return int(days or 0) * 86400 + seconds


class NoPreciseStart(Exception):
    """This system gives no precise start time for a process; ``ps -o etime=`` must do."""


# sysctl(3) names for one process's struct kinfo_proc, from <sys/sysctl.h>.
_KERN_PROC_PID = (1, 14, 1)  # CTL_KERN, KERN_PROC, KERN_PROC_PID
# sizeof(struct kinfo_proc) is 648 on 64-bit macOS; room to spare, the kernel says what it wrote.
_KINFO_PROC_ROOM = 2048


def precise_start(pid):
    """When process ``pid`` started, in epoch seconds, or ``None`` if there is no such process.

    macOS: the kernel's ``p_starttime`` (microseconds, as ``psutil`` reads it); Linux (the test
    bed): ``/proc`` (clock ticks, 10 ms). Either is the same number on every read, so a file's
    change is on one side of it for good; ``ps``'s whole seconds move the start by up to a second
    between runs. Raises ``NoPreciseStart`` on any other system, or if the kernel's answer is not
    a plausible time."""
    if sys.platform == "darwin":
        return _darwin_start(pid)
    if sys.platform.startswith("linux"):
        return _linux_start(pid)
    raise NoPreciseStart("no process start reader for %s" % sys.platform)


def _darwin_start(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sysctl.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.c_uint, ctypes.c_void_p,
                            ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p, ctypes.c_size_t]
    libc.sysctl.restype = ctypes.c_int
    mib = (ctypes.c_int * 4)(*(_KERN_PROC_PID + (pid,)))
    room = ctypes.create_string_buffer(_KINFO_PROC_ROOM)
    size = ctypes.c_size_t(_KINFO_PROC_ROOM)
    if libc.sysctl(mib, 4, room, ctypes.byref(size), None, 0) != 0:
        raise NoPreciseStart("sysctl kern.proc.pid.%d: errno %d" % (pid, ctypes.get_errno()))
    if size.value == 0:
        return None  # no such process
    return kinfo_start(room.raw[:size.value], time.time())


def kinfo_start(raw, now):
    """The start of a process from sysctl's ``struct kinfo_proc`` bytes: ``kp_proc.p_starttime``,
    a ``struct timeval`` (64-bit seconds, 32-bit microseconds) at its very beginning."""
    if len(raw) < 16:
        raise NoPreciseStart("sysctl gave %d bytes, not a struct kinfo_proc" % len(raw))
    seconds, micros = struct.unpack_from("=qi", raw)
    if not (0 < seconds <= now + 60 and 0 <= micros < 1000000):
        raise NoPreciseStart("sysctl's p_starttime (%d s, %d us) is not a time" % (seconds, micros))
    return seconds + micros / 1e6


def _linux_start(pid):
    try:
        with open("/proc/%d/stat" % pid) as stat_file:
            text = stat_file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    since_boot = proc_stat_start(text) / os.sysconf("SC_CLK_TCK")
    # /proc counts from boot on CLOCK_BOOTTIME: the two clocks are read back to back.
    return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot)


def proc_stat_start(text):
    """Field 22 of ``/proc/<pid>/stat``, the start in clock ticks since boot. Field 2, the
    command's name in parentheses, may hold spaces and parentheses: count after the last ``)``."""
    _head, paren, rest = text.rpartition(")")
    fields = rest.split()
    if not paren or len(fields) < 20 or not fields[19].isdigit():
        raise ValueError("not a /proc/<pid>/stat line: %r" % text[:80])
    return int(fields[19])


def modified(paths):
    """path -> modification time, for each of ``paths`` that exists; a symbolic link counts by
    its own (switching a link is a change), anything else by the file itself."""
    found = {}
    for path in paths:
        try:
            found[path] = os.lstat(path).st_mtime
        except OSError:
            continue
    return found


def newer_than(started, mtimes):
    """The paths of ``mtimes`` (path -> time) modified after ``started``, sorted.

    From ``precise_start``, ``started`` is the same on every run and never later than the real
    start (Linux truncates to its 10 ms tick): every change since is counted, and a change in the
    last tick before it costs one restart more, never a restart on every run. From ``ps``'s whole
    seconds it is never earlier: no needless restart, but a change within the process's first
    second is counted or not depending on when ``ps`` runs."""
    return sorted(path for path, mtime in mtimes.items() if mtime > started)


def changes(steps):
    """Whether running ``steps`` changes anything (waits and reads do not)."""
    return any(step in MUTATING for step in steps)


def predict(current, steps):
    """The job once ``steps`` have run: ``state``, ``pid`` (``(new)`` for a new process)."""
    if "kickstart" in steps or "restart" in steps:
        # plan() kickstarts only a job that is not running, or one it has just bootstrapped.
        return {"state": "running", "pid": "(new)"}
    if "bootstrap" in steps:
        return {"state": "loaded", "pid": None}
    if "bootout" in steps:
        return {"state": "stopped", "pid": None}
    return {"state": observed_state(current.get("loaded"), current.get("pid")),
            "pid": current.get("pid")}


def observed_state(loaded, pid):
    """The module's word for a job: stopped (not loaded), running (a PID) or loaded."""
    if not loaded:
        return "stopped"
    return "running" if pid else "loaded"


def _plist_scalar(value):
    """A plist's <date> and <data> values, which JSON lacks, as the plist's XML writes them."""
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError("%r is not a plist value" % (value,))


def diff_text(view, fields=None):
    """One ``key: value`` line per item, for the before/after of ``--diff``."""
    lines = []
    for key, value in list(view.items()) + sorted((fields or {}).items()):
        shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=_plist_scalar)
        lines.append("%s: %s" % (key, shown))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- errors

# launchctl exit codes (FACTS.md, errors.yaml). The text is shown, never parsed.
NOT_LOADED = 113   # print/kickstart: no such service in that domain
NO_DOMAIN = (112, 125)  # print: no such domain (a gui domain with nobody logged in)
NO_PROCESS = 3     # bootout: not loaded
RETRY_AFTER_BOOTOUT = frozenset((5, 36, 37))  # the bootout has not finished yet


def _domain_parts(domain):
    """"gui/501" -> ("gui", "501"); "system" -> ("system", "")."""
    kind, uid = ((domain or "") + "/").split("/")[:2]
    return kind, uid


def explain(rc, stderr="", verb=None, domain=None, label=None, plist=None):
    """An actionable sentence for launchctl exit status ``rc`` (``plist``: a ``PlistFile``)."""
    target = "%s/%s" % (domain, label) if domain and label else "the job"
    kind, uid = _domain_parts(domain)
    if rc in (112, 125) and kind == "gui":
        msg = ("uid %s has no GUI login session, so launchd has no %s domain: enable "
               "auto-login for that user, or deploy the job as a LaunchDaemon (domain system, "
               "with UserName)" % (uid, domain))
    elif rc in (112, 125) and kind == "user":
        msg = ("uid %s has no login session, so launchd has no %s domain (it appears at login "
               "and does not survive a reboot): log that user in, or deploy the job as a "
               "LaunchDaemon (domain system, with UserName)" % (uid, domain))
    elif rc in (112, 125):
        msg = "launchd refused the %s domain for this action" % (domain or "target")
    elif rc == 122:
        msg = _permission_fix(domain, plist)
    elif rc == 119:
        msg = ("%s is disabled: set enabled: true (it runs launchctl enable %s), or remove the "
               "job on purpose" % (target, target))
    elif rc == NOT_LOADED:
        msg = "launchd has no service %s: bootstrap it first (state loaded or running)" % target
    elif rc == NO_PROCESS:
        msg = "%s is not loaded" % target
    elif rc == 5:
        msg = ("input/output error: %s may already be loaded from another plist, be still "
               "booting out, or launchd cannot use the plist (check plutil -lint, its owner "
               "and mode); run launchctl %s as root for richer errors" % (target, verb or "bootstrap"))
    elif rc in (36, 37):
        msg = ("an operation on %s is already in progress (a bootout that has not finished): "
               "run again when it is done" % target)
    elif rc == 134:
        msg = ("the plist's LimitLoadToSessionType does not allow the %s domain: Aqua for gui, "
               "Background for user, System for system" % (domain or "target"))
    elif rc == 1:
        msg = ("operation not permitted: only root may change the system domain or another "
               "user's domains (become: true)")
    else:
        msg = "launchctl%s failed with exit code %d" % (" " + verb if verb else "", rc)
    said = (stderr or "").strip()
    return msg + (" (launchctl: %s)" % said.replace("\n", " ") if said else "")


def _permission_fix(domain, plist):
    """Exit 122: say which of the plist's owner and mode is wrong, from the file itself."""
    if plist is None:
        return ("launchd refused the plist's ownership or permissions: it must not be writable "
                "by group or others, and must be owned by root (system domain) or by root or "
                "the domain's user")
    fixes = []
    if plist.mode & 0o022:
        fixes.append("chmod go-w %s (mode is %04o)" % (plist.path, plist.mode))
    kind, uid = _domain_parts(domain)
    if kind == "system" and plist.uid != 0:
        fixes.append("chown root:wheel %s (owner uid is %d)" % (plist.path, plist.uid))
    elif uid and plist.uid not in (0, int(uid)):
        fixes.append("chown %s %s (owner uid is %d)" % (uid, plist.path, plist.uid))
    if not fixes:
        fixes.append("check the ownership and modes of %s and its directories" % plist.path)
    return "launchd refused the plist's ownership or permissions: " + "; ".join(fixes)


# ----------------------------------------------------------------------------- crash reports

def stderr_file(job, on_disk=None):
    """The stderr file launchd writes for the job, absolute (relative paths are relative to the
    job's working directory, else /)."""
    sources = [job or {}, on_disk or {}]
    path = next((s.get("stderr_path") for s in sources if s.get("stderr_path")), None)
    if not path:
        return None
    base = next((s.get("working_directory") for s in sources if s.get("working_directory")), "/")
    return posixpath.join(base, path)


def tail(path, lines=10, max_bytes=4096):
    """The last ``lines`` lines of a file, or a note saying why there are none."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - max_bytes))
            data = handle.read()
    except OSError as exc:
        return "(cannot read %s: %s)" % (path, exc.strerror or exc)
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:]) if text else "(%s is empty)" % path


def not_running_message(target, job, pids, timeout, min_uptime, stderr_path, stderr_tail):
    """Why ``wait_running`` gave up: what launchd shows, and the end of the job's stderr."""
    if pids and min_uptime:
        what = ("did not keep one PID for %s s within %s s (PIDs seen: %s): it is probably "
                "crash-looping" % (min_uptime, timeout, ", ".join(str(p) for p in pids)))
    else:
        what = "did not start within %s s" % timeout
    msg = "%s %s; launchd state: %s, runs: %s, %s" % (
        target, what, job.get("state"), job.get("runs"), exit_summary(job))
    if job.get("job_state"):
        msg += ", job state: %s" % job["job_state"]
    if stderr_path:
        msg += ". Last lines of %s:\n%s" % (stderr_path, stderr_tail)
    else:
        msg += ". The job has no StandardErrorPath to show its errors."
    return msg


def exit_summary(job):
    """"last exit code 1", "last terminating signal 9: Killed: 9" or "never exited"."""
    if job.get("last_terminating_signal"):
        return "last terminating signal %s" % job["last_terminating_signal"]
    if job.get("last_exit_code") is not None:
        return "last exit code %s" % job["last_exit"]
    return "never exited"
