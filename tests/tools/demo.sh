#!/usr/bin/env bash
# `make demo` / `make demo-down`: run site.yml against the embedded default target.
#   On a Mac: this Mac (inventory/localhost.yml).
#   On Linux: three test-bed Macs (tests/testbed/macs), prepared like molecule's default scenario
#   prepares it, so the demo is exactly what `make test` checks.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=.venv/bin
# The bed is one per machine: whatever brings it up or down holds its lock.
lock="${TESTBED_LOCK:-/var/tmp/ccproxy-testbed.lock}"
export ANSIBLE_HOME="${ANSIBLE_HOME:-$PWD/.cache/ansible-home}"

# The lines a client needs, in .demo/ccproxy.env (0600: it holds the token). What is printed reads
# the token from that file, so the token itself never reaches the terminal or a CI log.
address() {
  "$bin/python" tests/testbed/macs/inventory.py --list \
    | "$bin/python" -c 'import json, sys; print(json.load(sys.stdin)["_meta"]["hostvars"][sys.argv[1]]["ansible_host"])' "$1"
}

write_env() {
  local host token_file=.cache/secrets/default/client-token env=.demo/ccproxy.env
  host=$(address mac1)
  (
    umask 077
    mkdir -p .demo
    {
      echo "# make demo: source this file to point a client at the demo Mac's ccproxy."
      echo "export ANTHROPIC_BASE_URL=http://$host:8080"
      echo "export ANTHROPIC_AUTH_TOKEN=$(cat "$token_file")"
      echo "export OPENAI_BASE_URL=http://$host:8080/v1"
      echo "export OPENAI_API_KEY=$(cat "$token_file")"
    } > "$env.tmp"
    mv "$env.tmp" "$env"
  )
  local curl="curl -sS \$ANTHROPIC_BASE_URL/v1/messages -H \"Authorization: Bearer \$ANTHROPIC_AUTH_TOKEN\" -H 'content-type: application/json' -d '{\"model\": \"claude-sonnet-4-5-20250929\", \"max_tokens\": 64, \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}'"
  # Run once exactly as shown: the demo ends only if what it tells the user to run works.
  # shellcheck source=/dev/null
  (. "$env"; reply=$(eval "$curl") && grep -Eq '"type": ?"message"' <<<"$reply") || {
    echo "demo: the curl below did not get a message back through ccproxy" >&2
    echo "  $curl" >&2
    exit 1
  }
  echo
  echo "Point a client at it (the token is in $env, mode 0600):"
  echo "  . $env"
  echo "  claude    # Claude Code reads ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN"
  echo "  $curl"
}

case "${1:-}" in
  up)
    if [ "$(uname -s)" = Darwin ]; then
      exec "$bin/ansible-playbook" -i inventory/localhost.yml site.yml
    fi
    tests/tools/host-packages.sh
    # molecule's converge sequence: create the Mac, prepare its stand-ins, run the site play.
    flock "$lock" "$bin/molecule" converge --scenario-name default
    write_env
    echo
    echo "The demo Macs are up (mac1 above; mac2 has other models, mac3 runs headless in daemon mode;"
    echo "mac4 is the gateway in front of the three: ANTHROPIC_BASE_URL=http://$(address mac4):8080, same token):"
    echo "  $bin/python tests/testbed/macs/macs.py status"
    echo "Log in to one:       $bin/python tests/testbed/macs/macs.py shell mac1"
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
