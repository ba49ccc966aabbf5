# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ccproxy-traefik: runs Traefik for launchd and keeps both its logs rotatable by newsyslog.

newsyslog rotates a log by renaming it and creating the next; a writer must then reopen the file
by its name. Traefik 3 reopens its access log on SIGUSR1 but never its own log (3.7.15 goes on
writing the renamed file), and macOS's newsyslog can signal only a PID it reads from a file:
one that Traefik's user would write and root would trust. So Traefik runs as this launcher's
child, as the same user, and no one else signals it:

- Traefik's own log is its stdout (no log.filePath). It comes through a pipe and is appended to
  --log, which is opened again whenever its name no longer names the open file (newsyslog renamed
  it), as Python's WatchedFileHandler does.
- Every --interval seconds the launcher looks at --access-log; when the name names another file
  than it did the last time, or none, Traefik gets SIGUSR1 and reopens it (see look()).

SIGTERM, SIGINT, SIGHUP and SIGUSR1 sent to the launcher are passed on to Traefik. The launcher
ends when Traefik does, as Traefik did: with its exit status, or by the signal that killed it, so
launchd sees Traefik's end. A log it cannot write is reported on stderr and never stops Traefik.
Standard library only, Python 3.9+.

Usage: ccproxy_traefik.py --log PATH --access-log PATH [--interval SECONDS] -- TRAEFIK [ARG...]
"""
from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import time

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)


def report(message):
    """A line on stderr (launchd's file), which may be on the same full disk: never fatal."""
    try:
        sys.stderr.write("ccproxy-traefik: %s\n" % message)
        sys.stderr.flush()
    except OSError:
        pass


def identity(path):
    """(device, inode) of the file a name names now, or None if it names none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def look(seen, now, awaiting):
    """At a look at the access log: (send SIGUSR1 now, awaiting), where `seen` and `now` are what
    the name named at the last look and now (None: no file), and `awaiting` says the last signal
    was for a name that named no file. newsyslog renames the log, then creates the next file by
    renaming a new one over the name, which may replace the file Traefik has just created on that
    signal: so the first file to appear after it gets a signal too. A first sight gets none."""
    if now == seen:
        return False, awaiting
    if now is None:  # renamed; the next file is not there yet
        return True, True
    if seen is None:  # a file appeared
        return awaiting, False
    return True, False  # renamed, and the next file is there


class LogFile:
    """Appends to a path, reopened whenever the path no longer names the open file."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self.failed = False

    def _open(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _open_identity(self):
        st = os.fstat(self.fd)
        return (st.st_dev, st.st_ino)

    def write(self, data):
        try:
            if self.fd is None or identity(self.path) != self._open_identity():
                self._open()
            while data:
                data = data[os.write(self.fd, data):]
            self.failed = False
        except OSError as exc:
            if not self.failed:  # once per failing spell, not once per line
                report("cannot write %s: %s; Traefik's log lines are lost until it can" % (self.path, exc))
            self.failed = True
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


def run(log_path, access_log, interval, command):
    """Traefik's returncode, as Popen gives it (-N: killed by signal N)."""
    log = LogFile(log_path)
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    for signum in FORWARDED:
        signal.signal(signum, lambda signum, _frame: child.send_signal(signum))
    pipe = child.stdout.fileno()
    seen, awaiting = identity(access_log), False
    next_look = time.monotonic() + interval
    while True:
        readable = select.select([pipe], [], [], max(0.0, next_look - time.monotonic()))[0]
        if readable:
            data = os.read(pipe, 65536)
            if not data:  # Traefik has exited (or closed its stdout, which it never does)
                break
            log.write(data)
        if time.monotonic() >= next_look:
            now = identity(access_log)
            signal_now, awaiting = look(seen, now, awaiting)
            if signal_now and child.poll() is None:
                child.send_signal(signal.SIGUSR1)
            seen = now
            next_look = time.monotonic() + interval
    return child.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ccproxy-traefik", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--log", required=True, help="where Traefik's own log (its stdout) goes")
    parser.add_argument("--access-log", required=True, help="Traefik's accessLog.filePath")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks at the access log")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then Traefik's command line")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or args.interval <= 0:
        parser.error("give Traefik's command line after --, and a positive --interval")
    return run(args.log, args.access_log, args.interval, command)


def end_as(returncode):
    """Exit as a process that ended with this returncode did (-N: by signal N, which launchd
    reports as the job's terminating signal)."""
    if returncode < 0:
        if -returncode not in (signal.SIGKILL, signal.SIGSTOP):  # which have no handler to reset
            signal.signal(-returncode, signal.SIG_DFL)
        os.kill(os.getpid(), -returncode)
    sys.exit(returncode if returncode >= 0 else 128 - returncode)  # a signal that does not end it


if __name__ == "__main__":
    end_as(main())
