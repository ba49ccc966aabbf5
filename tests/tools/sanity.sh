#!/usr/bin/env bash
# ansible-test sanity, offline: ansible-test needs the collection at
# .../ansible_collections/visiquate/ccproxy, so run it on the built collection unpacked in a
# temporary tree; its own HOME keeps its virtualenvs warm between runs.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
venv="${VENV:-$top/.venv}"
home="$top/.cache/ansible-test-home"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dest="$work/ansible_collections/visiquate/ccproxy"
mkdir -p "$dest"
# Check what ships: the built collection (galaxy.yml's build_ignore leaves out the Linux test
# bed, which runs on the controller and on test-bed hosts, never on a Mac).
"$venv/bin/ansible-galaxy" collection build --output-path "$work" "$top" >/dev/null
tar -xzf "$work"/visiquate-ccproxy-*.tar.gz -C "$dest"

pip_version=$("$venv/bin/python" - <<'PY'
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version="default"))["pip"])
PY
)
cache="$home/.ansible/test/cache"
mkdir -p "$cache"
cp "$top/tests/tools/get_pip.py" "$cache/get_pip_${pip_version//./_}.py"

# pyenv's shims answer only for the selected version (and ansible-test does not pass
# PYENV_VERSION on): link each installed python3.X into a directory ahead on PATH, so that
# ansible-test compiles modules on every target Python this machine has.
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
mkdir -p "$work/bin"
for python in "$pyenv_root"/versions/3.*/bin/python3.*; do
  case "$python" in *-config|*.py) continue ;; esac
  if [ -x "$python" ]; then ln -sf "$python" "$work/bin/$(basename "$python")"; fi
done
export PATH="$work/bin:$PATH"

cd "$dest"
HOME="$home" "$venv/bin/ansible-test" sanity --local --color no "$@"
