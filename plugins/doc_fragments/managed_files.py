# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The O(files) option of managed_files, which launchd_service takes too (module_utils/managed_files.py)."""

    DOCUMENTATION = r"""
options:
  files:
    description:
      - The directories and files to ensure, in order (a directory before the files in it).
      - Every entry is looked at, and every O(files[].validate) command run, before anything is changed.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory or file.
        type: path
        required: true
      state:
        description:
          - V(directory) or V(file).
          - V(absent) removes a file that is there (a file no longer wanted, such as a flag); a directory or anything
            else in its place fails the module before any change.
        type: str
        choices: [directory, file, absent]
        default: file
      content:
        description: The file's whole content. For V(file), this or O(files[].secret_content) is required.
        type: str
      secret_content:
        description:
          - The file's whole content when it is a secret (a key, a token store), instead of O(files[].content).
          - Never in what the module returns or logs, its invocation included; its diff says that the secret changed,
            not what it was or is. The other entries of the same run keep their diffs, where C(no_log) on the task
            would hide them all.
        type: str
      owner:
        description: User owning the entry.
        type: str
      group:
        description: Group owning the entry.
        type: str
      mode:
        description: Permissions, as C(ansible.builtin.file) takes them (V("0644"), V(u=rw,go=r)).
        type: raw
      validate:
        description:
          - A command run on the new content before the file is replaced, with V(%s) standing for a temporary copy of
            it. A non-zero exit fails the module before it changes anything.
        type: str
      backup:
        description: Keep the file's old content in a timestamped copy beside it when it is replaced.
        type: bool
        default: false
      force:
        description:
          - V(false) keeps the content of a file that exists, whatever O(files[].content) says; only its owner, group
            and mode are managed. The content is written only when there is no file, as M(ansible.builtin.copy) does
            with O(ansible.builtin.copy#module:force=false); for a secret generated once and then kept.
        type: bool
        default: true
"""
