"""
tools/master_apply.py, the master's side of `tools/lab.py apply`: the
lines a node's progress events and returns make, and which nodes failed.
The end-to-end tests run it on a lab's master.
"""

import importlib.util

import pytest

from conftest import REPO

spec = importlib.util.spec_from_file_location("master_apply", REPO / "tools" / "master_apply.py")
master_apply = importlib.util.module_from_spec(spec)
spec.loader.exec_module(master_apply)


@pytest.fixture
def lines(monkeypatch):
    said = []
    monkeypatch.setattr(master_apply, "say", said.append)
    return said


def chunk(state_id, result=True, changes=None):
    return {"__id__": state_id, "result": result, "changes": changes or {}, "__run_num__": 0}


def test_a_line_per_state_and_a_summary_per_node(lines, monkeypatch):
    clock = iter([105.0, 172.0, 172.0])
    monkeypatch.setattr(master_apply.time, "monotonic", lambda: next(clock))
    progress = master_apply.Progress(["controller", "storage"], started=100.0)
    progress.state("controller", {"ret": chunk("mariadb-pkgs"), "len": 174})
    progress.state("controller", {"ret": chunk("mariadb-config", result=False), "len": 174})
    progress.returned("controller", {"a": chunk("mariadb-pkgs", changes={"x": 1}), "b": chunk("mariadb-config", False)})
    assert lines == [
        "[controller] 1/174 mariadb-pkgs (5s)",
        "[controller] 2/174 mariadb-config (1m12s)  FAILED",
        "[controller] done: 2 states, 1 changed, 1 failed, 1m12s: mariadb-config",
    ]
    assert progress.failed() == ["controller"]


def test_a_render_error_is_a_failure(lines):
    progress = master_apply.Progress(["storage"], started=0.0)
    progress.returned("storage", ["Rendering SLS 'base:hosts.config' failed: pillar saltlab:x is bad"])
    assert lines[0].startswith("[storage] FAILED before any state ran")
    assert progress.failed() == ["storage"]


def test_busy_nodes_say_so_every_half_minute(lines):
    progress = master_apply.Progress(["compute1", "storage"], started=0.0)
    progress.returned("storage", {"a": chunk("x")})
    progress.heartbeat(10.0)
    assert lines[1:] == []
    progress.heartbeat(31.0)
    assert lines[1:] == ["[compute1] 0/? busy for 31s (compiling its states)"]
    progress.heartbeat(45.0)
    assert lines[2:] == []
