# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Traefik's launcher (roles/traefik_route/files/ccproxy_traefik.py): its decisions as data, and
the real Traefik under it while newsyslog's renames happen (by hand, as newsyslog does them)."""
import importlib.util
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from ansible_collections.visiquate.ccproxy.tests.unit.processes import free_port, stop_process, wait_for
from ansible_collections.visiquate.ccproxy.tests.unit.roles.auth_harness import traefik_binary  # noqa: F401  pylint: disable=unused-import

SCRIPT = Path(__file__).resolve().parents[3] / "roles/traefik_route/files/ccproxy_traefik.py"


def load():
    spec = importlib.util.spec_from_file_location("ccproxy_traefik", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


X, Y = (1, 10), (1, 11)


@pytest.mark.parametrize("seen, now, awaiting, decision", [
    (X, X, False, (False, False)),       # the same file
    (X, Y, False, (True, False)),        # renamed, and newsyslog's next file is there
    (X, None, False, (True, True)),      # renamed, nothing there yet: signal, and await the next
    (None, None, True, (False, True)),   # still nothing: go on awaiting
    (None, Y, True, (True, False)),      # the next file, Traefik's or newsyslog's over it: reopen it
    (None, Y, False, (False, False)),    # a first sight: Traefik created it at its start
    (None, None, False, (False, False)),  # no access log: no signal at every look
], ids=["same", "replaced", "gone", "still gone", "appeared after a signal", "first sight", "none"])
def test_look(seen, now, awaiting, decision):
    assert load().look(seen, now, awaiting) == decision


def test_log_file_follows_its_name_and_is_the_user_s_alone(tmp_path):
    log = load().LogFile(str(tmp_path / "traefik.log"))
    log.write(b"one\n")
    os.rename(tmp_path / "traefik.log", tmp_path / "traefik.log.0")
    log.write(b"two\n")
    assert (tmp_path / "traefik.log.0").read_bytes() == b"one\n"
    assert (tmp_path / "traefik.log").read_bytes() == b"two\n"
    assert (tmp_path / "traefik.log").stat().st_mode & 0o777 == 0o600


def test_a_log_it_cannot_write_is_reported_once_and_written_when_it_can(tmp_path, capsys):
    log = load().LogFile(str(tmp_path / "logs" / "traefik.log"))
    log.write(b"lost 1\n")
    log.write(b"lost 2\n")
    assert capsys.readouterr().err.count("cannot write") == 1
    (tmp_path / "logs").mkdir()
    log.write(b"kept\n")
    assert (tmp_path / "logs" / "traefik.log").read_bytes() == b"kept\n"


def test_a_full_disk_loses_lines_but_never_stops_the_launcher(monkeypatch):
    # /dev/full: every write fails with ENOSPC, as the log and launchd's stderr file would.
    with io.TextIOWrapper(open("/dev/full", "wb", buffering=0), write_through=True) as full:  # stderr's way
        monkeypatch.setattr(sys, "stderr", full)
        log = load().LogFile("/dev/full")
        log.write(b"lost\n")
        log.write(b"lost too\n")
        assert log.failed and log.fd is None


@pytest.mark.parametrize("argv", [[], ["--", ], ["--interval", "0", "--", "traefik"]], ids=["none", "empty", "interval"])
def test_a_bad_command_line_is_refused(argv):
    with pytest.raises(SystemExit) as exc:
        load().main(["--log", "l", "--access-log", "a"] + argv)
    assert exc.value.code == 2


class Launched:
    """The launcher with the real Traefik under it, as the role's job runs them."""

    def __init__(self, binary, base):
        self.base, self.api, self.web = base, free_port(), free_port()
        self.log, self.access_log = base / "traefik.log", base / "traefik-access.log"
        (base / "dynamic").mkdir()
        (base / "traefik.yml").write_text(
            "entryPoints:\n  traefik:\n    address: 127.0.0.1:%d\n  web:\n    address: 127.0.0.1:%d\n"
            "api: {insecure: true, dashboard: false}\nping: {entryPoint: traefik}\n"
            "providers: {file: {directory: %s, watch: true}}\n"
            "log: {level: INFO, noColor: true}\naccessLog: {filePath: %s, format: json}\n"
            % (self.api, self.web, base / "dynamic", self.access_log))
        self.stderr = open(base / "traefik.launchd.log", "wb")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, str(SCRIPT), "--log", str(self.log), "--access-log", str(self.access_log),
             "--interval", "0.2", "--", str(binary), "--configFile=%s" % (base / "traefik.yml")],
            cwd=base, stdout=self.stderr, stderr=self.stderr)
        wait_for(self.answers, 20, "Traefik's /ping under the launcher", interval=0.1)

    def answers(self):
        assert self.process.poll() is None, (self.base / "traefik.launchd.log").read_text()
        try:
            return requests.get("http://127.0.0.1:%d/ping" % self.api, timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def request(self):
        """One request on the clients' entrypoint (404: no router), which the access log records."""
        assert requests.get("http://127.0.0.1:%d/v1/models" % self.web, timeout=2).status_code == 404

    def traefik_pid(self):
        children = Path("/proc/%d/task/%d/children" % (self.process.pid, self.process.pid)).read_text().split()
        assert len(children) == 1, children
        return int(children[0])

    def stop(self):
        stop_process(self.process)
        self.stderr.close()


@pytest.fixture
def launched(traefik_binary, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    launched = Launched(traefik_binary, tmp_path)
    yield launched
    launched.stop()


def test_traefik_s_own_log_goes_to_the_log_file_without_colour(launched):
    wait_for(lambda: b"Starting provider" in launched.log.read_bytes(), 10, "Traefik's start in traefik.log")
    assert b"\x1b[" not in launched.log.read_bytes()
    assert launched.log.stat().st_mode & 0o777 == 0o600


def test_after_newsyslog_renames_both_logs_traefik_writes_new_ones(launched):
    launched.request()
    wait_for(lambda: launched.access_log.exists() and launched.access_log.stat().st_size > 0, 10, "an access log line")
    time.sleep(0.5)  # the launcher's looks (every 0.2 s) have seen it: newsyslog renames a full one
    for path in (launched.log, launched.access_log):
        os.rename(path, str(path) + ".0")
    # The launcher sees the rename, signals Traefik, which logs that it reopens its files.
    wait_for(lambda: launched.log.exists() and b"re-opening log files" in launched.log.read_bytes(), 10,
             "Traefik's reopen line in a new traefik.log")
    wait_for(lambda: launched.request() or launched.access_log.exists() and launched.access_log.stat().st_size > 0,
             10, "a request in a new traefik-access.log")
    renamed = [os.stat(str(path) + ".0").st_size for path in (launched.log, launched.access_log)]
    before = launched.access_log.stat().st_size
    launched.request()
    wait_for(lambda: launched.access_log.stat().st_size > before, 5, "the next request in the new access log")
    assert [os.stat(str(path) + ".0").st_size for path in (launched.log, launched.access_log)] == renamed


def test_no_rename_no_signal(launched):
    time.sleep(1)  # five looks at the access log
    assert b"re-opening log files" not in launched.log.read_bytes()


def test_sigterm_stops_traefik_and_the_launcher_exits_as_it_did(launched):
    traefik = launched.traefik_pid()
    launched.process.send_signal(signal.SIGTERM)
    assert launched.process.wait(timeout=15) == 0  # Traefik's graceful stop exits 0
    assert not Path("/proc/%d" % traefik).exists()
    assert b"Shutting down" in launched.log.read_bytes()  # its last lines still reached the log


def test_traefik_killed_ends_the_launcher_by_the_same_signal(launched):
    os.kill(launched.traefik_pid(), signal.SIGKILL)
    # launchd reports the job's terminating signal, as when Traefik was the job, and starts it again.
    assert launched.process.wait(timeout=10) == -signal.SIGKILL


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR2])
def test_end_as_dies_by_a_signal_the_launcher_handles_too(signum):
    # SIGTERM: forwarded to Traefik while it ran; SIGUSR2: not handled at all.
    script = ("import signal, runpy; module = runpy.run_path(%r); "
              "signal.signal(signal.SIGTERM, lambda *_: None); module['end_as'](-%d)" % (str(SCRIPT), signum))
    assert subprocess.run([sys.executable, "-c", script], timeout=30, check=False).returncode == -signum


def test_end_as_exits_with_an_exit_status():
    script = "import runpy; runpy.run_path(%r)['end_as'](3)" % str(SCRIPT)
    assert subprocess.run([sys.executable, "-c", script], timeout=30, check=False).returncode == 3


def test_traefik_s_exit_status_is_the_launcher_s(launched):
    os.kill(launched.traefik_pid(), signal.SIGINT)  # Traefik stops gracefully, exit 0
    assert launched.process.wait(timeout=15) == 0
