# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.managed_files: its decision as data, then the module on a real temporary tree
(the module's job is the filesystem; a mocked one would test the mock)."""

from __future__ import annotations

import grp
import io
import json
import os
import pwd
import stat
from contextlib import redirect_stdout

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.visiquate.ccproxy.plugins.module_utils import managed_files as managed_files_utils
from ansible_collections.visiquate.ccproxy.plugins.modules import managed_files

# (wanted state, what is there, its content) -> plan
PLANS = [
    ("directory", None, None, "mkdir"),
    ("directory", "directory", None, None),
    ("directory", "file", b"x", ValueError),
    ("directory", "other", None, ValueError),
    ("file", None, None, "write"),
    ("file", "file", b"same\n", None),
    ("file", "file", b"old\n", "write"),
    ("file", "file", b"same", "write"),  # a trailing newline is content too
    ("file", "directory", None, ValueError),
    ("file", "other", None, ValueError),  # a symlink is not followed: it would write elsewhere
    ("absent", None, None, None),
    ("absent", "file", b"x", "remove"),
    ("absent", "directory", None, ValueError),  # never a directory
    ("absent", "other", None, ValueError),  # nor what a symlink points to
]


@pytest.mark.parametrize("kind, old, expected", [
    (None, None, "write"),  # no file: the content is written
    ("file", b"kept\n", None),  # a file: its content stays, whatever it is
    ("directory", None, ValueError),
])
def test_plan_without_force_writes_only_a_missing_file(kind, old, expected):
    entry = {"path": "/x", "state": "file", "content": "new\n", "force": False}
    if expected is ValueError:
        with pytest.raises(ValueError, match="/x exists and is not a regular file"):
            managed_files_utils.plan(entry, kind, old)
    else:
        assert managed_files_utils.plan(entry, kind, old) == expected


@pytest.mark.parametrize("state, kind, old, expected", PLANS)
def test_plan(state, kind, old, expected):
    entry = {"path": "/x", "state": state, "content": "same\n"}
    if expected is ValueError:
        with pytest.raises(ValueError, match="/x exists and is not"):
            managed_files_utils.plan(entry, kind, old)
    else:
        assert managed_files_utils.plan(entry, kind, old) == expected


USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run(files, check=False, diff=False):
    """main() with these entries; the JSON it printed, and whether it failed."""
    args = {"files": files, "_ansible_check_mode": check, "_ansible_diff": diff}
    out = io.StringIO()
    with patch_module_args(args), redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        managed_files.main()
    return json.loads(out.getvalue()), exit_.value.code != 0


def tree(tmp_path):
    root = tmp_path / "root"
    return root, [
        {"path": str(root), "state": "directory", "owner": USER, "group": GROUP, "mode": "0755"},
        {"path": str(root / "logs"), "state": "directory", "owner": USER, "group": GROUP, "mode": "0700"},
        {"path": str(root / "run.sh"), "content": "#!/bin/sh\nexec app\n", "owner": USER, "group": GROUP,
         "mode": "0755"},
        {"path": str(root / "config.yaml"), "content": "a: 1\n", "owner": USER, "group": GROUP, "mode": "0644",
         "validate": "grep -q '^a:' %s", "backup": True},
    ]


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_check_mode_on_nothing_reports_every_entry_and_creates_none(tmp_path):
    root, files = tree(tmp_path)
    result, failed = run(files, check=True, diff=True)
    assert not failed and result["changed"]
    assert [f["changed"] for f in result["files"]] == [True] * 4
    assert not root.exists()
    assert {"before_header": f"{root}/run.sh (absent)", "after_header": f"{root}/run.sh", "before": "",
            "after": "#!/bin/sh\nexec app\n"} in result["diff"]


def test_first_run_creates_all_then_a_second_changes_nothing(tmp_path):
    root, files = tree(tmp_path)
    result, failed = run(files)
    assert not failed and result["changed"]
    assert (root / "run.sh").read_text() == "#!/bin/sh\nexec app\n"
    assert (mode(root), mode(root / "logs"), mode(root / "run.sh"), mode(root / "config.yaml")) == \
        (0o755, 0o700, 0o755, 0o644)
    assert "backup_file" not in result["files"][3]  # nothing to back up on a first write
    again, failed = run(files, diff=True)
    assert not failed and not again["changed"] and again["diff"] == []
    assert [f["changed"] for f in again["files"]] == [False] * 4
    check = run(files, check=True, diff=True)[0]
    assert not check["changed"]


def test_a_changed_file_is_replaced_with_a_backup_and_only_it_reports_changed(tmp_path):
    root, files = tree(tmp_path)
    run(files)
    files[3]["content"] = "a: 2\n"
    check = run(files, check=True, diff=True)[0]
    assert check["changed"] and (root / "config.yaml").read_text() == "a: 1\n"
    assert check["diff"] == [{"before_header": f"{root}/config.yaml", "after_header": f"{root}/config.yaml",
                              "before": "a: 1\n", "after": "a: 2\n"}]
    result, failed = run(files)
    assert not failed
    assert [f["changed"] for f in result["files"]] == [False, False, False, True]
    assert (root / "config.yaml").read_text() == "a: 2\n"
    backup = result["files"][3]["backup_file"]
    assert open(backup).read() == "a: 1\n"
    # The temporary file was renamed, not left behind.
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []


def test_a_wrong_mode_alone_is_a_change_shown_as_file_shows_it(tmp_path):
    root, files = tree(tmp_path)
    run(files)
    os.chmod(root / "logs", 0o755)
    result = run(files, diff=True)[0]
    assert [f["changed"] for f in result["files"]] == [False, True, False, False]
    assert result["diff"] == [{"before": {"path": str(root / "logs"), "mode": "0755"},
                               "after": {"path": str(root / "logs"), "mode": "0700"}}]
    assert mode(root / "logs") == 0o700


def test_without_force_a_secret_is_written_once_then_kept_with_its_mode_managed(tmp_path):
    secret = tmp_path / "master.key"
    entry = {"path": str(secret), "content": "sk-first", "owner": USER, "group": GROUP, "mode": "0600",
             "force": False}
    made, failed = run([entry], diff=True)
    assert not failed and made["changed"] and secret.read_text() == "sk-first" and mode(secret) == 0o600

    secret.chmod(0o644)
    kept, failed = run([dict(entry, content="sk-second")], diff=True)
    assert not failed and kept["changed"] and secret.read_text() == "sk-first" and mode(secret) == 0o600
    # Only the mode changed: no content in the diff (the task's no_log hides the arguments).
    assert "sk-" not in json.dumps(kept["diff"]) and kept["diff"][0]["after"]["mode"] == "0600"

    again, failed = run([dict(entry, content="sk-third")])
    assert not failed and not again["changed"] and secret.read_text() == "sk-first"


def test_secret_content_is_written_and_never_returned_logged_or_diffed(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(managed_files.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    secret, config = tmp_path / "master.key", tmp_path / "config.yaml"
    files = [{"path": str(secret), "secret_content": "sk-first-secret", "owner": USER, "group": GROUP,
              "mode": "0600"},
             {"path": str(config), "content": "a: 1\n", "owner": USER, "group": GROUP, "mode": "0644"}]
    made, failed = run(files, diff=True)
    assert not failed and secret.read_text() == "sk-first-secret" and mode(secret) == 0o600
    # The other file's diff stays whole: the reason a secret need not hide the whole task.
    assert {"before_header": f"{config} (absent)", "after_header": str(config), "before": "",
            "after": "a: 1\n"} in made["diff"]
    assert {"before_header": f"{secret} (absent)", "after_header": str(secret), "before": "",
            "after": "(the new secret, not shown)\n"} in made["diff"]

    changed, failed = run([dict(files[0], secret_content="sk-second-secret"), files[1]], diff=True)
    assert not failed and secret.read_text() == "sk-second-secret"
    assert changed["diff"] == [{"before_header": str(secret), "after_header": str(secret),
                                "before": "(the old secret, not shown)\n", "after": "(the new secret, not shown)\n"}]
    # The invocation (module_args) is in both results, and the log has each run's arguments.
    assert "a: 1" in logged[0] and len(logged) == 2
    assert "-secret" not in json.dumps([made, changed]) + "".join(logged)


def test_content_and_secret_content_together_fail_before_any_change(tmp_path):
    path = tmp_path / "key"
    result, failed = run([{"path": str(path), "content": "a", "secret_content": "sk-secret"}])
    assert failed and "give content or secret_content, not both" in result["msg"] and not path.exists()


def modes_seen_at(path, monkeypatch):
    """Every mode ``path`` has from the module's renames and chmods on it, in order."""
    seen, rename, chmod = [], os.rename, os.chmod

    def renamed(src, dst, *args, **kwargs):
        rename(src, dst, *args, **kwargs)
        if os.fsdecode(dst) == str(path):
            seen.append(mode(path))

    def chmodded(target, *args, **kwargs):
        chmod(target, *args, **kwargs)
        if isinstance(target, (str, bytes, os.PathLike)) and os.fsdecode(target) == str(path):
            seen.append(mode(path))

    monkeypatch.setattr(os, "rename", renamed)
    monkeypatch.setattr(os, "chmod", chmodded)
    return seen


# A secret's content is at its path only with its own mode: never, not for a moment, with a
# new file's default (0644 less the umask) nor with the mode of the file it replaces.
@pytest.mark.parametrize("before", [None, 0o644])
def test_new_content_reaches_its_path_with_its_mode_already_set(tmp_path, monkeypatch, before):
    secret = tmp_path / "master.key"
    if before is not None:
        secret.write_text("sk-old")
        secret.chmod(before)
    seen = modes_seen_at(secret, monkeypatch)
    result, failed = run([{"path": str(secret), "content": "sk-new", "owner": USER, "group": GROUP,
                           "mode": "0600"}])
    assert not failed and result["changed"] and secret.read_text() == "sk-new"
    assert seen and set(seen) == {0o600}, [oct(m) for m in seen]


class WatchedFile:
    """A file the module writes through: each write notes the open file's mode and owner."""

    def __init__(self, raw, seen):
        self.raw, self.seen = raw, seen

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.raw.__exit__(*exc)

    def fileno(self):
        return self.raw.fileno()

    def write(self, data):
        status = os.fstat(self.raw.fileno())
        self.seen.append((stat.S_IMODE(status.st_mode), status.st_uid, status.st_gid))
        return self.raw.write(data)


# Nor beside it: the temporary file is never under a looser mode with the content in it, and
# nothing touches it by name, which another user could swap for a link in a directory of theirs.
@pytest.mark.parametrize("before", [None, 0o644])
def test_content_is_written_only_into_a_file_already_its_own_and_nothing_by_name(tmp_path, monkeypatch, before):
    secret = tmp_path / "master.key"
    if before is not None:
        secret.write_text("sk-old")
        secret.chmod(before)
    writes, by_name, fdopen = [], [], os.fdopen
    monkeypatch.setattr(managed_files_utils.os, "fdopen",
                        lambda *args, **kwargs: WatchedFile(fdopen(*args, **kwargs), writes))
    for name in ("chmod", "chown", "lchown"):
        original = getattr(os, name)

        def by_path(target, *args, _name=name, _original=original, **kwargs):
            if isinstance(target, (str, bytes)) and os.path.basename(os.fsdecode(target)).startswith(".master.key"):
                by_name.append((_name, os.fsdecode(target)))
            return _original(target, *args, **kwargs)

        monkeypatch.setattr(os, name, by_path)
    result, failed = run([{"path": str(secret), "secret_content": "sk-new", "owner": USER, "group": GROUP,
                           "mode": "0600"}])
    assert not failed and result["changed"] and secret.read_text() == "sk-new"
    assert writes == [(0o600, os.getuid(), os.getgid())] and by_name == []


@pytest.mark.parametrize("before, mode, after", [(None, "u=rw,g=r", 0o640), (0o600, "g+r", 0o640), (None, 0o640, 0o640)])
def test_a_symbolic_or_integer_mode_is_the_files_mode_from_its_first_byte(tmp_path, before, mode, after):
    path = tmp_path / "config.yaml"
    if before is not None:
        path.write_text("old")
        path.chmod(before)
    result, failed = run([{"path": str(path), "content": "new", "mode": mode}])
    assert not failed and result["changed"] and (path.read_text(), stat.S_IMODE(path.stat().st_mode)) == ("new", after)


@pytest.mark.parametrize("field, kind", [("owner", "user"), ("group", "group")])
def test_an_unknown_owner_or_group_fails_before_the_file_is_touched(tmp_path, field, kind):
    path = tmp_path / "config.yaml"
    path.write_text("old")
    result, failed = run([{"path": str(path), "content": "new", field: "no-such-ccproxy-name"}])
    assert failed and result["msg"] == "%s: no %s no-such-ccproxy-name on this host" % (path, kind)
    assert path.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["config.yaml"]


def test_without_a_mode_a_new_file_gets_the_umask_and_a_replaced_one_keeps_its_mode(tmp_path):
    made, kept = tmp_path / "made", tmp_path / "kept"
    kept.write_text("old")
    kept.chmod(0o640)
    umask = os.umask(0o027)
    try:
        result, failed = run([{"path": str(made), "content": "new"}, {"path": str(kept), "content": "new"}])
    finally:
        os.umask(umask)
    assert not failed and [f["changed"] for f in result["files"]] == [True, True]
    assert (mode(made), mode(kept), kept.read_text()) == (0o640, 0o640, "new")


def test_content_that_fails_validation_changes_nothing_at_all(tmp_path):
    root, files = tree(tmp_path)
    run(files)
    os.chmod(root / "run.sh", 0o700)
    files[2]["content"] = "#!/bin/sh\nexec other\n"
    files[3]["content"] = "b: 1\n"
    result, failed = run(files)
    assert failed
    assert "config.yaml: the new content failed validation" in result["msg"]
    assert "nothing was changed" in result["msg"]
    # Not the file before it in the list either, nor its mode.
    assert (root / "run.sh").read_text() == "#!/bin/sh\nexec app\n" and mode(root / "run.sh") == 0o700
    assert (root / "config.yaml").read_text() == "a: 1\n"


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "exists and is not a regular file"),
    (lambda p: p.symlink_to("/etc/hostname"), "exists and is not a regular file"),
])
def test_something_else_in_a_files_place_fails_before_any_change(tmp_path, make, message):
    root, files = tree(tmp_path)
    root.mkdir()
    make(root / "config.yaml")
    result, failed = run(files)
    assert failed and message in result["msg"]
    assert not (root / "logs").exists()


def test_missing_parents_get_the_directorys_owner_and_mode(tmp_path):
    deep = tmp_path / "home" / "Library" / "LaunchAgents"
    result, failed = run([{"path": str(deep), "state": "directory", "owner": USER, "group": GROUP, "mode": "0700"}])
    assert not failed and result["changed"]
    assert [mode(p) for p in (tmp_path / "home", deep.parent, deep)] == [0o700] * 3


@pytest.mark.parametrize("path, existing, expected", [
    ("/a/b/c", ["/", "/a"], ["/a/b", "/a/b/c"]),
    ("/a", ["/"], ["/a"]),
    ("/a/b", ["/", "/a", "/a/b"], []),
])
def test_missing_directories(monkeypatch, path, existing, expected):
    monkeypatch.setattr(managed_files_utils.os.path, "lexists", lambda p: p in existing)
    assert managed_files_utils.missing_directories(path) == expected


def test_a_validate_command_without_the_file_fails_before_any_change(tmp_path):
    result, failed = run([{"path": str(tmp_path / "d"), "state": "directory"},
                          {"path": str(tmp_path / "f"), "content": "x", "validate": "true"}])
    assert failed and result["msg"] == f"{tmp_path}/f: validate must contain %s: true"
    assert not (tmp_path / "d").exists()


def test_a_file_needs_content(tmp_path):
    result, failed = run([{"path": str(tmp_path / "f")}])
    assert failed and result["msg"] == f"{tmp_path}/f: content is required for a file"


def test_an_absent_file_is_removed_with_its_diff_and_check_mode_keeps_it(tmp_path):
    flag = tmp_path / "drain.yml"
    flag.write_text("x: 1\n")
    entry = {"path": str(flag), "state": "absent"}
    check = run([entry], check=True, diff=True)[0]
    assert check["changed"] and flag.exists()
    assert {"before_header": str(flag), "after_header": str(flag), "before": "x: 1\n", "after": ""} in check["diff"]
    assert {"before": {"path": str(flag), "state": "file"}, "after": {"path": str(flag), "state": "absent"}} \
        in check["diff"]
    result, failed = run([entry])
    assert not failed and result["changed"] and not flag.exists()
    again, failed = run([entry], diff=True)
    assert not failed and not again["changed"] and again["diff"] == []


def test_a_directory_where_an_absent_file_should_be_fails_before_any_change(tmp_path):
    (tmp_path / "drain.yml").mkdir()
    keep = tmp_path / "keep"
    entries = [{"path": str(keep), "state": "directory"}, {"path": str(tmp_path / "drain.yml"), "state": "absent"}]
    result, failed = run(entries)
    assert failed and "is not a regular file: not removed" in result["msg"]
    assert not keep.exists() and (tmp_path / "drain.yml").is_dir()


def test_a_directory_that_cannot_be_made_fails_with_the_path_and_the_reason(tmp_path):
    (tmp_path / "a-file").write_text("x")
    result, failed = run([{"path": str(tmp_path / "a-file/logs"), "state": "directory"}])
    assert failed and result["msg"] == "%s/a-file/logs: cannot create it: Not a directory" % tmp_path
