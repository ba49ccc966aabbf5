# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest

from ansible_collections.visiquate.ccproxy.plugins.module_utils import launchd
from ansible_collections.visiquate.ccproxy.plugins.modules import launchd_service
from ansible_collections.visiquate.ccproxy.tests.unit.plugins.modules.uthelper import (
    CaseMock,
    ClockMock,
    HttpMock,
    RunCommandMock,
    UTHelper,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "launchd"
# The real readers, for the tests that write their files to a temporary directory.
LOAD_PLIST, MODIFIED = launchd.load_plist, launchd.modified

# The Mac's files the cases name: path -> (fixture file, owner uid, mode). Owner and mode are
# part of what the module decides on (domain auto, exit 122), so they come from this table
# rather than from whoever checked the repository out.
FILES = {
    "/Users/coder/Library/LaunchAgents/com.visiquate.ccproxy.plist": ("ccproxy-agent.plist", 501, 0o644),
    "/Users/coder/Library/LaunchAgents/com.example.agent.plist": ("example-agent.plist", 501, 0o644),
    "/Users/shared/com.visiquate.ccproxy.plist": ("ccproxy-agent.plist", 502, 0o664),
    "/Library/LaunchDaemons/com.visiquate.ccproxy.plist": ("ccproxy-daemon.plist", 0, 0o644),
    "/Library/LaunchAgents/com.visiquate.ccproxy.plist": ("ccproxy-agent.plist", 0, 0o644),
    "/Users/coder/ccproxy/logs/stderr.log": ("stderr.log", 501, 0o644),
}


# When the Mac's files last changed (epoch seconds), for started_after; launchd.modified itself
# (lstat, links) is tested in test_launchd.py on real files.
MTIMES = {
    "/Users/coder/ccproxy/config.yaml": 99950.0,
    "/Users/coder/ccproxy/bin/with-master-key": 99000.0,
}


@pytest.fixture(autouse=True)
def mac_files(monkeypatch):
    """Serve FILES through the real readers; any other path does not exist."""
    load_plist, tail = launchd.load_plist, launchd.tail

    def local(path):
        return str(FIXTURES / FILES[path][0]) if path in FILES else "/nonexistent" + path

    def fake_load_plist(path):
        found = load_plist(local(path))
        return found and found._replace(path=path, uid=FILES[path][1], mode=FILES[path][2])

    monkeypatch.setattr(launchd, "load_plist", fake_load_plist)
    monkeypatch.setattr(launchd, "tail", lambda path, *args: tail(local(path), *args))
    monkeypatch.setattr(launchd, "modified", lambda paths: {path: MTIMES[path] for path in paths if path in MTIMES})


class ProcessStartMock(CaseMock):
    """The kernel's process table as ``launchd.precise_start`` reads it (tested on real processes
    in test_launchd.py). ``process_start`` maps a pid to its start (epoch seconds) or to null (no
    such process). A case that omits it runs where the kernel cannot be read: ps decides."""

    name = "process_start"

    @classmethod
    def parse(cls, spec, where):
        if spec is not None and not (isinstance(spec, dict) and all(isinstance(pid, int) for pid in spec)):
            raise ValueError(f"{where}: a mapping of pid to start time (or null), not {spec!r}")
        return spec

    def install(self, stack):
        def precise_start(pid):
            if self.spec is None:
                raise launchd.NoPreciseStart("this case's kernel cannot be read")
            if pid not in self.spec:
                self.unexpected(f"process_start: pid {pid} was read; the case lists {sorted(self.spec)}")
            return self.spec[pid]

        stack.enter_context(mock.patch.object(launchd, "precise_start", precise_start))


UTHelper.from_module(launchd_service, __name__, mocks=[RunCommandMock, HttpMock, ClockMock, ProcessStartMock])


class FilesFirst(RunCommandMock):
    """launchctl as in the cases above; and at ``bootstrap``, the plist must already be on disk as given."""

    content = None

    def answer(self, module, argv, kwargs):
        if argv[1:2] == ["bootstrap"]:
            assert Path(argv[-1]).read_text() == self.content, "launchd was asked before its plist was written"
        return super().answer(module, argv, kwargs)


def test_files_are_written_before_launchd_is_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(launchd, "load_plist", LOAD_PLIST)
    plist, config = tmp_path / "com.visiquate.ccproxy.plist", tmp_path / "ccproxy" / "config.yaml"
    FilesFirst.content = (FIXTURES / "ccproxy-agent.plist").read_text()
    target = ["gui/501", "gui/501/com.visiquate.ccproxy"]
    calls = [
        {"command": ["/testbin/launchctl", "print", target[1]], "rc": 113},
        {"command": ["/testbin/launchctl", "print-disabled", target[0]]},
        {"command": ["/testbin/launchctl", "bootstrap", target[0], str(plist)]},
        {"command": ["/testbin/launchctl", "kickstart", target[1]]},
        {"command": ["/testbin/launchctl", "print", target[1]], "out_file": "launchd/print-ccproxy-running.txt"},
    ]
    files = [{"path": str(config.parent), "state": "directory", "mode": "0700"},
             {"path": str(config), "content": "model_list: []\n", "mode": "0600"},
             {"path": str(plist), "content": FilesFirst.content, "mode": "0644"}]
    helper = UTHelper(launchd_service, {"test_cases": [{
        "id": "files_then_launchd",
        "input": {"label": "com.visiquate.ccproxy", "plist": str(plist), "domain": "gui/501", "state": "running",
                  "files": files},
        "output": {"changed": True, "state": "running", "pid": 4242,
                   "files": [{"path": f["path"], "state": f.get("state", "file"), "changed": True} for f in files]},
        "mocks": {"run_command": calls},
    }]}, mocks=[FilesFirst, ClockMock])
    helper.run(helper.cases[0])
    assert config.read_text() == "model_list: []\n" and stat.S_IMODE(config.stat().st_mode) == 0o600


class NoCommands:
    """A module that must not need ps: the kernel is read on this machine."""

    def run_command(self, argv, **kwargs):
        raise AssertionError("ran %s: the kernel's start should have been read" % argv)

    def debug(self, msg):
        raise AssertionError(msg)


def test_a_change_in_a_processs_first_second_is_newer_on_every_run(tmp_path, monkeypatch):
    """launchd relaunches a crash-looping job, then a run writes its config 50 ms later: the
    process read the old one. Every run must say so; with ps's whole seconds the start moves
    up to a second between runs, and most runs would not."""
    monkeypatch.setattr(launchd, "modified", MODIFIED)
    config = tmp_path / "config.yaml"
    config.write_text("model_list: []\n")
    child = subprocess.Popen(["sleep", "30"])
    written = time.time() + 0.05
    os.utime(config, (written, written))
    try:
        seen = []
        for _read in range(12):
            seen.append(launchd_service.newer_files(NoCommands(), child.pid, [str(config)]))
            time.sleep(0.1)
    finally:
        child.kill()
        child.wait()
    assert seen == [[str(config)]] * 12


AGENT_PLIST = "/Users/coder/Library/LaunchAgents/com.visiquate.ccproxy.plist"


@pytest.mark.parametrize("content, drift, pid", [
    # ThrottleInterval, which launchctl print does not show: only a bootstrap reads it.
    (lambda text: text.replace("<integer>10</integer>", "<integer>30</integer>"), ["ThrottleInterval"], None),
    (lambda text: text.replace("<dict>\n\t<key>EnvironmentVariables", "<dict>\n\t<key>UserName</key>\n\t"
                               "<string>coder</string>\n\t<key>EnvironmentVariables", 1), ["UserName"], None),
    # The same plist, written again (here the Mac's copy is a fixture): nothing to reload.
    (lambda text: text, [], 4242),
])
def test_a_plist_rewritten_in_keys_print_does_not_show_reloads_the_job(content, drift, pid):
    text = content((FIXTURES / "ccproxy-agent.plist").read_text())
    calls = [{"command": ["/testbin/launchctl", "print", "gui/501/com.visiquate.ccproxy"],
              "environ": {"LANG": "C", "LC_ALL": "C"}, "out_file": "launchd/print-ccproxy-running.txt"},
             {"command": ["/testbin/launchctl", "print-disabled", "gui/501"],
              "environ": {"LANG": "C", "LC_ALL": "C"}, "out_file": "launchctl/print-disabled.txt"}]
    helper = UTHelper(launchd_service, {"test_cases": [{
        "id": "rewritten",
        "flags": {"check": True},
        "input": {"label": "com.visiquate.ccproxy", "plist": AGENT_PLIST, "state": "running",
                  "files": [{"path": AGENT_PLIST, "content": text}]},
        "output": {"changed": True, "drift": drift, "state": "running", "pid": pid},
        "mocks": {"run_command": calls},
    }]}, mocks=[RunCommandMock, ClockMock])
    helper.run(helper.cases[0])
