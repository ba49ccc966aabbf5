"""Tests of the test bed's "Mac minis" (tests/testbed/macs/macs.py), over real SSH.

One bed of two hosts serves the module (fixture `macs_bed`), and a second bed comes and goes beside
it; the last test takes the first down and proves nothing is left. Needs root, like the bed itself.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

MACS_DIR = Path(__file__).resolve().parents[1] / "macs"
MACS = MACS_DIR / "macs.py"
VENV_BIN = Path(__file__).resolve().parents[3] / ".venv" / "bin"
# Every path a role may write outside /Users, plus /Users: each must be the host's own.
PRIVATE_PATHS = ("/etc", "/Library", "/usr/local", "/opt", "/var", "/Users", "/tmp", "/run",
                 "/root")
TIMEOUT = 30  # for any one command


def macs_cli(state_dir, *args):
    return subprocess.run([sys.executable, str(MACS), "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=TIMEOUT)


def load_macs_module():
    spec = importlib.util.spec_from_file_location("testbed_macs", MACS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def machine_snapshot():
    """What a bed must not change on the machine once it is down."""
    return {"mounts": Path("/proc/mounts").read_text(),
            "passwd": Path("/etc/passwd").read_text(),
            "netns": subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                    check=True).stdout,
            "links": sorted(link["ifname"] for link in json.loads(subprocess.run(
                ["ip", "-json", "link", "show"], capture_output=True, text=True,
                check=True).stdout))}


def processes():
    """pid -> (cmdline, cwd, net namespace link) of every live process."""
    result = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(f"/proc/{entry}/cwd")
            net = os.readlink(f"/proc/{entry}/ns/net")
        except OSError:  # exited meanwhile, or a zombie
            continue
        result[int(entry)] = (cmdline, cwd, net)
    return result


class Bed:
    def __init__(self, state_dir, before):
        self.dir = state_dir
        self.before = before
        self.inventory = state_dir / "inventory.yml"
        self.ssh_config = state_dir / "ssh_config"

    def ssh(self, host, command, *options):
        return subprocess.run(["ssh", "-F", str(self.ssh_config), *options, host, command],
                              capture_output=True, text=True, timeout=TIMEOUT)

    def check_ssh(self, host, command):
        result = self.ssh(host, command)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def macs_bed(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("macs") / "bed"
    before = machine_snapshot()
    started = time.monotonic()
    up = macs_cli(state_dir, "up", "2")
    assert up.returncode == 0, up.stderr
    print(f"up 2: {time.monotonic() - started:.2f} s")
    yield Bed(state_dir, before)
    if state_dir.exists():  # test_down did not get to run or failed early
        macs_cli(state_dir, "down")


def test_up_failing_midway_is_undone(tmp_path_factory):
    """An init that fails leaves nothing behind: `up` undoes its own partial work."""
    tmp_path = tmp_path_factory.mktemp("fail")  # short: ssh control socket paths are limited
    before = machine_snapshot()
    macs = load_macs_module()
    failing_init = tmp_path / "host_init.py"
    failing_init.write_text("import sys\nprint('boom: no disk', flush=True)\nsys.exit(1)\n")
    macs.HOST_INIT = failing_init
    state_dir = tmp_path / "bed"
    with pytest.raises(macs.BedError, match="mac1 did not boot.*boom: no disk"):
        macs.Bed(state_dir).up(2)
    assert not state_dir.exists()
    assert machine_snapshot() == before
    assert not [p for p, (cmd, _, _) in processes().items() if str(tmp_path) in cmd]


def test_status_and_inventory(macs_bed):
    status = macs_cli(macs_bed.dir, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert re.search(r"^mac1\s+up\s+198\.18\.0\.11\s+sshd answering$", status.stdout, re.M)
    assert re.search(r"^mac2\s+up\s+198\.18\.0\.12\s+sshd answering$", status.stdout, re.M)
    inventory = macs_cli(macs_bed.dir, "inventory")
    assert inventory.stdout.strip() == str(macs_bed.inventory)


def inventory_script(state_dir):
    listing = subprocess.run([sys.executable, str(MACS_DIR / "inventory.py"), "--list"],
                             capture_output=True, text=True, timeout=TIMEOUT,
                             env=dict(os.environ, CCPROXY_TESTBED_DIR=str(state_dir)))
    assert listing.returncode == 0, listing.stderr
    return json.loads(listing.stdout)


def test_inventory_script_answers_with_the_bed(macs_bed, tmp_path):
    """Molecule names the script in every step: empty before `up`, the bed's hosts after."""
    assert inventory_script(tmp_path / "no-bed") == {"_meta": {"hostvars": {}}}
    listing = inventory_script(macs_bed.dir)
    assert listing["bed_macs"]["hosts"] == ["mac1", "mac2"]
    assert listing["bed_macs"]["vars"]["ansible_user"] == "coder"
    assert listing["_meta"]["hostvars"]["mac2"] == {"ansible_host": "198.18.0.12"}


def test_up_again_is_a_no_op(macs_bed):
    again = macs_cli(macs_bed.dir, "up", "2")
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stdout


def test_one_bed_at_a_time(macs_bed, tmp_path):
    other_size = macs_cli(macs_bed.dir, "up", "3")
    assert other_size.returncode == 1
    assert "macs.py down" in other_size.stderr
    other_dir = macs_cli(tmp_path / "other", "up", "1")
    assert other_dir.returncode == 1
    assert f"macs.py --state-dir {macs_bed.dir} down" in other_dir.stderr
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("host", ["mac1", "mac2"])
def test_host_is_a_mac_mini_for_ansible(macs_bed, host):
    out = macs_bed.check_ssh(host, "hostname; id coder; stat -c '%U %G' /Users/coder; "
                                   "sudo -n true && echo sudo-ok")
    name, ident, owner, sudo = out.splitlines()
    assert name == host
    assert re.match(r"uid=501\(coder\) gid=50\(staff\)", ident)
    assert owner == "coder staff"
    assert sudo == "sudo-ok"


def test_ansible_reaches_every_host(macs_bed, tmp_path):
    env = dict(os.environ, ANSIBLE_HOME=str(tmp_path / "ansible"), ANSIBLE_NOCOLOR="1")
    ping = subprocess.run([str(VENV_BIN / "ansible"), "-i", str(macs_bed.inventory), "all",
                           "-m", "ansible.builtin.ping"],
                          capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert len(re.findall(r'^mac[12] \| SUCCESS', ping.stdout, re.M)) == 2


def test_paths_are_private_to_each_host(macs_bed):
    probe = f"ccproxy-testbed-probe-{uuid.uuid4().hex}"
    files = [f"{path}/{probe}" for path in PRIVATE_PATHS]
    macs_bed.check_ssh("mac1", "sudo -n touch " + " ".join(files))
    seen = macs_bed.check_ssh("mac1", "sudo -n ls -d " + " ".join(files))
    assert sorted(seen.split()) == sorted(files)  # the probe sees what it looks for
    on_mac2 = macs_bed.check_ssh("mac2", "sudo -n sh -c 'for f in " + " ".join(files)
                                 + "; do test -e $f && echo $f; done; true'")
    assert on_mac2 == ""
    assert [f for f in files if os.path.lexists(f)] == []


def test_host_tmp_starts_empty_of_controller_files(macs_bed):
    # The bed's state dir (with the controller's key) lies under the controller's /tmp here.
    assert (macs_bed.dir / "id_ed25519").exists()
    out = macs_bed.check_ssh("mac1", f"sudo -n test -e {macs_bed.dir} && echo visible; true")
    assert out == ""


def test_nohup_job_outlives_its_ssh_session(macs_bed):
    # No control master: the whole SSH connection ends with the command.
    no_master = ("-o", "ControlMaster=no", "-o", "ControlPath=none")
    started = macs_bed.ssh("mac1", "setsid nohup sleep 300 >/dev/null 2>&1 </dev/null & "
                                   "echo $!", *no_master)
    assert started.returncode == 0, started.stderr
    pid = started.stdout.strip()
    later = macs_bed.ssh("mac1", f"ps -o comm=,ppid= -p {pid}", *no_master)
    assert later.returncode == 0, later.stderr
    assert later.stdout.split() == ["sleep", "1"]  # alive, adopted by the host's init


def test_wrong_host_key_is_refused(macs_bed, tmp_path):
    key = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    impostor = key.with_suffix(".pub").read_text().split()
    lines = (macs_bed.dir / "known_hosts").read_text().splitlines()
    tampered = tmp_path / "known_hosts"
    tampered.write_text("".join(
        f"{line.split()[0]} {impostor[0]} {impostor[1]}\n" if line.startswith("mac1,")
        else line + "\n" for line in lines))

    def connect(known_hosts):
        return subprocess.run(
            ["ssh", "-F", "/dev/null", "-i", str(macs_bed.dir / "id_ed25519"),
             "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}",
             "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ControlPath=none",
             "coder@198.18.0.11", "true"], capture_output=True, text=True, timeout=TIMEOUT)

    assert connect(macs_bed.dir / "known_hosts").returncode == 0
    refused = connect(tampered)
    assert refused.returncode == 255
    assert "Host key verification failed" in refused.stderr


def test_shell_enters_the_host(macs_bed):
    shell = macs_cli(macs_bed.dir, "shell", "mac2", "sh", "-c", "hostname; id -u; echo $$")
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.split()[:2] == ["mac2", "0"]
    assert int(shell.stdout.split()[2]) < 1000  # a pid of the host's own pid namespace


def test_a_second_bed_comes_and_goes_beside_the_first(macs_bed, tmp_path_factory):
    """CCPROXY_TESTBED=1 (make test's integration bed): its own names, half of the /24 and state,
    up and down while bed 0 goes on serving."""
    state_dir = tmp_path_factory.mktemp("bed1") / "bed"

    def second(*args, bed="1"):
        return subprocess.run([sys.executable, str(MACS), "--state-dir", str(state_dir), *args],
                              capture_output=True, text=True, timeout=TIMEOUT,
                              env=dict(os.environ, CCPROXY_TESTBED=bed))

    wrong = second("up", "1", bed="2")
    assert wrong.returncode == 1 and "CCPROXY_TESTBED must be one of 0, 1, not '2'" in wrong.stderr
    try:
        up = second("up", "1")
        assert up.returncode == 0, up.stderr
        status = second("status")
        assert re.search(r"^mac1\s+up\s+198\.18\.0\.139\s+sshd answering$", status.stdout, re.M), status.stdout
        assert {"ccpbr1", "ccp1v1"} <= set(machine_snapshot()["links"])
        name, address = Bed(state_dir, None).check_ssh("mac1", "hostname; ip -4 -o addr show eth0").splitlines()
        assert name == "mac1" and " 198.18.0.139/25 " in address, address
        assert macs_bed.check_ssh("mac1", "ip -4 -o addr show eth0").split()[3] == "198.18.0.11/25"
        # Bed 0's names are not bed 1's: its down would remove bed 0's links and miss bed 1's.
        wrong_bed = macs_cli(state_dir, "down")
        assert wrong_bed.returncode == 1 and "holds bed 1; run with CCPROXY_TESTBED=1" in wrong_bed.stderr, wrong_bed
        assert second("status").returncode == 0 and macs_cli(macs_bed.dir, "status").returncode == 0
    finally:
        down = second("down")
    assert down.returncode == 0, down.stderr
    assert "down: removed mac1" in down.stdout
    assert not state_dir.exists()
    left = machine_snapshot()
    assert not [name for name in left["links"] + left["netns"].split() if name.startswith(("ccp1", "ccpbr1"))], left
    assert macs_cli(macs_bed.dir, "status").returncode == 0


def test_down_leaves_nothing(macs_bed):
    netns_links = {os.readlink(f"/proc/{pid}/ns/net")
                   for pid, (cmd, _, _) in processes().items() if "host_init.py" in cmd
                   and str(macs_bed.dir) in cmd}
    assert len(netns_links) == 2
    masters = [pid for pid, (cmd, _, _) in processes().items()
               if cmd.startswith(f"ssh: {macs_bed.dir}/cp/") and "[mux]" in cmd]
    assert masters  # left by the SSH tests: down must stop them
    started = time.monotonic()
    down = macs_cli(macs_bed.dir, "down")
    assert down.returncode == 0, down.stderr
    print(f"down: {time.monotonic() - started:.2f} s")

    assert machine_snapshot() == macs_bed.before  # mounts, /etc/passwd, netns, links
    assert not macs_bed.dir.exists()
    assert subprocess.run(["getent", "passwd", "coder"]).returncode == 2
    # Host processes, ssh masters and clients all name the state dir or live in its netns.
    leftovers = {pid: info for pid, info in processes().items()
                 if str(macs_bed.dir) in info[0] or info[1].startswith(str(macs_bed.dir))
                 or "ccp-mac" in info[0] or info[2] in netns_links}
    assert leftovers == {}

    again = macs_cli(macs_bed.dir, "down")
    assert again.returncode == 0, again.stderr
    assert "nothing is up" in again.stdout
