# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: summary
type: aggregate
short_description: Ends a ccproxy run with what changed on each host and what clients use
description:
  - At the end of a run, one paragraph per host, after the recap. For a Mac, the URL clients use (for Claude Code
    and for OpenAI-style clients), where the generated client token is (or that the inventory's
    C(ccproxy_client_tokens) are in force), the LiteLLM version and the model names; for a gateway, its URL and the
    Macs behind it. Then the tasks that changed on that host (in check mode, that would change), or that nothing did;
    or the task that failed, or that the host was unreachable.
  - The roles record what clients use with M(ansible.builtin.set_stats) under the key C(ccproxy); the callback
    prints no secret, only where a token is kept.
  - Aggregate callbacks print nothing until enabled. A checkout's C(ansible.cfg) enables this one.
requirements:
  - Enabled with C(callbacks_enabled = visiquate.ccproxy.summary) under C([defaults]) in C(ansible.cfg), or
    C(ANSIBLE_CALLBACKS_ENABLED=visiquate.ccproxy.summary).
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = visiquate.ccproxy.summary
#
# The end of a second run of site.yml against a converged Mac:
#
# CCPROXY SUMMARY ****************************************************************
# mac-mini-1: changed nothing
#   clients:  ANTHROPIC_BASE_URL=http://mac-mini-1.example.internal:8080
#             OPENAI_BASE_URL=http://mac-mini-1.example.internal:8080/v1
#   token:    ANTHROPIC_AUTH_TOKEN=$(cat /home/me/.config/ccproxy/inventory-1f0c3a9e/client-token)
#   serving:  LiteLLM 1.108.7; models claude-3-5-sonnet, gpt-4
"""

import shlex

from ansible import context
from ansible.plugins.callback import CallbackBase

# The set_stats key the roles write (roles/traefik_route/tasks/summary.yml, roles/gateway/tasks/main.yml).
STATS_KEY = "ccproxy"


def client_lines(record):
    """The lines that tell a person how to reach what a host serves, from its set_stats record."""
    if not record:
        return []
    url = record.get("url")
    lines = []
    if url:
        lines.append("  clients:  ANTHROPIC_BASE_URL=%s" % url)
        lines.append("            OPENAI_BASE_URL=%s/v1" % url)
    if record.get("token_file"):
        lines.append("  token:    ANTHROPIC_AUTH_TOKEN=$(cat %s)" % shlex.quote(record["token_file"]))
    elif record.get("clients"):
        lines.append("  token:    one of ccproxy_client_tokens (%s)" % ", ".join(record["clients"]))
    if record.get("ca_file"):
        lines.append("  trust:    %s (SSL_CERT_FILE for the SDKs, NODE_EXTRA_CA_CERTS for Claude Code)"
                     % record["ca_file"])
    if record.get("members") is not None:
        lines.append("  in front of: %s" % (", ".join(record["members"]) or "no Mac"))
    if record.get("litellm_version"):
        models = ", ".join(record.get("models") or []) or "none"
        lines.append("  serving:  LiteLLM %s; models %s" % (record["litellm_version"], models))
    return lines


def host_paragraph(host, outcome, record, check_mode):
    """One host's paragraph. outcome: {'changed': [task names], 'failed': the task that failed the host, or
    None, 'unreachable': bool}."""
    if outcome.get("unreachable"):
        head = "%s: UNREACHABLE (see the error above)%s" % (host, "; before that:" if outcome.get("changed") else "")
    elif outcome.get("failed"):
        head = "%s: FAILED at %r (the error is above)" % (host, outcome["failed"])
    elif outcome.get("changed"):
        count = len(outcome["changed"])
        head = "%s: %s %d task%s" % (host, "would change" if check_mode else "changed", count, "" if count == 1 else "s")
    else:
        head = "%s: %s" % (host, "would change nothing" if check_mode else "changed nothing")
    lines = [head] + client_lines(record)
    lines.extend("  - %s" % name for name in outcome.get("changed", []))
    return lines


def summary_lines(outcomes, custom, check_mode):
    """Every host's paragraph; none for a run that recorded nothing
    for clients and changed nothing (status.yml, logs.yml)."""
    hosts = list(outcomes) + [host for host in custom if host not in outcomes and host != "_run"]
    # By name, the Macs first, then a gateway in front of them: the same order whatever the forks' timing.
    hosts.sort(key=lambda host: (((custom.get(host) or {}).get(STATS_KEY) or {}).get("members") is not None, host))
    recorded = any(STATS_KEY in (custom.get(host) or {}) for host in hosts)
    eventful = any(outcome.get("changed") or outcome.get("failed") or outcome.get("unreachable")
                   for outcome in outcomes.values())
    if not (recorded or eventful):
        return []
    lines = []
    for host in hosts:
        record = (custom.get(host) or {}).get(STATS_KEY)
        lines.extend(host_paragraph(host, outcomes.get(host, {}), record, check_mode))
    return lines


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "visiquate.ccproxy.summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._outcomes = {}
        self._check_mode = False

    def _outcome(self, result):
        return self._outcomes.setdefault(result._host.get_name(), {"changed": [], "failed": None, "failures": []})

    def v2_playbook_on_start(self, playbook):
        self._check_mode = bool(context.CLIARGS.get("check"))

    def v2_runner_on_ok(self, result):
        outcome = self._outcome(result)
        if result._result.get("changed", False):
            name = result._task.get_name().strip()
            # Each name once: a loop's changed items are one task.
            if name not in outcome["changed"]:
                outcome["changed"].append(name)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        # A failure a block's rescue handles comes here too: the recap decides, at the end.
        if not ignore_errors:
            self._outcome(result)["failures"].append(result._task.get_name().strip())

    def v2_runner_on_skipped(self, result):
        self._outcome(result)

    def v2_runner_on_unreachable(self, result):
        self._outcome(result)["unreachable"] = True

    def v2_playbook_on_stats(self, stats):
        for host, outcome in self._outcomes.items():
            # The last failure is the one that failed the host (a rescue's own fail task says why).
            if stats.summarize(host)["failures"] and outcome["failures"]:
                outcome["failed"] = outcome["failures"][-1]
        lines = summary_lines(self._outcomes, getattr(stats, "custom", {}) or {}, self._check_mode)
        if not lines:
            return
        self._display.banner("CCPROXY SUMMARY")
        for line in lines:
            self._display.display(line)
        self._display.display("")
