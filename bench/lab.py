"""
Figures of the local lab on this machine, printed as a table:

- node image build (tools/build-image into a scratch directory),
- map up (salt-cloud -m maps/local.yaml -P: nodes created and deployed),
- first highstate and a no-op highstate on all nodes (the controller, with
  the control plane, is the long pole: its states' own time is printed too,
  and the storage node's formulas' own time: Ceph, cinder-volume),
- the demo (`make demo`: test image, networks, two servers with floating
  IPs) until both servers answer on their floating IPs, the time from an
  empty machine to that, and a no-op re-run of highstate and demo,
- memory of each running node (PSS of the processes in its cgroups; the
  compute nodes' include their guests) and of the whole lab,
- the floor of the controller's converge: a plain `apt-get install` of the
  same packages on a fresh controller node (what no tool can beat).

    .venv/bin/python bench/lab.py [--skip-image]

It needs the machine to itself (no lab up) and destroys the lab it made.
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tools"))

from lab import Lab  # pylint: disable=wrong-import-position

MAP = "maps/local.yaml"


def timed(label, figures, func, *args, **kwargs):
    started = time.monotonic()
    result = func(*args, **kwargs)
    figures.append((label, f"{time.monotonic() - started:.1f} s"))
    return result


def states_time(states, sls=None):
    """
    Seconds the states of one highstate return took, summed (of the SLS
    files whose names start with one of ``sls`` only, when given).
    """
    return (
        sum(
            s.get("duration", 0)
            for s in states
            if isinstance(s, dict) and (sls is None or s.get("__sls__", "").startswith(sls))
        )
        / 1000
    )


def demo_answering(lab, timeout=600):
    """
    Wait until every server's floating IP answers with the test guest's
    banner (port 8) from the network node.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        servers = lab.servers()
        if servers and all(s["floating"] and lab.tcp(s["floating"][0], 8) for s in servers.values()):
            return
        time.sleep(5)
    raise TimeoutError(f"demo servers not answering after {timeout} s")


def controller_packages(lab):
    """
    Every package the controller's highstate installs.
    """
    lowstate, _ = lab.salt("controller", "state.show_lowstate")
    packages = []
    for chunk in lowstate["controller"]:
        if chunk["state"] == "pkg" and chunk["fun"] == "installed":
            packages += chunk.get("pkgs") or [chunk["name"]]
    return sorted(set(packages))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--skip-image", action="store_true", help="do not time an image build")
    args = parser.parse_args()
    lab = Lab().start()
    figures = []
    if not args.skip_image:
        with tempfile.TemporaryDirectory(dir="/var/cache/saltlab") as scratch:
            import salt.version  # pylint: disable=import-outside-toplevel

            timed(
                "image build",
                figures,
                subprocess.run,
                [lab.repo / "tools/build-image", f"{scratch}/image", salt.version.__version__],
                check=True,
                stdout=subprocess.DEVNULL,
            )
    try:
        started = time.monotonic()
        timed("map up (5 nodes, -P)", figures, lab.cloud, "-m", MAP, "-y", "-P", timeout=1800)
        lab.wait_for_minions(sorted(lab.nodes()))
        returns = timed("first highstate", figures, lab.highstate)
        figures.append(("  controller states' own time", f"{states_time(returns['controller']):.1f} s"))
        for label, sls in (("ceph", ("ceph",)), ("cinder.volume", ("cinder.volume",))):
            figures.append((f"  storage: {label} states' own time", f"{states_time(returns['storage'], sls):.1f} s"))
        figures.append(("  storage states' own time", f"{states_time(returns['storage']):.1f} s"))
        timed("demo (make demo)", figures, lab.demo)
        timed("  then until both servers answer", figures, demo_answering, lab)
        figures.append(("empty machine to demo answering", f"{time.monotonic() - started:.1f} s"))
        timed("no-op highstate", figures, lab.highstate)
        timed("no-op demo", figures, lab.demo)
        total = 0
        for node in sorted(lab.nodes()):
            memory = lab.memory_of(node)
            total += memory
            figures.append((f"memory {node}", f"{memory / 2**20:.0f} MiB"))
        figures.append(("memory of the whole lab", f"{total / 2**20:.0f} MiB"))
        packages = controller_packages(lab)
        lab.cloud("-d", "controller", "-y")
        lab.cloud("-m", MAP, "-y", timeout=1800)  # a fresh controller
        timed(
            f"floor: apt-get install of its {len(packages)} packages",
            figures,
            lab.ssh,
            "controller",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq " + " ".join(packages),
            timeout=3600,
        )
    finally:
        timed("map destroy", figures, lab.cloud, "-m", MAP, "-d", "-y", check=False)
    width = max(len(label) for label, _ in figures)
    for label, value in figures:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
