# Copyright (c) 2025, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.health_check: the cases are data, in test_health_check.yaml."""

from __future__ import annotations

import ssl

import pytest

from ansible_collections.visiquate.ccproxy.plugins.modules import health_check
from ansible_collections.visiquate.ccproxy.tests.unit.plugins.modules.uthelper import (
    ClockMock, HttpMock, RunCommandMock, UTHelper)

UTHelper.from_module(health_check, __name__, mocks=[RunCommandMock, HttpMock, ClockMock])


@pytest.mark.parametrize("url, follow_redirects, may_use_tls", [
    ("http://127.0.0.1:8081/health/readiness", False, False),
    ("HTTP://mac-mini-1.example.internal:8080/v1/models", False, False),
    ("http://127.0.0.1:8081/health/readiness", True, True),  # a redirect may go to https
    ("https://mac-mini-1.example.internal:8080/v1/models", False, True),
])
def test_only_a_request_that_may_use_tls_loads_the_system_cas(url, follow_redirects, may_use_tls):
    params = {"url": url, "follow_redirects": follow_redirects}
    assert health_check.may_use_tls(params) is may_use_tls
    context = health_check.request_of(dict(params, headers={}, bearer_token=None, api_key=None, json_body=None,
                                           body=None, method="GET", timeout=10, validate_certs=True, ca_path=None,
                                           use_proxy=True))["context"]
    if may_use_tls:
        assert context is None  # Request.open makes it, with the system's CAs or ca_path
    else:
        assert isinstance(context, ssl.SSLContext) and context.cert_store_stats()["x509"] == 0
