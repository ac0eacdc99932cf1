#!/usr/bin/env python3
"""Retry amplification through lab-target's /proxy (issue 17): a dependency whose every
/db/query fails with 503 (--db-fail-rate 1) behind a proxy with and without --upstream-retry and
its budget. Prints, per policy, the attempts the dependency saw per call (the load amplification
factor), counted at the dependency's /metrics. Counts, not timings: the machine's load does not
change them.

usage: scripts/proxy-retry-amplification.py [build/release/targets/lab-target] [calls]
"""
import http.client
import subprocess
import sys

LAB_TARGET = sys.argv[1] if len(sys.argv) > 1 else "build/release/targets/lab-target"
CALLS = int(sys.argv[2]) if len(sys.argv) > 2 else 300


def start(args):
    p = subprocess.Popen([LAB_TARGET, "--listen", "127.0.0.1:0"] + args, stdout=subprocess.PIPE, text=True)
    return p, int(p.stdout.readline().strip().rsplit(":", 1)[1])


def metric(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/metrics")
    for line in c.getresponse().read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def run(retry):
    dep, dport = start(["--model", "reactor", "--threads", "1", "--db-fail-rate", "1"])
    args = ["--model", "reactor", "--threads", "1", "--upstream", f"http://127.0.0.1:{dport}"]
    if retry:
        args += ["--upstream-retry", retry]
    proxy, pport = start(args)
    try:
        c = http.client.HTTPConnection("127.0.0.1", pport)
        for _ in range(CALLS):
            c.request("GET", "/proxy/db/query?ms=1")
            c.getresponse().read()
        seen = metric(dport, 'perflab_target_requests_total{endpoint="db_query",status="503"}')
        print(f"| `{retry or 'none'}` | {CALLS} | {seen:.0f} | {seen / CALLS:.2f}x | "
              f"{metric(pport, 'perflab_upstream_retries_total'):.0f} | "
              f"{metric(pport, 'perflab_upstream_retry_budget_refusals_total'):.0f} |")
    finally:
        for p in (proxy, dep):
            p.terminate()
            p.wait()


print("| --upstream-retry | calls | dependency saw | amplification | retries | budget refusals |")
print("|---|---|---|---|---|---|")
for policy in ["", "3,base=1ms,cap=4ms,jitter=full", "3,base=1ms,cap=4ms,jitter=full,budget=20%,budget-min=0/s",
               "3,base=1ms,cap=4ms,jitter=full,budget=20%"]:
    run(policy)
