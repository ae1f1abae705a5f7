"""
The gce salt-cloud driver's credentials against the local fake of the
Compute REST API, which then asks for a token (the set-up the gce tests
share is in tests/unit/gce_fixtures.py): a service-account key (google-auth
signs its own JWTs; the project is the key's), application-default
credentials when there is no key, a service account impersonated through
the IAM credentials API; a missing, bad or unknown key, no credentials at
all, no token or a refused impersonation each give one message.
"""

import json

import gce
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gce_fixtures import PROJECT, node
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

# isort: split
# the fixtures of gce_fixtures.py, found here by name (with those they
# need), and OPERATOR_KEY, which names the key conftest's keyfile makes
from gce_fixtures import OPERATOR_KEY, compute, config_dir, configure_loader_modules, provider

__all__ = ["OPERATOR_KEY", "compute", "config_dir", "configure_loader_modules", "provider"]


def _service_account_key(path, compute, register=True, **extra):
    """
    A service-account key file; the fake knows its public half when registered.
    """
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    if register:
        compute.add_service_account(
            f"saltlab@{PROJECT}.iam.gserviceaccount.com",
            rsa_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode(),
        )
    key = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "abc123",
        "private_key": private,
        "client_email": f"saltlab@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": f"{compute.url}/token",
    }
    key.update(extra)
    path.write_text(json.dumps(key))
    return path


def test_a_service_account_key_gives_the_project_and_a_token(compute, provider, tmp_path):
    compute.require_token = True
    del provider["anonymous"], provider["project"]
    provider["service_account_key"] = str(_service_account_key(tmp_path / "key.json", compute))
    gce.create(node("network"))
    assert gce.list_nodes()["network"]["private_ips"] == ["10.99.0.12", "192.168.1.12", "192.168.2.12"]
    # google-auth signs its own JWTs with the key (no token endpoint)
    assert ("POST", "/token") not in compute.requests


def test_without_a_token_the_fake_answers_401_and_the_driver_says_so(compute, provider):
    compute.require_token = True
    with pytest.raises(SaltCloudSystemExit, match="the API rejected the credentials while listing the instances"):
        gce.list_nodes()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "the service-account key .*key.json is missing; create a JSON key"),
        ("not json", "is not a JSON file"),
        (
            json.dumps({"type": "authorized_user", "client_id": "x"}),
            "is not a service-account key \\(type: 'authorized_user'\\)",
        ),
        (
            json.dumps(
                {
                    "type": "service_account",
                    "client_email": "x@y",
                    "token_uri": "http://127.0.0.1:1/token",
                    "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
                }
            ),
            "is not usable",
        ),
    ],
)
def test_a_bad_key_file_is_one_message(compute, provider, tmp_path, content, message):
    del provider["anonymous"]
    key = tmp_path / "key.json"
    if content is not None:
        key.write_text(content)
    provider["service_account_key"] = str(key)
    with pytest.raises(SaltCloudConfigError, match=message):
        gce.list_nodes()
    assert compute.requests == []


def test_a_key_the_api_does_not_know_is_one_message(compute, provider, tmp_path):
    compute.require_token = True
    del provider["anonymous"]
    provider["service_account_key"] = str(_service_account_key(tmp_path / "key.json", compute, register=False))
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: the API rejected the credentials while listing the "
        r"instances of zone europe-west1-b: Request is missing required "
        r"authentication credential.* \(check service_account_key .*key.json\)$",
    ):
        gce.list_nodes()


# ---------------------------------------------------------------------------
# what a first real run met (issue 11)


def test_application_default_credentials_when_there_is_no_key(compute, provider, tmp_path, monkeypatch):
    # google.auth.default() finds them (here GOOGLE_APPLICATION_CREDENTIALS: a
    # service account's; gcloud's user credentials always ask Google's own token endpoint)
    compute.require_token = True
    del provider["anonymous"], provider["project"]
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.keys/gcp_service_account.json
    adc = _service_account_key(tmp_path / "adc.json", compute)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    gce.create(node("network"))  # the project is the credentials'
    assert "network" in gce.list_nodes()


def test_without_key_or_application_default_credentials_one_message(compute, provider, tmp_path, monkeypatch):
    del provider["anonymous"]
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:1")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:1")
    with pytest.raises(
        SaltCloudConfigError,
        match=r"no credentials: no service-account key at .* and no application-default credentials .*"
        r"gcloud auth application-default login",
    ):
        gce.list_nodes()
    assert compute.requests == []


def test_credentials_impersonating_a_service_account(compute, provider, tmp_path, monkeypatch):
    compute.require_token = True
    del provider["anonymous"], provider["project"]
    target = "lab-deployer@saltlab-test.iam.gserviceaccount.com"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(_service_account_key(tmp_path / "adc.json", compute)))
    provider.update(impersonate_service_account=target, iam_endpoint=compute.url)
    compute.impersonable.add(target)
    gce.create(node("network"))  # the project is the impersonated account's
    assert any(p.endswith(f"/serviceAccounts/{target}:generateAccessToken") for _m, p in compute.requests)
    # an account the credentials may not impersonate: one message saying what is missing
    compute.impersonable.clear()
    provider["impersonate_service_account"] = "other@saltlab-test.iam.gserviceaccount.com"
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: impersonating other@saltlab-test.iam.gserviceaccount.com was refused while .*"
        r"Service Account Token Creator",
    ):
        gce.list_nodes()
