# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""filter/tls_pair_problem.py: a given certificate and key, as the preflights of traefik_route and
the gateway judge them, on pairs made here (the rules themselves: plugin_utils/test_tls.py)."""

from __future__ import annotations

import datetime

from ansible_collections.visiquate.ccproxy.plugins.filter.tls_pair_problem import FilterModule, tls_pair_problem
from ansible_collections.visiquate.ccproxy.plugins.plugin_utils import tls


def pair(days=30, start=None):
    return tls.make(["mac1.lan"], days, start or datetime.datetime.now(datetime.timezone.utc))


def test_a_current_pair_serves():
    assert tls_pair_problem(*pair()) == ""


def test_an_expired_certificate_is_named_with_its_end():
    cert, key = pair(days=1, start=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=5))
    assert tls_pair_problem(cert, key).startswith("ccproxy_traefik_tls_cert expired on ")


def test_another_certificates_key_is_refused():
    assert tls_pair_problem(pair()[0], pair()[1]).startswith("ccproxy_traefik_tls_key is not the unencrypted PEM")


def test_the_gateway_s_variables_are_named_when_given():
    assert tls_pair_problem(pair()[0], pair()[1], "ccproxy_gateway_tls").startswith(
        "ccproxy_gateway_tls_key is not the unencrypted PEM private key of ccproxy_gateway_tls_cert")


def test_none_given_is_a_self_signed_certificate_and_no_problem():
    assert tls_pair_problem("", None) == ""


def test_the_filter_is_registered_by_its_name():
    assert FilterModule().filters() == {"tls_pair_problem": tls_pair_problem}
