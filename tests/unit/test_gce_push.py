"""
What the gce salt-cloud driver runs besides the API: tools/push logs in
as var/bastion's user, with sudo when not root (against an ssh and an
rsync that record their arguments), and the gce profiles' deploy script
(cloud.deploy.d/saltlab-gce.sh) reaches the node as salt-cloud renders
it, with the operator's pins. The set-up the gce tests share is in
tests/unit/gce_fixtures.py.
"""

import os
import re
import shutil
import subprocess

import pytest
import salt.utils.cloud
from gce_fixtures import REPO, profiles


@pytest.fixture
def push_tree(tmp_path):
    """
    A copy of tools/push in a checkout of its own, with an ssh and an rsync
    on PATH that record their arguments instead of connecting.
    """
    tree = tmp_path / "checkout"
    (tree / "tools").mkdir(parents=True)
    shutil.copy(REPO / "tools/push", tree / "tools/push")
    for part in ("salt", "pillar", "_modules", "_utils"):
        (tree / part).mkdir()
    (tree / "pillar/secrets.json").write_text("{}\n")
    shims = tmp_path / "bin"
    shims.mkdir()
    for command in ("ssh", "rsync"):
        (shims / command).write_text(
            f'#!/bin/sh\nprintf "%s|" {command} "$@" >> "{tmp_path}/calls"\necho >> "{tmp_path}/calls"\n'
        )
        (shims / command).chmod(0o755)

    def run(*args, bastion=None):
        if bastion is not None:
            (tree / "var").mkdir(exist_ok=True)
            (tree / "var/bastion").write_text(bastion)
        (tmp_path / "calls").unlink(missing_ok=True)
        env = dict(os.environ, PATH=f"{shims}:{os.environ['PATH']}")
        proc = subprocess.run([str(tree / "tools/push"), *args], env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        return [line.rstrip("|").split("|") for line in (tmp_path / "calls").read_text().splitlines()]

    return run


def test_push_logs_in_as_root_by_default(push_tree):
    calls = push_tree(bastion="bastion_host=10.99.0.12\nbastion_key=var/ssh/lab_ed25519\n")
    # the host key recorded when the node was made, checked
    assert "StrictHostKeyChecking=yes" in calls[0] and "UserKnownHostsFile=var/ssh/known_hosts" in calls[0]
    assert calls[0][0] == "ssh" and calls[0][-2:] == [
        "root@10.99.0.12",
        "install -d -m 0755 /srv/saltlab && install -d -m 0700 /srv/saltlab/pillar",
    ]
    rsyncs = [c for c in calls if c[0] == "rsync"]
    assert [c[-1] for c in rsyncs] == [
        "root@10.99.0.12:/srv/saltlab/salt/",
        "root@10.99.0.12:/srv/saltlab/salt/_modules/",
        "root@10.99.0.12:/srv/saltlab/salt/_utils/",
        "root@10.99.0.12:/srv/saltlab/pillar/",
    ]
    # of _utils, only the openstack modules' table and machinery
    assert rsyncs[2][1:-2][-2:] == ["--include=openstack_*.py", "--exclude=*"]
    assert not any(a.startswith("--rsync-path") for c in rsyncs for a in c)


@pytest.mark.parametrize(
    "args, bastion",
    [
        ((), "bastion_host=203.0.113.10\nbastion_key=/k/gcp-default-key\nbastion_user=stack\n"),
        (("stack@203.0.113.10",), ""),
    ],
)
def test_push_uses_sudo_for_another_user(push_tree, args, bastion):
    calls = push_tree(*args, bastion=bastion)
    assert calls[0][-2:] == [
        "stack@203.0.113.10",
        "sudo install -d -m 0755 /srv/saltlab && sudo install -d -m 0700 /srv/saltlab/pillar",
    ]
    rsyncs = [c for c in calls if c[0] == "rsync"]
    assert len(rsyncs) == 4
    for call in rsyncs:
        assert "--rsync-path=sudo rsync" in call and call[-1].startswith("stack@203.0.113.10:/srv/saltlab/")


def test_the_gce_profiles_deploy_salt_with_saltlab_gce():
    script = REPO / "cloud.deploy.d/saltlab-gce.sh"
    for name, profile in profiles().items():
        assert profile["script"] == "saltlab-gce" and profile["ssh_username"] == "stack", name
        # the files it runs with are uploaded from the checkout to where it looks for them
        assert sorted(profile["file_map"].values()) == [
            "/var/tmp/saltlab-deploy/requirements.txt",
            "/var/tmp/saltlab-deploy/saltlab-node.sh",
        ]
        assert all((REPO / local).is_file() for local in profile["file_map"]), name
    # what salt-cloud uploads: rendered as a Jinja template, it must stay the same shell
    rendered = salt.utils.cloud.os_script(
        "saltlab-gce", {}, {"deploy_scripts_search_path": [str(REPO / "cloud.deploy.d")]}
    )
    assert rendered == script.read_text().rstrip("\n")
    # salt-cloud adds the bootstrap flags (-c DIR -M ...) only to scripts that name bootstrap-salt
    assert "bootstrap-salt" in rendered
    subprocess.run(["sh", "-n", str(script)], check=True)
    # the pin it installs is the operator's
    pins = dict(
        line.split("==")
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.startswith(("salt==", "saltext."))
    )
    assert pins["salt"] == "3008.3"
    [expression] = re.findall(r"^extensions=\$\(sed -n '([^']+)'", rendered, re.M)
    out = subprocess.run(
        ["sed", "-n", expression, str(REPO / "requirements.txt")], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == [f"{k}=={v}" for k, v in pins.items() if k != "salt"]
