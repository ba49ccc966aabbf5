#!/usr/bin/env python3
# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Clients sending requests in a loop through the gateway while a roll-out runs (rollout.yml).

    gateway_clients.py URL TOKEN_FILE STOP_FILE [--clients N] [--seconds S]

Each client alternates a completion (POST /v1/chat/completions, a model every Mac serves) and a
model list, on its own kept-alive connection, every 50 ms, until STOP_FILE exists or S seconds
(at most 900) have passed. Prints one JSON line: the requests, the failed ones by status or
error, and the seconds it ran. Exit status 0 whatever it saw: the play judges the figures.
"""
import argparse
import json
import os
import threading
import time
from collections import Counter

import requests

MODEL = "claude-sonnet-4-5-20250929"  # every Mac's claude-* alias takes it


def client(url, token, stop, deadline, seen, lock):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + token
    turn = 0
    while not os.path.exists(stop) and time.monotonic() < deadline:
        try:
            if turn % 2:
                code = session.get(url + "/v1/models", timeout=60).status_code
            else:
                code = session.post(url + "/v1/chat/completions", timeout=60, json={
                    "model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "roll-out"}]}).status_code
        except requests.RequestException as error:
            code = type(error).__name__
        with lock:
            seen[code] += 1
        turn += 1
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token_file")
    parser.add_argument("stop_file")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=600)
    args = parser.parse_args()
    with open(args.token_file) as handle:
        token = handle.read().strip()
    started = time.monotonic()
    deadline = started + min(args.seconds, 900)
    seen, lock = Counter(), threading.Lock()
    threads = [threading.Thread(target=client, args=(args.url, token, args.stop_file, deadline, seen, lock))
               for _client in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = {str(code): count for code, count in seen.items() if code != 200}
    print(json.dumps({"requests": sum(seen.values()), "failed": sum(failed.values()), "by": failed,
                      "seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
