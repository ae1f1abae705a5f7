"""
Shared test set-up: the repository root, and the repo's cloud drivers and
utils on sys.path so tests import them as Salt's loader would name them
(``import nspawn``, ``import saltlab_cloud``), and tools/ for the lab driver
(``from lab import Lab``); the fixtures the state modules' and the cloud
drivers' unit tests share, the render tests' secrets and minions
(``secrets_dir``, ``make_minion``), and the local lab the end-to-end tests
share (``lab``, ``cloud``).

One conftest.py for the whole tree: the tests import it by name
(``from conftest import REPO``), and a second one (tests/render/ had one)
would take that name over for every test collected after it.

``_modules`` and ``_states`` are not on sys.path: their files are named as
they load (``openstack.py``), which would shadow packages of that name (the
openstacksdk). Tests load them by path (``extensions.load``).
"""

import json
import os
import pathlib
import subprocess
import sys
import time
from unittest.mock import MagicMock

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent

for extension_dir in ("_clouds", "_utils", "tools"):
    sys.path.insert(0, str(REPO / extension_dir))


def pytest_sessionfinish(session):
    """
    Salt's deferred log handler, made when Salt is first imported, keeps
    the records the tests logged and writes them out at exit, to pytest's
    captured stream closed by then (a "Logging error" traceback each): it
    hands them to the real handlers now and goes.
    """
    if "salt._logging.impl" in sys.modules:
        sys.modules["salt._logging.impl"].shutdown_temp_handler()


@pytest.fixture
def opts():
    """A state module's minion options."""
    return {"test": False}


@pytest.fixture
def exec_mod():
    """The execution module a state calls: one mock, so that its calls are recorded in order."""
    return MagicMock()


@pytest.fixture
def keyfile(tmp_path, request):
    """
    The operator's SSH key pair, as ``ssh-keygen -t ed25519 -N ''`` makes
    it, named as the test module's ``OPERATOR_KEY`` says.
    """
    path = tmp_path / request.module.OPERATOR_KEY
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "operator", "-f", path], check=True)
    return path


def deployed(vm_, opts):
    """
    What salt-cloud's bootstrap answers for a node it deployed.
    """
    return {"deployed": True, "deploy_kwargs": {"host": "x", "minion_pem": "secret"}}


@pytest.fixture
def bootstrap():
    """A cloud driver's ``__utils__["cloud.bootstrap"]``: deploys nothing, answers ``deployed``."""
    return MagicMock(side_effect=deployed)


@pytest.fixture
def ssh_calls(tmp_path, monkeypatch):
    """
    An ``ssh`` on PATH that records each call (its arguments and standard
    input) instead of connecting, and exits with ``FAKE_SSH_EXIT`` (0);
    ``ssh_calls()`` lists them as ``(argv, stdin)``.
    """
    shims = tmp_path / "ssh-shim"
    shims.mkdir()
    log = tmp_path / "ssh-calls.jsonl"
    (shims / "ssh").write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "stdin = '' if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()\n"
        f"with open({str(log)!r}, 'a') as fh:\n"
        "    fh.write(json.dumps([sys.argv[1:], stdin]) + '\\n')\n"
        "sys.exit(int(os.environ.get('FAKE_SSH_EXIT', '0')))\n"
    )
    (shims / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}:{os.environ['PATH']}")

    def calls():
        if not log.exists():
            return []
        return [tuple(json.loads(line)) for line in log.read_text().splitlines()]

    return calls


@pytest.fixture(scope="session")
def secrets_dir(tmp_path_factory):
    """The lab's secrets for the render tests, made once as tools/secrets makes them (never the operator's own)."""
    path = tmp_path_factory.mktemp("secrets")
    subprocess.run(
        [REPO / "tools" / "secrets", "--pillar", path / "secrets.json", "--ssh-key", path / "ssh" / "lab_ed25519"],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture(scope="session")
def make_minion(salt_factories):
    """Minion(...) (tests/render/test_highstate.py) with pytest-salt-factories' factories."""
    from test_highstate import Minion  # noqa: PLC0415  (tests/render, on sys.path once its tests are collected)

    def make(root, role, secrets_dir=None, grains=None, pillar_files=None):
        return Minion(salt_factories, root, role, secrets_dir, grains, pillar_files)

    return make


@pytest.fixture(scope="session")
def lab():
    """
    The local lab the end-to-end tests share, made as the README's first
    command makes it: `make lab` (the defaults, the full lab, one highstate
    on every node at once), its output kept in var/artefacts/make-lab.log.
    The tests run in file order (tests/e2e/test_10_... to test_90_...); the
    last destroys the lab, and this destroys it anyway if a test failed
    first.
    """
    from labcheck import ARTEFACTS, MAP  # noqa: PLC0415  (tests/e2e, on sys.path once its tests are collected)

    from lab import Lab  # noqa: PLC0415

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
