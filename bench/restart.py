#!/usr/bin/env python3
"""P12: failed client requests while launchd restarts LiteLLM, as a config change does.

Run on the Mac (standard library only), as root. Clients send completions through Traefik with a
client token, each on its own kept-alive connection, one every --interval seconds; meanwhile the
LiteLLM job is restarted as launchd_service restarts it when a file the job reads at start
changed (`launchctl bootout`, which sends SIGTERM, a wait until launchd has dropped the job, and
`bootstrap` from its plist; `--kill`: `kickstart -k`, which SIGKILLs it, for comparison),
--rounds times, each time waiting until LiteLLM answers readiness again and then --settle
seconds. Prints JSON: requests, failed, the statuses of the failed ones, and the slowest answer
(a request Traefik held while LiteLLM started).
Bounded: at most --limit requests per client, and --deadline seconds in all.
"""
import argparse
import http.client
import json
import statistics
import subprocess
import threading
import time

from recovery import launchd_pid, status

BODY = json.dumps({"model": "gpt-4", "max_tokens": 8, "messages": [{"role": "user", "content": "restart"}]})


class Client(threading.Thread):
    """POSTs BODY to /v1/chat/completions on one kept-alive connection, every `interval` seconds,
    until `stop` is set or `limit` requests were sent."""

    def __init__(self, port, token, interval, limit, stop, host="127.0.0.1"):
        super().__init__(daemon=True)
        self.host, self.port, self.token, self.interval, self.limit, self.stop = host, port, token, interval, limit, stop
        self.results = []  # (status or exception name, seconds)

    def run(self):
        conn = None
        while not self.stop.is_set() and len(self.results) < self.limit:
            started = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                conn.request("POST", "/v1/chat/completions", body=BODY,
                             headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
                conn.close()
                conn = None
            self.results.append((status, time.monotonic() - started))
            time.sleep(self.interval)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="gui/501")
    parser.add_argument("--label", default="com.visiquate.ccproxy")
    parser.add_argument("--traefik-port", type=int, default=8080)
    parser.add_argument("--litellm-port", type=int, default=8081)
    parser.add_argument("--plist", default="/Users/coder/Library/LaunchAgents/com.visiquate.ccproxy.plist")
    parser.add_argument("--kill", action="store_true", help="kickstart -k (SIGKILL) instead")
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--deadline", type=float, default=600.0)
    args = parser.parse_args()
    with open(args.token_file) as handle:
        token = handle.read().strip()
    service = "%s/%s" % (args.domain, args.label)
    stop = threading.Event()
    clients = [Client(args.traefik_port, token, args.interval, args.limit, stop) for _ in range(args.clients)]
    for client in clients:
        client.start()
    began = time.monotonic()
    outages = []
    try:
        time.sleep(args.settle)
        for _ in range(args.rounds):
            before = launchd_pid(args.domain, args.label)
            restarted = time.monotonic()
            if args.kill:
                subprocess.run(["launchctl", "kickstart", "-k", service], check=True, timeout=60)
            else:
                subprocess.run(["launchctl", "bootout", service], check=True, timeout=60)
                while subprocess.run(["launchctl", "print", service], capture_output=True,
                                     timeout=30).returncode == 0:
                    time.sleep(0.05)
                subprocess.run(["launchctl", "bootstrap", args.domain, args.plist], check=True, timeout=60)
            while not (launchd_pid(args.domain, args.label) not in (None, before)
                       and status(args.litellm_port, "/health/readiness") == 200):
                if time.monotonic() - began > args.deadline:
                    raise SystemExit("LiteLLM did not come back within %d s" % args.deadline)
                time.sleep(0.05)
            outages.append(time.monotonic() - restarted)
            time.sleep(args.settle)
    finally:
        stop.set()
        for client in clients:
            client.join(150)
    results = [result for client in clients for result in client.results]
    failed = [status for status, _ in results if status != 200]
    waits = sorted(seconds for _, seconds in results)
    how = "kickstart -k, SIGKILL" if args.kill else "bootout, SIGTERM"
    print(json.dumps({"P12 failed requests while launchd restarts LiteLLM (%s)" % how: {
        "requests": len(results), "failed": len(failed), "failed statuses": sorted(set(map(str, failed))),
        "restarts": args.rounds, "LiteLLM down s median": round(statistics.median(outages), 2) if outages else None,
        "slowest answer s": round(waits[-1], 2) if waits else None,
        "answer p50 ms": round(waits[len(waits) // 2] * 1000, 1) if waits else None, "clients": args.clients}}))


if __name__ == "__main__":
    main()
