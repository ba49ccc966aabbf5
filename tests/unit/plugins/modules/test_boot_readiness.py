# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.visiquate.ccproxy.plugins.modules import boot_readiness
from ansible_collections.visiquate.ccproxy.tests.unit.plugins.modules.uthelper import RunCommandMock, UTHelper

UTHelper.from_module(boot_readiness, __name__, mocks=[RunCommandMock])
