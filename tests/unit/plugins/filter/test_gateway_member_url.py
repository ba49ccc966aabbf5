# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""filter/gateway_member_url.py: where a gateway (and a client, by default) reaches a Mac."""

from __future__ import annotations

import pytest

from ansible_collections.visiquate.ccproxy.plugins.filter.gateway_member_url import FilterModule, gateway_member_url


@pytest.mark.parametrize("case, args, expected", [
    ("plain", ("198.18.0.11", 8080), "http://198.18.0.11:8080"),
    ("TLS", ("198.18.0.11", 8080, True), "https://198.18.0.11:8080"),
    ("a name and a port from an inventory (a string)", ("mac1.lan", "8443", True), "https://mac1.lan:8443"),
    ("IPv6, in brackets", ("fd00::11", 8080), "http://[fd00::11]:8080"),
    ("IPv6 given in brackets", ("[fd00::11]", 8080), "http://[fd00::11]:8080"),
    ("ccproxy_gateway_url wins", ("198.18.0.11", 8080, True, "https://mac1.example:443"), "https://mac1.example:443"),
    ("an empty ccproxy_gateway_url does not", ("198.18.0.11", 8080, False, ""), "http://198.18.0.11:8080"),
])
def test_url(case, args, expected):
    assert gateway_member_url(*args) == expected, case


def test_a_wrong_port_is_left_to_the_argument_spec_that_names_its_variable():
    # test_bad_input.py: a gateway given ccproxy_gateway_port "many" is refused by name.
    assert gateway_member_url("mac1", "many") == "http://mac1:many"


def test_the_filter_is_registered():
    assert FilterModule().filters() == {"gateway_member_url": gateway_member_url}
