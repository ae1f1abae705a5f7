"""
Figures of the local lab on this machine, printed as a table:

- node image build (tools/build-image into a scratch directory),
- map up (salt-cloud -m maps/local.yaml -P: nodes created and deployed),
- first highstate and a no-op highstate on all nodes,
- memory of each running node (PSS of the processes in its cgroups).

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--skip-image", action="store_true", help="do not time an image build")
    args = parser.parse_args()
    lab = Lab()
    figures = []
    if not args.skip_image:
        with tempfile.TemporaryDirectory(dir="/var/cache/saltlab") as scratch:
            import salt.version  # pylint: disable=import-outside-toplevel

            timed("image build", figures, subprocess.run,
                  [lab.repo / "tools/build-image", f"{scratch}/image", salt.version.__version__],
                  check=True, stdout=subprocess.DEVNULL)
    lab.run([lab.repo / "tools/secrets"])
    try:
        timed("map up (5 nodes, -P)", figures, lab.cloud, "-m", MAP, "-y", "-P", timeout=1800)
        lab.wait_for_minions(sorted(lab.nodes()))
        timed("first highstate", figures, lab.highstate)
        timed("no-op highstate", figures, lab.highstate)
        for node in sorted(lab.nodes()):
            figures.append((f"memory {node}", f"{lab.memory_of(node) / 2**20:.0f} MiB"))
    finally:
        timed("map destroy", figures, lab.cloud, "-m", MAP, "-d", "-y", check=False)
    width = max(len(label) for label, _ in figures)
    for label, value in figures:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
