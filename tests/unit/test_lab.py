"""
tools/lab.py without a lab: `wait` says what it waits for (SSH to the
master, the master answering, the silent minions) and waits through a
master that is still booting (SSH refused, plain text or JSON that is no
minion's return) until its timeout, then ends with one line; the lab's
shape comes from the model; ssh checks the recorded host keys.
"""

import json
import os
import sys

import pytest

import lab as labtool
from conftest import REPO

NODES = {
    "network": {"public_ips": ["10.99.0.12"], "addresses": {"mgmt": "192.168.1.12"}},
    "controller": {"public_ips": ["10.99.0.11"], "addresses": {"mgmt": "192.168.1.11"}},
    "compute1": {"public_ips": [], "addresses": {"mgmt": "192.168.1.21"}},
}


@pytest.fixture
def answers(tmp_path, monkeypatch):
    """
    An ssh on PATH that answers the scripted (stdout, stderr, exit code),
    one per call, the last one again and again; returns the script to set.
    """
    shims = tmp_path / "bin"
    shims.mkdir()
    script, count = tmp_path / "answers.json", tmp_path / "count"
    (shims / "ssh").write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"answers = json.load(open({str(script)!r}))\n"
        f"try:\n    n = int(open({str(count)!r}).read())\nexcept OSError:\n    n = 0\n"
        f"open({str(count)!r}, 'w').write(str(n + 1))\n"
        "out, err, rc = answers[min(n, len(answers) - 1)]\n"
        "sys.stdout.write(out); sys.stderr.write(err); sys.exit(rc)\n"
    )
    (shims / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}:{os.environ['PATH']}")
    monkeypatch.setattr(labtool.Lab, "nodes", lambda self: NODES)
    # lab.py's clock only (the time module's are every thread's)
    monkeypatch.setattr(labtool, "time", Clock())

    def set_answers(*items):
        script.write_text(json.dumps(items))

    return set_answers


class Clock:
    """lab.py's time: sleeping takes no time, and each reading is ``step`` s later."""

    def __init__(self):
        self.now, self.step = 0.0, 0.0

    def monotonic(self):
        self.now += self.step
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def pings(**answered):
    return "".join(json.dumps({minion: ok}) + "\n" for minion, ok in answered.items())


def test_wait_says_what_it_waits_for_until_every_minion_answers(answers, capsys):
    answers(
        ("", "ssh: connect to host 10.99.0.12 port 22: Connection refused\n", 255),
        ("", "ssh: connect to host 10.99.0.12 port 22: Connection refused\n", 255),
        ("Salt request timed out. The master is not responding.\n", "", 2),
        ('"Minion did not return. [No response]"\n', "", 1),
        (pings(network=True, controller=False), "", 1),
        (pings(network=True, controller=True, compute1=True), "", 0),
    )
    assert labtool.wait(labtool.Lab(echo=False), timeout=60) is None
    assert capsys.readouterr().out.splitlines() == [
        "waiting for SSH to the master network: ssh: connect to host 10.99.0.12 port 22: Connection refused",
        "waiting for the salt master on network to answer: Salt request timed out. The master is not responding.",
        'waiting for the salt master on network to answer: "Minion did not return. [No response]"',
        "waiting for 2 of 3 minions to answer: compute1, controller",
        "3 minions answer: compute1, controller, network",
    ]


def test_wait_ends_with_one_line_after_its_timeout(answers, capsys, monkeypatch):
    answers(("Salt request timed out. The master is not responding.\n", "", 2))
    labtool.time.step = 30
    message = labtool.wait(labtool.Lab(echo=False), timeout=100)
    assert message == (
        "tools/lab.py wait: still waiting after 100 s for the salt master on network to answer: "
        "Salt request timed out. The master is not responding."
    )
    assert "Traceback" not in capsys.readouterr().err


def test_the_lab_tool_reads_its_shape_from_the_model(answers):
    lab = labtool.Lab(echo=False)
    assert lab.master == "network"
    argv = lab._ssh_argv("compute1")
    assert argv[-1] == "root@192.168.1.21" and "StrictHostKeyChecking=yes" in argv
    assert f"UserKnownHostsFile={REPO / 'var/ssh/known_hosts'}" in argv
    assert any(str(a).startswith("ProxyCommand=ssh ") and str(a).endswith("-W %h:%p root@10.99.0.12") for a in argv)
    source = (REPO / "tools/lab.py").read_text()
    for literal in ('"mgmt"', "5000", "RegionOne", "/etc/saltlab/pki/ca.crt", '"network"'):
        assert literal not in source, literal


def test_salt_returns_keep_the_minions_answers_and_the_rest():
    returns, other = labtool.salt_returns('{"a": true}\nnot json\n"a string"\n\n{"b": false}\n')
    assert returns == {"a": True, "b": False} and other == ["not json", '"a string"']


def test_apply_reads_large_returns_beside_the_progress(answers, capsys):
    # the master's returns (a full lab's highstate: hundreds of KiB) and its
    # progress lines at once: neither pipe may be left full
    states = {
        f"state_{n}": {"__id__": f"s{n}", "result": True, "changes": {}, "comment": "x" * 500} for n in range(600)
    }
    progress = (
        "".join(f"[controller] {n}/600 s{n} (1s)\n" for n in range(1, 601)) + "1 of 1 returned, 0 with failures: -\n"
    )
    answers((json.dumps({"controller": states}), progress, 0))
    returned, code = labtool.Lab(echo=False).apply("controller")
    assert code == 0 and len(returned["controller"]) == 600
    err = capsys.readouterr().err
    assert "[controller] 600/600 s600 (1s)" in err and "0 with failures" in err


def run_lab_tool(*args, cwd=REPO):
    import subprocess

    return subprocess.run([sys.executable, str(REPO / "tools/lab.py"), *args], cwd=cwd, capture_output=True, text=True)


def test_created_fails_naming_each_node_salt_cloud_did_not_make(tmp_path):
    # salt-cloud -m --out=json: what this machine's failed map run wrote (and exited 0)
    result = tmp_path / "map.json"
    result.write_text(
        json.dumps(
            {
                "network": {"deployed": True, "id": "network"},
                "controller": {"Message": "Already running."},
                "compute1": {"Error": "nspawn: node compute1 did not start sshd in 120 s"},
                "compute2": {},
            }
        )
    )
    proc = run_lab_tool("created", str(result))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        "salt-cloud did not make 2 of 4 nodes: compute1: nspawn: node compute1 did not start sshd in 120 s;"
        " compute2: no result (the others are up; run it again)\n"
    )
    result.write_text(json.dumps({"network": {"deployed": True}, "controller": {"Message": "Already running."}}))
    proc = run_lab_tool("created", str(result))
    assert proc.returncode == 0 and proc.stdout == "2 nodes made: controller, network\n"


@pytest.mark.parametrize("content", [None, "", "[]", "{}", "not json"])
def test_created_fails_in_one_line_without_a_result(tmp_path, content):
    result = tmp_path / "map.json"
    if content is not None:
        result.write_text(content)
    proc = run_lab_tool("created", str(result))
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith(("tools/lab.py created: no result", "tools/lab.py created: salt-cloud's map run"))


def test_ssh_to_a_node_that_is_not_there_is_one_line(answers, monkeypatch):
    with pytest.raises(RuntimeError, match=r"^no node named compute7 on this machine \(nodes: compute1, "):
        labtool.Lab(echo=False)._ssh_argv("compute7")
    # a node with a public address needs no master (a lone test node); one behind it does
    alone = {"labtarget": {"public_ips": ["10.99.0.40"]}, "compute1": NODES["compute1"]}
    monkeypatch.setattr(labtool.Lab, "nodes", lambda self: alone)
    assert labtool.Lab(echo=False)._ssh_argv("labtarget")[-1] == "root@10.99.0.40"
    with pytest.raises(RuntimeError, match=r"^compute1 is reached through the master, and no node named network "):
        labtool.Lab(echo=False)._ssh_argv("compute1")
