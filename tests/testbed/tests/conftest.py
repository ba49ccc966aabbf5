# --- launchctl stand-in (tests/testbed/launchctl) --------------------------------------------
# Fixtures named launchctl_standin*; they run the real stand-in against private temp dirs.

import os
import plistlib
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

LAUNCHCTL = Path(__file__).resolve().parents[1] / "launchctl" / "launchctl"
# The project's copy of the real macOS captures (with their sources), shared with the unit tests.
LAUNCHCTL_FIXTURES = Path(__file__).resolve().parents[2] / "unit" / "fixtures" / "launchctl"


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Poll `predicate` until it returns a truthy value; bounded in time. Returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def parse_launchctl_print(text):
    """The top-level block of `launchctl print <service>`: {key: value} for `k = v` lines and
    {key: [entries]} for first-level `k = {` blocks; deeper blocks are skipped."""
    lines = text.splitlines()
    fields, depth, current = {}, 0, None
    for line in lines[1:]:
        stripped = line.strip()
        if stripped == "}":
            depth -= 1
            current = None if depth == 0 else current
            continue
        if stripped.endswith("{"):  # "k = {" or, nested, "k => {"
            if depth == 0:
                current = stripped[:-1].rstrip(" =>")
                fields[current] = []
            depth += 1
            continue
        if depth == 1 and current is not None and stripped:
            fields[current].append(stripped)
        elif depth == 0 and " = " in line:  # "\tproperties = " may have nothing after " = "
            key, _, value = line.strip("\t").partition(" = ")
            fields[key] = value
    return fields


class LaunchctlStandin:
    """One private launchd stand-in: its own runtime dir, db and LaunchDaemons dir."""

    def __init__(self, base):
        self.base = base
        self.run_dir, self.db_dir = base / "run", base / "db"
        self.daemons = base / "LaunchDaemons"
        self.out = base / "out"  # world-writable: jobs running as other users write markers here
        self.daemons.mkdir()
        self.out.mkdir()
        self.out.chmod(0o1777)
        self.env = dict(os.environ, LAUNCHD_STANDIN_RUN=str(self.run_dir),
                        LAUNCHD_STANDIN_DB=str(self.db_dir),
                        LAUNCHD_STANDIN_DAEMONS=str(self.daemons))

    def __call__(self, *args, as_user=None, timeout=60):
        """Run launchctl (as root, or as `as_user`, a pwd entry) and return the CompletedProcess."""
        argv = [str(LAUNCHCTL), *args]
        if as_user is not None:
            argv = ["setpriv", "--reuid=%d" % as_user.pw_uid, "--regid=%d" % as_user.pw_gid,
                    "--init-groups", "--"] + argv
        return subprocess.run(argv, env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=str(self.base))

    def plist(self, path, owner=0, mode=0o644, **keys):
        """Write a plist (keys as launchd.plist(5) names them) owned by `owner` with `mode`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(plistlib.dumps(keys))
        os.chown(path, owner, -1)
        path.chmod(mode)
        return str(path)

    def job(self, label, script, directory=None, **keys):
        """A /bin/sh job plist at <directory or LaunchDaemons>/<label>.plist."""
        keys.setdefault("ProgramArguments", ["/bin/sh", "-c", script])
        return self.plist(Path(directory or self.daemons) / (label + ".plist"), Label=label, **keys)

    def print_fields(self, target):
        result = self("print", target)
        assert result.returncode == 0, result.stderr
        return parse_launchctl_print(result.stdout)

    def wait_state(self, target, state, timeout=5.0):
        fields = wait_until(lambda: (lambda f: f if f.get("state") == state else None)(
            self.print_fields(target)), timeout)
        assert fields, "%s never reached state %r: %s" % (target, state, self("print", target))
        return fields

    def supervisor_pid(self):
        try:
            return int((self.run_dir / "launchd.pid").read_text())
        except FileNotFoundError:
            return None

    def shutdown(self):
        pid = self.supervisor_pid()
        result = self("x-standin", "shutdown")
        if pid is not None and result.returncode != 0:
            os.kill(pid, signal.SIGKILL)  # only when the clean path failed
        return result


def pid_alive(pid):
    """True for a live process; a zombie (exited, unreaped) counts as gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def launchctl_standin():
    base = Path(tempfile.mkdtemp(prefix="launchd-standin-", dir="/tmp"))
    base.chmod(0o755)  # non-root callers must reach the socket
    standin = LaunchctlStandin(base)
    try:
        yield standin
    finally:
        pid = standin.supervisor_pid()
        standin.shutdown()
        if pid is not None:
            assert wait_until(lambda: not pid_alive(pid), 10), "supervisor %d survived" % pid
        shutil.rmtree(base)


@pytest.fixture(scope="module")
def launchctl_standin_user():
    """A throwaway login user (uid >= 600, home in a temp dir, supplementary group nogroup) for
    gui/, user/ and non-root tests; deleted afterwards."""
    home_root = Path(tempfile.mkdtemp(prefix="launchd-standin-home-", dir="/tmp"))
    home_root.chmod(0o755)
    used = {p.pw_uid for p in pwd.getpwall()}
    uid = next(u for u in range(600, 1000) if u not in used)
    name = "lcstandin%d" % uid
    home = home_root / name
    subprocess.run(["useradd", "--uid", str(uid), "--home-dir", str(home), "--no-create-home",
                    "--user-group", "--groups", "nogroup", "--shell", "/bin/sh", name], check=True)
    try:
        (home / "Library" / "LaunchAgents").mkdir(parents=True)
        for path in (home, home / "Library", home / "Library" / "LaunchAgents"):
            os.chown(path, uid, uid)
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=True)  # fails if a job of this user survived
        shutil.rmtree(home_root)


@pytest.fixture
def launchctl_standin_agents(launchctl_standin_user):
    """The throwaway user's ~/Library/LaunchAgents, emptied for each test."""
    agents = Path(launchctl_standin_user.pw_dir) / "Library" / "LaunchAgents"
    for plist in agents.iterdir():
        plist.unlink()
    return agents
