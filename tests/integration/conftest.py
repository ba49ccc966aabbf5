# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One test-bed Mac for the whole run: bringing it up and deploying to it costs minutes."""

import pytest

import macbed


@pytest.fixture(scope="session")
def mac():
    with macbed.session():
        yield
