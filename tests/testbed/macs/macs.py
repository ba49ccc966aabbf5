#!/usr/bin/env python3
"""The test bed's "Mac minis": N hosts on this Linux machine, reached over real SSH.

A test-bed part, never shipped to a Mac. Each host `macN` is a network namespace `ccp-macN`
(veth on the bridge ccpbr0, address 198.18.0.(10+N)/25, no route out) holding one long-lived
`unshare --mount --uts --pid ...` whose init (host_init.py, the host's PID 1) builds the
host's private filesystem, creates the admin user `coder` and runs sshd. The controller
reaches the hosts with a generated key, pinned host keys and a generated Ansible inventory.
What is private to a host is listed in host_init.py; README.md explains the rest.

    macs.py [--state-dir DIR] up N | down | status | shell HOST [CMD...] | inventory

DIR defaults to $CCPROXY_TESTBED_DIR, else /var/tmp/ccproxy-testbed. Must run as root.

Two beds can be up at once, each in its own half of 198.18.0.0/24 with its own names and lock:
$CCPROXY_TESTBED=1 selects the second (make test runs the integration tests there, beside the
demo on bed 0): bridge ccpbr1, namespaces ccp1-macN, veths ccp1vN, addresses 198.18.0.(138+N),
state dir /var/tmp/ccproxy-testbed-1. Its hosts are still named macN.
"""

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

BEDS = ("0", "1")
BED = os.environ.get("CCPROXY_TESTBED", "0")  # main() refuses any other value
_INDEX = BEDS.index(BED) if BED in BEDS else 0


def bed_state_dir(index):
    return "/var/tmp/ccproxy-testbed" + (f"-{index}" if index else "")


DEFAULT_STATE_DIR = bed_state_dir(_INDEX)
# What make, the integration tests and demo.sh take with flock(1) while they use this bed.
LOCK = DEFAULT_STATE_DIR + ".lock"
# /run/netns is the machine's: one bed's `ip netns add` never meets the other's undoing of it.
NETNS_LOCK = "/var/tmp/ccproxy-testbed-netns.lock"
# How messages name this bed's commands.
CLI = "macs.py" if _INDEX == 0 else f"CCPROXY_TESTBED={BED} macs.py"
BRIDGE = f"ccpbr{_INDEX}"
NETWORK_START = 128 * _INDEX  # this bed's half of 198.18.0.0/24
PREFIX_LENGTH = 25
CONTROLLER_ADDRESS = f"198.18.0.{NETWORK_START + 1}"
NETNS_PREFIX = f"ccp{_INDEX or ''}-mac"
VETH_PREFIX = f"ccp{_INDEX or ''}v"  # controller-side end; the host's end is its eth0
MAX_HOSTS = 50
HOST_INIT = Path(__file__).resolve().with_name("host_init.py")
READY_TIMEOUT = 30.0  # all hosts booted and sshd answering
STOP_TIMEOUT = 10.0  # a host's processes gone after SIGKILL
CONTROL_PATH = "%r@%h"  # under <state-dir>/cp, where `down` finds the ssh masters
SSH_OPTIONS = {  # what every controller-side ssh to a host uses, besides key and known_hosts
    "StrictHostKeyChecking": "yes",
    "GlobalKnownHostsFile": "/dev/null",
    "IdentitiesOnly": "yes",
    "ControlMaster": "auto",
    "ControlPersist": "60s",
}


class BedError(Exception):
    """A refusal or failure to report to the user as one clear line."""


def default_state_dir():
    return os.environ.get("CCPROXY_TESTBED_DIR", DEFAULT_STATE_DIR)


def sh(*argv, check=True):
    return subprocess.run(argv, check=check, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)


def host_name(index):
    return f"mac{index}"


def host_address(index):
    return f"198.18.0.{NETWORK_START + 10 + index}"


def netns_list():
    return sorted(line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines()
                  if line.startswith(NETNS_PREFIX))


def our_links():
    links = json.loads(sh("ip", "-json", "link", "show").stdout)
    return sorted(link["ifname"] for link in links
                  if link["ifname"] == BRIDGE or link["ifname"].startswith(VETH_PREFIX))


def netns_pids(netns):
    return [int(pid) for pid in sh("ip", "netns", "pids", netns, check=False).stdout.split()]


def read_cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except OSError:
        return []


def start_time(pid):
    """Clock ticks since boot when pid started: with the pid, identifies one process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_running(pid, started):
    """True if pid is still the very process recorded (not a reused pid, not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and start_time(pid) == started


def owner_of_netns(netns):
    """State dir of the bed whose host runs in netns (from its init's command line)."""
    for pid in netns_pids(netns):
        args = [a.decode(errors="replace") for a in read_cmdline(pid)]
        if str(HOST_INIT) in args and args[-1].endswith("host.json"):
            return str(Path(args[-1]).parents[2])
    return None


_netns_lock_depth = 0


@contextlib.contextmanager
def run_netns_lock():
    """NETNS_LOCK, re-entrant within this process (a failed `up` goes down holding it)."""
    global _netns_lock_depth
    if _netns_lock_depth:
        _netns_lock_depth += 1
        try:
            yield
        finally:
            _netns_lock_depth -= 1
        return
    with open(NETNS_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _netns_lock_depth = 1
        try:
            yield
        finally:
            _netns_lock_depth = 0


def other_bed_run_netns():
    """The other bed's record of /run/netns, if it is up: it saw the machine before either did."""
    try:
        state = json.loads((Path(bed_state_dir(1 - _INDEX)) / "state.json").read_text())
    except (OSError, ValueError):
        return {}
    return {key: state[key] for key in ("run_netns_dir_ours", "run_netns_mount_ours") if key in state}


def bounded_wait(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BedError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Bed:
    def __init__(self, state_dir):
        self.dir = Path(state_dir).resolve()
        self.state_file = self.dir / "state.json"
        self.key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.ssh_config = self.dir / "ssh_config"
        self.inventory = self.dir / "inventory.yml"
        self.control_dir = self.dir / "cp"

    # state.json: written before anything is created and after each step, so `down`
    # can always undo what a (partial) `up` did.
    def load(self):
        try:
            state = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        if state.get("bed", "0") != BED:  # its names are not this bed's: down would miss them
            raise BedError(f"{self.dir} holds bed {state.get('bed', '0')}; run with "
                           f"CCPROXY_TESTBED={state.get('bed', '0')}")
        return state

    def save(self, state):
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def host_dir(self, index):
        return self.dir / "hosts" / host_name(index)

    def running_hosts(self, state):
        return [h for h in state["hosts"] if is_running(h["unshare_pid"], h["unshare_start"])]

    # ---------------------------------------------------------------- up
    def up(self, count):
        if not 1 <= count <= MAX_HOSTS:
            raise BedError(f"N must be between 1 and {MAX_HOSTS}")
        state = self.load()
        if state is not None:
            running = len(self.running_hosts(state))
            if state["count"] == count and running == count:
                print(f"already up: {count} hosts ({self.dir}); nothing to do")
                return
            raise BedError(f"a bed with {state['count']} hosts ({running} running) exists in "
                           f"{self.dir}; run `{CLI} down` first")
        self.refuse_leftovers()
        if self.dir.exists() and any(self.dir.iterdir()):
            raise BedError(f"{self.dir} exists, is not empty and holds no bed state; "
                           "remove it or choose another --state-dir")
        # A unix socket path has at most 107 bytes, and ssh first binds the control path
        # plus a 17-byte random suffix: hence %r@%h ("coder@198.18.0.NNN", at most 18
        # bytes) rather than %C (40).
        if len(str(self.control_dir)) + len("/coder@198.18.0.NNN") + 17 > 107:
            raise BedError(f"state dir path too long for ssh control sockets: {self.dir}")
        started = time.monotonic()
        with run_netns_lock():  # from looking at /run/netns to the namespaces made in it
            self.build(count)
        print(f"up: {count} hosts in {time.monotonic() - started:.1f} s; "
              f"inventory {self.inventory}")

    def build(self, count):
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        run_netns = Path("/run/netns")
        state = {"bed": BED, "count": count, "hosts": [], "bridge": False,
                 # `ip netns add` makes /run/netns a mount point if it is none; undo that. The
                 # other bed's view, if it is up: whichever bed goes down last undoes it.
                 "run_netns_dir_ours": not run_netns.exists(),
                 "run_netns_mount_ours": not is_mount_point(run_netns),
                 **other_bed_run_netns()}
        self.save(state)
        try:
            self.make_files(count)
            self.make_network(state, count)
            self.start_hosts(state, count)
            self.write_client_files(count)
        except BaseException as exc:
            try:
                self.down(quiet=True)
            except BedError as cleanup:
                raise BedError(f"up failed ({exc}); cleanup failed too: {cleanup}") from exc
            if isinstance(exc, (BedError, subprocess.CalledProcessError)):
                raise BedError(f"up failed and was undone: {describe(exc)}") from exc
            raise

    def refuse_leftovers(self):
        namespaces, links = netns_list(), our_links()
        if not namespaces and not links:
            return
        owners = {o for o in map(owner_of_netns, namespaces) if o}
        where = " ".join(f"--state-dir {o}" for o in sorted(owners)) or "--state-dir <its dir>"
        raise BedError(f"another bed (or its leftovers) is on this machine: "
                       f"{', '.join(namespaces + links)}; run `{CLI} {where} down` first")

    def make_files(self, count):
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ccproxy-testbed-controller",
           "-f", str(self.key))
        lines = []
        for i in range(1, count + 1):
            hdir = self.host_dir(i)
            for sub, mode in (("upper", 0o755), ("work", 0o700), ("root", 0o755),
                              ("Users", 0o755), ("tmp", 0o1777)):
                (hdir / sub).mkdir(parents=True)
                (hdir / sub).chmod(mode)  # mkdir's mode is masked by the umask
            host_key = hdir / "ssh_host_ed25519_key"
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host_name(i),
               "-f", str(host_key))
            public = host_key.with_suffix(".pub").read_text().split()
            lines.append(f"{host_name(i)},{host_address(i)} {public[0]} {public[1]}\n")
        self.known_hosts.write_text("".join(lines))
        self.control_dir.mkdir(mode=0o700)

    def make_network(self, state, count):
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        state["bridge"] = True
        self.save(state)
        sh("ip", "addr", "add", f"{CONTROLLER_ADDRESS}/{PREFIX_LENGTH}", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        for i in range(1, count + 1):
            netns, veth = f"{NETNS_PREFIX}{i}", f"{VETH_PREFIX}{i}"
            state["hosts"].append({"name": host_name(i), "address": host_address(i),
                                   "netns": netns, "veth": veth,
                                   "unshare_pid": None, "unshare_start": None,
                                   "init_pid": None})
            self.save(state)
            sh("ip", "netns", "add", netns)
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0",
               "netns", netns)
            sh("ip", "link", "set", veth, "master", BRIDGE, "up")
            for argv in (("addr", "add", f"{host_address(i)}/{PREFIX_LENGTH}", "dev", "eth0"),
                         ("link", "set", "eth0", "up"), ("link", "set", "lo", "up")):
                sh("ip", "-netns", netns, *argv)

    def start_hosts(self, state, count):
        procs = []
        for i, host in enumerate(state["hosts"], start=1):
            hdir = self.host_dir(i)
            (hdir / "host.json").write_text(json.dumps({
                "name": host["name"], "address": host["address"], "host_dir": str(hdir),
                "state_dir": str(self.dir), "timeout": READY_TIMEOUT,
                "host_key_file": str(hdir / "ssh_host_ed25519_key"),
                "authorized_key_file": str(self.key.with_suffix(".pub"))}))
            with open(hdir / "init.log", "ab") as log:
                # `ip netns exec` execs unshare, so proc.pid is the unshare process.
                proc = subprocess.Popen(
                    ["ip", "netns", "exec", host["netns"], "unshare", "--mount",
                     "--propagation", "private", "--uts", "--pid", "--fork", "--mount-proc",
                     "--kill-child", "/usr/bin/python3", str(HOST_INIT), str(hdir / "host.json")],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                    cwd="/", start_new_session=True)
            host["unshare_pid"], host["unshare_start"] = proc.pid, start_time(proc.pid)
            self.save(state)
            procs.append((host, proc))
        # The hosts boot in parallel; each init prints "ready" once its sshd answers.
        deadline = time.monotonic() + READY_TIMEOUT
        for host, proc in procs:
            line = read_line(proc.stdout, deadline)
            proc.stdout.close()
            if line != "ready":
                log = (self.host_dir(int(host["name"][3:])) / "init.log").read_text()
                raise BedError(f"{host['name']} did not boot (init said {line!r}); "
                               f"init log:\n{log.strip()}")
            host["init_pid"] = child_of(host["unshare_pid"])
        self.save(state)

    def write_client_files(self, count):
        hosts = {host_name(i): {"ansible_host": host_address(i)} for i in range(1, count + 1)}
        ssh_args = " ".join([f"-o UserKnownHostsFile={self.known_hosts}"]
                            + [f"-o {k}={v}" for k, v in SSH_OPTIONS.items()]
                            + [f"-o ControlPath={self.control_dir}/{CONTROL_PATH}"])
        # The bed says how to reach each host; the scenario's inventory says which role each plays
        # (ccproxy_hosts, ccproxy_gateway). bed_macs sorts before those groups: their vars win.
        inventory = {"all": {"children": {"bed_macs": {
            "hosts": hosts,
            "vars": {"ansible_user": "coder",
                     "ansible_ssh_private_key_file": str(self.key),
                     "ansible_ssh_common_args": ssh_args,
                     # Debian's Python stands in for Homebrew's, for Ansible and for LiteLLM.
                     "ansible_python_interpreter": "/usr/bin/python3",
                     "ccproxy_python": "/usr/bin/python3",
                     "ccproxy_testbed": True}}}}}
        self.inventory.write_text("# Generated by tests/testbed/macs/macs.py up; "
                                  "gone after `macs.py down`.\n"
                                  + yaml.safe_dump(inventory, sort_keys=False))
        # For people and tests: `ssh -F <state-dir>/ssh_config mac1`.
        lines = [f"Host {name}\n  HostName {vars_['ansible_host']}\n"
                 for name, vars_ in hosts.items()]
        lines.append("Host *\n  User coder\n  BatchMode yes\n"
                     f"  IdentityFile {self.key}\n  UserKnownHostsFile {self.known_hosts}\n"
                     + "".join(f"  {k} {v}\n" for k, v in SSH_OPTIONS.items())
                     + f"  ControlPath {self.control_dir}/{CONTROL_PATH}\n")
        self.ssh_config.write_text("".join(lines))

    # ---------------------------------------------------------------- down
    def down(self, quiet=False):
        state = self.load()
        hosts = state["hosts"] if state else []
        # Hosts of this bed missing from its state (or of a bed whose state is gone).
        orphans = [ns for ns in netns_list() if ns not in {h["netns"] for h in hosts}
                   and owner_of_netns(ns) in (None, str(self.dir))]
        if state is None and not orphans:
            others = netns_list()
            if not quiet:
                print(f"nothing is up at {self.dir}"
                      + (f" (another bed holds {', '.join(others)})" if others else ""))
            return
        started = time.monotonic()
        self.stop_ssh_masters()
        # `unshare --fork` ignores SIGTERM; SIGKILL makes --kill-child take the host down.
        namespaces = sorted({h["netns"] for h in hosts} | set(orphans))
        for host in hosts:
            if host["unshare_pid"]:
                if is_running(host["unshare_pid"], host["unshare_start"]):
                    os.kill(host["unshare_pid"], signal.SIGKILL)
                reap_if_child(host["unshare_pid"])
        for netns in orphans:  # no recorded pid: kill only the unshare of a bed's init
            for pid in netns_pids(netns):
                args = read_cmdline(pid)
                if args[:1] == [b"unshare"] and str(HOST_INIT).encode() in args:
                    os.kill(pid, signal.SIGKILL)
        for netns in namespaces:
            bounded_wait(lambda: not netns_pids(netns), STOP_TIMEOUT,
                         f"the processes of {netns} to exit")
        for host in hosts:
            if host["unshare_pid"]:
                bounded_wait(lambda: not is_running(host["unshare_pid"], host["unshare_start"]),
                             STOP_TIMEOUT, f"{host['name']}'s unshare to exit")
        with run_netns_lock():
            present = set(netns_list())
            for netns in namespaces:
                if netns in present:
                    sh("ip", "netns", "del", netns)
            links = our_links()
            for link in links:
                if link.startswith(VETH_PREFIX):  # normally gone with its netns
                    sh("ip", "link", "del", link, check=False)
            if BRIDGE in links:
                sh("ip", "link", "del", BRIDGE)
            if state:
                self.restore_run_netns(state)
        self.stop_ssh_masters()  # any master started while the hosts were stopping
        self.wait_ssh_clients_gone()
        if self.state_file.exists():
            shutil.rmtree(self.dir)
        if not quiet:
            names = ", ".join(ns.split("-", 1)[1] for ns in namespaces) or "no hosts"
            print(f"down: removed {names} in {time.monotonic() - started:.1f} s")

    def stop_ssh_masters(self):
        if not self.control_dir.is_dir():
            return
        for sock in self.control_dir.iterdir():
            sh("ssh", "-F", "/dev/null", "-o", f"ControlPath={sock}", "-O", "exit", "host",
               check=False)

    def wait_ssh_clients_gone(self):
        # Masters ("ssh: <cp>/... [mux]") and Ansible's ssh clients name the control dir;
        # with the hosts gone their connections are dead and they exit.
        marker = str(self.control_dir).encode()
        bounded_wait(lambda: not [pid for pid in all_pids()
                                  if any(marker in arg for arg in read_cmdline(pid))],
                     STOP_TIMEOUT, "ssh clients and control masters to exit")

    def restore_run_netns(self, state):
        run_netns = Path("/run/netns")
        if not run_netns.is_dir() or any(run_netns.iterdir()):
            return  # someone else's namespaces live there now
        # `ip netns add` may stack more than one bind mount there.
        for _ in range(10):
            if not (state["run_netns_mount_ours"] and is_mount_point(run_netns)):
                break
            sh("umount", str(run_netns))
        if state["run_netns_dir_ours"]:
            run_netns.rmdir()

    # ---------------------------------------------------------------- status / shell
    def status(self):
        state = self.load()
        if state is None:
            print(f"nothing is up at {self.dir}")
            return False
        running = {h["name"] for h in self.running_hosts(state)}
        healthy = True
        for host in state["hosts"]:
            up = host["name"] in running
            answering = up and tcp_answers(host["address"], 22)
            healthy = healthy and answering
            print(f"{host['name']:<6} {'up' if up else 'down':<4} {host['address']:<13} "
                  f"sshd {'answering' if answering else 'not answering'}")
        return healthy and len(state["hosts"]) == state["count"]

    def shell_argv(self, name, command):
        state = self.load()
        host = next((h for h in state["hosts"] if h["name"] == name), None) if state else None
        if host is None or not is_running(host["unshare_pid"], host["unshare_start"]):
            raise BedError(f"{name} is not up (see `macs.py status`)")
        # A root login on the host: its root dir, its namespaces, a clean environment.
        return (["nsenter", f"--target={host['init_pid']}", "--mount", "--uts", "--net",
                 "--pid", "--root", "--wd", "--", "/usr/bin/env", "-i", "HOME=/root",
                 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 f"TERM={os.environ.get('TERM', 'dumb')}"]
                + (command or ["/bin/bash", "-l"]))

    def inventory_path(self):
        if self.load() is None:
            raise BedError(f"nothing is up at {self.dir} (run `macs.py up N`)")
        return self.inventory


def describe(exc):
    if isinstance(exc, subprocess.CalledProcessError):
        return f"{' '.join(exc.cmd)}: {(exc.stderr or '').strip() or f'exit {exc.returncode}'}"
    return str(exc)


def read_line(stream, deadline):
    """One line from a pipe, or what arrived before EOF or the deadline."""
    fd, data = stream.fileno(), b""
    os.set_blocking(fd, False)
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 256)
        except BlockingIOError:
            time.sleep(0.02)
            continue
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def all_pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def child_of(parent):
    for pid in all_pids():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            return pid
    raise BedError(f"no init process under unshare {parent}")


def reap_if_child(pid):
    # Only when this very process ran `up` (as a module, or up failing midway).
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def is_mount_point(path):
    # Not os.path.ismount: a bind mount of a dir onto itself has the parent's st_dev.
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


def tcp_answers(address, port):
    try:
        socket.create_connection((address, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def main(argv=None):
    parser = argparse.ArgumentParser(prog="macs.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", default=default_state_dir(),
                        help="bed state (keys, inventory, host disks); "
                             "default $CCPROXY_TESTBED_DIR or %(default)s")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start N hosts mac1..macN").add_argument("count", type=int)
    sub.add_parser("down", help="remove the bed and everything it made")
    sub.add_parser("status", help="per host: up/down, address, sshd answering (exit 1 "
                                  "unless all are)")
    shell = sub.add_parser("shell", help="root shell, or CMD, inside HOST's namespaces")
    shell.add_argument("host")
    shell.add_argument("cmd", nargs=argparse.REMAINDER)
    sub.add_parser("inventory", help="print the path of the generated Ansible inventory")
    args = parser.parse_args(argv)
    bed = Bed(args.state_dir)
    try:
        if BED not in BEDS:
            raise BedError(f"CCPROXY_TESTBED must be one of {', '.join(BEDS)}, not {BED!r}")
        if os.geteuid() != 0:
            raise BedError("must run as root (namespaces, mounts, links)")
        if args.command == "up":
            bed.up(args.count)
        elif args.command == "down":
            bed.down()
        elif args.command == "status":
            return 0 if bed.status() else 1
        elif args.command == "shell":
            argv_ = bed.shell_argv(args.host, args.cmd)
            os.execvp(argv_[0], argv_)
        elif args.command == "inventory":
            print(bed.inventory_path())
    except BedError as exc:
        print(f"macs.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
