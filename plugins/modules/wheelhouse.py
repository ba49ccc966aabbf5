#!/usr/bin/python
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wheelhouse
short_description: Fill a directory with the wheels one target Python needs, on the controller
version_added: 0.1.0
author:
  - VisiQuate ccproxy maintainers (@visiquate)
description:
  - Resolves O(requirements) for another machine's Python (its interpreter version and platform, reported by the
    target in O(target)) and downloads exactly the wheels that machine installs into O(dest). The target then
    installs them offline with C(pip install --no-index --find-links <dest> --require-hashes -r
    <dest>/requirements.txt).
  - "Meant to run on the controller (C(delegate_to: localhost)). It runs C(python -m pip) with the Python that runs
    the module, so pip and the C(packaging) library must be importable there."
  - pip evaluates environment markers against the Python it runs on, not the target's. After each resolution the
    module walks every resolved distribution's C(Requires-Dist) with the target's markers, adds what the target
    needs and the resolution lacks as top-level requirements, and resolves again (at most five times). For example,
    a 3.11.7 controller resolving for a 3.11.2 target gets C(async-timeout), which C(redis) needs only before
    3.11.3. Distributions only the controller's markers asked for are left out.
  - Only wheels are used (no source builds). After the download the module checks the closure again on the
    downloaded files' own metadata, and writes C(requirements.txt) pinning each wheel by version and SHA-256.
  - Idempotent. A manifest in O(dest) records a digest of O(requirements) and of the target's markers and wheel
    tags, and each file's size. When it matches and the files are there, nothing is resolved or downloaded.
  - Several hosts may fill the same O(dest) at once, for example under C(delegate_to) with forks, because a lock
    file beside O(dest) makes them take turns. The second one then finds the wheelhouse filled.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the module resolves (pip may read metadata from the index) but writes nothing, and reports
      the wheels it would download.
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - pip >= 23.3 and packaging, importable by the Python that runs the module
options:
  requirements:
    description:
      - Requirement specifiers, as pip takes them, for example V(litellm[proxy]==1.108.7).
      - A specifier with an environment marker is kept only when the marker holds on the target.
    type: list
    elements: str
    required: true
  dest:
    description:
      - The wheelhouse directory for this target and these requirements. Created if missing; replaced as a whole
        when the requirements or the target change.
      - Use one directory per target Python and platform, and per set of requirements, so that hosts with
        different Pythons or pins do not replace each other's wheelhouse.
    type: path
    required: true
  target:
    description:
      - The target Python's PEP 508 marker environment, as C(platform), C(sys) and C(os) report it there.
        Required keys are C(implementation_name), C(implementation_version), C(os_name), C(platform_machine),
        C(platform_python_implementation), C(platform_release), C(platform_system), C(platform_version),
        C(python_full_version), C(python_version) and C(sys_platform).
      - Also C(macos) on macOS (C(platform.mac_ver()[0]), for example V(14.5)), and C(libc) on Linux
        (C(os.confstr("CS_GNU_LIBC_VERSION")), for example V(glibc 2.36)). They select the wheel platform tags.
      - Other keys are ignored.
    type: dict
    required: true
  archive:
    description:
      - Also write the wheelhouse as one uncompressed ZIP file at this path, for C(ansible.builtin.unarchive).
      - ZIP, not tar, because C(ansible.builtin.unarchive) needs GNU tar for tar files and macOS ships bsdtar,
        while it handles ZIP files with the C(unzip) macOS has. The wheels are compressed already.
    type: path
  index_url:
    description:
      - The package index to resolve from (C(pip --index-url)). By default pip's own configuration decides.
      - Given to pip in its environment (E(PIP_INDEX_URL)), not its arguments, and never returned, so that
        credentials in the URL show neither in the process list nor in a failure's output.
    type: str
  extra_index_url:
    description:
      - More package indexes (C(pip --extra-index-url)), given to pip as O(index_url) is (E(PIP_EXTRA_INDEX_URL)).
    type: list
    elements: str
    default: []
  pip_args:
    description:
      - More arguments for every pip command the module runs, for example V([--cert, /path/ca.pem]).
    type: list
    elements: str
    default: []
notes:
  - The wheelhouse holds exactly one target's closure. The same requirements for another Python version, platform
    or architecture need another O(dest).
  - C(platform_release) and C(platform_version) (kernel build strings) are not part of the manifest's digest, so
    Macs that differ only in those share a wheelhouse. Markers on them are evaluated with the values of the target
    that filled the wheelhouse.
seealso:
  - name: pip download
    description: The pip command the module runs for the target's platform.
    link: https://pip.pypa.io/en/stable/cli/pip_download/
"""

EXAMPLES = r"""
- name: Collect the Mac's marker environment
  ansible.builtin.command:
    argv:
      - /opt/homebrew/opt/python@3.12/bin/python3.12
      - -c
      - >-
        import json, os, platform, sys;
        i = sys.implementation;
        print(json.dumps(dict(implementation_name=i.name,
        implementation_version="%d.%d.%d" % i.version[:3], os_name=os.name,
        platform_machine=platform.machine(), platform_python_implementation=platform.python_implementation(),
        platform_release=platform.release(), platform_system=platform.system(), platform_version=platform.version(),
        python_full_version=platform.python_version(), python_version="%d.%d" % sys.version_info[:2],
        sys_platform=sys.platform, macos=platform.mac_ver()[0])))
  register: markers
  changed_when: false
  check_mode: false

- name: Ensure the controller's wheelhouse holds LiteLLM for that Mac
  visiquate.ccproxy.wheelhouse:
    requirements:
      - litellm[proxy]==1.108.7
    dest: "~/.cache/ccproxy/wheelhouse/{{ inventory_hostname }}"
    target: "{{ markers.stdout | from_json }}"
    archive: "~/.cache/ccproxy/wheelhouse/{{ inventory_hostname }}.zip"
  delegate_to: localhost
  become: false
  register: wheelhouse
"""

RETURN = r"""
directory:
  description: The wheelhouse directory, O(dest).
  returned: success
  type: str
  sample: /home/me/.cache/ccproxy/wheelhouse/cpython-3.12.7-darwin-arm64-macos14/litellm-1.108.7
wheels:
  description: The wheel files the wheelhouse holds, or in check mode would hold, sorted.
  returned: success
  type: list
  elements: str
  sample: [async_timeout-5.0.1-py3-none-any.whl, litellm-1.108.7-cp310-abi3-macosx_11_0_arm64.whl]
size:
  description: The wheels' total size in bytes. V(null) in check mode when the wheelhouse would change.
  returned: success
  type: int
  sample: 231702113
requirements_file:
  description: The file that pins every wheel by version and SHA-256, for C(pip install --require-hashes -r).
  returned: success
  type: str
  sample: /home/me/.cache/ccproxy/wheelhouse/cpython-3.12.7-darwin-arm64-macos14/litellm-1.108.7/requirements.txt
archive:
  description: The ZIP file of the wheelhouse, when O(archive) is set.
  returned: when O(archive) is set
  type: str
  sample: /home/me/.cache/ccproxy/wheelhouse/cpython-3.12.7-darwin-arm64-macos14/litellm-1.108.7.zip
added:
  description:
    - Requirements the module added because the target's markers need them and pip, judging markers on the
      controller, left them out.
  returned: success
  type: list
  elements: str
  sample: [async-timeout>=4.0.3]
"""

import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from importlib import metadata as importlib_metadata

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.visiquate.ccproxy.plugins.module_utils import wheelhouse as wh

MANIFEST = "ccproxy-wheelhouse.json"
PINS = "requirements.txt"
MAX_ROUNDS = 5
# The oldest pip whose `install --dry-run` resolves for another platform (--platform without
# --target); pip 23.2 refuses.
MIN_PIP = "23.3"
# pip must never prompt, and its messages must read the same everywhere.
PIP_ENVIRON = {"LC_ALL": "C", "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


class Pip:
    """Runs ``python -m pip`` with the module's index options; fails the module on an error."""

    def __init__(self, module, target):
        self.module = module
        self.target = target
        self.target_args = wh.pip_target_args(target)
        params = module.params
        # Index URLs may carry credentials: in pip's environment, not its argv (the process list,
        # a failure's cmd).
        self.environ = dict(PIP_ENVIRON)
        if params["index_url"]:
            self.environ["PIP_INDEX_URL"] = params["index_url"]
        if params["extra_index_url"]:
            self.environ["PIP_EXTRA_INDEX_URL"] = " ".join(params["extra_index_url"])
        self.pip_args = params["pip_args"]

    def require_version(self):
        try:
            found = importlib_metadata.version("pip")
        except importlib_metadata.PackageNotFoundError:
            found = None
        if found is None or wh.Version(found) < wh.Version(MIN_PIP):
            self.module.fail_json(
                msg="The controller's Python (%s) has %s; resolving wheels for a Mac needs pip >= %s. "
                    "Upgrade it: %s -m pip install 'pip>=%s'"
                    % (sys.executable, "pip " + found if found else "no pip", MIN_PIP, sys.executable, MIN_PIP))

    def run(self, args):
        argv = [sys.executable, "-m", "pip"] + args + self.target_args + self.pip_args
        rc, out, err = self.module.run_command(argv, environ_update=self.environ)
        if rc != 0:
            tail = "\n".join(err.strip().splitlines()[-5:])
            why = wh.explain_pip_failure(err, self.target)
            self.module.fail_json(msg="%spip %s failed (rc %d): %s" % (why + " " if why else "", args[0], rc, tail),
                                  cmd=argv, rc=rc, stdout=out, stderr=err)
        return out

    def resolve(self, requirements, workdir):
        """Distributions pip picks for the requirements, from its dry-run report."""
        self.require_version()
        report = os.path.join(workdir, "report.json")
        self.run(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", report] + requirements)
        with open(report) as handle:
            return wh.from_report(json.load(handle))

    def download(self, pins_file, dest):
        self.run(["download", "--no-deps", "--quiet", "--dest", dest, "-r", pins_file])


def resolve_closure(module, pip, requirements, environment, workdir):
    """Resolve until the target's markers ask for nothing the resolution lacks."""
    added = []
    for _round in range(MAX_ROUNDS):
        dists = wh.dists_by_name(pip.resolve(wh.pip_requirements(requirements, environment) + added, workdir))
        reached, missing = wh.closure(requirements, dists, environment)
        if not missing:
            return dists, reached, added
        added += missing
    module.fail_json(msg="the target still needs %s after %d resolutions" % (", ".join(missing), MAX_ROUNDS),
                     added=added)


def wheel_metadata(path):
    with zipfile.ZipFile(path) as wheel:
        names = [name for name in wheel.namelist() if name.count("/") == 1 and name.endswith(".dist-info/METADATA")]
        if len(names) != 1:
            raise wh.WheelhouseError("%s has no single .dist-info/METADATA" % os.path.basename(path))
        return wh.parse_metadata(wheel.read(names[0]).decode("utf-8"))


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fill(pip, requirements, environment, staging, dists, reached):
    """Download the closure into ``staging``, check it on the files themselves, pin it."""
    pins = os.path.join(staging, PINS)
    with open(pins, "w") as handle:
        handle.write("\n".join(wh.pin_lines(reached, dists)) + "\n")
    pip.download(pins, staging)
    os.unlink(pins)

    expected = sorted(dists[name]["filename"] for name in reached)
    found = sorted(name for name in os.listdir(staging) if name.endswith(".whl"))
    if found != expected:
        extra, lacking = sorted(set(found) - set(expected)), sorted(set(expected) - set(found))
        raise wh.WheelhouseError("pip downloaded unexpected wheels %s and not %s" % (extra, lacking))
    hashes, files = {}, []
    for name in reached:
        filename = dists[name]["filename"]
        path = os.path.join(staging, filename)
        hashes[name] = sha256(path)
        if dists[name]["sha256"] and dists[name]["sha256"] != hashes[name]:
            raise wh.WheelhouseError("%s does not have the SHA-256 the index lists" % filename)
        files.append({"filename": filename, "size": os.path.getsize(path), "sha256": hashes[name]})

    # The proof: the target's closure, walked on the downloaded wheels' own metadata, is complete.
    on_disk = wh.dists_by_name([wheel_metadata(os.path.join(staging, item["filename"])) for item in files])
    _reached, missing = wh.closure(requirements, on_disk, environment)
    if missing:
        raise wh.WheelhouseError("the downloaded wheels lack %s" % ", ".join(missing))

    with open(pins, "w") as handle:
        handle.write("\n".join(wh.pin_lines(reached, dists, hashes)) + "\n")
    files.append({"filename": PINS, "size": os.path.getsize(pins), "sha256": sha256(pins)})
    return sorted(files, key=lambda item: item["filename"])


def replace_dir(staging, dest):
    old = None
    if os.path.lexists(dest):
        old = tempfile.mkdtemp(prefix=".old.", dir=os.path.dirname(dest))
        os.rename(dest, os.path.join(old, "dest"))
    os.rename(staging, dest)
    if old:
        shutil.rmtree(old)


def write_archive(dest, files, archive):
    partial = archive + ".partial"
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as handle:
        for item in files:
            handle.write(os.path.join(dest, item["filename"]), item["filename"])
    os.replace(partial, archive)
    return os.path.getsize(archive)


def read_manifest(dest):
    try:
        with open(os.path.join(dest, MANIFEST)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_manifest(dest, manifest):
    path = os.path.join(dest, MANIFEST)
    with open(path + ".partial", "w") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
    os.replace(path + ".partial", path)


def present_files(dest):
    try:
        return dict((name, os.path.getsize(os.path.join(dest, name))) for name in os.listdir(dest))
    except OSError:
        return {}


def result(dest, manifest, archive, changed):
    wheels = [item for item in manifest["files"] if item["filename"].endswith(".whl")]
    out = dict(changed=changed, directory=dest, wheels=[item["filename"] for item in wheels],
               size=sum(item["size"] for item in wheels), requirements_file=os.path.join(dest, PINS),
               added=manifest["added"])
    if archive:
        out["archive"] = archive
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            requirements=dict(type="list", elements="str", required=True),
            dest=dict(type="path", required=True),
            target=dict(type="dict", required=True),
            archive=dict(type="path"),
            index_url=dict(type="str", no_log=True),
            extra_index_url=dict(type="list", elements="str", default=[], no_log=True),
            pip_args=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    if not wh.HAS_PACKAGING:
        module.fail_json(msg=missing_required_lib("packaging"))
    params = module.params
    requirements, target = params["requirements"], params["target"]
    # type path keeps a trailing slash: dirname() would then name dest itself.
    dest, archive = [os.path.normpath(path) if path else path for path in (params["dest"], params["archive"])]
    missing_keys = wh.missing_target_keys(target)
    if missing_keys:
        module.fail_json(msg="target lacks the marker variables %s" % ", ".join(missing_keys))
    try:
        for text in requirements:
            wh.requirement(text)
        pip = Pip(module, target)
        key = wh.wheelhouse_key(requirements, target)
    except wh.WheelhouseError as exc:
        module.fail_json(msg=str(exc))
    environment = wh.marker_environment(target)

    parent = os.path.dirname(dest)
    lock = None
    if not module.check_mode:
        os.makedirs(parent, exist_ok=True)
        lock = open(dest + ".lock", "a")
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the module exits
    workdir = tempfile.mkdtemp(prefix="ccproxy-wheelhouse-")
    try:
        manifest = read_manifest(dest)
        if wh.satisfied(manifest, key, present_files(dest)):
            if not archive or (os.path.isfile(archive) and manifest.get("archive_size") == os.path.getsize(archive)):
                module.exit_json(**result(dest, manifest, archive, changed=False))
            if not module.check_mode:
                manifest["archive_size"] = write_archive(dest, manifest["files"], archive)
                write_manifest(dest, manifest)
            module.exit_json(**result(dest, manifest, archive, changed=True))

        dists, reached, added = resolve_closure(module, pip, requirements, environment, workdir)
        if module.check_mode:
            wheels = sorted(dists[name]["filename"] for name in reached)
            module.exit_json(changed=True, directory=dest, wheels=wheels, size=None, added=added,
                             requirements_file=os.path.join(dest, PINS), **({"archive": archive} if archive else {}))

        staging = tempfile.mkdtemp(prefix=".partial.", dir=parent)
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would outlive the rename
        try:
            files = fill(pip, requirements, environment, staging, dists, reached)
            manifest = dict(version=wh.MANIFEST_VERSION, key=key, requirements=requirements, added=added,
                            target=environment, files=files)
            write_manifest(staging, manifest)
            replace_dir(staging, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if archive:
            manifest["archive_size"] = write_archive(dest, files, archive)
            write_manifest(dest, manifest)
        module.exit_json(**result(dest, manifest, archive, changed=True))
    except wh.WheelhouseError as exc:
        module.fail_json(msg=str(exc))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if lock:
            lock.close()


if __name__ == "__main__":
    main()
