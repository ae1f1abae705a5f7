"""
tools/secrets: exactly the lab model's secrets, generated once, private,
never regenerated (an empty one is filled); the old pillar/secrets.sls
moves into pillar/secrets.json.
"""

import base64
import json
import stat
import struct
import subprocess
import time
import uuid

import pytest
import salt.utils.yaml

from conftest import REPO

MODEL = salt.utils.yaml.safe_load((REPO / "pillar/model.yaml").read_text())


@pytest.fixture
def run(tmp_path):
    def run_secrets(model=REPO / "pillar/model.yaml"):
        return subprocess.run(
            [
                REPO / "tools/secrets",
                "--pillar",
                tmp_path / "secrets.json",
                "--ssh-key",
                tmp_path / "ssh" / "lab",
                "--model",
                model,
            ],
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
    assert len(data["secrets"]) == len(MODEL["secrets"]) == 28
    assert len(set(data["secrets"].values())) == 28
    assert all(len(value) >= 32 for value in data["secrets"].values())
    # exactly what the model lists
    assert sorted(data["secrets"]) == sorted(MODEL["secrets"])


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


@pytest.mark.parametrize("how", ["missing", "empty", "null"])
def test_a_missing_or_empty_secret_is_added_and_the_others_kept(tmp_path, run, how):
    run()
    pillar = tmp_path / "secrets.json"
    data = json.loads(pillar.read_text())
    kept = dict(data["saltlab"]["secrets"])
    if how == "missing":
        del data["saltlab"]["secrets"]["nova_db"]
    else:
        data["saltlab"]["secrets"]["nova_db"] = "" if how == "empty" else None
    del kept["nova_db"]
    pillar.write_text(json.dumps(data))
    assert "1 secret(s) added" in run().stdout
    now = json.loads(pillar.read_text())["saltlab"]["secrets"]
    assert {k: now[k] for k in kept} == kept and len(now["nova_db"]) >= 32


def test_a_secret_added_to_the_model_is_generated(tmp_path, run):
    run()
    model = dict(MODEL, secrets=dict(MODEL["secrets"], designate_db=["controller"]))
    (tmp_path / "model.yaml").write_text(salt.utils.yaml.safe_dump(model))
    result = run(tmp_path / "model.yaml")
    assert f"1 secret(s) added, {len(MODEL['secrets'])} kept" in result.stdout
    assert json.loads((tmp_path / "secrets.json").read_text())["saltlab"]["secrets"]["designate_db"]


def test_a_bad_model_is_one_line(tmp_path, run):
    (tmp_path / "model.yaml").write_text("name: saltlab\n")
    result = run(tmp_path / "model.yaml")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith("tools/secrets: model region:")
    assert not (tmp_path / "secrets.json").exists()


def test_the_old_secrets_file_moves_into_the_new_one(tmp_path, run):
    old = {"saltlab": {"secrets": {"nova_db": "old-nova", "keystone_admin": "old-admin"}, "ssh_public_key": "x"}}
    (tmp_path / "secrets.sls").write_text(json.dumps(old))
    result = run()
    assert result.returncode == 0 and "moved from" in result.stdout, result.stderr
    assert not (tmp_path / "secrets.sls").exists()
    now = json.loads((tmp_path / "secrets.json").read_text())["saltlab"]["secrets"]
    assert (now["nova_db"], now["keystone_admin"]) == ("old-nova", "old-admin") and len(now) == len(MODEL["secrets"])


def test_a_secrets_sls_that_is_not_the_old_json_is_left_alone(tmp_path, run):
    jinja = "{% set roles = grains['roles'] %}\nsaltlab: {}\n"
    (tmp_path / "secrets.sls").write_text(jinja)
    assert run().returncode == 0
    assert (tmp_path / "secrets.sls").read_text() == jinja


@pytest.mark.parametrize("content", ["{not json", '{"saltlab": []}', "[]"])
def test_a_malformed_file_is_a_clear_error(tmp_path, run, content):
    (tmp_path / "secrets.json").write_text(content)
    result = run()
    assert result.returncode != 0
    assert "is not valid secrets pillar" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "secrets.json").read_text() == content
