"""
Figures of the local lab on this machine, each printed next to its budget
(PASS/FAIL, never asserted), in one run so that the machine's noise weighs
on all of them alike:

1. from an empty machine: a fresh clone of this checkout, no .venv, no node
   image or role layers, no pip cache, no packages in APT's cache, the
   local provider's host packages removed: the commands `make lab` runs,
   each timed (host packages, .venv, secrets, map: node image, role layers,
   nodes; the first highstate per node and, on the controller, per
   formula), then the demo until both servers answer;
2. from a warm machine (that clone, its images and layers there): map and
   first highstate, a no-op highstate, a no-op demo, the memory of every
   node and of the whole lab;
3. the floor: the controller's packages installed by a plain
   `apt-get install` on a fresh node of the same image, with its own
   breakdown (download; unpack, configure and triggers from dpkg's log),
   next to what this lab spends installing them (the controller's role
   layer).

    .venv/bin/python bench/lab.py

It needs the machine to itself (no lab up) and destroys the labs it makes.
"""

import collections
import datetime
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

from lab import Lab  # noqa: E402

MAP = "maps/local.yaml"
CACHES = ("/var/cache/saltlab/images", "/var/cache/saltlab/pip", "/root/.cache/pip")
# what tools/install-host-deps installs for the local provider and nothing else uses
HOST_PACKAGES = ("systemd-container", "mmdebstrap", "syslinux", "syslinux-common", "mtools", "dosfstools")
BUDGETS = {
    "empty machine to both demo servers answering": 600,
    "warm machine: map and first highstate": 300,
    "no-op highstate": 15,
}
LAB_MEMORY_BUDGET = 8 * 2**30


class Figures:
    """Labelled figures, some with a budget, printed as one table."""

    def __init__(self):
        self.rows = []
        self.seconds = {}

    def add(self, label, value, unit="s", budget=None):
        if unit == "s":
            self.seconds[label] = value
        verdict = "" if budget is None else ("PASS" if value <= budget else "FAIL") + f" (budget {budget:g} {unit})"
        self.rows.append((label, f"{value:.1f} {unit}" if isinstance(value, float) else f"{value} {unit}", verdict))
        print(f"bench: {label}: {self.rows[-1][1]} {verdict}", file=sys.stderr, flush=True)

    def timed(self, label, func, *args, budget=None, **kwargs):
        started = time.monotonic()
        result = func(*args, **kwargs)
        self.add(label, time.monotonic() - started, budget=budget)
        return result

    def print(self):
        width = max(len(label) for label, _, _ in self.rows)
        print(f"saltlab bench, {datetime.date.today()}, {subprocess.getoutput('nproc')} cores")
        for label, value, verdict in self.rows:
            print(f"{label:<{width}}  {value:>10}  {verdict}")


def run(argv, cwd, **kwargs):
    """A command, its output passed through with each line's time; returns [(seconds, line)]."""
    started = time.monotonic()
    lines = []
    with subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs) as proc:
        for line in proc.stdout:
            lines.append((time.monotonic() - started, line))
            print(line, end="", file=sys.stderr, flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}")
    return lines


def empty_the_machine():
    """What a new machine does not have: the caches, APT's archives, the local provider's host packages."""
    for cache in CACHES:
        shutil.rmtree(cache, ignore_errors=True)
    subprocess.run(["apt-get", "clean"], check=True)
    installed = [p for p in HOST_PACKAGES if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode == 0]
    if installed:
        subprocess.run(["apt-get", "remove", "-y", "-qq", *installed], check=True, capture_output=True)


def map_phases(figures, lines, prefix):
    """The map's own progress lines: the node image, each role layer, each node ready."""
    for seconds, line in lines:
        if match := re.search(r"\[(\S+)\] (image|role layer) built in (\d+) s", line):
            figures.add(f"{prefix}  {match[2]} ({match[1]})", float(match[3]))
        elif match := re.search(r"\[(\S+)\] ready", line):
            figures.add(f"{prefix}  node {match[1]} ready, after", seconds)


def highstate(figures, lab, prefix):
    """The highstate on every node: its time, each node's states, the controller's per formula."""
    started = time.monotonic()
    states, code = lab.apply(progress=False)
    figures.add(f"{prefix}highstate", time.monotonic() - started)
    if code != 0:
        raise RuntimeError("the highstate failed")
    for node, results in sorted(states.items()):
        figures.add(f"{prefix}  {node}'s states", sum(s.get("duration", 0) for s in results) / 1000)
    per_formula = collections.Counter()
    for result in states.get("controller", []):
        per_formula[result["__sls__"].split(".")[0]] += result.get("duration", 0) / 1000
    for formula, seconds in per_formula.most_common():
        figures.add(f"{prefix}    controller: {formula}", seconds)
    return states


def demo_answering(lab, timeout=900):
    """Until every demo server answers with the test guest's banner on its floating IP."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        servers = lab.servers()
        if servers and all(s["floating"] and lab.tcp(s["floating"][0], 8) for s in servers.values()):
            return
        time.sleep(5)
    raise TimeoutError(f"demo servers not answering after {timeout} s")


def cold(figures, clone):
    """From an empty machine to both demo servers answering, as make lab and make demo do it."""
    empty_the_machine()
    started = time.monotonic()
    figures.timed("empty: host packages and .venv (tools/install-host-deps)", run, ["tools/install-host-deps"], clone)
    run(["tools/secrets"], clone)
    lab = Lab(repo=clone, echo=False)
    lines = figures.timed(
        "empty: map (node image, role layers, nodes)", run, [".venv/bin/salt-cloud", "-m", MAP, "-y", "-P"], clone
    )
    map_phases(figures, lines, "empty:")
    figures.timed("empty: until every minion answers", lab.wait_for_minions, sorted(lab.nodes()), timeout=600)
    highstate(figures, lab, "empty: first ")
    figures.timed("empty: demo (make demo)", lab.demo)
    figures.timed("empty:   then until both servers answer", demo_answering, lab)
    key = "empty machine to both demo servers answering"
    figures.add(key, time.monotonic() - started, budget=BUDGETS[key])
    figures.timed("empty: destroy", lab.cloud, "-m", MAP, "-d", "-y")


def warm(figures, clone):
    """Images and layers cached: map and first highstate, no-op runs, memory."""
    lab = Lab(repo=clone, echo=False)
    started = time.monotonic()
    lines = figures.timed("warm: map", run, [".venv/bin/salt-cloud", "-m", MAP, "-y", "-P"], clone)
    map_phases(figures, lines, "warm:")
    lab.wait_for_minions(sorted(lab.nodes()), timeout=600)
    highstate(figures, lab, "warm: first ")
    key = "warm machine: map and first highstate"
    figures.add(key, time.monotonic() - started, budget=BUDGETS[key])
    figures.timed("no-op highstate", lambda: lab.apply(progress=False), budget=BUDGETS["no-op highstate"])
    lab.demo()
    demo_answering(lab)
    figures.timed("no-op demo", lab.demo)
    total = 0
    for node in sorted(lab.nodes()):
        memory = lab.memory_of(node)
        total += memory
        figures.add(f"memory: {node}", memory // 2**20, unit="MiB")
    figures.add("memory: the whole lab", total // 2**20, unit="MiB", budget=LAB_MEMORY_BUDGET // 2**20)
    lab.cloud("-m", MAP, "-d", "-y")


def dpkg_breakdown(log):
    """Seconds of dpkg's log spent unpacking, configuring and running triggers (1 s resolution)."""
    spent = collections.Counter()
    previous = None
    for line in log.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[2] not in ("unpack", "upgrade", "install", "configure", "trigproc"):
            continue
        stamp = datetime.datetime.strptime(f"{parts[0]} {parts[1]}", "%Y-%m-%d %H:%M:%S")
        if previous is not None:
            action = {"install": "unpack", "upgrade": "unpack"}.get(parts[2], parts[2])
            spent[action] += (stamp - previous).total_seconds()
        previous = stamp
    return spent


def floor(figures, clone):
    """A plain apt-get install of the controller's packages on a fresh node of the same image."""
    lab = Lab(repo=clone, echo=False)
    render = [".venv/bin/python", "tools/role_packages.py", "controller"]
    spec = json.loads(subprocess.run(render, cwd=clone, capture_output=True, text=True, check=True).stdout)
    packages = sorted({p for group in spec["packages"] for p in group if not p.startswith("--")})
    preseed = "\n".join(
        f"{pkg} {q} {a['type']} {str(a['value']).lower() if isinstance(a['value'], bool) else a['value']}"
        for pkg, questions in spec["debconf"].items()
        for q, a in questions.items()
    )
    lab.cloud("-p", "local-bare", "floor", "-y")
    try:
        apt = "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        figures.timed("floor: apt-get update", lab.ssh, "floor", "apt-get update -qq")
        lab.ssh("floor", "debconf-set-selections", stdin=preseed + "\n")
        figures.timed(
            f"floor: download ({len(packages)} packages and what they pull in)",
            lab.ssh,
            "floor",
            apt + "--download-only " + " ".join(packages),
            timeout=3600,
        )
        lab.ssh("floor", ": > /var/log/dpkg.log")
        figures.timed("floor: apt-get install", lab.ssh, "floor", apt + " ".join(packages), timeout=3600)
        floor_seconds = sum(value for label, value in figures.seconds.items() if label.startswith("floor: "))
        ours = (
            figures.seconds.get("empty:  role layer (controller)", 0)
            + figures.seconds["empty: first   controller's states"]
        )
        figures.add(
            "controller: its role layer and first highstate, per floor", ours / floor_seconds, unit="x", budget=1.2
        )
        for action, seconds in sorted(dpkg_breakdown(lab.ssh("floor", "cat /var/log/dpkg.log").stdout).items()):
            figures.add(f"floor:   dpkg {action}", seconds)
    finally:
        lab.cloud("-d", "floor", "-y", check=False)


def main():
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="saltlab-bench-") as scratch:
        clone = pathlib.Path(scratch) / "saltlab"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        try:
            cold(figures, clone)
            warm(figures, clone)
            floor(figures, clone)
        finally:
            Lab(repo=clone, echo=False).cloud("-m", MAP, "-d", "-y", check=False)
            figures.print()


if __name__ == "__main__":
    main()
