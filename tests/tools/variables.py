#!/usr/bin/env python
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the variable reference from the roles' argument specs, the one source of truth.

    variables.py write    regenerate docs/variables.md and inventory/group_vars/ (ccproxy_hosts.yml for
                          the Macs, ccproxy_gateway.yml for the gateway host)
    variables.py check    exit 1 if any is stale (make lint runs this)

Every public role's options, from every entry point, one entry per variable name (shared
variables are one idea everywhere: tests/unit/test_role_specs.py holds them identical).
"""

import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
DOCS = REPO / "docs" / "variables.md"
GROUP_VARS = REPO / "inventory" / "group_vars"
# Which hosts each role runs on: a group's file holds its roles' variables.
GROUP_ROLES = {"ccproxy_gateway": ("gateway",)}
MARKUP = re.compile(r"\b([COVIEPMU])\(([^()]*)\)")
SECRET = ("ccproxy_client_tokens", "ccproxy_master_key")
# Role parameters that other roles pass, not settings for an inventory.
PARAMETERS = ("ccproxy_launchd_job",)


def plain(text, code="`"):
    """ansible-doc markup to plain text: C(x), O(x), V(x) become `x`; I(x) becomes x."""
    return MARKUP.sub(lambda m: m.group(2) if m.group(1) == "I" else code + m.group(2) + code, text)


def collect():
    """{name: {"roles": [...], "option": {...}}} over every public role and entry point."""
    found = {}
    for role in sorted(p for p in ROLES.iterdir() if p.is_dir() and not p.name.startswith("_")):
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        for entry in specs.values():
            for name, option in (entry.get("options") or {}).items():
                if name in PARAMETERS:
                    continue
                item = found.setdefault(name, {"roles": [], "option": option})
                if role.name not in item["roles"]:
                    item["roles"].append(role.name)
    return dict(sorted(found.items()))


def description(option):
    lines = option.get("description") or []
    return [plain(line) for line in ([lines] if isinstance(lines, str) else lines)]


def default_yaml(name, option):
    text = yaml.safe_dump({name: option.get("default")}, default_flow_style=False, sort_keys=False, width=1000)
    return text.rstrip("\n").splitlines()


def markdown(found):
    out = ["# Variables", "",
           "Every variable of the `visiquate.ccproxy` roles, generated from their `meta/argument_specs.yml`",
           "by `make variables` (`make lint` fails when this file is stale). Set them in your inventory's",
           "`group_vars` (annotated copies: `inventory/group_vars/ccproxy_hosts.yml` for the Macs,",
           "`inventory/group_vars/ccproxy_gateway.yml` for a gateway host); put secrets in",
           "Ansible Vault.", "",
           "| variable | type | default | roles |", "|---|---|---|---|"]
    for name, item in found.items():
        option = item["option"]
        default = option.get("default")
        shown = "" if default is None else "`%s`" % yaml.safe_dump(default, default_flow_style=True, width=1000).strip()
        shown = shown.replace("\n...", "").replace("|", "\\|")
        roles = ", ".join(item["roles"])
        out.append("| [`%s`](#%s) | %s | %s | %s |" % (name, name, option.get("type", "str"), shown, roles))
    for name, item in found.items():
        option = item["option"]
        out += ["", "## %s" % name, ""]
        out += description(option)
        if option.get("choices"):
            out += ["", "Choices: %s." % ", ".join("`%s`" % c for c in option["choices"])]
        if name in SECRET:
            out += ["", "A secret: keep it in Ansible Vault."]
        out += ["", "```yaml", *default_yaml(name, option), "```"]
    return "\n".join(out) + "\n"


def group_vars(found, group):
    """The annotated group_vars file of `group`: the variables of the roles that run on its hosts."""
    gateway_roles = {role for roles in GROUP_ROLES.values() for role in roles}
    mine = {name: item for name, item in found.items()
            if set(item["roles"]) & set(GROUP_ROLES.get(group, ())) or set(item["roles"]) - gateway_roles
            and group not in GROUP_ROLES}
    hosts = "the Macs in ccproxy_hosts" if group not in GROUP_ROLES else "the hosts in " + group
    out = ["---",
           "# Every variable of visiquate.ccproxy, with its default, for %s." % hosts,
           "# Generated from the roles' argument specs by `make variables`: uncomment what you change.",
           "# Secrets (ccproxy_client_tokens, ccproxy_master_key) go in an Ansible Vault file instead.",
           "# yamllint disable rule:line-length"]
    for name, item in mine.items():
        out.append("")
        for line in description(item["option"]):
            out += ["# " + row for row in _wrap(line, 98)]
        out += ["#   " + row if row.startswith(" ") else "# " + row for row in default_yaml(name, item["option"])]
    return "\n".join(out) + "\n"


def _wrap(text, width):
    words, rows, row = text.split(), [], ""
    for word in words:
        if row and len(row) + 1 + len(word) > width:
            rows.append(row)
            row = word
        else:
            row = word if not row else row + " " + word
    return rows + ([row] if row else [])


def main(argv):
    if argv[1:] not in (["write"], ["check"]):
        print(__doc__, file=sys.stderr)
        return 64
    found = collect()
    wanted = {DOCS: markdown(found), **{GROUP_VARS / (group + ".yml"): group_vars(found, group)
                                        for group in ("ccproxy_hosts", *GROUP_ROLES)}}
    if argv[1] == "write":
        for path, text in wanted.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return 0
    stale = [str(p.relative_to(REPO)) for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if stale:
        print("Stale: %s. Run `make variables` and commit the result." % ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
