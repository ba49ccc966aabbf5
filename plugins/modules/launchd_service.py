#!/usr/bin/python
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: launchd_service
short_description: Bring one macOS launchd job to a wanted state with launchctl's modern verbs
version_added: 0.1.0
author:
  - VisiQuate ccproxy maintainers (@visiquate)
description:
  - Loads, starts, restarts, stops, enables and disables one launchd job in a launchd domain
    (V(system), V(gui/<uid>) or V(user/<uid>)), using C(launchctl bootstrap), C(bootout),
    C(enable), C(disable), C(kickstart) and C(print).
  - Reads the job first (C(launchctl print) and C(print-disabled)), decides the steps once, then
    runs them. A second run with the same options changes nothing, except O(state=restarted).
  - When the loaded job differs from its plist on disk (program, arguments, environment,
    working directory, stdout/stderr paths, KeepAlive, RunAtLoad, or the plist's path), it is
    reloaded with C(bootout), a wait until launchd has dropped it, and C(bootstrap). C(kickstart)
    alone would keep running the old definition.
  - A plist that O(files) rewrites in other keys, which C(launchctl print) does not show
    (C(UserName), C(GroupName), C(ThrottleInterval), ...), reloads the job too, in that run. A
    run cut off between the write and the reload leaves the job on its old definition of those
    keys until the next bootstrap (a reboot, a login, or a change that reloads it).
  - Writes no plist of its own. Give the job's plist, and the files it reads, in O(files), and they
    are ensured first, in the same module run (one round trip where M(visiquate.ccproxy.managed_files)
    and then this module take two), and none of them is changed unless every one can be. A
    changed plist reloads the job by itself; restart it (O(state=restarted)) only for changes
    that neither the plist nor O(started_after) shows.
  - Acts on launchctl's exit codes, not its messages (which are shown). A job that is disabled
    in the domain, a gui domain without a GUI login, a plist with unsafe ownership or mode, and
    a job that crash-loops each fail with a message that says what to do.
  - Replaces M(community.general.launchd), which uses the legacy C(load)/C(unload) verbs (they
    exit 0 on failure), knows no domains, sleeps a fixed 5 seconds, and rewrites the plist.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - visiquate.ccproxy.managed_files
attributes:
  check_mode:
    support: full
    details: Runs only C(launchctl print) and C(print-disabled), writes none of O(files), and predicts C(changed)
      exactly, a reload for a plist that O(files) would change included.
  diff_mode:
    support: full
    details: Shows the job's state, PID and enablement, and the values of drifted fields, after the diffs of
      O(files) (as M(visiquate.ccproxy.managed_files) shows them).
  platform:
    platforms: darwin
options:
  label:
    description:
      - The job's C(Label). When O(plist) is set, its C(Label) must be the same.
    type: str
    required: true
  plist:
    description:
      - Path of the job's plist, as launchd will record it.
      - Required when the job must be bootstrapped (O(state=loaded), V(running) or V(restarted)
        while it is not loaded, or loaded from a different definition). Without it, drift is not
        checked.
      - Its owner chooses the user of a gui or user domain (see O(domain)).
    type: path
  domain:
    description:
      - The launchd domain of the job.
      - V(auto) is V(system) for a plist in C(/Library/LaunchDaemons), and V(gui/<uid>) for any
        other plist, where C(<uid>) owns the plist (a LaunchAgent in that user's
        C(~/Library/LaunchAgents)). A root-owned agent plist needs an explicit domain.
      - V(gui) and V(user) take the uid of the plist's owner, or the uid running the module
        when there is no plist. V(system), V(gui/<uid>) and V(user/<uid>) are used as given.
      - A V(gui/<uid>) domain exists only while that user has a GUI login (auto-login on a
        headless Mac mini); without it launchctl fails with exit code 125 or 112. V(user/<uid>)
        needs C(LimitLoadToSessionType) to include C(Background) and does not survive a reboot.
        A LaunchDaemon in V(system) with C(UserName) needs neither.
    type: str
    default: auto
  state:
    description:
      - V(running) loads the job from O(plist) if needed, starts it if it has no PID, and waits
        until a PID has stayed the same for O(min_uptime) seconds.
      - V(loaded) bootstraps the job if needed and leaves starting it to its C(RunAtLoad) and
        C(KeepAlive).
      - V(restarted) is V(running) with a new PID. Always changed. A running job is stopped with
        SIGTERM (C(bootout), which lets it finish what it has in flight; launchd sends SIGKILL after
        the job's C(ExitTimeOut)), then bootstrapped from O(plist) and started. Without O(plist), or
        for a disabled job without O(enabled=true), C(kickstart -k), which SIGKILLs it.
      - V(stopped) boots the job out of its domain and waits until launchd has dropped it. The
        plist stays; the job comes back at the next boot or login unless O(enabled=false). In a gui
        domain that does not exist (nobody logged in) the job is already stopped, and nothing changes.
      - Omitted, only O(enabled) is managed.
    type: str
    choices: [running, loaded, restarted, stopped]
  enabled:
    description:
      - The job's entry in the domain's persistent enable/disable store (C(launchctl enable) or
        C(disable)), which outlives reboots and the plist itself.
      - A disabled job cannot be bootstrapped, so V(true) is applied before any bootstrap, and
        V(false) after the other steps (the job may run now and stay off after a reboot).
      - Omitted, the store is left alone; a disabled job that must be loaded then fails.
    type: bool
  timeout:
    description:
      - Seconds that all the waiting of one run may take together (launchd dropping the job
        after C(bootout), retries of C(bootstrap) meanwhile, the job reaching O(min_uptime)).
    type: int
    default: 30
  min_uptime:
    description:
      - For O(state=running) and V(restarted), seconds one PID must stay the same before the job
        counts as running. A job that exits and is restarted by C(KeepAlive) fails, with its
        last exit code and the end of its C(StandardErrorPath) file.
      - A crash-looping job keeps one PID for most of each C(ThrottleInterval) (10 s by
        default), so only a value above it can catch a crash loop. Must be less than
        O(timeout). V(0) accepts the first PID seen.
      - With a value above V(0), a job that is already running is watched for that long too.
    type: int
    default: 0
  started_after:
    description:
      - Files the job reads only when it starts (its config, a launcher, a link to its release).
      - With O(state=running), a job whose process started before the last change of any of them
        is restarted gracefully, as V(restarted) would. A symbolic link counts by its own
        change, so switching it to another release is one.
      - This is state, not an event. A run that wrote a file and was cut off before its restart
        (the controller lost SSH) is completed by the next run.
      - The process's start is the kernel's (C(sysctl kern.proc.pid), to the microsecond; on
        Linux, the test bed, C(/proc) to 10 ms), the same on every run, so a file is newer or not
        for good. Where the kernel cannot be read, C(ps -o etime=)'s whole seconds are used,
        and a change within the process's first second may be counted on one run and not the
        next. A file that does not exist is ignored.
    type: list
    elements: path
    default: []
notes:
  - Run it as root (C(become=true)) for the system domain and for another user's gui domain, or
    as that user for their own domains.
  - O(state=running) proves that a process exists, not that it serves; check the service itself
    (for example with M(visiquate.ccproxy.health_check)).
seealso:
  - module: visiquate.ccproxy.health_check
  - name: launchctl(1) and launchd.plist(5)
    description: The manual pages for the command and the plist keys.
    link: https://keith.github.io/xcode-man-pages/launchctl.1.html
"""

EXAMPLES = r"""
- name: Ensure the ccproxy LaunchAgent runs the plist on disk
  visiquate.ccproxy.launchd_service:
    label: com.visiquate.ccproxy
    plist: /Users/coder/Library/LaunchAgents/com.visiquate.ccproxy.plist
    state: running
    enabled: true
  become: true

- name: Ensure the job's config and plist are written and launchd runs it, in one module run
  visiquate.ccproxy.launchd_service:
    label: com.visiquate.ccproxy
    plist: /Users/coder/Library/LaunchAgents/com.visiquate.ccproxy.plist
    files:
      - path: /Users/coder/ccproxy/config.yaml
        content: "{{ lookup('ansible.builtin.template', 'config.yaml.j2') }}"
        owner: coder
        group: staff
        mode: "0644"
      - path: /Users/coder/Library/LaunchAgents/com.visiquate.ccproxy.plist
        content: "{{ lookup('ansible.builtin.template', 'ccproxy.plist.j2') }}"
        owner: coder
        group: staff
        mode: "0644"
        validate: /usr/bin/plutil -lint %s
    # A new config restarts it; a new plist reloads it.
    started_after: [/Users/coder/ccproxy/config.yaml]
    state: running
  become: true

- name: Ensure the headless LaunchDaemon runs and survives 15 s without a crash
  visiquate.ccproxy.launchd_service:
    label: com.visiquate.ccproxy
    plist: /Library/LaunchDaemons/com.visiquate.ccproxy.plist
    state: running
    min_uptime: 15
    timeout: 60
  become: true

- name: Restart ccproxy (a handler, after its config changed)
  visiquate.ccproxy.launchd_service:
    label: com.visiquate.ccproxy
    plist: /Users/coder/Library/LaunchAgents/com.visiquate.ccproxy.plist
    state: restarted
  become: true

- name: Ensure the job is stopped and stays off after a reboot
  visiquate.ccproxy.launchd_service:
    label: com.visiquate.ccproxy
    domain: gui/501
    state: stopped
    enabled: false
  become: true
"""

RETURN = r"""
domain:
  description: The launchd domain acted on.
  returned: always
  type: str
  sample: gui/501
service_target:
  description: The job's launchd service target, C(<domain>/<label>).
  returned: always
  type: str
  sample: gui/501/com.visiquate.ccproxy
label:
  description: The job's label.
  returned: always
  type: str
  sample: com.visiquate.ccproxy
state:
  description:
    - V(running) (loaded, with a PID), V(loaded) (no PID), or V(stopped) (not loaded).
    - As seen at the end; in check mode, as the planned steps would leave it.
  returned: always
  type: str
  sample: running
pid:
  description: The job's PID, as last seen; V(null) when it has none (or will get a new one, in check mode).
  returned: always
  type: int
  sample: 65747
last_exit_code:
  description: The exit code of the job's last run; V(null) when it never exited or a signal ended it.
  returned: always
  type: int
  sample: 78
runs:
  description: How many times launchd has started the job since it was loaded; V(null) when not loaded.
  returned: always
  type: int
  sample: 1
enabled:
  description:
    - V(false) when the domain's persistent store disables the label.
    - V(null) for O(state=stopped) in a gui domain that does not exist (nobody logged in), which
      runs no job and is not read further.
  returned: always
  type: bool
  sample: true
drift:
  description:
    - The fields in which the loaded job differed from its plist on disk; or, when none did, the
      plist keys that O(files) changed in this run (V(ThrottleInterval), V(UserName), ...).
    - For O(state=running), V(loaded) and V(restarted), the job was reloaded because of them
      (in check mode, would be).
  returned: always
  type: list
  elements: str
  sample: [arguments, environment]
newer_files:
  description:
    - Of O(started_after), the files changed after the running process started, for which it was
      restarted (in check mode, would be).
  returned: always
  type: list
  elements: str
  sample: [/Users/coder/ccproxy/config.yaml]
files:
  description: One result per entry of O(files), in the same order, as M(visiquate.ccproxy.managed_files) returns them.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /Users/coder/Library/LaunchAgents/com.visiquate.ccproxy.plist, state: file, changed: false}
pids:
  description: The PIDs seen while waiting for a job that did not stay up for O(min_uptime).
  returned: when the job failed to stay up
  type: list
  elements: int
  sample: [8812, 8830, 8851]
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.visiquate.ccproxy.plugins.module_utils import launchd
from ansible_collections.visiquate.ccproxy.plugins.module_utils.launchctl import (
    DOMAIN_MISSING,
    Launchctl,
    NotRunning,
)
from ansible_collections.visiquate.ccproxy.plugins.module_utils.launchd import LaunchdError
from ansible_collections.visiquate.ccproxy.plugins.module_utils.managed_files import ENTRY_OPTIONS, account_id, ensure


def converge(module):
    """Ensure the job's files, find its domain and plist, then reconcile; failures name the job."""
    params = module.params
    label = params["label"]
    entry, planned = planned_plist(params)
    if planned:
        # Checked before anything is written: the plist would never load as this job.
        checked_job(planned, label, "the content given in files for %s" % planned.path)
    before = launchd.load_plist(params["plist"]) if planned else None
    files, file_diffs = ensure(module, params["files"])
    # Keys this run rewrites that print does not show: (old, new) by key.
    rewritten = {key: (before.data.get(key), planned.data.get(key))
                 for key in launchd.changed_keys(before.data, planned.data)} if before else {}
    disk = launchd.load_plist(params["plist"]) if params["plist"] else None
    if planned and module.check_mode:
        # What the job would be reloaded from: the plist files would write (owner as it would be).
        disk = planned._replace(uid=owner_uid(entry, disk), mode=disk.mode if disk else 0o644)
    domain = launchd.resolve_domain(params["domain"], params["plist"], disk and disk.uid,
                                    os.geteuid())
    identity = {"label": label, "domain": domain, "service_target": "%s/%s" % (domain, label)}
    try:
        on_disk = checked_job(disk, label, disk.path) if disk else None
        result = reconcile(module, Launchctl(module, domain, label, disk), on_disk, rewritten)
    except LaunchdError as exc:
        exc.details = dict(identity, files=files, **exc.details)
        raise
    result["files"] = files
    if any(item["changed"] for item in files):
        result["changed"] = True
    if module._diff and file_diffs:
        result["diff"] = file_diffs + [result["diff"]]
    return dict(identity, **result)


def checked_job(plist, label, source):
    """The job a ``PlistFile`` describes; fails unless its Label is ``label``."""
    job = launchd.plist_job(plist.path, plist.data)
    if job["label"] != label:
        raise LaunchdError("%s has Label %r, not %r" % (source, job["label"], label))
    return job


def planned_plist(params):
    """The entry of O(files) that writes O(plist) and the ``PlistFile`` it gives, or ``(None, None)``."""
    for entry in params["files"]:
        if params["plist"] and entry["path"] == params["plist"] and entry["state"] == "file" \
                and entry["content"] is not None:
            return entry, launchd.parse_plist(entry["path"], to_bytes(entry["content"], errors="surrogate_or_strict"),
                                              None, None)
    return None, None


def owner_uid(entry, disk):
    """The uid that will own the plist: its entry's owner, else the file's, else ``None``."""
    if entry["owner"]:
        try:
            return account_id(entry["owner"], "user")
        except KeyError:
            pass  # a user not created yet: as if no owner was given
    return disk.uid if disk else None


def reconcile(module, launchctl, on_disk, rewritten=None):
    """Read the job, plan once, act unless in check mode, and report what was seen or done.
    ``rewritten``: the plist's keys this run changed, (old, new) by key: a loaded job that shows no
    drift in what print shows drifted in them (print shows neither UserName nor ThrottleInterval)."""
    params = module.params
    job = launchctl.read(missing_domain_ok=params["state"] == "stopped" and params["enabled"] is None)
    if job is DOMAIN_MISSING:
        # Nobody is logged in to this gui domain: no job runs in it, so there is nothing to stop.
        return {"changed": False, "state": "stopped", "pid": None, "last_exit_code": None, "runs": None,
                "enabled": None, "drift": [], "newer_files": []}
    disabled = launchctl.disabled()
    current = {"loaded": job is not None, "pid": job and job["pid"], "disabled": disabled,
               "drift": launchd.drift(job, on_disk)}
    rewritten = rewritten or {}
    if job is not None and not current["drift"]:
        current["drift"] = sorted(rewritten)
    if params["state"] == "running" and params["started_after"] and current["pid"] and not current["drift"]:
        current["newer_files"] = newer_files(module, current["pid"], params["started_after"])
    wanted = {"state": params["state"], "enabled": params["enabled"],
              "plist": launchctl.plist is not None, "min_uptime": params["min_uptime"],
              "domain": launchctl.domain, "label": launchctl.label}
    steps = launchd.plan(current, wanted)
    if "disable" in steps:
        disabled = True
    elif "enable" in steps:
        disabled = False

    if module.check_mode:
        after = launchd.predict(current, steps)
        final = None if after["state"] == "stopped" else job
    else:
        try:
            final = launchctl.apply(steps, params["timeout"], params["min_uptime"],
                                    old_pid=current["pid"] if {"restart", "bootout"} & set(steps) else None,
                                    job=job)
        except NotRunning as exc:
            raise crash_report(launchctl.target, exc, params, on_disk) from exc
        after = {"state": launchd.observed_state(final is not None, final and final["pid"]),
                 "pid": final and final["pid"]}

    result = {
        "changed": launchd.changes(steps),
        "state": after["state"],
        "pid": after["pid"] if isinstance(after["pid"], int) else None,
        "last_exit_code": final and final["last_exit_code"],
        "runs": final and final["runs"],
        "enabled": not disabled,
        "drift": current["drift"],
        "newer_files": current.get("newer_files", []),
    }
    if module._diff:
        result["diff"] = {
            "before_header": launchctl.target,
            "after_header": launchctl.target,
            "before": launchd.diff_text(
                {"state": launchd.observed_state(job is not None, current["pid"]),
                 "pid": current["pid"], "enabled": not current["disabled"]},
                dict({f: rewritten[f][0] if f in rewritten else launchd.field_value(job, f) for f in current["drift"]},
                     **({"changed since its start": current["newer_files"]} if current.get("newer_files") else {}))),
            "after": launchd.diff_text(
                {"state": after["state"], "pid": after["pid"], "enabled": not disabled},
                {f: rewritten[f][1] if f in rewritten else launchd.field_value(on_disk, f) for f in current["drift"]}),
        }
    return result


def newer_files(module, pid, paths):
    """Of ``paths``, those changed after process ``pid`` started (``[]`` if it is gone: the
    process launchd starts next reads them)."""
    try:
        started = launchd.precise_start(pid)
    except launchd.NoPreciseStart as exc:
        module.debug("%s; using ps -o etime=" % exc)
        started = ps_start(module, pid)
    if started is None:
        return []
    return launchd.newer_than(started, launchd.modified(paths))


def ps_start(module, pid):
    """When process ``pid`` started, from ``ps``'s whole seconds; ``None`` if it is gone."""
    rc, out, _err = module.run_command([module.get_bin_path("ps", required=True), "-o", "etime=", "-p", str(pid)],
                                       environ_update={"LANG": "C", "LC_ALL": "C"})
    if rc != 0 or not out.strip():
        return None
    return time.time() - launchd.parse_etime(out)


def crash_report(target, exc, params, on_disk):
    """A ``LaunchdError`` for a job that would not stay up, with the end of its stderr file."""
    path = launchd.stderr_file(exc.job, on_disk)
    msg = launchd.not_running_message(target, exc.job, exc.pids, params["timeout"],
                                      params["min_uptime"], path,
                                      launchd.tail(path) if path else None)
    return LaunchdError(msg, pid=exc.job["pid"], last_exit_code=exc.job["last_exit_code"],
                        runs=exc.job["runs"], pids=exc.pids)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            label=dict(type="str", required=True),
            plist=dict(type="path"),
            domain=dict(type="str", default="auto"),
            state=dict(type="str", choices=["running", "loaded", "restarted", "stopped"]),
            enabled=dict(type="bool"),
            timeout=dict(type="int", default=30),
            min_uptime=dict(type="int", default=0),
            started_after=dict(type="list", elements="path", default=[]),
            files=dict(type="list", elements="dict", default=[], options=ENTRY_OPTIONS),
        ),
        required_one_of=[("state", "enabled")],
        supports_check_mode=True,
    )
    if module.params["timeout"] <= 0:
        module.fail_json(msg="timeout must be above 0")
    if not 0 <= module.params["min_uptime"] < module.params["timeout"]:
        module.fail_json(msg="min_uptime must be at least 0 and less than timeout (%d)"
                         % module.params["timeout"])
    try:
        result = converge(module)
    except LaunchdError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
