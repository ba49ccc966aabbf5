# Copyright (c) 2025, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.health_check: the cases are data, in test_health_check.yaml."""

from __future__ import annotations

from ansible_collections.visiquate.ccproxy.plugins.modules import health_check
from ansible_collections.visiquate.ccproxy.tests.unit.plugins.modules.uthelper import (
    ClockMock, HttpMock, RunCommandMock, UTHelper)

UTHelper.from_module(health_check, __name__, mocks=[RunCommandMock, HttpMock, ClockMock])
