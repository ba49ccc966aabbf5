# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action for visiquate.ccproxy.tls_certificate: all of it runs here, on the controller."""

from __future__ import annotations

import datetime

from ansible.plugins.action import ActionBase

from ansible_collections.visiquate.ccproxy.plugins.modules.tls_certificate import ARGUMENT_SPEC
from ansible_collections.visiquate.ccproxy.plugins.plugin_utils import tls
from ansible_collections.visiquate.ccproxy.plugins.plugin_utils.private_files import read_text, write_private


def summary(described):
    if described is None:
        return "no certificate\n"
    return "names: %s\nnot_after: %s\n" % (", ".join(described["names"]), described["not_after"].isoformat())


class ActionModule(ActionBase):

    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if not params["names"]:
            return dict(result, failed=True, msg="names must list at least one DNS name or IP address")
        if params["days"] <= params["renew_days"]:
            return dict(result, failed=True, msg="days (%d) must be more than renew_days (%d)"
                        % (params["days"], params["renew_days"]))
        now = datetime.datetime.now(datetime.timezone.utc)
        current = tls.read(read_text(params["cert_path"]), read_text(params["key_path"]))
        reason = tls.needs(current, params["names"], now, params["renew_days"])
        after = current
        if reason and not self._task.check_mode:
            cert_pem, key_pem = tls.make(params["names"], params["days"], now)
            write_private(params["key_path"], key_pem, 0o600)
            write_private(params["cert_path"], cert_pem, 0o644)
            after = tls.read(cert_pem, key_pem)
        made = after is not current  # in check mode a new one is only announced
        dns, ips = tls.split_names(params["names"])
        result.update(changed=bool(reason), reason=reason, cert_path=params["cert_path"],
                      names=sorted(dns) + sorted(ips),
                      not_after=after["not_after"].isoformat() if after is not None and (made or not reason) else "")
        if self._task.diff and reason:
            result["diff"] = dict(before_header=params["cert_path"], after_header=params["cert_path"],
                                  before=summary(current),
                                  after=summary(after) if made else "a new certificate for %s\n"
                                  % ", ".join(result["names"]))
        return result
