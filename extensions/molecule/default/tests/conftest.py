# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures every verify file of molecule default uses."""

import os
from pathlib import Path

import pytest

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[4]))


@pytest.fixture(scope="module")
def root(host):
    """The test-bed Mac as root."""
    with host.sudo():
        yield host


@pytest.fixture(scope="module")
def token():
    """The client token site.yml generated on the controller (the scenario gives none)."""
    return (PROJECT / ".cache/secrets/default/client-token").read_text().strip()
