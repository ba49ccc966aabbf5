#!/usr/bin/env bash
# `make demo` / `make demo-down`: run site.yml against the embedded default target.
#   On a Mac: this Mac (inventory/localhost.yml).
#   On Linux: one test-bed Mac (tests/testbed/macs), prepared like molecule's default scenario
#   prepares it, so the demo is exactly what `make test` checks.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=.venv/bin
# The bed is one per machine: whatever brings it up or down holds its lock.
lock="${TESTBED_LOCK:-/var/tmp/ccproxy-testbed.lock}"
export ANSIBLE_HOME="${ANSIBLE_HOME:-$PWD/.cache/ansible-home}"

case "${1:-}" in
  up)
    if [ "$(uname -s)" = Darwin ]; then
      exec "$bin/ansible-playbook" -i inventory/localhost.yml site.yml
    fi
    tests/tools/host-packages.sh
    # molecule's converge sequence: create the Mac, prepare its stand-ins, run the site play.
    flock "$lock" "$bin/molecule" converge --scenario-name default
    echo
    echo "The demo Mac is up: $bin/python tests/testbed/macs/macs.py status"
    echo "Log in to it:        $bin/python tests/testbed/macs/macs.py shell mac1"
    echo "Remove it:           make demo-down"
    ;;
  down)
    [ "$(uname -s)" = Darwin ] && { echo "Nothing to remove: the demo ran against this Mac."; exit 0; }
    if [ -x "$bin/molecule" ]; then
      # molecule's destroy also forgets that the scenario was created.
      flock "$lock" "$bin/molecule" destroy --scenario-name default
    else
      echo "No toolchain (.venv), so no demo was run: nothing to remove."
    fi
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 64
    ;;
esac
