#!/usr/bin/env bash
# Install the Debian packages the test bed needs, if any is missing (a no-op otherwise).
# Used by .ci/run and by `make demo`, which must both work on a fresh Debian machine as root.
set -euo pipefail

# sshd per test-bed Mac, network namespaces (iproute2, util-linux's unshare/nsenter), sudo for
# the Ansible user, python3-venv for the hosts' venvs, lsof (macOS has it: preflight asks it who
# holds a port), curl (make demo runs the curl it prints), ShellCheck for ansible-test's sanity test
# of that name.
PACKAGES=(openssh-server openssh-client iproute2 util-linux sudo python3-venv lsof curl shellcheck make git)
# Node.js and npm for the Claude Code CLI (tests/clients), unless a Node.js is installed already.
command -v npm >/dev/null || PACKAGES+=(nodejs npm)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "The test bed needs these Debian packages: ${missing[*]}. Install them as root." >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
