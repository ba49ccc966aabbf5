# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.ollama_models: the cases are data, in test_ollama_models.yaml."""

from __future__ import annotations

from ansible_collections.visiquate.ccproxy.plugins.modules import ollama_models
from ansible_collections.visiquate.ccproxy.tests.unit.plugins.modules.uthelper import HttpMock, UTHelper

UTHelper.from_module(ollama_models, __name__, mocks=[HttpMock])
