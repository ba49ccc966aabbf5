# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""visiquate.ccproxy.health_check's action: on the controller the check runs in this process,
against a real HTTP server here; elsewhere the module is sent to the target."""

from __future__ import annotations

import http.server
import threading
from unittest import mock

import pytest

from ansible.errors import AnsibleActionFail
from ansible_collections.visiquate.ccproxy.plugins.action.health_check import ActionModule

TOKEN = "ccp-test-token-that-must-not-be-shown"


class Handler(http.server.BaseHTTPRequestHandler):
    """401 without the token, 200 with it. A 401 echoes the Authorization it got, as a careless
    server may: what the check reports of the answer must still not show the token."""

    def do_GET(self):
        ok = self.headers.get("Authorization") == "Bearer " + TOKEN
        body = b'{"object": "list"}' if ok else b'{"error": "not %s"}' % self.headers.get("Authorization", "").encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def action(args, transport="local", async_val=0, environment=None):
    task = mock.MagicMock(args=args, async_val=async_val, check_mode=False, environment=environment or [{}])
    connection = mock.MagicMock(transport=transport, has_native_async=False)
    connection._shell.tmpdir = "/tmp/not-used"
    plugin = ActionModule(task, connection, mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    plugin._execute_module = mock.MagicMock(return_value={"changed": False, "ran": "module"})
    plugin._remove_tmp_path = mock.MagicMock()
    return plugin


def test_a_local_check_runs_in_this_process(server):
    plugin = action({"url": server + "/v1/models", "bearer_token": TOKEN, "json": {"object": "list"}})
    result = plugin.run(task_vars={})
    plugin._execute_module.assert_not_called()
    assert result["status"] == 200 and result["attempts"] == 1 and result["changed"] is False
    assert not result.get("failed")


def test_a_failed_local_check_says_why_and_hides_the_token(server):
    plugin = action({"url": server + "/v1/models", "bearer_token": TOKEN + "x", "status": [200]})
    result = plugin.run(task_vars={})
    assert result["failed"] is True
    assert "expected one of [200], got 401" in result["msg"]
    assert "********" in str(result)  # the echoed token was there, and was hidden
    assert TOKEN not in str(result)


def test_a_wrong_option_fails_as_the_module_would(server):
    with pytest.raises(AnsibleActionFail, match="status"):
        action({"url": server, "status": "not-a-number"}).run(task_vars={})
    with pytest.raises(AnsibleActionFail, match="mutually exclusive"):
        action({"url": server, "body": "x", "json_body": {}}).run(task_vars={})


@pytest.mark.parametrize("kind", ["ssh connection", "async", "environment"])
def test_the_module_runs_where_this_process_would_not_behave_the_same(server, kind):
    plugin = action({"url": server}, transport="ssh" if kind == "ssh connection" else "local",
                    async_val=30 if kind == "async" else 0,
                    environment=[{"https_proxy": "http://proxy:3128"}] if kind == "environment" else None)
    result = plugin.run(task_vars={})
    plugin._execute_module.assert_called_once()
    assert result["ran"] == "module"
