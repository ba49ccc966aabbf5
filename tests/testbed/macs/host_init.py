#!/usr/bin/python3
"""Init (PID 1) of one test-bed "Mac mini": a test stand-in, never shipped to a Mac.

It imitates what a freshly set-up Mac mini offers the playbooks: its own host name and
filesystem, the admin user `coder` reachable by key over SSH, passwordless sudo. macs.py
starts it as `ip netns exec ccp-macN unshare --mount --propagation private --uts --pid
--fork --mount-proc --kill-child /usr/bin/python3 host_init.py <host.json>`, so it runs as
root in the host's own network, mount, UTS and PID namespaces. It builds the host, starts
sshd, prints "ready" on stdout, then reaps orphans forever (it is the host's PID 1).

What is private to each host (the one list; README.md repeats it):
  /            overlay: lower = the machine's root (read-only in effect), upper = the host's
               dir on disk. So /etc, /Library, /usr/local, /opt, /var, /root and every other
               path a role may write is the host's own; the machine's files stay readable
               (e.g. /usr/bin/python3, the pip config pointing at file:///opt/...).
  /Users       disk-backed bind of the host's dir (room for two LiteLLM venvs).
  /tmp         disk-backed bind of the host's dir, empty at start (mode 1777).
  /run         tmpfs (sshd's /run/sshd, pid files).
  /dev/pts     a new devpts instance; /dev/shm a tmpfs; /dev is the machine's devtmpfs.
  /proc, /sys  the host's own (its PID namespace, its network namespace).
The state dir (controller key, other hosts' files) is covered by an empty read-only tmpfs.
Only the machine's root filesystem is the lower layer: other mounts of the machine (e.g.
/mnt/...) do not appear inside a host.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

SSHD_CONFIG = """\
# Test-bed Mac {name}: key-only logins for coder (written by host_init.py).
ListenAddress {address}
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
AllowUsers coder
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""


# Directories every Mac has and the roles write into without creating them (root:wheel 755).
MAC_DIRS = ("/Library", "/Library/LaunchDaemons", "/Library/LaunchAgents", "/Library/Logs",
            "/var/db", "/etc/newsyslog.d", "/usr/local/bin")


def run(*argv):
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)


def write(path, text, mode):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def build_root(host_dir, state_dir):
    """Mount the host's filesystem (see the module docstring) and pivot into it."""
    root = os.path.join(host_dir, "root")
    run("mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir=/,upperdir={host_dir}/upper,workdir={host_dir}/work", root)
    run("mount", "--bind", "/dev", f"{root}/dev")
    run("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620,gid=5",
        "devpts", f"{root}/dev/pts")
    run("mount", "--bind", f"{root}/dev/pts/ptmx", f"{root}/dev/ptmx")
    run("mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", f"{root}/dev/shm")
    run("mount", "-t", "proc", "proc", f"{root}/proc")
    run("mount", "-t", "sysfs", "-o", "ro", "sysfs", f"{root}/sys")
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", f"{root}/run")
    run("mount", "--bind", f"{host_dir}/tmp", f"{root}/tmp")
    os.makedirs(f"{root}/Users", exist_ok=True)
    run("mount", "--bind", f"{host_dir}/Users", f"{root}/Users")
    # `pivot_root . .` stacks the old root on the new one; the lazy unmount drops it,
    # so nothing of the machine's mount tree stays reachable from the host.
    os.chdir(root)
    run("pivot_root", ".", ".")
    run("umount", "-l", ".")
    os.chdir("/")
    if os.path.isdir(state_dir):
        run("mount", "-t", "tmpfs", "-o", "ro,mode=0755,size=4k", "tmpfs", state_dir)


def furnish(name, address, authorized_key):
    """Host name, the directories a Mac has, the admin user coder with key and sudo."""
    write("/etc/hostname", f"{name}\n", 0o644)
    # sudo resolves its own host name; a Mac knows its name without DNS too.
    write("/etc/hosts", f"127.0.0.1\tlocalhost\n{address}\t{name}\n"
          "::1\tlocalhost ip6-localhost ip6-loopback\n", 0o644)
    # macOS names: root's group is wheel (gid 0), admins are in admin (gid 80).
    run("groupadd", "--non-unique", "--gid", "0", "wheel")
    run("groupadd", "--gid", "80", "admin")
    os.chmod("/Users", 0o755)
    # Password field '*' (no password, not locked): a locked '!' account refuses keys.
    run("useradd", "--key", "UID_MIN=501", "--uid", "501", "--gid", "staff", "--groups", "admin",
        "--home-dir", "/Users/coder", "--create-home", "--shell", "/bin/bash",
        "--password", "*", "coder")
    os.chmod("/Users/coder", 0o750)  # as macOS makes a home
    for path in MAC_DIRS:
        os.makedirs(path, mode=0o755, exist_ok=True)
    ssh_dir = "/Users/coder/.ssh"
    os.mkdir(ssh_dir, 0o700)
    write(f"{ssh_dir}/authorized_keys", authorized_key, 0o600)
    for path in (ssh_dir, f"{ssh_dir}/authorized_keys"):
        shutil.chown(path, "coder", "staff")
    write("/etc/sudoers.d/ccproxy-testbed", "coder ALL=(ALL) NOPASSWD: ALL\n", 0o440)


def start_sshd(name, address, host_key, deadline):
    # The machine's own host keys are visible through the overlay: remove them in this
    # host so it only ever presents its pinned key.
    for entry in os.listdir("/etc/ssh"):
        if entry.startswith("ssh_host_"):
            os.unlink(f"/etc/ssh/{entry}")
    write("/etc/ssh/ssh_host_ed25519_key", host_key, 0o600)
    write("/etc/ssh/sshd_config", SSHD_CONFIG.format(name=name, address=address), 0o644)
    os.mkdir("/run/sshd", 0o755)
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-E", "/var/log/sshd.log"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    while True:
        if sshd.poll() is not None:
            raise RuntimeError(f"sshd exited with {sshd.returncode}, see /var/log/sshd.log")
        try:
            socket.create_connection((address, 22), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd not answering on {address}:22")
            time.sleep(0.05)


def reap_forever():
    # As PID 1 this process inherits every orphan (e.g. `setsid nohup` jobs of an SSH
    # session) and must reap them. SIGCHLD gets a handler only so pause() wakes up.
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            signal.pause()


def main():
    with open(sys.argv[1]) as f:
        host = json.load(f)
    deadline = time.monotonic() + host["timeout"]
    # Read the keys now: the state dir is out of sight once the host's root is built.
    with open(host["host_key_file"]) as f:
        host_key = f.read()
    with open(host["authorized_key_file"]) as f:
        authorized_key = f.read()
    socket.sethostname(host["name"])
    build_root(host["host_dir"], host["state_dir"])
    furnish(host["name"], host["address"], authorized_key)
    start_sshd(host["name"], host["address"], host_key, deadline)
    print("ready", flush=True)
    # Nobody reads stdout after "ready"; stderr stays the init log.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    reap_forever()


if __name__ == "__main__":
    main()
