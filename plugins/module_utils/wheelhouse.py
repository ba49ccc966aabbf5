# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure decisions for the wheelhouse module: pip's target options, the marker closure, the lock.

pip resolves for another platform (``--platform``, ``--python-version``) but evaluates every
environment marker against the interpreter it runs on, the controller's. A wheelhouse resolved
by a 3.11.7 controller for a 3.11.2 Mac therefore lacks ``async-timeout`` (``redis`` needs it
when ``python_full_version < "3.11.3"``). ``closure`` walks the resolved distributions' own
``Requires-Dist`` with the target's marker environment and names what is missing, which the
module adds as top-level requirements and resolves again, until nothing is missing.

Nothing here runs a command or touches a file: inputs and outputs are plain data. The
functions that parse requirements need ``packaging`` (the controller has
it: ansible-core depends on it).
"""

from __future__ import annotations

import hashlib
import json
import re
from email.parser import HeaderParser
from urllib.parse import unquote

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version
except ImportError:  # the module reports it with missing_required_lib
    HAS_PACKAGING = False
else:
    HAS_PACKAGING = True

# PEP 508's marker variables: what the target's probe must report.
MARKER_KEYS = (
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_full_version",
    "python_version",
    "sys_platform",
)
# Kernel build strings: they differ from Mac to Mac with the same interpreter, and no wheel's
# metadata is known to use them. Keeping them out of the key lets one wheelhouse serve a fleet.
UNKEYED_MARKERS = ("platform_release", "platform_version")

MANIFEST_VERSION = 1
# Oldest manylinux glibc per architecture: manylinux1 (2.5) on x86, manylinux2014 (2.17) elsewhere.
_MANYLINUX_FIRST = {"x86_64": 5, "i686": 5}
_MANYLINUX_LEGACY = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_IMPLEMENTATIONS = {"cpython": "cp", "pypy": "pp"}


class WheelhouseError(Exception):
    """A target or a resolution the module cannot use; the message says what to fix."""


def missing_target_keys(target):
    """The marker variables the target dict lacks."""
    return [key for key in MARKER_KEYS if not target.get(key)]


def pip_platforms(target):
    """``--platform`` values for the target, most specific first.

    pip expands a macOS platform to the older macOS versions itself, but not a
    ``manylinux_2_X`` one: for glibc Linux every tag down to the oldest is listed.
    """
    system, machine = target["sys_platform"], target["platform_machine"]
    if system == "darwin":
        major, _dot, rest = (target.get("macos") or "").partition(".")
        if not major.isdigit():
            raise WheelhouseError("the target is macOS but reports no macOS version (target.macos)")
        minor = rest.partition(".")[0] if int(major) == 10 else "0"
        return ["macosx_%s_%s_%s" % (major, minor or "0", machine)]
    if system.startswith("linux"):
        match = re.match(r"glibc (\d+)\.(\d+)", target.get("libc") or "")
        if not match or match.group(1) != "2":
            raise WheelhouseError(
                "the target is Linux without a glibc version (target.libc is %r): only glibc "
                "targets are supported" % (target.get("libc") or ""))
        platforms = []
        for minor in range(int(match.group(2)), _MANYLINUX_FIRST.get(machine, 17) - 1, -1):
            platforms.append("manylinux_2_%d_%s" % (minor, machine))
            if minor in _MANYLINUX_LEGACY:
                platforms.append("%s_%s" % (_MANYLINUX_LEGACY[minor], machine))
        return platforms + ["linux_%s" % machine]
    raise WheelhouseError("no wheel platform is known for sys_platform %r" % system)


def pip_target_args(target):
    """pip options that select wheels for the target instead of for the controller."""
    implementation = _IMPLEMENTATIONS.get(target["implementation_name"])
    if implementation is None:
        raise WheelhouseError("no wheel tags are known for the %r implementation" % target["implementation_name"])
    args = ["--only-binary=:all:", "--implementation", implementation,
            "--python-version", target["python_full_version"]]
    for platform in pip_platforms(target):
        args += ["--platform", platform]
    return args


def explain_pip_failure(stderr, target):
    """A sentence saying what a failed pip run means for the target, or '' when it is not known."""
    missing = re.findall(r"No matching distribution found for (\S+)", stderr)
    if not missing:
        return ""
    return ("No wheel of %s for this Mac (%s %s on %s) is on the package index, so it cannot be "
            "installed there offline. Pin a release whose dependencies publish wheels for that "
            "platform, or serve this Mac a wheel of your own through an extra index."
            % (missing[-1], target["implementation_name"], target["python_full_version"],
               ", ".join(pip_platforms(target))))


def marker_environment(target):
    """The PEP 508 environment of the target, as ``Marker.evaluate`` takes it."""
    return dict((key, target[key]) for key in MARKER_KEYS)


def wheelhouse_key(requirements, target):
    """A digest of everything the wheelhouse's content depends on."""
    keyed = dict((key, value) for key, value in marker_environment(target).items() if key not in UNKEYED_MARKERS)
    blob = json.dumps({"requirements": list(requirements), "markers": keyed,
                       "pip": pip_target_args(target)}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def parse_metadata(text):
    """Name, version and Requires-Dist of a wheel's ``*.dist-info/METADATA``."""
    headers = HeaderParser().parsestr(text)
    return {"name": headers["Name"], "version": headers["Version"],
            "requires_dist": headers.get_all("Requires-Dist") or []}


def requirement(text, where="requirements"):
    """``text`` parsed, or WheelhouseError saying where it came from and why it is not one."""
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise WheelhouseError("%s: %r is not a requirement as pip takes it: %s" % (where, text, exc)) from None


def version(dist):
    try:
        return Version(dist["version"])
    except InvalidVersion:
        raise WheelhouseError("%s: its version %r is not a valid version" % (dist["name"], dist["version"])) from None


def pip_requirements(requirements, environment):
    """The requirements the target wants, without markers: pip would judge those on the controller."""
    kept = []
    for text in requirements:
        wanted = requirement(text)
        if wanted.marker is None or wanted.marker.evaluate(dict(environment, extra="")):
            wanted.marker = None
            kept.append(str(wanted))
    return kept


def dists_by_name(dists):
    """Index a list of ``{name, version, requires_dist}`` by canonical name."""
    return dict((canonicalize_name(dist["name"]), dist) for dist in dists)


def _wanted(marker, environment, extras):
    if marker is None:
        return True
    return any(marker.evaluate(dict(environment, extra=extra)) for extra in [""] + sorted(extras))


def closure(requirements, dists, environment):
    """Walk the requirements through the distributions with the target's markers.

    ``dists`` maps canonical names to ``{name, version, requires_dist}``. Returns
    ``(reached, missing)``: ``reached`` maps each distribution the target installs to the
    extras asked of it; ``missing`` lists, as marker-free requirement strings, what the target
    needs and no distribution provides (absent, or a version outside the specifier).
    """
    reached, missing = {}, []
    queue = [(requirement(text), frozenset()) for text in requirements]
    seen = set()
    while queue:
        wanted, parent_extras = queue.pop(0)
        if not _wanted(wanted.marker, environment, parent_extras):
            continue
        name = canonicalize_name(wanted.name)
        extras = frozenset(canonicalize_name(extra) for extra in wanted.extras)
        dist = dists.get(name)
        if dist is None or not wanted.specifier.contains(version(dist), prereleases=True):
            wanted.marker = None
            if str(wanted) not in missing:
                missing.append(str(wanted))
            continue
        known = reached.setdefault(name, set())
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        known.update(extras)
        queue.extend((requirement(text, "%s's Requires-Dist" % dist["name"]), extras)
                     for text in dist["requires_dist"])
    return dict((name, sorted(extras)) for name, extras in reached.items()), missing


def pin_lines(reached, dists, hashes=None):
    """``requirements.txt`` lines pinning each reached distribution, with its hash if known.

    Installing the hashed lines with ``pip install --require-hashes --no-index`` installs
    exactly the closure, checked file by file: pip refuses any distribution they do not pin.
    """
    lines = []
    for name in sorted(reached):
        extras = "[%s]" % ",".join(reached[name]) if reached[name] else ""
        line = "%s%s==%s" % (name, extras, dists[name]["version"])
        if hashes is not None:
            line += " --hash=sha256:%s" % hashes[name]
        lines.append(line)
    return lines


def from_report(report):
    """Distributions of a ``pip install --dry-run --report`` answer, with file name and hash."""
    dists = []
    for item in report.get("install", []):
        url = item["download_info"]["url"]
        hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
        dists.append({
            "name": item["metadata"]["name"],
            "version": item["metadata"]["version"],
            "requires_dist": item["metadata"].get("requires_dist", []),
            "filename": unquote(url.split("#", 1)[0].rsplit("/", 1)[-1]),
            "sha256": hashes.get("sha256", ""),
        })
    return dists


def satisfied(manifest, key, present, archive_size=None):
    """Whether a wheelhouse's manifest still matches what is wanted and what is on disk.

    ``present`` maps file names in the wheelhouse to their sizes; ``archive_size`` is the
    archive's size, ``None`` when no archive is wanted, ``-1`` when it is missing.
    """
    if not manifest or manifest.get("version") != MANIFEST_VERSION or manifest.get("key") != key:
        return False
    for recorded in manifest.get("files", []):
        if present.get(recorded["filename"]) != recorded["size"]:
            return False
    if archive_size is not None:
        return manifest.get("archive_size") == archive_size
    return True
