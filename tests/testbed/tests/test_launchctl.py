"""Tests of the launchctl stand-in (tests/testbed/launchctl/launchctl).

Each test runs the real stand-in as a subprocess (supervisor and all) against private temp dirs
and checks what the collection relies on: exit codes and stderr texts as macOS gives them
(fixtures/launchctl/errors.yaml), job behaviour, and output shaped like the real captures.
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import LAUNCHCTL, LAUNCHCTL_FIXTURES, parse_launchctl_print, pid_alive, wait_until

LABEL = "com.example.job"
SLEEPER = "exec sleep 300"


def read_lines(path):
    return Path(path).read_text().splitlines() if Path(path).exists() else []


# --------------------------------------------------------------------------- running jobs

def test_job_gets_bare_environment_working_directory_and_appended_std_paths(launchctl_standin):
    lc, out = launchctl_standin, launchctl_standin.out
    plist = lc.job(LABEL, 'echo "run PATH=$PATH FOO=$FOO XPC=$XPC_SERVICE_NAME HOME=${HOME-unset} '
                   'PWD=$(pwd) SID=$(ps -o sid= $$) PGID=$(ps -o pgid= $$)"; echo oops >&2',
                   RunAtLoad=True, WorkingDirectory=str(out),
                   EnvironmentVariables={"FOO": "bar baz"},
                   StandardOutPath=str(out / "stdout.log"), StandardErrorPath=str(out / "err.log"))
    (out / "stdout.log").write_text("kept from before\n")

    assert lc("bootstrap", "system", plist).returncode == 0
    lc.wait_state("system/" + LABEL, "not running")
    assert lc("kickstart", "system/" + LABEL).returncode == 0
    fields = wait_until(lambda: (lambda f: f if f["runs"] == "2" and f["state"] == "not running"
                                 else None)(lc.print_fields("system/" + LABEL)))

    assert fields["last exit code"] == "0"
    lines = read_lines(out / "stdout.log")
    assert lines[0] == "kept from before"  # opened for append, never truncated
    assert len(lines) == 3
    for line in lines[1:]:
        words = dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)
        assert words["PATH"] == "/usr/bin:/bin:/usr/sbin:/sbin"
        assert "FOO=bar baz" in line
        assert words["XPC"] == LABEL
        assert words["HOME"] == "unset"
        assert words["PWD"] == str(out)
        sid = int(line.split("SID=")[1].split()[0])
        assert sid == int(line.split("PGID=")[1].split()[0]) != os.getsid(0)  # own session
    assert read_lines(out / "err.log") == ["oops", "oops"]


def test_print_output_has_the_shape_of_the_real_captures(launchctl_standin):
    lc, out = launchctl_standin, launchctl_standin.out
    plist = lc.job(LABEL, SLEEPER, RunAtLoad=True, KeepAlive=True, WorkingDirectory="/tmp",
                   EnvironmentVariables={"PATH": "/opt/bin:/usr/bin", "FOO": "bar"},
                   StandardOutPath=str(out / "o.log"), StandardErrorPath=str(out / "e.log"),
                   ThrottleInterval=3, ExitTimeOut=7)
    assert lc("bootstrap", "system", plist).returncode == 0
    text = lc("print", "system/" + LABEL).stdout

    assert text.startswith("system/%s = {\n" % LABEL) and text.endswith("\n}\n")
    assert all(line == "" or line.startswith("\t") for line in text.splitlines()[1:-1])
    fields = parse_launchctl_print(text)
    real = parse_launchctl_print((LAUNCHCTL_FIXTURES / "print-agent-not-running.txt").read_text())
    shared = [k for k in real if k in fields]
    assert shared == [k for k in fields if k in real]  # same keys in the same order
    not_imitated = {"asid", "nice", "event triggers", "event channels", "jetsam priority",
                    "jetsam memory limit (active)", "jetsam memory limit (inactive)",
                    "jetsamproperties category", "jetsam thread limit", "cpumon",
                    "probabilistic guard malloc policy"}
    assert set(real) - set(fields) == not_imitated
    pid = int(fields["pid"])
    assert fields == {
        "active count": "1", "path": plist, "type": "LaunchDaemon", "state": "running",
        "program": "/bin/sh", "arguments": ["/bin/sh", "-c", SLEEPER],
        "working directory": "/tmp", "stdout path": str(out / "o.log"),
        "stderr path": str(out / "e.log"),
        "default environment": ["PATH => /usr/bin:/bin:/usr/sbin:/sbin"],
        "environment": ["FOO => bar", "PATH => /opt/bin:/usr/bin", "XPC_SERVICE_NAME => " + LABEL],
        "domain": "system", "minimum runtime": "3", "exit timeout": "7", "runs": "1",
        "pid": str(pid), "last exit code": "(never exited)", "spawn type": "daemon (3)",
        "properties": "keepalive | runatload | inferred program"}
    assert pid_alive(pid)
    running = parse_launchctl_print((LAUNCHCTL_FIXTURES / "print-agent-running.txt").read_text())
    assert set(running) <= set(fields)

    plain = lc.job("com.example.plain", "exit 0", Program="/bin/true", ProgramArguments=["true"])
    assert lc("bootstrap", "system", plain).returncode == 0
    text = lc("print", "system/com.example.plain").stdout
    assert "\tproperties = \n" in text  # as in print-agent-not-running.txt
    fields = parse_launchctl_print(text)
    assert (fields["program"], fields["arguments"]) == ("/bin/true", ["true"])
    assert fields["state"] == "not running" and "pid" not in fields
    assert set(parse_launchctl_print((LAUNCHCTL_FIXTURES / "print-clean-exit.txt").read_text())) \
        <= set(fields)


def test_print_of_a_domain_lists_its_services(launchctl_standin):
    lc = launchctl_standin
    assert lc("bootstrap", "system", lc.job(LABEL, SLEEPER, RunAtLoad=True)).returncode == 0
    pid = lc.print_fields("system/" + LABEL)["pid"]
    result = lc("print", "system")
    assert result.returncode == 0
    assert result.stdout.startswith("system = {\n")
    assert re.search(r"^\t\t +%s +- \t%s$" % (pid, re.escape(LABEL)), result.stdout, re.M)


def test_spawn_failure_is_recorded_as_ex_config(launchctl_standin):
    lc = launchctl_standin
    plist = lc.job(LABEL, "", ProgramArguments=["/nonexistent/program"], RunAtLoad=True)
    assert lc("bootstrap", "system", plist).returncode == 0
    fields = lc.print_fields("system/" + LABEL)
    assert (fields["state"], fields["last exit code"]) == ("not running", "78: EX_CONFIG")


# --------------------------------------------------------------------------- KeepAlive

def spawn_times(path):
    return [float(line) for line in read_lines(path)]


def test_keepalive_true_respawns_no_sooner_than_throttle_interval(launchctl_standin):
    lc, marks = launchctl_standin, launchctl_standin.out / "spawns"
    plist = lc.job(LABEL, "date +%%s.%%N >> %s; exit 1" % marks, KeepAlive=True,
                   ThrottleInterval=1)
    assert lc("bootstrap", "system", plist).returncode == 0
    fields = lc.wait_state("system/" + LABEL, "spawn scheduled")
    assert fields["last exit code"] == "1" and fields["active count"] == "0"
    assert wait_until(lambda: len(spawn_times(marks)) >= 3, 5)
    times = spawn_times(marks)
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:])), times
    assert lc("bootout", "system/" + LABEL).returncode == 0  # a scheduled job goes at once
    assert lc("print", "system/" + LABEL).returncode == 113


def test_keepalive_false_does_not_respawn_and_list_shows_raw_wait_status(launchctl_standin):
    lc, marks = launchctl_standin, launchctl_standin.out / "spawns"
    plist = lc.job(LABEL, "echo x >> %s; exit 1" % marks, KeepAlive=False, RunAtLoad=True,
                   ThrottleInterval=1)
    assert lc("bootstrap", "system", plist).returncode == 0
    lc.wait_state("system/" + LABEL, "not running")
    time.sleep(1.3)
    assert len(read_lines(marks)) == 1
    entry = lc("list", LABEL).stdout
    assert '\t"LastExitStatus" = 256;\n' in entry and '"PID"' not in entry
    assert "-\t1\t" + LABEL in lc("list").stdout.splitlines()


def test_keepalive_successful_exit_false_restarts_only_after_failure(launchctl_standin):
    lc, marks = launchctl_standin, launchctl_standin.out / "spawns"
    # First run exits 1, the next exits 0. No RunAtLoad: SuccessfulExit implies it.
    script = 'echo x >> {0}; [ "$(wc -l < {0})" -ge 2 ] && exit 0; exit 1'.format(marks)
    plist = lc.job(LABEL, script, KeepAlive={"SuccessfulExit": False}, ThrottleInterval=1)
    assert lc("bootstrap", "system", plist).returncode == 0
    fields = wait_until(lambda: (lambda f: f if f["runs"] == "2" and f["state"] == "not running"
                                 else None)(lc.print_fields("system/" + LABEL)), 5)
    assert fields and fields["last exit code"] == "0"
    # macOS shows a conditional KeepAlive as semaphores, never as the keepalive property.
    assert fields["semaphores"] == ["successful exit => 0"]
    assert "keepalive" not in fields["properties"]
    time.sleep(1.3)
    assert len(read_lines(marks)) == 2


def test_keepalive_crashed_true_restarts_only_after_a_crash(launchctl_standin):
    lc, marks = launchctl_standin, launchctl_standin.out / "spawns"
    script = 'echo x >> {0}; [ "$(wc -l < {0})" -ge 2 ] && exit 3; kill -SEGV $$'.format(marks)
    plist = lc.job(LABEL, script, KeepAlive={"Crashed": True}, RunAtLoad=True,
                   ThrottleInterval=1)
    assert lc("bootstrap", "system", plist).returncode == 0
    fields = lc.wait_state("system/" + LABEL, "spawn scheduled")
    assert fields["last terminating signal"] == "11: Segmentation fault: 11"
    fields = wait_until(lambda: (lambda f: f if f["runs"] == "2" and f["state"] == "not running"
                                 else None)(lc.print_fields("system/" + LABEL)), 5)
    assert fields and fields["last exit code"] == "3"
    time.sleep(1.3)
    assert len(read_lines(marks)) == 2


# --------------------------------------------------------------------------- kickstart

def test_kickstart_starts_keeps_and_with_k_kills_and_restarts(launchctl_standin):
    lc = launchctl_standin
    plist = lc.job(LABEL, SLEEPER)
    assert lc("bootstrap", "system", plist).returncode == 0
    assert lc.print_fields("system/" + LABEL)["state"] == "not running"

    started = lc("kickstart", "-p", "system/" + LABEL)
    assert started.returncode == 0 and re.fullmatch(r"\d+\n", started.stdout)  # not a tty
    pid = int(started.stdout)
    assert lc.print_fields("system/" + LABEL)["pid"] == str(pid) and pid_alive(pid)

    again = lc("kickstart", "-p", "system/" + LABEL)
    assert (again.returncode, again.stdout) == (0, "%d\n" % pid)

    killed = lc("kickstart", "-kp", "system/" + LABEL)
    assert killed.returncode == 0
    new_pid = int(killed.stdout)
    assert new_pid != pid and pid_alive(new_pid) and not pid_alive(pid)
    fields = lc.print_fields("system/" + LABEL)
    assert fields["last terminating signal"] == "9: Killed: 9"
    assert (fields["runs"], fields["pid"]) == ("2", str(new_pid))
    entry = lc("list", LABEL).stdout
    assert '\t"LastExitStatus" = 9;\n' in entry and '\t"PID" = %d;\n' % new_pid in entry


def test_unknown_service_gives_113_with_macos_texts(launchctl_standin, launchctl_standin_user):
    lc, uid = launchctl_standin, launchctl_standin_user.pw_uid
    result = lc("kickstart", "-k", "gui/%d/so.pidash.daemon" % uid)
    assert (result.returncode, result.stderr) == (
        113, 'Could not find service "so.pidash.daemon" in domain for user gui: %d\n' % uid)
    result = lc("kickstart", "-k", "system/org.nixos.darwin-store")
    assert (result.returncode, result.stderr) == (
        113, 'Could not find service "org.nixos.darwin-store" in domain for system\n')
    result = lc("print", "system/no.such.job")
    assert (result.returncode, result.stderr) == (
        113, 'Could not find service "no.such.job" in domain for port\n')
    assert lc("list", "no.such.job").returncode == 113


# --------------------------------------------------------------------------- bootstrap/bootout

def test_bootstrap_of_a_loaded_label_fails_with_5(launchctl_standin):
    lc = launchctl_standin
    plist = lc.job(LABEL, SLEEPER, RunAtLoad=True)
    assert lc("bootstrap", "system", plist).returncode == 0
    result = lc("bootstrap", "system", plist)
    assert (result.returncode, result.stderr) == (
        5, "Bootstrap failed: 5: Input/output error\n"
           "Try re-running the command as root for richer errors.\n")


def test_bootout_of_an_unloaded_job_fails_with_3(launchctl_standin, launchctl_standin_user):
    uid = launchctl_standin_user.pw_uid
    result = launchctl_standin("bootout", "gui/%d/never.loaded.label" % uid)
    assert (result.returncode, result.stderr) == (3, "Boot-out failed: 3: No such process\n")


def test_bootout_is_asynchronous_37_and_36_until_the_job_has_exited(launchctl_standin):
    lc, marks = launchctl_standin, launchctl_standin.out / "term"
    script = "trap 'sleep 1; echo term >> %s; exit 0' TERM; while :; do sleep 0.1; done" % marks
    plist = lc.job(LABEL, script, RunAtLoad=True, ExitTimeOut=5)
    assert lc("bootstrap", "system", plist).returncode == 0
    pid = int(lc.print_fields("system/" + LABEL)["pid"])

    started = time.monotonic()
    assert lc("bootout", "system/" + LABEL).returncode == 0
    assert time.monotonic() - started < 0.9  # returned after SIGTERM, before the exit
    result = lc("bootstrap", "system", plist)
    assert (result.returncode, result.stderr) == (
        37, "Bootstrap failed: 37: Operation already in progress\n")
    result = lc("bootout", "system/" + LABEL)
    assert (result.returncode, result.stderr) == (
        36, "Boot-out failed: 36: Operation now in progress\n")

    assert wait_until(lambda: lc("print", "system/" + LABEL).returncode == 113, 5)
    assert read_lines(marks) == ["term"] and not pid_alive(pid)
    assert lc("bootstrap", "system", plist).returncode == 0


def test_bootout_by_plist_and_sigkill_after_exit_timeout(launchctl_standin):
    lc = launchctl_standin
    plist = lc.job(LABEL, "trap '' TERM; while :; do sleep 0.1; done", RunAtLoad=True,
                   ExitTimeOut=1)
    assert lc("bootstrap", "system", plist).returncode == 0
    pid = int(lc.print_fields("system/" + LABEL)["pid"])
    started = time.monotonic()
    assert lc("bootout", "system", plist).returncode == 0
    assert wait_until(lambda: not pid_alive(pid), 4)
    assert 0.9 <= time.monotonic() - started < 3
    assert wait_until(lambda: lc("print", "system/" + LABEL).returncode == 113, 2)


def test_bad_plists_are_refused(launchctl_standin):
    lc, daemons = launchctl_standin, launchctl_standin.daemons
    garbage = daemons / "garbage.plist"
    garbage.write_text("<plist><dict><key>Label</key>")
    result = lc("bootstrap", "system", str(garbage))
    assert (result.returncode, result.stderr) == (133, "%s: Invalid property list\n" % garbage)

    no_label = lc.plist(daemons / "nolabel.plist", ProgramArguments=["/bin/true"])
    no_program = lc.plist(daemons / "noprogram.plist", Label=LABEL)
    for plist in (no_label, no_program):
        result = lc("bootstrap", "system", plist)
        assert result.returncode == 5 and result.stderr.startswith("Bootstrap failed: 5: ")
    result = lc("bootstrap", "system", str(daemons / "missing.plist"))
    assert (result.returncode, result.stderr) == (
        2, "Bootstrap failed: 2: No such file or directory\n")


def test_bad_ownership_or_permissions_give_122(launchctl_standin, launchctl_standin_user,
                                  launchctl_standin_agents):
    agents = launchctl_standin_agents
    lc, user = launchctl_standin, launchctl_standin_user
    expected = (122, "Bootstrap failed: 122: Path had bad ownership/permissions\n")
    for name, owner, mode in (("group", 0, 0o664), ("world", 0, 0o646),
                              ("owner", user.pw_uid, 0o644)):
        plist = lc.job("com.example." + name, "exit 0", owner=owner, mode=mode)
        result = lc("bootstrap", "system", plist)
        assert (result.returncode, result.stderr) == expected, name

    own = lc.job("com.example.own", "exit 0", agents, owner=user.pw_uid, mode=0o600)
    assert lc("bootstrap", "gui/%d" % user.pw_uid, own).returncode == 0
    writable = lc.job("com.example.writable", "exit 0", agents, owner=user.pw_uid, mode=0o620)
    result = lc("bootstrap", "gui/%d" % user.pw_uid, writable)
    assert (result.returncode, result.stderr) == expected


def test_no_gui_session_gives_125_and_print_112(launchctl_standin, launchctl_standin_user,
                                  launchctl_standin_agents):
    agents = launchctl_standin_agents
    lc, uid = launchctl_standin, launchctl_standin_user.pw_uid
    plist = lc.job("com.example.agent", SLEEPER, agents, owner=uid, RunAtLoad=True)
    assert lc("bootstrap", "gui/%d" % uid, plist).returncode == 0
    pid = int(lc.print_fields("gui/%d/com.example.agent" % uid)["pid"])

    assert lc("x-standin", "gui-session", str(uid), "off").returncode == 0
    assert not pid_alive(pid)  # logging out stops the session's agents
    result = lc("bootstrap", "gui/%d" % uid, plist)
    assert (result.returncode, result.stderr) == (
        125, "Bootstrap failed: 125: Domain does not support specified action\n")
    result = lc("kickstart", "gui/%d/com.example.agent" % uid)
    assert (result.returncode, result.stderr) == (
        125, 'Could not kickstart service "com.example.agent": 125: Domain does not support '
             'specified action\n')
    result = lc("print", "gui/%d/com.example.agent" % uid)
    assert (result.returncode, result.stderr) == (
        112, "Could not find domain for user gui: %d\n" % uid)
    assert lc("bootout", "gui/%d/com.example.agent" % uid).returncode == 125
    assert lc("print-disabled", "gui/%d" % uid).returncode == 112

    on = lc("x-standin", "gui-session", str(uid), "on")  # a login loads the user's agents
    assert on.returncode == 0 and "loaded gui/%d/com.example.agent" % uid in on.stdout
    assert lc.print_fields("gui/%d/com.example.agent" % uid)["state"] == "running"


def test_user_domain_needs_background_session_type(launchctl_standin, launchctl_standin_user,
                                  launchctl_standin_agents):
    agents = launchctl_standin_agents
    lc, uid = launchctl_standin, launchctl_standin_user.pw_uid
    aqua = lc.job("com.example.aqua", "exit 0", agents, owner=uid)
    result = lc("bootstrap", "user/%d" % uid, aqua)
    assert (result.returncode, result.stderr) == (
        134, "Bootstrap failed: 134: Service cannot load in requested session\n")
    both = lc.job("com.example.both", "id -u > %s/uid" % lc.out, agents, owner=uid,
                  RunAtLoad=True, LimitLoadToSessionType=["Aqua", "Background"])
    assert lc("bootstrap", "user/%d" % uid, both).returncode == 0
    background = lc.job("com.example.bg", "exit 0", agents, owner=uid,
                        LimitLoadToSessionType="Background")
    assert lc("bootstrap", "user/%d" % uid, background).returncode == 0
    assert lc("bootstrap", "gui/%d" % uid, background).returncode == 134
    assert wait_until(lambda: read_lines(lc.out / "uid") == [str(uid)])
    assert lc.print_fields("user/%d/com.example.bg" % uid)["type"] == "LaunchAgent"


def test_usage_errors(launchctl_standin):
    lc = launchctl_standin
    result = lc("bootstrap")
    assert result.returncode == 64 and result.stderr.startswith("Usage: launchctl bootstrap ")
    result = lc("kickstart", "-k", "nonsense")
    assert result.returncode == 64
    assert result.stderr.startswith("Unrecognized target specifier. <service-target> takes ")
    assert lc("kickstart", "-x", "system/a").returncode == 64
    assert lc("print", "gui/abc").returncode == 64
    result = lc("frobnicate")
    assert result.returncode == 1
    assert result.stderr.startswith("Unrecognized subcommand: frobnicate\n")
    assert lc("x-standin", "gui-session", "501", "maybe").returncode == 64


# --------------------------------------------------------------------------- users and domains

def test_system_job_runs_as_username_and_groupname(launchctl_standin, launchctl_standin_user):
    lc, user = launchctl_standin, launchctl_standin_user
    ids = "id -un > {0}/%s; id -gn >> {0}/%s; id -Gn >> {0}/%s".format(lc.out)
    user_only = lc.job(LABEL, ids.replace("%s", "user"), RunAtLoad=True, UserName=user.pw_name)
    with_group = lc.job("com.example.grouped", ids.replace("%s", "group"), RunAtLoad=True,
                        UserName=user.pw_name, GroupName="nogroup")
    for plist in (user_only, with_group):
        assert lc("bootstrap", "system", plist).returncode == 0
    assert wait_until(lambda: len(read_lines(lc.out / "user")) == len(read_lines(lc.out / "group"))
                      == 3)
    name, group, groups = read_lines(lc.out / "user")
    assert (name, group) == (user.pw_name, user.pw_name)
    assert sorted(groups.split()) == sorted([user.pw_name, "nogroup"])  # initgroups
    assert read_lines(lc.out / "group")[:2] == [user.pw_name, "nogroup"]
    assert lc.print_fields("system/" + LABEL)["username"] == user.pw_name


def test_gui_job_runs_as_the_domain_user(launchctl_standin, launchctl_standin_user,
                                  launchctl_standin_agents):
    agents = launchctl_standin_agents
    lc, user = launchctl_standin, launchctl_standin_user
    log = lc.out / "agent.log"
    plist = lc.job(LABEL, "id -u; id -g", agents, owner=user.pw_uid, RunAtLoad=True,
                   UserName="root", StandardOutPath=str(log))
    assert lc("bootstrap", "gui/%d" % user.pw_uid, plist).returncode == 0
    assert wait_until(lambda: len(read_lines(log)) == 2)
    assert read_lines(log) == [str(user.pw_uid), str(user.pw_gid)]
    assert log.stat().st_uid == user.pw_uid  # the std path is opened as the job's user
    fields = lc.print_fields("gui/%d/%s" % (user.pw_uid, LABEL))
    assert (fields["type"], fields["domain"]) == ("LaunchAgent", "gui/%d" % user.pw_uid)


def test_non_root_callers_act_only_on_their_own_domains(launchctl_standin, launchctl_standin_user,
                                  launchctl_standin_agents):
    agents = launchctl_standin_agents
    lc, user = launchctl_standin, launchctl_standin_user
    plist = lc.job(LABEL, SLEEPER, agents, owner=user.pw_uid, RunAtLoad=True)

    result = lc("list", as_user=user)  # nothing runs yet, and a user cannot start launchd
    assert result.returncode == 69 and "no launchd supervisor is running" in result.stderr
    assert lc.supervisor_pid() is None

    assert lc("list").returncode == 0  # root starts the supervisor
    result = lc("bootstrap", "system", plist, as_user=user)
    assert (result.returncode, result.stderr) == (
        1, "Bootstrap failed: 1: Operation not permitted\n")
    assert lc("bootstrap", "gui/%d" % (user.pw_uid + 1), plist, as_user=user).returncode == 1
    assert lc("x-standin", "boot", as_user=user).returncode == 1
    assert lc("bootstrap", "gui/%d" % user.pw_uid, plist, as_user=user).returncode == 0
    pid = int(lc("kickstart", "-p", "gui/%d/%s" % (user.pw_uid, LABEL), as_user=user).stdout)
    assert pid_alive(pid)
    assert lc("print", "system/" + LABEL, as_user=user).returncode == 113  # reading is allowed
    assert lc("disable", "system/" + LABEL, as_user=user).returncode == 1
    assert lc("bootout", "gui/%d/%s" % (user.pw_uid, LABEL), as_user=user).returncode == 0
    assert wait_until(lambda: not pid_alive(pid))


# --------------------------------------------------------------------------- enable/disable

def test_disable_persists_across_boot_and_outlives_the_plist(launchctl_standin):
    lc = launchctl_standin
    plist = lc.job(LABEL, SLEEPER, RunAtLoad=True)
    assert lc("disable", "system/" + LABEL).returncode == 0
    assert lc("enable", "system/com.example.other").returncode == 0
    result = lc("bootstrap", "system", plist)
    assert (result.returncode, result.stderr) == (
        119, "Bootstrap failed: 119: Service is disabled\n")

    listing = lc("print-disabled", "system").stdout
    real = (LAUNCHCTL_FIXTURES / "print-disabled.txt").read_text()
    assert listing.startswith("\n" + real.splitlines()[0] + "\n")  # "\tdisabled services = {"
    entries = re.findall(r'^\t\t"(.+)" => (disabled|enabled)$', listing, re.M)
    assert entries == [(LABEL, "disabled"), ("com.example.other", "enabled")]
    assert re.findall(r'^\t\t"(.+)" => (disabled|enabled)$', real, re.M)  # same line format

    assert lc("x-standin", "boot").returncode == 0
    os.unlink(plist)
    assert lc("x-standin", "shutdown").returncode == 0  # the db outlives the supervisor too
    assert '\t\t"%s" => disabled\n' % LABEL in lc("print-disabled", "system").stdout
    lc.job(LABEL, SLEEPER, RunAtLoad=True)
    assert "skipped %s" % plist in lc("x-standin", "boot").stdout
    assert lc("print", "system/" + LABEL).returncode == 113
    assert lc("enable", "system/" + LABEL).returncode == 0
    assert lc("bootstrap", "system", plist).returncode == 0


def test_user_and_gui_domains_share_the_override_store(launchctl_standin, launchctl_standin_user):
    lc, uid = launchctl_standin, launchctl_standin_user.pw_uid
    assert lc("disable", "user/%d/%s" % (uid, LABEL)).returncode == 0
    assert '"%s" => disabled' % LABEL in lc("print-disabled", "gui/%d" % uid).stdout
    assert LABEL not in lc("print-disabled", "system").stdout


# --------------------------------------------------------------------------- legacy verbs

def test_legacy_load_and_unload_exit_0_even_on_failure(launchctl_standin, launchctl_standin_user,
                                  launchctl_standin_agents):
    agents = launchctl_standin_agents
    lc, user = launchctl_standin, launchctl_standin_user
    plist = lc.job(LABEL, SLEEPER, agents, owner=user.pw_uid, RunAtLoad=True)
    assert lc("disable", "gui/%d/%s" % (user.pw_uid, LABEL)).returncode == 0

    result = lc("load", plist)  # disabled: fails, yet exits 0
    assert (result.returncode, result.stderr) == (
        0, "Load failed: 5: Input/output error\n"
           "Try running `launchctl bootstrap` as root for richer errors.\n")
    result = lc("load", "-w", plist)  # -w clears the override; lands in the owner's gui domain
    assert (result.returncode, result.stderr) == (0, "")
    assert lc.print_fields("gui/%d/%s" % (user.pw_uid, LABEL))["state"] == "running"
    assert lc("load", plist).stderr.startswith("Load failed: 5: ")  # already loaded

    result = lc("unload", "-w", plist)
    assert (result.returncode, result.stderr) == (0, "")
    assert '"%s" => disabled' % LABEL in lc("print-disabled", "gui/%d" % user.pw_uid).stdout
    assert wait_until(lambda: lc("print", "gui/%d/%s" % (user.pw_uid, LABEL)).returncode == 113)
    result = lc("unload", plist)
    assert (result.returncode, result.stderr) == (
        0, "Unload failed: 5: Input/output error\n"
           "Try running `launchctl bootout` as root for richer errors.\n")

    daemon = lc.job("com.example.daemon", "exit 0")
    assert lc("load", daemon).returncode == 0
    assert lc("print", "system/com.example.daemon").returncode == 0  # root, not in a home: system


def test_legacy_list_output(launchctl_standin):
    lc = launchctl_standin
    running = lc.job("com.example.running", SLEEPER, RunAtLoad=True, KeepAlive=True,
                     StandardOutPath="/dev/null")
    idle = lc.job("com.example.idle", "exit 0", Program="/bin/sh", ProgramArguments=["sh"])
    for plist in (running, idle):
        assert lc("bootstrap", "system", plist).returncode == 0
    pid = lc.print_fields("system/com.example.running")["pid"]

    assert lc("list").stdout.splitlines() == [
        "PID\tStatus\tLabel", "-\t0\tcom.example.idle", "%s\t0\tcom.example.running" % pid]

    def keys(text):
        return re.findall(r'^\t"(\w+)" = ', text, re.M)

    entry = lc("list", "com.example.running").stdout
    real = (LAUNCHCTL_FIXTURES / "list-label-running.txt").read_text()
    assert entry.startswith("{\n") and entry.endswith("};\n")
    assert [k for k in keys(entry) if k in keys(real)] == keys(real)
    assert '\t"PID" = %s;\n' % pid in entry and '\t"OnDemand" = false;\n' in entry
    assert '\t"LimitLoadToSessionType" = "System";\n' in entry

    entry = lc("list", "com.example.idle").stdout
    idle_real = (LAUNCHCTL_FIXTURES / "list-label-idle.txt").read_text()
    assert [k for k in keys(entry) if k in keys(idle_real)] == [
        k for k in keys(idle_real) if k not in ("StandardOutPath", "StandardErrorPath")]
    assert '"PID"' not in entry and '\t"OnDemand" = true;\n' in entry
    assert '\t"ProgramArguments" = (\n\t\t"sh";\n\t);\n' in entry


# --------------------------------------------------------------------------- boot and lifetime

def test_boot_reloads_daemons_and_gui_agents_but_not_user_jobs(launchctl_standin,
                                                               launchctl_standin_user,
                                  launchctl_standin_agents):
    agents = launchctl_standin_agents
    lc, user = launchctl_standin, launchctl_standin_user
    uid = user.pw_uid
    lc.job("com.example.daemon", SLEEPER, RunAtLoad=True)
    lc.job("com.example.off", SLEEPER, RunAtLoad=True)
    agent = lc.job("com.example.agent", SLEEPER, agents, owner=uid, RunAtLoad=True)
    background = lc.job("com.example.bg", SLEEPER, lc.base / "bg", owner=uid, RunAtLoad=True,
                        LimitLoadToSessionType="Background")
    assert lc("disable", "system/com.example.off").returncode == 0
    assert lc("bootstrap", "user/%d" % uid, background).returncode == 0
    assert lc("bootstrap", "gui/%d" % uid, agent).returncode == 0
    old = {t: int(lc.print_fields(t)["pid"])
           for t in ("user/%d/com.example.bg" % uid, "gui/%d/com.example.agent" % uid)}

    result = lc("x-standin", "boot")
    assert result.returncode == 0
    assert not any(pid_alive(pid) for pid in old.values())
    assert lc.print_fields("system/com.example.daemon")["state"] == "running"
    assert lc("print", "system/com.example.off").returncode == 113
    fields = lc.print_fields("gui/%d/com.example.agent" % uid)
    assert fields["state"] == "running" and int(fields["pid"]) != old["gui/%d/com.example.agent"
                                                                      % uid]
    assert lc("print", "user/%d/com.example.bg" % uid).returncode == 113

    assert lc("x-standin", "gui-session", str(uid), "off").returncode == 0
    assert lc("x-standin", "boot").returncode == 0
    assert lc.print_fields("system/com.example.daemon")["state"] == "running"
    assert lc("print", "gui/%d/com.example.agent" % uid).returncode == 112


def test_boot_starts_a_supervisor_and_jobs_outlive_the_bootstrapping_session(launchctl_standin):
    lc = launchctl_standin
    plist = lc.job(LABEL, SLEEPER, RunAtLoad=True)
    # Like an SSH session: the first launchctl starts the supervisor, then the session dies.
    session = subprocess.Popen(["/bin/sh", "-c", '"$0" bootstrap system "$1"; exec sleep 300',
                                str(LAUNCHCTL), plist], env=lc.env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: lc.supervisor_pid() and lc("print", "system/" + LABEL)
                          .returncode == 0)
    finally:
        os.killpg(session.pid, signal.SIGKILL)
        session.wait(5)
    pid = int(lc.print_fields("system/" + LABEL)["pid"])
    supervisor = lc.supervisor_pid()
    time.sleep(0.2)
    assert pid_alive(pid) and pid_alive(supervisor)
    assert os.getsid(supervisor) != session.pid and os.getsid(pid) == pid

    assert lc("x-standin", "shutdown").returncode == 0
    assert lc("x-standin", "shutdown").returncode == 0  # nothing left to stop: still 0
    lc.job("com.example.daemon", SLEEPER, RunAtLoad=True)
    assert lc("x-standin", "boot").stdout.startswith("loaded system/")
    assert lc.print_fields("system/com.example.daemon")["state"] == "running"


def test_shutdown_leaves_no_process_behind(launchctl_standin):
    lc = launchctl_standin
    plist = lc.job(LABEL, "sleep 300 & sleep 300 & trap '' TERM; wait", RunAtLoad=True,
                   ExitTimeOut=1)
    crashing = lc.job("com.example.crashing", "exit 1", KeepAlive=True, ThrottleInterval=1)
    for path in (plist, crashing):
        assert lc("bootstrap", "system", path).returncode == 0
    pid = int(lc.print_fields("system/" + LABEL)["pid"])
    group = wait_until(lambda: (lambda p: p if len(p) == 3 else None)(
        [int(p) for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == pid]))
    assert group, "the job and its two children"
    supervisor = lc.supervisor_pid()

    assert lc("x-standin", "shutdown").returncode == 0
    assert not any(pid_alive(p) for p in group + [supervisor])
    assert not (lc.run_dir / "launchd.sock").exists()


def _pgid(pid):
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
