# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible's collection loader, started before any test imports the checkout (as ansible-playbook
starts it, and ansible-test's unit tests): ansible_collections.visiquate.ccproxy then loads with
its metadata, so that a bare templar resolves the collection's own filters by their full names.
Not on a Mac's Python (tests/tools/units-py39.sh), where the modules' tests run without Ansible's
controller, which needs 3.11."""

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([str(Path(__file__).resolve().parents[2] / "collections")])
