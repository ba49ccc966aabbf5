"""The README's shell blocks, extracted now and run as a reader runs them: in order, from the
checkout, without the toolchain's venv on PATH unless a block activates it. All of the first block
but `make test` (what runs this), so `make demo` among them; the demo section against the demo it
brings up. A block the README marks `<!-- README test: syntax only ... -->` needs real Macs: bash
parses it, and each ansible-playbook line in it runs with --syntax-check.

Then the release on that demo: the tarball `ansible-galaxy collection build` makes, installed into
a fresh venv that has ansible-core alone, runs `ansible-playbook visiquate.ccproxy.site` against
the demo's converged Macs and the gateway: nothing changes, and the run ends with the summary.

A test-bed test (never shipped): it brings the demo up (`make demo`) and down (`make demo-down`,
whether or not a demo was up before, as `make test` does); `make test` keeps it for molecule default, whose
create, prepare and converge `make demo` is."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
README = REPO / "README.md"
SYNTAX_ONLY = "<!-- README test: syntax only"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.M | re.S)
# The one command the README names that this test cannot run: it is what runs this test.
NOT_RUN = re.compile(r"^make test\b")


def blocks():
    """(line number, text, syntax only) for each ```sh block of the README, in order."""
    text = README.read_text()
    found = []
    for match in BLOCK.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, match.group(1), before.startswith(SYNTAX_ONLY)))
    return found


def reader_env():
    """The environment a reader has in a fresh shell: no venv on PATH, no make variables."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MAKE", "MFLAGS", "VIRTUAL_ENV", "ANSIBLE_", "MOLECULE_", "PYTEST_"))}
    env["PATH"] = os.pathsep.join(entry for entry in env["PATH"].split(os.pathsep)
                                  if Path(entry).resolve() != VENV_BIN.resolve())
    return env


def run(argv, env=None, timeout=1800, cwd=REPO):
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def demo():
    """Whatever the blocks bring up is taken down after the module, whether they passed or not; but for make test,
    which hands the demo to molecule default (CCPROXY_README_KEEP_DEMO=1)."""
    yield
    if os.environ.get("CCPROXY_README_KEEP_DEMO") == "1":
        return
    rc, out = run(["make", "demo-down"], env=reader_env(), timeout=600)
    assert rc == 0, out[-3000:]


def test_the_readme_has_blocks_of_both_kinds():
    found = blocks()
    assert [syntax for _line, _text, syntax in found].count(False) >= 3, found
    assert [syntax for _line, _text, syntax in found].count(True) >= 3, found
    assert any("make demo" in text for _line, text, _syntax in found)


@pytest.mark.parametrize("line, text, syntax_only", blocks(), ids=["README.md:%d" % block[0] for block in blocks()])
def test_a_readme_block_works(demo, line, text, syntax_only):
    script = "\n".join(command for command in text.splitlines() if not NOT_RUN.match(command))
    rc, out = run(["bash", "-n", "-c", script], env=reader_env(), timeout=30)
    assert rc == 0, "README.md line %d does not parse:\n%s" % (line, out)
    if not syntax_only:
        rc, out = run(["bash", "-euo", "pipefail", "-c", script], env=reader_env())
        assert rc == 0, "README.md line %d exited %d:\n%s\n%s" % (line, rc, script, out[-5000:])
        return
    playbook_lines = [shlex.split(command, comments=True) for command in text.splitlines()]
    for argv in (argv for argv in playbook_lines if argv[:1] == ["ansible-playbook"]):
        argv = [str(VENV_BIN / "ansible-playbook")] + [a for a in argv[1:] if a != "--ask-vault-pass"]
        rc, out = run(argv + ["--syntax-check"], timeout=120)
        assert rc == 0, "README.md line %d: %s\n%s" % (line, " ".join(argv), out[-3000:])


def pinned(name):
    """The version of `name` requirements.txt pins: the release is checked with what CI runs."""
    for requirement in (REPO / "requirements.txt").read_text().splitlines():
        if requirement.startswith(name + "=="):
            return requirement
    raise AssertionError("requirements.txt pins no " + name)


def demo_is_up():
    rc, out = run([VENV_BIN / "python", "tests/testbed/macs/macs.py", "status"], timeout=60)
    return rc == 0 and all(re.search(r"(?m)^%s +up" % mac, out) for mac in ("mac1", "mac2", "mac3", "mac4"))


def test_the_release_in_a_fresh_venv_runs_site_against_the_demo_changing_nothing(demo, tmp_path):
    if not demo_is_up():  # run alone (-k), or the README's first block failed
        rc, out = run(["make", "demo"], env=reader_env())
        assert rc == 0, out[-5000:]
    rc, out = run([VENV_BIN / "ansible-galaxy", "collection", "build", "--output-path", tmp_path, REPO])
    assert rc == 0, out
    tarball, = tmp_path.glob("visiquate-ccproxy-*.tar.gz")
    venv = tmp_path / "venv"
    rc, out = run([sys.executable, "-m", "venv", venv])
    assert rc == 0, out
    rc, out = run([venv / "bin/pip", "install", "--quiet", "--disable-pip-version-check", pinned("ansible-core")],
                  timeout=600)
    assert rc == 0, out
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\ncallbacks_enabled = visiquate.ccproxy.summary\n[ssh_connection]\npipelining = true\n")
    env = dict(reader_env(), PATH=str(venv / "bin") + os.pathsep + reader_env()["PATH"],
               ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"), ANSIBLE_NOCOLOR="1")
    rc, out = run([venv / "bin/ansible-galaxy", "collection", "install", "--offline", "-p", tmp_path / "collections",
                   tarball], env=env)
    assert rc == 0, out
    scenario = REPO / "extensions/molecule/default"
    rc, out = run([venv / "bin/ansible-playbook", "visiquate.ccproxy.site",
                   "-i", REPO / "tests/testbed/macs/inventory.py", "-i", scenario / "inventory/hosts.yml",
                   "-e", "ccproxy_wheelhouse_dir=%s" % (REPO / ".cache/wheelhouse"),
                   "-e", "ccproxy_secrets_dir=%s" % (REPO / ".cache/secrets/default")], env=env, timeout=900)
    assert rc == 0, out[-6000:]
    recap = dict(re.findall(r"^(mac\d)\s+: (ok=.*)$", out, re.M))
    assert sorted(recap) == ["mac1", "mac2", "mac3", "mac4"], out[-3000:]
    assert all(" changed=0 " in line and " failed=0 " in line for line in recap.values()), recap
    summary = out.split("CCPROXY SUMMARY", 1)[1]
    assert "mac1: changed nothing\n  clients:  ANTHROPIC_BASE_URL=http://" in summary, summary
    assert "mac4: changed nothing" in summary and "  in front of: mac1, mac2, mac3" in summary, summary
