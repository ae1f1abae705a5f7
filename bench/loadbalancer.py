"""
Figures of Octavia's load balancers on a running `loadbalancing` lab
after `make demo` (its external network), printed as a table:

- a load balancer made by the demo user with its address on the external
  network, from its create until Octavia says ACTIVE (the amphora's boot
  under TCG on a compute node and its agent's first answer included),
- the memory that it added to the lab (the proportional set size of every
  node's processes, as bench/lab.py counts it, before and after),
- its delete (cascade) until it is gone,
- the memory of Octavia's own processes on the controller and the network
  node.

    .venv/bin/python bench/loadbalancer.py [--runs N]

It makes and deletes `bench-lb` only; run it while nothing else loads the
machine (TCG is CPU-bound).
"""

import argparse
import datetime
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tools"))

from lab import Lab  # noqa: E402

NAME = "bench-lb"
EXTERNAL = "external"  # the demo's external network (salt/demo/defaults.yaml)
# Octavia's processes, by node
SERVICES = {"controller": "octavia-api", "network": "octavia-(worker|health-manager|housekeeping)"}


def lab_memory(lab):
    return sum(lab.memory_of(node) for node in lab.nodes())


def services_memory(lab, node, pattern):
    """PSS (bytes) of the node's processes whose command line matches `pattern`."""
    script = (
        f"for pid in $(pgrep -f '{pattern}'); do grep '^Pss:' /proc/$pid/smaps_rollup 2>/dev/null; done"
        " | awk '{s += $2} END {print s * 1024}'"
    )
    return int(float(lab.ssh(node, script).stdout.strip() or 0))


def one(lab, conn):
    """(seconds to ACTIVE, bytes added, seconds to gone) of one load balancer."""
    before = lab_memory(lab)
    started = time.monotonic()
    lb = conn.load_balancer.create_load_balancer(name=NAME, vip_network_id=conn.network.find_network(EXTERNAL).id)
    try:
        lb = conn.load_balancer.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], wait=1800)
        active = time.monotonic() - started
        added = lab_memory(lab) - before
    finally:
        started = time.monotonic()
        conn.load_balancer.delete_load_balancer(lb, cascade=True)
        conn.load_balancer.wait_for_delete(lb, wait=900)
    return active, added, time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--runs", type=int, default=2, help="load balancers to make, one after the other (default 2)")
    args = parser.parse_args()
    lab = Lab(echo=False)
    conn = lab.connect("demo")
    if conn.network.find_network(EXTERNAL) is None:
        sys.exit(f"bench/loadbalancer.py: no network {EXTERNAL}: run make demo first")
    if conn.load_balancer.find_load_balancer(NAME) is not None:
        sys.exit(f"bench/loadbalancer.py: {NAME} exists (a run cut short?): delete it first")
    figures = []
    for node, pattern in SERVICES.items():
        figures.append((f"Octavia's processes on {node} (PSS)", f"{services_memory(lab, node, pattern) // 2**20} MiB"))
    for run in range(1, args.runs + 1):
        active, added, gone = one(lab, conn)
        figures.append((f"load balancer {run}: create to ACTIVE", f"{active:.0f} s"))
        figures.append((f"load balancer {run}: memory added to the lab (PSS)", f"{added // 2**20} MiB"))
        figures.append((f"load balancer {run}: delete to gone", f"{gone:.0f} s"))
    width = max(len(label) for label, _ in figures)
    print(f"saltlab load balancer bench, {datetime.date.today()}, {subprocess.getoutput('nproc')} cores")
    for label, value in figures:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
