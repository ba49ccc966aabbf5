#!/usr/bin/env bash
# The modules run on a Mac's own Python, 3.9 at the oldest: run their unit tests under 3.9 too.
# ansible-core 2.19 will not install on 3.9 (its controller needs 3.11), but the module side of
# it (ansible.module_utils) is what the modules import on a Mac, so the toolchain's copy is put on
# the path. Without a Python 3.9 on this machine, the leg is reported as skipped, never passed.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
venv="$top/.cache/py39-units"

python39=""
for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9.*/bin/python3.9 python3.9; do
  # A pyenv shim on PATH exists but may not run: try each one.
  if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
    python39=$candidate
    break
  fi
done
if [ -z "$python39" ]; then
  echo "SKIPPED: the Python 3.9 leg of the unit tests (no python3.9 on this machine)"
  exit 0
fi

if ! cmp -s "$top/tests/requirements-py39.txt" "$venv/.installed" 2>/dev/null; then
  rm -rf "$venv"
  "$python39" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$top/tests/requirements-py39.txt"
  cp "$top/tests/requirements-py39.txt" "$venv/.installed"
fi

ansible_pkg=$("$top/.venv/bin/python" -c 'import ansible, os; print(os.path.dirname(ansible.__file__))')
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
ln -s "$ansible_pkg" "$shim/ansible"

cd "$top"
# Not tests/unit/plugins/action: action plugins run on the controller only.
PYTHONPATH="$shim" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  tests/unit/plugins/modules tests/unit/plugins/module_utils "$@"
