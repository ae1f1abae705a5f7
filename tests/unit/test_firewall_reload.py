"""
The nftables tables of salt/lib/firewall: the unit's reload applies the
rules file in one transaction, so a reader never finds the table missing,
while a stop and start (what a restart does) leaves a moment without it.
Proved with the real nft, in a network namespace this test makes.
"""

import pathlib
import shutil
import subprocess
import threading
import uuid

import jinja2
import pytest

from conftest import REPO

FILES = REPO / "salt" / "lib" / "firewall" / "files"

pytestmark = pytest.mark.skipif(shutil.which("nft") is None, reason="nft (Debian: nftables) is not installed")


def render(name, context):
    return jinja2.Template((FILES / name).read_text()).render(**context)


@pytest.fixture
def netns():
    name = f"saltlab-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def unit(tmp_path):
    """{ExecStart, ExecReload, ExecStop} of the rendered unit, its rules file written."""
    context = {"table": "saltlab_public", "family": "inet", "purpose": "test", "rules": str(tmp_path / "public.nft")}
    pathlib.Path(context["rules"]).write_text(render("public.nft.jinja", dict(context, interface="public", ports=[22])))
    lines = render("table.service.jinja", context).splitlines()
    return {key: value for key, _, value in (line.partition("=") for line in lines) if key.startswith("Exec")}


def absences(netns, commands, rounds=40, until_missing=False):
    """
    How often a reader found the table missing while `commands` ran
    `rounds` times (fewer when `until_missing` and the reader saw a gap).
    """
    missing = []
    done = threading.Event()

    def reader():
        while not done.is_set():
            probe = subprocess.run(
                ["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "saltlab_public"],
                capture_output=True,
                check=False,
            )
            missing.append(probe.returncode != 0)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(rounds):
            if until_missing and any(missing):
                break
            for command in commands:
                subprocess.run(["ip", "netns", "exec", netns, *command.split()], check=True, capture_output=True)
    finally:
        done.set()
        thread.join()
    return sum(missing), len(missing)


def test_a_reload_never_leaves_the_node_without_its_table(netns, unit):
    assert unit["ExecReload"] == unit["ExecStart"]
    subprocess.run(["ip", "netns", "exec", netns, *unit["ExecStart"].split()], check=True)
    missing, reads = absences(netns, [unit["ExecReload"]])
    assert reads > 10 and missing == 0


def test_a_stop_and_start_does(netns, unit):
    # what the unit did before it had a reload: the reader sees the gap
    subprocess.run(["ip", "netns", "exec", netns, *unit["ExecStart"].split()], check=True)
    missing, _reads = absences(netns, [unit["ExecStop"], unit["ExecStart"]], rounds=2000, until_missing=True)
    assert missing > 0
