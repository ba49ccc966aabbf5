#!/usr/bin/env python3
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet's verify: the official anthropic and openai SDKs against one Mac, through its Traefik.

Usage: clients.py BASE_URL MODEL, with the client token in CCPROXY_TOKEN (never in the
arguments). Each client sends one request, non-streaming and streaming; prints one line per
request and exits 1 on the first that does not get a reply.
"""

import os
import sys

import anthropic
import openai


def main(base_url, model):
    token = os.environ["CCPROXY_TOKEN"]
    claude = anthropic.Anthropic(base_url=base_url, auth_token=token, max_retries=0, timeout=60)
    gpt = openai.OpenAI(base_url=base_url + "/v1", api_key=token, max_retries=0, timeout=60)
    prompt = [{"role": "user", "content": "ccproxy fleet"}]

    message = claude.messages.create(model=model, max_tokens=16, messages=prompt)
    assert message.type == "message" and message.content, message
    print(f"anthropic messages.create: {message.stop_reason}")
    with claude.messages.stream(model=model, max_tokens=16, messages=prompt) as stream:
        text = "".join(stream.text_stream)
    assert text, "anthropic stream: no text"
    print(f"anthropic messages.stream: {len(text)} characters")

    chat = gpt.chat.completions.create(model=model, max_tokens=16, messages=prompt)
    assert chat.choices[0].message.content, chat
    print(f"openai chat.completions.create: {chat.choices[0].finish_reason}")
    chunks = gpt.chat.completions.create(model=model, max_tokens=16, messages=prompt, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text, "openai stream: no text"
    print(f"openai chat.completions.create(stream=True): {len(text)} characters")


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    except (AssertionError, anthropic.APIError, openai.APIError) as exc:
        sys.exit(f"clients.py {' '.join(sys.argv[1:])}: {type(exc).__name__}: {exc}")
