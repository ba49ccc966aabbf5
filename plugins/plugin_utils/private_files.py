# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Files the controller keeps for itself (certificates, keys, generated tokens), written whole.

Used by the controller-side actions only (plugin_utils: never sent to a Mac).
"""

from __future__ import annotations

import os
import tempfile


def read_text(path):
    """The file's text, or "" when there is no file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def write_private(path, text, mode):
    """Write ``text`` to ``path`` with ``mode`` through a temporary file renamed over it.

    A missing directory is made readable by its owner only (missing parents get the umask's). A
    reader never sees half a file, nor the text under a wider mode than ``mode``.
    """
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".ccproxy-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
