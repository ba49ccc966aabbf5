# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""filter/litellm_workers.py: each worker's label and port, and what it refuses."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.visiquate.ccproxy.plugins.filter.litellm_workers import FilterModule, litellm_workers

LABEL = "com.visiquate.ccproxy"


@pytest.mark.parametrize("case, count, expected", [
    ("one: the job as it always was", 1, [(LABEL, 8081)]),
    ("two", 2, [(LABEL, 8081), (LABEL + ".2", 8084)]),
    ("three: the ports after the second's", 3, [(LABEL, 8081), (LABEL + ".2", 8084), (LABEL + ".3", 8085)]),
    ("strings, as inventories give them", "2", [(LABEL, 8081), (LABEL + ".2", 8084)]),
])
def test_workers(case, count, expected):
    port = "8081" if isinstance(count, str) else 8081
    workers = litellm_workers(LABEL, port, count, 8084)
    assert [(w["label"], w["port"]) for w in workers] == expected, case
    assert [w["worker"] for w in workers] == list(range(1, len(expected) + 1)), case


@pytest.mark.parametrize("case, args, message", [
    ("no worker", (8081, 0, 8084), "count must be at least 1, not 0"),
    ("negative", (8081, -2, 8084), "count must be at least 1, not -2"),
    ("not a number", (8081, "two", 8084), "must be integers"),
    ("no port", (None, 2, 8084), "must be integers"),
])
def test_refused(case, args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        litellm_workers(LABEL, *args)


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {"litellm_workers": litellm_workers}
