"""
Figures of the Octavia amphora image on this machine, printed as a table:

- its build, cold (tools/build-amphora-image --force: mmdebstrap from
  Debian's mirror, the disk, qcow2), and a cached re-run,
- its sizes (qcow2, the raw disk, the root tree, packages),
- boots under QEMU TCG (-m 1024 -smp 1, as Nova without KVM) with the config
  drive Octavia makes: the time from QEMU's start until the agent answers
  GET /1.0/info over mutual TLS, and the guest's memory then (the agent's
  /1.0/details: MemTotal - MemFree - Buffers - Cached),
- the load average of this machine meanwhile (TCG is CPU-bound: a busy
  machine stretches the boot).

    sudo .venv/bin/python bench/amphora.py [--skip-build] [--boots N]
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tools"))

from amphora_guest import Guest, Pki, agent_get, agent_info, build, config_drive  # noqa: E402

AMPHORA_ID = "be7c0000-0000-4000-8000-00000000be01"


def boot(image, workdir, pki):
    """(seconds until the agent answers, MiB used in the guest then)."""
    drive = workdir / "config-drive.iso"
    config_drive(drive, AMPHORA_ID, pki)
    with Guest(image, drive, workdir) as guest:
        guest.wait_for("the agent's /1.0/info", lambda: agent_info(guest.agent_port, pki), timeout=900)
        seconds = time.monotonic() - guest.started
        _, details, _ = agent_get(guest.agent_port, "/1.0/details", pki, timeout=60)
    memory = details["memory"]
    used = memory["total"] - memory["free"] - memory["buffers"] - memory["cached"]
    return seconds, used / 1024, memory["total"] / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--skip-build", action="store_true", help="no cold build: take the image from the cache")
    parser.add_argument("--boots", type=int, default=2, help="boots to time (default 2)")
    args = parser.parse_args()
    figures = []
    if not args.skip_build:
        started = time.monotonic()
        _, image, _ = build(force=True)
        figures.append(("image build, cold (--force)", f"{time.monotonic() - started:.0f} s"))
    started = time.monotonic()
    state, image, _ = build()
    figures.append((f"image build, re-run ({state})", f"{time.monotonic() - started:.1f} s"))
    figures.append(("image sizes", (image.parent / "sizes").read_text().strip()))
    with tempfile.TemporaryDirectory() as tmp:
        pki = Pki(pathlib.Path(tmp) / "pki", AMPHORA_ID)
        for number in range(1, args.boots + 1):
            workdir = pathlib.Path(tmp) / f"boot{number}"
            workdir.mkdir()
            load_before = os.getloadavg()[0]
            seconds, used, total = boot(image, workdir, pki)
            load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
            figures.append((f"boot {number} to agent answering, TCG 1 vCPU", f"{seconds:.1f} s ({load})"))
            figures.append((f"boot {number}: guest memory used", f"{used:.0f} MiB of {total:.0f} MiB"))
    width = max(len(label) for label, _ in figures)
    for label, value in figures:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
