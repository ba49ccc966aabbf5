# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.wheelhouse: how it calls pip (its resolution is module_utils' and the
integration tests'). The index URLs, which may carry credentials, stay out of pip's argv."""

from __future__ import annotations

import pytest

from ansible_collections.visiquate.ccproxy.plugins.modules import wheelhouse

SECRET_INDEX = "https://ci:s3cret@index.example/simple"
EXTRA_INDEX = "https://ci:0ther@extra.example/simple"
MAC = {"implementation_name": "cpython", "python_full_version": "3.12.7", "platform_machine": "arm64",
       "sys_platform": "darwin", "macos": "14.5", "libc": ""}


class Failed(Exception):
    pass


class FakeModule:
    """What Pip uses of AnsibleModule: params, run_command (answering rc 1), fail_json."""

    def __init__(self, **params):
        self.params = dict({"index_url": None, "extra_index_url": [], "pip_args": []}, **params)
        self.calls = []

    def run_command(self, argv, environ_update=None):
        self.calls.append((argv, environ_update))
        return 1, "", "ERROR: No matching distribution found for nothing\n"

    def fail_json(self, **result):
        raise Failed(result)


@pytest.mark.parametrize("params, environ", [
    ({}, {}),
    ({"index_url": SECRET_INDEX}, {"PIP_INDEX_URL": SECRET_INDEX}),
    ({"index_url": SECRET_INDEX, "extra_index_url": [EXTRA_INDEX, "https://x.example/simple"],
      "pip_args": ["--cert", "/etc/ca.pem"]},
     {"PIP_INDEX_URL": SECRET_INDEX, "PIP_EXTRA_INDEX_URL": EXTRA_INDEX + " https://x.example/simple"}),
])
def test_index_urls_reach_pip_in_its_environment_only(params, environ):
    module = FakeModule(**params)
    with pytest.raises(Failed) as failed:
        wheelhouse.Pip(module, MAC).run(["download", "nothing"])
    (argv, given), = module.calls
    assert given == dict(wheelhouse.PIP_ENVIRON, **environ)
    assert argv[1:5] == ["-m", "pip", "download", "nothing"]
    assert argv[len(argv) - len(params.get("pip_args", [])):] == params.get("pip_args", [])
    assert not any("example" in arg for arg in argv), argv
    assert "s3cret" not in repr(failed.value.args[0]) and "0ther" not in repr(failed.value.args[0])
