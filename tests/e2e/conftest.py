"""
The local lab that the end-to-end tests share, made as the README's first
command makes it: `make lab` (the defaults, the full lab, one highstate on
every node at once), its output kept in var/artefacts/make-lab.log. The
tests run in file order (test_10_... to test_90_...); the last destroys
the lab, and this fixture destroys it anyway if a test failed first.
"""

import subprocess
import sys
import time

import pytest
from labcheck import ARTEFACTS, MAP

from lab import Lab


@pytest.fixture(scope="session")
def lab():
    lab = Lab().start()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTEFACTS / "make-lab.log"
    started = time.monotonic()
    try:
        with (
            open(log, "w", encoding="utf-8") as out,
            subprocess.Popen(
                ["make", "lab"], cwd=lab.repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            ) as proc,
        ):
            for line in proc.stdout:
                out.write(line)
                print(line, end="", file=sys.stderr, flush=True)
        lab.made = {"returncode": proc.returncode, "seconds": time.monotonic() - started, "log": log.read_text()}
        yield lab
    finally:
        lab.cloud("-m", MAP, "-d", "-y", check=False, timeout=900)


@pytest.fixture(scope="session")
def cloud(lab):
    """
    Connect as admin or demo with the operator's clouds.yaml: through the
    proxy's public address, over TLS verified against the lab CA.
    """
    return lab.connect
