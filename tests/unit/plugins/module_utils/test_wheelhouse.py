# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tables for the wheelhouse's pure decisions: pip's platform tags for a target, the marker
closure (with the 3.11.2 target that lost async-timeout), pins, the manifest digest."""

from __future__ import annotations

import pytest

from ansible_collections.visiquate.ccproxy.plugins.module_utils import wheelhouse as wh

# Debian 12's /usr/bin/python3, the test bed's stand-in for Homebrew's Python.
DEBIAN = {
    "implementation_name": "cpython", "implementation_version": "3.11.2", "os_name": "posix",
    "platform_machine": "x86_64", "platform_python_implementation": "CPython",
    "platform_release": "6.1.0-26-amd64", "platform_system": "Linux",
    "platform_version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1", "python_full_version": "3.11.2",
    "python_version": "3.11", "sys_platform": "linux", "libc": "glibc 2.36", "macos": "",
}
# A 3.11.7 controller, as the one that built the wheelhouse that failed on the test bed.
CONTROLLER = dict(DEBIAN, implementation_version="3.11.7", python_full_version="3.11.7")
MAC = dict(DEBIAN, platform_machine="arm64", platform_release="23.5.0", platform_system="Darwin",
           platform_version="Darwin Kernel Version 23.5.0", python_full_version="3.12.7", python_version="3.12",
           implementation_version="3.12.7", sys_platform="darwin", libc="", macos="14.5")

# redis's METADATA as published, cut to the lines that matter.
REDIS_METADATA = """\
Metadata-Version: 2.3
Name: redis
Version: 6.4.0
Summary: Python client for Redis database and key-value store
Requires-Python: >=3.9
Requires-Dist: async-timeout>=4.0.3; python_full_version < '3.11.3'
Provides-Extra: hiredis
Requires-Dist: hiredis>=3.2.0; extra == 'hiredis'

redis-py
"""


def dist(name, version, *requires):
    return {"name": name, "version": version, "requires_dist": list(requires)}


# What a 3.11.7 controller's pip resolves for `app[proxy]`: redis without async-timeout.
RESOLVED = wh.dists_by_name([
    dist("app", "1.0", "httpx>=0.23", "redis>=5; extra == 'proxy'", "uvicorn[standard]>=0.29; extra == 'proxy'",
         "pyobjc-core; sys_platform == 'darwin'", "colorama; sys_platform == 'win32'"),
    wh.parse_metadata(REDIS_METADATA),
    dist("httpx", "0.28.1", "anyio", "idna"),
    dist("anyio", "4.9.0", "idna>=2.8", "exceptiongroup>=1.0.2; python_version < '3.11'"),
    dist("idna", "3.10"),
    dist("uvicorn", "0.35.0", "h11>=0.8", "uvloop>=0.15.1; extra == 'standard' and sys_platform != 'win32'"),
    dist("h11", "0.16.0"),
    dist("uvloop", "0.21.0"),
    dist("cycle-a", "1", "cycle-b"),
    dist("cycle-b", "1", "cycle-a"),
])
ASYNC_TIMEOUT = wh.dists_by_name([dist("async-timeout", "5.0.1")])

CLOSURES = {
    "3.11.2 target needs async-timeout the 3.11.7 controller dropped": (
        ["app[proxy]==1.0"], RESOLVED, DEBIAN,
        ["app", "anyio", "h11", "httpx", "idna", "redis", "uvicorn", "uvloop"], ["async-timeout>=4.0.3"]),
    "3.11.7 target needs nothing more": (
        ["app[proxy]==1.0"], RESOLVED, CONTROLLER,
        ["app", "anyio", "h11", "httpx", "idna", "redis", "uvicorn", "uvloop"], []),
    "3.11.2 target is closed once async-timeout is there": (
        ["app[proxy]==1.0"], dict(RESOLVED, **ASYNC_TIMEOUT), DEBIAN,
        ["app", "anyio", "async-timeout", "h11", "httpx", "idna", "redis", "uvicorn", "uvloop"], []),
    "without the extra, its requirements stay out": (
        ["app==1.0"], RESOLVED, DEBIAN, ["app", "anyio", "httpx", "idna"], []),
    "a macOS target needs its sys_platform requirements": (
        ["app==1.0"], RESOLVED, MAC, ["app", "anyio", "httpx", "idna"], ["pyobjc-core"]),
    "a version outside the specifier is missing": (
        ["app==1.0", "idna>=4"], RESOLVED, DEBIAN, ["app", "anyio", "httpx", "idna"], ["idna>=4"]),
    "an absent top-level requirement is missing": (
        ["nothere>=1"], RESOLVED, DEBIAN, [], ["nothere>=1"]),
    "a top-level marker false on the target is skipped": (
        ["app==1.0; sys_platform == 'darwin'"], RESOLVED, DEBIAN, [], []),
    "cycles end": (["cycle-a"], RESOLVED, DEBIAN, ["cycle-a", "cycle-b"], []),
    "names compare canonically": (["Cycle_A"], RESOLVED, DEBIAN, ["cycle-a", "cycle-b"], []),
}


@pytest.mark.parametrize("requirements, dists, target, reached, missing", CLOSURES.values(), ids=CLOSURES.keys())
def test_closure(requirements, dists, target, reached, missing):
    got_reached, got_missing = wh.closure(requirements, dists, wh.marker_environment(target))
    assert sorted(got_reached) == sorted(reached)
    assert got_missing == missing


def test_closure_records_extras_asked_of_each_dist():
    reached, _missing = wh.closure(["app[proxy]==1.0"], RESOLVED, wh.marker_environment(DEBIAN))
    assert reached["app"] == ["proxy"]
    assert reached["uvicorn"] == ["standard"]
    assert reached["redis"] == []


def test_parse_metadata_reads_every_requires_dist():
    assert wh.parse_metadata(REDIS_METADATA) == {
        "name": "redis", "version": "6.4.0",
        "requires_dist": ["async-timeout>=4.0.3; python_full_version < '3.11.3'", "hiredis>=3.2.0; extra == 'hiredis'"]}


def manylinux(machine, *minors):
    return ["manylinux_2_%d_%s" % (minor, machine) for minor in minors]


PLATFORMS = {
    "macOS 14 on Apple Silicon": (MAC, ["macosx_14_0_arm64"]),
    "macOS 13.6 on Intel": (dict(MAC, platform_machine="x86_64", macos="13.6.7"), ["macosx_13_0_x86_64"]),
    "macOS 10.15 keeps its minor": (dict(MAC, platform_machine="x86_64", macos="10.15.7"), ["macosx_10_15_x86_64"]),
    "glibc 2.36 x86_64, down to manylinux1": (
        DEBIAN,
        manylinux("x86_64", *range(36, 17, -1)) + ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
        + manylinux("x86_64", *range(16, 12, -1)) + ["manylinux_2_12_x86_64", "manylinux2010_x86_64"]
        + manylinux("x86_64", *range(11, 4, -1)) + ["manylinux1_x86_64", "linux_x86_64"]),
    "glibc 2.28 aarch64, down to manylinux2014": (
        dict(DEBIAN, platform_machine="aarch64", libc="glibc 2.28"),
        manylinux("aarch64", *range(28, 16, -1)) + ["manylinux2014_aarch64", "linux_aarch64"]),
}


@pytest.mark.parametrize("target, expected", PLATFORMS.values(), ids=PLATFORMS.keys())
def test_pip_platforms(target, expected):
    assert wh.pip_platforms(target) == expected


PLATFORM_ERRORS = {
    "macOS without its version": (dict(MAC, macos=""), "reports no macOS version"),
    "Linux without glibc": (dict(DEBIAN, libc=""), "without a glibc version"),
    "musl": (dict(DEBIAN, libc="musl 1.2.4"), "only glibc targets"),
    "Windows": (dict(DEBIAN, sys_platform="win32"), "no wheel platform is known for sys_platform 'win32'"),
}


@pytest.mark.parametrize("target, message", PLATFORM_ERRORS.values(), ids=PLATFORM_ERRORS.keys())
def test_pip_platforms_refuses(target, message):
    with pytest.raises(wh.WheelhouseError, match=message):
        wh.pip_platforms(target)


def test_pip_target_args_use_the_full_python_version():
    args = wh.pip_target_args(MAC)
    assert args == ["--only-binary=:all:", "--implementation", "cp", "--python-version", "3.12.7",
                    "--platform", "macosx_14_0_arm64"]


def test_pip_target_args_refuse_an_unknown_implementation():
    with pytest.raises(wh.WheelhouseError, match="'graalpy'"):
        wh.pip_target_args(dict(MAC, implementation_name="graalpy"))


PIP_REQUIREMENTS = {
    "no marker passes as is": (["a==1", "b[x]>=2"], DEBIAN, ["a==1", "b[x]>=2"]),
    "a marker true on the target is dropped, the requirement kept": (
        ["a==1; python_full_version < '3.11.3'"], DEBIAN, ["a==1"]),
    "a marker false on the target drops the requirement": (
        ["a==1; python_full_version < '3.11.3'"], CONTROLLER, []),
}


@pytest.mark.parametrize("requirements, target, expected", PIP_REQUIREMENTS.values(), ids=PIP_REQUIREMENTS.keys())
def test_pip_requirements(requirements, target, expected):
    assert wh.pip_requirements(requirements, wh.marker_environment(target)) == expected


# A mistyped pin, or metadata pip itself would refuse, is the user's answer, not a traceback.
@pytest.mark.parametrize("call, message", [
    (lambda: wh.requirement("litellm[proxy]=1.108.7"),
     r"^requirements: 'litellm\[proxy\]=1.108.7' is not a requirement as pip takes it: "),
    (lambda: wh.pip_requirements(["a==1", "b >> 2"], wh.marker_environment(DEBIAN)),
     r"^requirements: 'b >> 2' is not a requirement"),
    (lambda: wh.closure(["a==1"], {"a": {"name": "a", "version": "1", "requires_dist": ["b (=="]}},
                        wh.marker_environment(DEBIAN)),
     r"^a's Requires-Dist: 'b \(==' is not a requirement"),
    (lambda: wh.closure(["a"], {"a": {"name": "a", "version": "one", "requires_dist": []}},
                        wh.marker_environment(DEBIAN)),
     r"^a: its version 'one' is not a valid version$"),
], ids=["a pin with one =", "one of several", "a dependency's metadata", "a version"])
def test_what_packaging_cannot_parse_is_a_wheelhouse_error(call, message):
    with pytest.raises(wh.WheelhouseError, match=message):
        call()


KEYS = {
    "the same target": (DEBIAN, True),
    "another kernel build": (dict(DEBIAN, platform_release="6.1.0-27-amd64", platform_version="#2"), True),
    "another patch release": (CONTROLLER, False),
    "another glibc": (dict(DEBIAN, libc="glibc 2.31"), False),
    "another architecture": (dict(DEBIAN, platform_machine="aarch64"), False),
}


@pytest.mark.parametrize("other, same", KEYS.values(), ids=KEYS.keys())
def test_wheelhouse_key(other, same):
    assert (wh.wheelhouse_key(["a==1"], DEBIAN) == wh.wheelhouse_key(["a==1"], other)) is same


def test_wheelhouse_key_depends_on_the_requirements():
    assert wh.wheelhouse_key(["a==1"], DEBIAN) != wh.wheelhouse_key(["a==2"], DEBIAN)


def test_missing_target_keys():
    target = dict(DEBIAN)
    del target["python_full_version"]
    assert wh.missing_target_keys(dict(target, os_name="")) == ["os_name", "python_full_version"]


MANIFEST = {"version": wh.MANIFEST_VERSION, "key": "k", "archive_size": 300,
            "files": [{"filename": "a-1-py3-none-any.whl", "size": 10}, {"filename": "requirements.txt", "size": 5}]}
ON_DISK = {"a-1-py3-none-any.whl": 10, "requirements.txt": 5, "ccproxy-wheelhouse.json": 99}

SATISFIED = {
    "all there": (MANIFEST, "k", ON_DISK, None, True),
    "all there with its archive": (MANIFEST, "k", ON_DISK, 300, True),
    "archive missing": (MANIFEST, "k", ON_DISK, -1, False),
    "archive of another size": (MANIFEST, "k", ON_DISK, 301, False),
    "other requirements or target": (MANIFEST, "other", ON_DISK, None, False),
    "a wheel missing": (MANIFEST, "k", {"requirements.txt": 5}, None, False),
    "a wheel truncated": (MANIFEST, "k", dict(ON_DISK, **{"a-1-py3-none-any.whl": 3}), None, False),
    "no manifest": (None, "k", ON_DISK, None, False),
    "an older manifest format": (dict(MANIFEST, version=0), "k", ON_DISK, None, False),
}


@pytest.mark.parametrize("manifest, key, present, archive_size, expected", SATISFIED.values(), ids=SATISFIED.keys())
def test_satisfied(manifest, key, present, archive_size, expected):
    assert wh.satisfied(manifest, key, present, archive_size) is expected


def test_from_report_takes_name_version_file_and_hash():
    report = {"install": [{
        "download_info": {"url": "https://files.example/packages/ab/async_timeout-5.0.1-py3-none-any.whl#sha256=00",
                          "archive_info": {"hashes": {"sha256": "39e3"}}},
        "metadata": {"name": "async-timeout", "version": "5.0.1"}}, {
        "download_info": {"url": "file:///opt/wheels/idna-3.10-py3-none-any.whl", "archive_info": {}},
        "metadata": {"name": "idna", "version": "3.10", "requires_dist": []}}, {
        "download_info": {"url": "file:///w/pkg-1.0%2Blocal-py3-none-any.whl", "archive_info": {}},
        "metadata": {"name": "pkg", "version": "1.0+local"}}]}
    assert wh.from_report(report) == [
        {"name": "async-timeout", "version": "5.0.1", "requires_dist": [],
         "filename": "async_timeout-5.0.1-py3-none-any.whl", "sha256": "39e3"},
        {"name": "idna", "version": "3.10", "requires_dist": [], "filename": "idna-3.10-py3-none-any.whl",
         "sha256": ""},
        {"name": "pkg", "version": "1.0+local", "requires_dist": [], "filename": "pkg-1.0+local-py3-none-any.whl",
         "sha256": ""}]


def test_pin_lines_pin_versions_extras_and_hashes():
    reached = {"uvicorn": ["standard"], "h11": []}
    assert wh.pin_lines(reached, RESOLVED) == ["h11==0.16.0", "uvicorn[standard]==0.35.0"]
    assert wh.pin_lines(reached, RESOLVED, {"uvicorn": "aa", "h11": "bb"}) == [
        "h11==0.16.0 --hash=sha256:bb", "uvicorn[standard]==0.35.0 --hash=sha256:aa"]


def test_explain_pip_failure_names_the_missing_wheel_and_the_platform():
    stderr = ("ERROR: Could not find a version that satisfies the requirement cryptography<51.0,>=49.0.0 "
              "(from litellm[proxy]) (from versions: 47.0.0, 48.0.1)\n"
              "ERROR: No matching distribution found for cryptography<51.0,>=49.0.0\n")
    intel = dict(MAC, platform_machine="x86_64", macos="14.6")
    assert wh.explain_pip_failure(stderr, intel) == (
        "No wheel of cryptography<51.0,>=49.0.0 for this Mac (cpython 3.12.7 on macosx_14_0_x86_64) is on the "
        "package index, so it cannot be installed there offline. Pin a release whose dependencies publish wheels "
        "for that platform, or serve this Mac a wheel of your own through an extra index.")


def test_explain_pip_failure_says_nothing_it_does_not_know():
    assert wh.explain_pip_failure("ERROR: HTTP error 503 while getting https://index/simple/x/", MAC) == ""
