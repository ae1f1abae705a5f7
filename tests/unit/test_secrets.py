"""
tools/secrets: generated once, private, never regenerated.
"""

import base64
import json
import stat
import struct
import subprocess
import time
import uuid

import pytest

from conftest import REPO


@pytest.fixture
def run(tmp_path):
    def run_secrets():
        return subprocess.run(
            [REPO / "tools/secrets", "--pillar", tmp_path / "secrets.json", "--ssh-key", tmp_path / "ssh" / "lab"],
            capture_output=True,
            text=True,
            check=False,
        )

    return run_secrets


def test_first_run_creates_private_files(tmp_path, run):
    assert run().returncode == 0
    pillar = tmp_path / "secrets.json"
    assert stat.S_IMODE(pillar.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ssh" / "lab").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ssh").stat().st_mode) == 0o700
    data = json.loads(pillar.read_text())["saltlab"]
    assert data["ssh_public_key"] == (tmp_path / "ssh" / "lab.pub").read_text().strip()
    assert len(data["secrets"]) == 24
    assert len(set(data["secrets"].values())) == 24
    assert all(len(value) >= 32 for value in data["secrets"].values())


def test_ceph_identities_are_uuids_and_cephx_keys(tmp_path, run):
    run()
    values = json.loads((tmp_path / "secrets.json").read_text())["saltlab"]["secrets"]
    for name in ("ceph_fsid", "ceph_osd_uuid"):
        assert str(uuid.UUID(values[name])) == values[name]
    keys = [name for name in values if name.startswith("ceph_") and name.endswith("_key")]
    assert sorted(keys) == ["ceph_admin_key", "ceph_cinder_key", "ceph_mgr_key", "ceph_mon_key", "ceph_osd_key"]
    for name in keys:
        # as ceph-authtool --gen-print-key prints it: AES (1), created now, 16 bytes of secret
        raw = base64.b64decode(values[name], validate=True)
        kind, seconds, _nanoseconds, length = struct.unpack_from("<HIIH", raw)
        assert (kind, length, len(raw)) == (1, 16, 28), name
        assert abs(seconds - time.time()) < 60
        assert values[name].startswith("AQ") and len(values[name]) == 40


def test_rerun_changes_nothing(tmp_path, run):
    run()
    before = (tmp_path / "secrets.json").read_bytes(), (tmp_path / "ssh" / "lab").read_bytes()
    result = run()
    assert result.returncode == 0 and "0 secret(s) added" in result.stdout
    assert ((tmp_path / "secrets.json").read_bytes(), (tmp_path / "ssh" / "lab").read_bytes()) == before


def test_a_missing_secret_is_added_and_the_others_kept(tmp_path, run):
    run()
    pillar = tmp_path / "secrets.json"
    data = json.loads(pillar.read_text())
    kept = dict(data["saltlab"]["secrets"])
    del data["saltlab"]["secrets"]["nova_db"]
    del kept["nova_db"]
    pillar.write_text(json.dumps(data))
    assert "1 secret(s) added" in run().stdout
    now = json.loads(pillar.read_text())["saltlab"]["secrets"]
    assert {k: now[k] for k in kept} == kept and now["nova_db"]


@pytest.mark.parametrize("content", ["{not json", '{"saltlab": []}', "[]"])
def test_a_malformed_file_is_a_clear_error(tmp_path, run, content):
    (tmp_path / "secrets.json").write_text(content)
    result = run()
    assert result.returncode != 0
    assert "is not valid secrets pillar" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "secrets.json").read_text() == content
