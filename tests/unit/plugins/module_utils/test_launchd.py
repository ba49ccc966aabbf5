# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tables for the pure launchd functions, on the real captures in fixtures/launchctl/ and on
variants built from them; and the runner's own guarantees (argv, locale, check mode)."""

from __future__ import annotations

import datetime
import os
import plistlib
import struct
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.visiquate.ccproxy.plugins.module_utils import launchd
from ansible_collections.visiquate.ccproxy.plugins.module_utils.launchctl import Launchctl
from ansible_collections.visiquate.ccproxy.plugins.module_utils.launchd import (
    LaunchdError,
    PlistFile,
    drift,
    explain,
    parse_print,
    parse_print_disabled,
    plan,
    plist_job,
    predict,
    resolve_domain,
)

FIXTURES = Path(__file__).parents[2] / "fixtures"
REAL = FIXTURES / "launchctl"


def real(name):
    return (REAL / name).read_text(encoding="utf-8")


def subset(result, expected):
    return {key: result[key] for key in expected}


# ----------------------------------------------------------------------------- parse_print

# Every real `print` capture, and what a careful reader sees in it.
PRINT_CAPTURES = {
    "print-agent-not-running.txt": dict(
        target="user/503/local.resticprofile.self.check", state="not running", pid=None, runs=1,
        last_exit_code=0, last_signal=None, type="LaunchAgent", domain="user/503",
        path="/Users/cp/Library/LaunchAgents/local.resticprofile.self.check.agent.plist",
        program="/Users/cp/go/src/github.com/creativeprojects/resticprofile/resticprofile",
        arguments=["/Users/cp/go/src/github.com/creativeprojects/resticprofile/resticprofile",
                   "--no-prio", "--no-ansi", "--config", "examples/dev.yaml", "run-schedule",
                   "check@self"],
        working_directory="/Users/cp/go/src/github.com/creativeprojects/resticprofile",
        stdout_path="local.resticprofile.self.check.log",
        stderr_path="local.resticprofile.self.check.log",
        properties=[], keepalive=False, runatload=False),
    "print-agent-running.txt": dict(
        target="gui/501/ai.kitten.lmk", state="running", pid=65747, runs=1, last_exit_code=None,
        last_exit="(never exited)", path="/h/Library/LaunchAgents/ai.kitten.lmk.plist",
        program="/h/.lmk/app/.venv/bin/python", arguments=None, environment=None,
        properties=None, keepalive=None, runatload=None),
    "print-clean-exit.txt": dict(state="not running", pid=None, runs=1, last_exit_code=0),
    "print-crash-loop.txt": dict(state="spawn scheduled", pid=None, runs=87, last_exit_code=1),
}


@pytest.mark.parametrize("name", sorted(PRINT_CAPTURES))
def test_parse_print_real_captures(name):
    expected = PRINT_CAPTURES[name]
    assert subset(parse_print(real(name)), expected) == expected


def test_every_print_capture_is_in_the_table():
    assert sorted(p.name for p in REAL.glob("print-*.txt") if "disabled" not in p.name) == sorted(PRINT_CAPTURES)


def test_nested_blocks_of_the_real_capture_stay_out():
    job = parse_print(real("print-agent-not-running.txt"))
    # "keepalive = 0" sits in event triggers, "active = 0" in event channels, the default PATH
    # in default environment: none of them is the job's.
    assert job["environment"]["XPC_SERVICE_NAME"] == "local.resticprofile.self.check"
    assert job["environment"]["PATH"].startswith("/usr/local/bin:/System/Cryptexes")
    assert job["keepalive"] is False


@pytest.mark.parametrize("name", ["list-label-idle.txt", "list-label-running.txt"])
def test_legacy_list_output_is_not_print_output(name):
    # `launchctl list <label>` has no service target; its "PID" must never pass for a pid.
    with pytest.raises(LaunchdError, match="not launchctl print output"):
        parse_print(real(name))


JOB = """\
gui/501/com.example.job = {
\tactive count = 1
\tpath = /Users/coder/Library/LaunchAgents/com.example.job.plist
\ttype = LaunchAgent
\tstate = running

\tprogram = /usr/local/bin/job
\targuments = {
\t\t/usr/local/bin/job
\t\t--flag
\t}

\tresource coalition = {
\t\tID = 2814
\t\ttype = resource
\t\tstate = active
\t\tactive count = 1
\t\tpid = 999
\t\tname = com.example.job
\t}

\tevent triggers = {
\t\tcom.example.job.1 => {
\t\t\tkeepalive = 1
\t\t\tstate = waiting
\t\t\tdescriptor = {
\t\t\t\t"pid" => 1
\t\t\t}
\t\t}
\t}

\truns = 3
\tpid = 4242
\t{last}
\tproperties = {properties}
}
"""


def job(last="last exit code = (never exited)", properties="keepalive | runatload | inferred program"):
    return JOB.replace("{last}", last).replace("{properties}", properties)


@pytest.mark.parametrize("last, code, signal", [
    ("last exit code = 0", 0, None),
    ("last exit code = 1", 1, None),
    ("last exit code = 78: EX_CONFIG", 78, None),
    ("last exit code = (never exited)", None, None),
    ("last terminating signal = 9: Killed: 9", None, 9),
    ("last terminating signal = 15: Terminated: 15", None, 15),
])
def test_last_exit_variants(last, code, signal):
    parsed = parse_print(job(last))
    assert (parsed["last_exit_code"], parsed["last_signal"]) == (code, signal)


def test_nested_state_and_pid_lines_do_not_leak_into_the_job():
    parsed = parse_print(job())
    assert (parsed["state"], parsed["pid"], parsed["runs"]) == ("running", 4242, 3)
    assert parsed["arguments"] == ["/usr/local/bin/job", "--flag"]


def test_nested_blocks_before_the_job_fields_do_not_hide_them():
    # A pid after the blocks is still the job's; one only inside a block is not.
    text = job().replace("\tpid = 4242\n", "")
    assert parse_print(text)["pid"] is None


@pytest.mark.parametrize("properties, keepalive, runatload", [
    ("keepalive | runatload | inferred program", True, True),
    ("runatload | inferred program", False, True),
    ("partial import | keepalive | runatload | needs LWCR update | has LWCR", True, True),
    ("", False, False),
])
def test_properties(properties, keepalive, runatload):
    parsed = parse_print(job(properties=properties))
    assert (parsed["keepalive"], parsed["runatload"]) == (keepalive, runatload)


def test_conditional_keepalive_shows_as_semaphores():
    text = job(properties="runatload | inferred program").replace(
        "\truns = 3\n", "\truns = 3\n\tsemaphores = {\n\t\tsuccessful exit => 0\n\t\tafter crash => 1\n\t}\n")
    assert parse_print(text)["keepalive"] == {"successful exit": 0, "after crash": 1}


def test_one_line_block_and_job_state():
    text = job(properties="runatload").replace(
        "\truns = 3\n", "\truns = 3\n\tsemaphores = { successful exit => 0 }\n\tjob state = spawn failed\n")
    parsed = parse_print(text)
    assert parsed["keepalive"] == {"successful exit": 0}
    assert parsed["job_state"] == "spawn failed"


def test_environment_values_keep_their_own_arrows_and_equals():
    text = job().replace("\truns = 3\n", "\truns = 3\n\tenvironment = {\n\t\tA => x => y\n"
                                         "\t\tB = C => pid = 999; state = stopped\n\t}\n")
    parsed = parse_print(text)
    assert parsed["environment"] == {"A": "x => y", "B = C": "pid = 999; state = stopped"}
    assert (parsed["state"], parsed["pid"]) == ("running", 4242)


def test_an_argument_that_is_a_closing_brace_stays_an_argument():
    text = job().replace("\t\t--flag\n", "\t\t--flag\n\t\t}\n\t\t{\n")
    assert parse_print(text)["arguments"] == ["/usr/local/bin/job", "--flag", "}", "{"]


def test_unknown_fields_and_missing_fields():
    text = "system/com.example.job = {\n\tstate = exited\n\tbrand new field = 7\n}\n"
    parsed = parse_print(text)
    assert (parsed["state"], parsed["pid"], parsed["runs"], parsed["path"]) == ("exited", None, None, None)


def test_text_without_indentation_still_parses():
    text = "\n".join(line.lstrip("\t") for line in job().splitlines())
    parsed = parse_print(text)
    assert (parsed["state"], parsed["pid"], parsed["arguments"]) == ("running", 4242, ["/usr/local/bin/job", "--flag"])


def test_pid_zero_is_no_pid():
    assert parse_print(job().replace("pid = 4242", "pid = 0"))["pid"] is None


def test_no_block_at_all_is_an_error():
    with pytest.raises(LaunchdError):
        parse_print("Could not find service\n")


# ----------------------------------------------------------------------------- print-disabled

def test_print_disabled_darwin_25_capture():
    assert parse_print_disabled(real("print-disabled.txt")) == {
        "com.apple.Siri.agent": True, "video.xplainer.daemon": False}


@pytest.mark.parametrize("text, expected", [
    # macOS before 25: true means disabled.
    ('disabled services = {\n\t"com.apple.ftp-proxy" => true\n\t"com.example.job" => false\n}\n',
     {"com.apple.ftp-proxy": True, "com.example.job": False}),
    # Darwin 25's whole output: later blocks use "=>" too and must not count.
    ('\n\tdisabled services = {\n\t\t"com.example.job" => enabled\n\t}\n\n'
     '\tlogin item associations = {\n\t\t"com.example.app" => disabled\n\t}\n',
     {"com.example.job": False}),
    ("", {}),
])
def test_print_disabled_formats(text, expected):
    assert parse_print_disabled(text) == expected


# ----------------------------------------------------------------------------- plists

AGENT = {
    "Label": "com.example.job",
    "ProgramArguments": ["/usr/local/bin/job", "--flag"],
    "EnvironmentVariables": {"PATH": "/usr/bin:/bin"},
    "WorkingDirectory": "/tmp",
    "StandardErrorPath": "err.log",
    "RunAtLoad": True,
    "KeepAlive": True,
}


def write_plist(tmp_path, data, mode=0o644):
    path = tmp_path / "com.example.job.plist"
    path.write_bytes(plistlib.dumps(data))
    path.chmod(mode)
    return str(path)


def test_load_plist_reads_data_owner_and_mode(tmp_path):
    path = write_plist(tmp_path, AGENT, 0o600)
    found = launchd.load_plist(path)
    assert found == PlistFile(path, AGENT, os.stat(path).st_uid, 0o600)


def test_load_plist_missing_file_is_none(tmp_path):
    assert launchd.load_plist(str(tmp_path / "absent.plist")) is None


@pytest.mark.parametrize("content, message", [
    (b"<plist><dict><key>Label</oops>", "not a valid plist"),
    (plistlib.dumps(["a list"]), "does not hold a dictionary"),
])
def test_load_plist_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.plist"
    path.write_bytes(content)
    with pytest.raises(LaunchdError, match=message):
        launchd.load_plist(str(path))


@pytest.mark.parametrize("data, expected", [
    (AGENT, dict(program="/usr/local/bin/job", arguments=["/usr/local/bin/job", "--flag"],
                 environment={"PATH": "/usr/bin:/bin"}, keepalive=True, runatload=True)),
    ({"Program": "/bin/x"}, dict(program="/bin/x", arguments=None, environment={},
                                 keepalive=False, runatload=False)),
    ({"ProgramArguments": ["/bin/x"], "KeepAlive": {"SuccessfulExit": False}, "RunAtLoad": True},
     dict(keepalive={"successful exit": 0}, runatload=True)),
    # launchd.plist(5): SuccessfulExit implies RunAtLoad, so RunAtLoad cannot be predicted.
    ({"ProgramArguments": ["/bin/x"], "KeepAlive": {"SuccessfulExit": True, "Crashed": True}},
     dict(keepalive={"successful exit": 1, "after crash": 1}, runatload=None)),
    # Conditions `print` does not show as semaphores compare as no KeepAlive at all.
    ({"ProgramArguments": ["/bin/x"], "KeepAlive": {"PathState": {"/tmp/x": True}}},
     dict(keepalive=False, runatload=False)),
])
def test_plist_job(data, expected):
    assert subset(plist_job("/p.plist", data), expected) == expected


# ----------------------------------------------------------------------------- drift

LOADED = parse_print(job(properties="keepalive | runatload | inferred program").replace(
    "\truns = 3\n", "\truns = 3\n\tworking directory = /tmp\n\tstderr path = err.log\n"
                    "\tenvironment = {\n\t\tPATH => /usr/bin:/bin\n\t\tXPC_SERVICE_NAME => com.example.job\n\t}\n"))
ON_DISK = plist_job("/Users/coder/Library/LaunchAgents/com.example.job.plist", AGENT)


@pytest.mark.parametrize("change, fields", [
    ({}, []),
    ({"ProgramArguments": ["/usr/local/bin/job", "--other"]}, ["arguments"]),
    ({"ProgramArguments": ["/usr/local/bin/job2", "--flag"]}, ["program", "arguments"]),
    ({"EnvironmentVariables": {"PATH": "/usr/bin:/bin", "HOME": "/Users/coder"}}, ["environment"]),
    ({"WorkingDirectory": "/var/tmp"}, ["working_directory"]),
    ({"StandardOutPath": "out.log"}, ["stdout_path"]),
    ({"StandardErrorPath": None}, ["stderr_path"]),
    ({"KeepAlive": False}, ["keepalive"]),
    ({"KeepAlive": {"SuccessfulExit": False}}, ["keepalive"]),
    ({"RunAtLoad": False}, ["runatload"]),
    ({"KeepAlive": {"SuccessfulExit": False}, "RunAtLoad": False}, ["keepalive"]),
])
def test_drift_fields(change, fields):
    data = {k: v for k, v in dict(AGENT, **change).items() if v is not None}
    assert drift(LOADED, plist_job(ON_DISK["path"], data)) == fields


def test_drift_on_the_plist_path():
    moved = plist_job("/Library/LaunchAgents/com.example.job.plist", AGENT)
    assert drift(LOADED, moved) == ["path"]
    same = plist_job("/Users/coder/Library/LaunchAgents/./com.example.job.plist", AGENT)
    assert drift(LOADED, same) == []


def test_drift_of_a_program_only_job():
    loaded = parse_print("gui/501/x = {\n\tpath = /p.plist\n\tprogram = /bin/x\n\tproperties = \n}\n")
    assert drift(loaded, plist_job("/p.plist", {"Program": "/bin/x"})) == []
    assert drift(loaded, plist_job("/p.plist", {"Program": "/bin/y"})) == ["program", "arguments"]


def test_drift_without_properties_line_skips_keepalive_and_runatload():
    loaded = parse_print(real("print-agent-running.txt"))
    on_disk = plist_job("/h/Library/LaunchAgents/ai.kitten.lmk.plist",
                        {"ProgramArguments": ["/h/.lmk/app/.venv/bin/python"], "KeepAlive": True})
    assert drift(loaded, on_disk) == []


def test_no_drift_without_both_sides():
    assert drift(None, ON_DISK) == drift(LOADED, None) == []


# ----------------------------------------------------------------------------- domain

@pytest.mark.parametrize("domain, plist, uid, euid, expected", [
    ("auto", "/Library/LaunchDaemons/x.plist", 0, 0, "system"),
    ("auto", "/System/Library/LaunchDaemons/x.plist", 0, 501, "system"),
    ("auto", "/Users/coder/Library/LaunchAgents/x.plist", 501, 0, "gui/501"),
    ("auto", "/Users/coder/Library/LaunchAgents/x.plist", 501, 501, "gui/501"),
    ("gui", "/Users/coder/Library/LaunchAgents/x.plist", 502, 0, "gui/502"),
    ("user", "/Users/coder/Library/LaunchAgents/x.plist", 501, 0, "user/501"),
    ("gui", None, None, 501, "gui/501"),
    ("system", "/Users/coder/Library/LaunchAgents/x.plist", 501, 0, "system"),
    ("gui/503", None, None, 0, "gui/503"),
    ("user/503", "/x.plist", 501, 0, "user/503"),
])
def test_resolve_domain(domain, plist, uid, euid, expected):
    assert resolve_domain(domain, plist, uid, euid) == expected


@pytest.mark.parametrize("domain, plist, uid, euid, message", [
    ("auto", None, None, 501, "needs plist"),
    ("auto", "/Library/LaunchAgents/x.plist", 0, 0, r"which user's gui domain to use \(/Library/LaunchAgents/x.plist is owned by root\)"),
    ("auto", "/Users/coder/Library/LaunchAgents/x.plist", None, 0, "does not exist"),
    ("gui", None, None, 0, "running as root, without a plist"),
    ("login", None, None, 501, "domain must be"),
    ("gui/coder", None, None, 501, "domain must be"),
])
def test_resolve_domain_refusals(domain, plist, uid, euid, message):
    with pytest.raises(LaunchdError, match=message):
        resolve_domain(domain, plist, uid, euid)


# ----------------------------------------------------------------------------- plan

ABSENT = dict(loaded=False, pid=None, disabled=False, drift=[])
RUNNING = dict(loaded=True, pid=4242, disabled=False, drift=[])
IDLE = dict(loaded=True, pid=None, disabled=False, drift=[])
DRIFTED = dict(RUNNING, drift=["arguments"])
STALE = dict(RUNNING, newer_files=["/Users/coder/ccproxy/config.yaml"])
DISABLED = dict(ABSENT, disabled=True)
RUNNING_DISABLED = dict(RUNNING, disabled=True)

RELOAD = ["bootout", "wait_gone", "bootstrap"]
START = ["kickstart", "wait_running"]

PLANS = [
    # current, state, enabled, extra wanted, steps
    (ABSENT, "running", None, {}, ["bootstrap"] + START),
    (IDLE, "running", None, {}, START),
    (RUNNING, "running", None, {}, []),
    (RUNNING, "running", None, {"min_uptime": 15}, ["wait_running"]),
    (DRIFTED, "running", None, {}, RELOAD + START),
    # A restart with the plist at hand is graceful: SIGTERM through bootout, not kickstart -k's SIGKILL.
    (STALE, "running", None, {}, RELOAD + START),
    (STALE, "running", None, {"min_uptime": 15}, RELOAD + START),
    (STALE, "running", None, {"plist": False}, ["restart", "wait_running"]),
    (dict(STALE, disabled=True), "running", None, {}, ["restart", "wait_running"]),
    (dict(STALE, disabled=True), "running", True, {}, ["enable"] + RELOAD + START),
    (STALE, "loaded", None, {}, []),
    (ABSENT, "loaded", None, {}, ["bootstrap"]),
    (IDLE, "loaded", None, {}, []),
    (RUNNING, "loaded", None, {}, []),
    (DRIFTED, "loaded", None, {}, RELOAD),
    (ABSENT, "restarted", None, {}, ["bootstrap"] + START),
    (IDLE, "restarted", None, {}, ["restart", "wait_running"]),  # nothing in flight: kickstart -k starts it
    (RUNNING, "restarted", None, {}, RELOAD + START),
    (RUNNING, "restarted", None, {"plist": False}, ["restart", "wait_running"]),
    (RUNNING_DISABLED, "restarted", None, {}, ["restart", "wait_running"]),
    (DRIFTED, "restarted", None, {}, RELOAD + START),
    (ABSENT, "stopped", None, {}, []),
    (RUNNING, "stopped", None, {}, ["bootout", "wait_gone"]),
    (DRIFTED, "stopped", None, {}, ["bootout", "wait_gone"]),
    (DISABLED, "running", True, {}, ["enable", "bootstrap"] + START),
    (DISABLED, "stopped", None, {}, []),
    (RUNNING_DISABLED, "running", None, {}, []),
    (RUNNING, "running", False, {}, ["disable"]),
    (ABSENT, "running", False, {}, ["bootstrap"] + START + ["disable"]),
    (RUNNING, "stopped", False, {}, ["bootout", "wait_gone", "disable"]),
    (RUNNING, None, False, {}, ["disable"]),
    (RUNNING_DISABLED, None, False, {}, []),
    (RUNNING_DISABLED, None, True, {}, ["enable"]),
    (RUNNING, None, True, {}, []),
    (IDLE, "running", None, {"plist": False}, START),
]


@pytest.mark.parametrize("current, state, enabled, extra, steps", PLANS)
def test_plan(current, state, enabled, extra, steps):
    wanted = dict(dict(state=state, enabled=enabled, plist=True, min_uptime=0), **extra)
    assert plan(current, wanted) == steps


@pytest.mark.parametrize("current, wanted, message", [
    (ABSENT, dict(state="running"), "no plist to bootstrap it from"),
    (ABSENT, dict(state="loaded"), "no plist to bootstrap it from"),
    (DISABLED, dict(state="running", plist=True), "is disabled: set enabled: true"),
    (DISABLED, dict(state="loaded", plist=True, enabled=False), "is disabled"),
    (dict(DRIFTED, disabled=True), dict(state="running", plist=True), "is disabled"),
])
def test_plan_refusals(current, wanted, message):
    with pytest.raises(LaunchdError, match=message):
        plan(current, dict(wanted, domain="gui/501", label="com.example.job"))


@pytest.mark.parametrize("current, steps, expected", [
    (ABSENT, ["bootstrap", "kickstart", "wait_running"], dict(state="running", pid="(new)")),
    (RUNNING, ["restart", "wait_running"], dict(state="running", pid="(new)")),
    (RUNNING, RELOAD + START, dict(state="running", pid="(new)")),
    (ABSENT, ["bootstrap"], dict(state="loaded", pid=None)),
    (RUNNING, ["bootout", "wait_gone"], dict(state="stopped", pid=None)),
    (RUNNING, ["disable"], dict(state="running", pid=4242)),
    (IDLE, [], dict(state="loaded", pid=None)),
    (ABSENT, [], dict(state="stopped", pid=None)),
])
def test_predict(current, steps, expected):
    assert predict(current, steps) == expected


def test_changes_ignores_waits():
    assert not launchd.changes(["wait_running"])
    assert launchd.changes(["wait_gone", "bootstrap"])


# ----------------------------------------------------------------------------- explain

def plist_file(uid=501, mode=0o644, path="/p.plist"):
    return PlistFile(path, {}, uid, mode)


@pytest.mark.parametrize("rc, domain, plist, fragment", [
    (125, "gui/501", None, "uid 501 has no GUI login session"),
    (112, "gui/501", None, "enable auto-login for that user, or deploy the job as a LaunchDaemon"),
    (125, "user/501", None, "uid 501 has no login session"),
    (112, "system", None, "launchd refused the system domain"),
    (122, "gui/501", plist_file(mode=0o664), "chmod go-w /p.plist (mode is 0664)"),
    (122, "system", plist_file(uid=501), "chown root:wheel /p.plist (owner uid is 501)"),
    (122, "gui/501", plist_file(uid=502), "chown 501 /p.plist (owner uid is 502)"),
    (122, "gui/501", plist_file(uid=0), "check the ownership and modes of /p.plist"),
    (122, "gui/501", None, "must not be writable by group or others"),
    (119, "gui/501", None, "gui/501/com.example.job is disabled: set enabled: true"),
    (113, "gui/501", None, "launchd has no service gui/501/com.example.job"),
    (3, "gui/501", None, "gui/501/com.example.job is not loaded"),
    (5, "gui/501", None, "may already be loaded from another plist"),
    (36, "gui/501", None, "already in progress"),
    (37, "gui/501", None, "already in progress"),
    (134, "user/501", None, "Background for user"),
    (1, "system", None, "become: true"),
    (42, "gui/501", None, "launchctl bootstrap failed with exit code 42"),
])
def test_explain(rc, domain, plist, fragment):
    assert fragment in explain(rc, "", "bootstrap", domain, "com.example.job", plist)


def test_explain_shows_stderr_verbatim_on_one_line():
    msg = explain(5, "Bootstrap failed: 5: Input/output error\nTry re-running the command as root.\n",
                  "bootstrap", "gui/501", "x")
    assert msg.endswith("(launchctl: Bootstrap failed: 5: Input/output error Try re-running the command as root.)")


# ----------------------------------------------------------------------------- crash reports

def test_stderr_file_relative_to_the_working_directory():
    assert launchd.stderr_file({"stderr_path": "err.log", "working_directory": "/srv"}) == "/srv/err.log"
    assert launchd.stderr_file({"stderr_path": "err.log"}) == "/err.log"
    assert launchd.stderr_file({}, {"stderr_path": "/var/log/x.log"}) == "/var/log/x.log"
    assert launchd.stderr_file({}, None) is None


def test_tail(tmp_path):
    log = tmp_path / "err.log"
    log.write_text("".join("line %d\n" % n for n in range(2000)))
    assert launchd.tail(str(log), lines=3) == "line 1997\nline 1998\nline 1999"
    log.write_text("")
    assert launchd.tail(str(log)) == "(%s is empty)" % log
    assert launchd.tail(str(tmp_path / "gone.log")).startswith("(cannot read %s: " % (tmp_path / "gone.log"))


@pytest.mark.parametrize("last, expected", [
    ("last exit code = 78: EX_CONFIG", "last exit code 78: EX_CONFIG"),
    ("last terminating signal = 9: Killed: 9", "last terminating signal 9: Killed: 9"),
    ("last exit code = (never exited)", "never exited"),
])
def test_exit_summary(last, expected):
    assert launchd.exit_summary(parse_print(job(last))) == expected


def test_not_running_message_without_a_stderr_file():
    msg = launchd.not_running_message("gui/501/x", parse_print(real("print-crash-loop.txt")), [], 30, 0, None, None)
    assert msg == ("gui/501/x did not start within 30 s; launchd state: spawn scheduled, runs: 87, last exit "
                   "code 1. The job has no StandardErrorPath to show its errors.")


def test_diff_text():
    assert launchd.diff_text({"state": "running", "pid": None}, {"b": ["x"], "a": {"K": "v"}}) == (
        'state: running\npid: null\na: {"K": "v"}\nb: ["x"]\n')


def test_diff_text_shows_a_plists_dates_and_data_as_its_xml_writes_them():
    on_disk = plistlib.loads(plistlib.dumps({"StartCalendarInterval": {"Since": datetime.datetime(2026, 11, 29, 8, 5)},
                                             "UserData": b"\x00ccproxy"}))
    assert launchd.diff_text({"pid": 7}, on_disk) == (
        'pid: 7\nStartCalendarInterval: {"Since": "2026-11-29T08:05:00Z"}\nUserData: "AGNjcHJveHk="\n')


# ----------------------------------------------------------------------------- the runner

class FakeModule:
    def __init__(self, check_mode):
        self.check_mode = check_mode
        self.calls = []

    def get_bin_path(self, name, required=False):
        return "/bin/" + name

    def run_command(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        return 0, "", ""


# ps -o etime= as macOS and procps print it (padded, with and without hours and days).
@pytest.mark.parametrize("text, seconds", [
    ("   00:07\n", 7),
    ("01:40", 100),
    ("  1:02:03", 3723),
    ("2-03:04:05", 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
    ("10-00:00:00", 864000),
])
def test_parse_etime(text, seconds):
    assert launchd.parse_etime(text) == seconds


@pytest.mark.parametrize("text", ["", "42", "1:2:3:4", "a-01:00", "01:xx", "-01:00"])
def test_parse_etime_refuses_what_ps_does_not_print(text):
    with pytest.raises(ValueError, match="not an elapsed time"):
        launchd.parse_etime(text)


# /proc/<pid>/stat as Linux writes it: field 22 is the start in clock ticks since boot.
STAT_TAIL = "S 1 763 763 0 -1 4194560 1520 0 0 0 12 3 0 0 20 0 1 0 {start} 17403904 1401 18446744073709551615"


@pytest.mark.parametrize("name", ["python3", "litellm worker", "a) (b", ")"])
def test_proc_stat_start_counts_fields_after_the_commands_name(name):
    assert launchd.proc_stat_start("763 (%s) %s\n" % (name, STAT_TAIL.format(start=2589061))) == 2589061


@pytest.mark.parametrize("text", ["", "763 python3 S 1", "763 (python3) S 1 763", STAT_TAIL.format(start="x")])
def test_proc_stat_start_refuses_other_text(text):
    with pytest.raises(ValueError, match="not a /proc/<pid>/stat line"):
        launchd.proc_stat_start(text)


# struct kinfo_proc opens with kp_proc.p_starttime: 64-bit seconds, 32-bit microseconds, padding.
def kinfo(seconds, micros):
    return struct.pack("=qi4x", seconds, micros) + bytes(632)


def test_kinfo_start_reads_p_starttime():
    assert launchd.kinfo_start(kinfo(1764420000, 250000), now=1764420100.0) == 1764420000.25


@pytest.mark.parametrize("raw", [
    kinfo(0, 0),                     # never a process's start
    kinfo(1764420000, 1000000),      # not microseconds
    kinfo(2 ** 40, 0),               # far in the future: not this layout
    struct.pack("=q", 1764420000),   # too short for a struct timeval
])
def test_kinfo_start_refuses_what_is_not_a_time(raw):
    with pytest.raises(launchd.NoPreciseStart):
        launchd.kinfo_start(raw, now=1764420100.0)


def test_precise_start_reads_a_real_process_the_same_every_time():
    before = time.time()
    child = subprocess.Popen(["sleep", "30"])
    after = time.time()
    try:
        starts = [launchd.precise_start(child.pid) for _read in range(20)]
    finally:
        child.kill()
        child.wait()
    # Linux counts in 10 ms ticks and truncates; both clocks are read back to back.
    assert before - 0.011 <= starts[0] <= after
    assert max(starts) - min(starts) < 0.002, starts
    assert launchd.precise_start(child.pid) is None


def test_newer_than_counts_only_changes_after_the_start():
    mtimes = {"/a": 99.0, "/b": 100.0, "/c": 100.5, "/d": 250.0}
    assert launchd.newer_than(100.0, mtimes) == ["/c", "/d"]
    assert launchd.newer_than(300.0, mtimes) == []


def test_modified_counts_a_link_by_its_own_change(tmp_path):
    release = tmp_path / "release-2"
    release.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("x")
    link = tmp_path / "venv"
    link.symlink_to(release)
    os.utime(release, (1000, 1000))
    os.utime(config, (2000, 2000))
    os.utime(link, (3000, 3000), follow_symlinks=False)
    found = launchd.modified([str(config), str(link), str(tmp_path / "absent")])
    assert found == {str(config): 2000.0, str(link): 3000.0}


@pytest.mark.parametrize("step, argv", [
    ("print", ["/bin/launchctl", "print", "gui/501/x"]),
    ("print-disabled", ["/bin/launchctl", "print-disabled", "gui/501"]),
    ("bootstrap", ["/bin/launchctl", "bootstrap", "gui/501", "/p/{x}.plist"]),
    ("bootout", ["/bin/launchctl", "bootout", "gui/501/x"]),
    ("enable", ["/bin/launchctl", "enable", "gui/501/x"]),
    ("disable", ["/bin/launchctl", "disable", "gui/501/x"]),
    ("kickstart", ["/bin/launchctl", "kickstart", "gui/501/x"]),
    ("restart", ["/bin/launchctl", "kickstart", "-k", "gui/501/x"]),
])
def test_runner_argv_and_locale(step, argv):
    module = FakeModule(check_mode=False)
    Launchctl(module, "gui/501", "x", plist_file(path="/p/{x}.plist")).run(step)
    assert module.calls == [(argv, {"environ_update": {"LANG": "C", "LC_ALL": "C"}})]


@pytest.mark.parametrize("step", sorted(launchd.MUTATING))
def test_runner_refuses_mutating_steps_in_check_mode(step):
    module = FakeModule(check_mode=True)
    with pytest.raises(LaunchdError, match="check mode"):
        Launchctl(module, "gui/501", "x", plist_file()).run(step)
    assert module.calls == []


@pytest.mark.parametrize("step", ["print", "print-disabled"])
def test_runner_reads_in_check_mode(step):
    module = FakeModule(check_mode=True)
    Launchctl(module, "gui/501", "x").run(step)
    assert len(module.calls) == 1
