"""
The local fake of the Compute REST API (tests/fakes/compute_api.py)
answers in the API's shapes, what the real google-cloud-compute client
parses: operations that run, then are done (or done with an error that
changes nothing), names taken while an insert runs, list pages, error
documents, a foreign project's 403; routers with their Cloud NAT and the
API's refusals (a second NAT for a whole network, bad NAT settings, a
network in use); a Persistent Disk on an N4 refused as the API does. The
set-up the gce tests share is in tests/unit/gce_fixtures.py.
"""

import gce
import gce_instance
import requests
from gce_fixtures import PROJECT, ZONE, nets, node

# isort: split
# the fixtures of gce_fixtures.py, found here by name (with those they
# need), and OPERATOR_KEY, which names the key conftest's keyfile makes
from gce_fixtures import OPERATOR_KEY, compute, config_dir, configure_loader_modules, provider

__all__ = ["OPERATOR_KEY", "compute", "config_dir", "configure_loader_modules", "provider"]


def test_the_fake_answers_in_the_apis_shapes(compute):
    base = f"{compute.url}/compute/v1/projects/{PROJECT}"
    op = requests.post(f"{base}/global/networks", json={"name": "n1", "autoCreateSubnetworks": False}).json()
    assert op["kind"] == "compute#operation" and op["status"] == "RUNNING" and op["operationType"] == "insert"
    assert isinstance(op["id"], str) and op["targetLink"].endswith(f"/projects/{PROJECT}/global/networks/n1")
    assert op["selfLink"].endswith(f"/global/operations/{op['name']}")
    # the name is taken while the insert runs
    conflict = requests.post(f"{base}/global/networks", json={"name": "n1", "autoCreateSubnetworks": False})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["errors"][0]["reason"] == "alreadyExists"
    done = requests.get(f"{base}/global/operations/{op['name']}").json()
    assert done["status"] == "DONE" and done["progress"] == 100 and "error" not in done
    network = requests.get(f"{base}/global/networks/n1").json()
    assert network["kind"] == "compute#network" and network["selfLink"] == op["targetLink"] and network["mtu"] == 1460
    missing = requests.get(f"{base}/global/networks/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": 404,
        "message": f"The resource 'projects/{PROJECT}/global/networks/nope' was not found",
        "status": "NOT_FOUND",
        "errors": [
            {
                "message": f"The resource 'projects/{PROJECT}/global/networks/nope' was not found",
                "domain": "global",
                "reason": "notFound",
            }
        ],
    }
    assert requests.get(f"{compute.url}/compute/v1/projects/other/global/networks").json()["error"]["code"] == 403
    for name in ("n2", "n3"):
        op = requests.post(f"{base}/global/networks", json={"name": name, "autoCreateSubnetworks": False}).json()
        requests.post(f"{base}/global/operations/{op['name']}/wait")
    first = requests.get(f"{base}/global/networks").json()
    assert first["kind"] == "compute#networkList" and [n["name"] for n in first["items"]] == ["n1", "n2"]
    second = requests.get(f"{base}/global/networks", params={"pageToken": first["nextPageToken"]}).json()
    assert [n["name"] for n in second["items"]] == ["n3"] and "nextPageToken" not in second
    # an operation that fails is DONE with the error and changes nothing
    compute.fail_operation("delete", "/networks/n3$", "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", "in use", http_status=400)
    op = requests.delete(f"{base}/global/networks/n3").json()
    failed = requests.post(f"{base}/global/operations/{op['name']}/wait").json()
    assert failed["status"] == "DONE" and failed["httpErrorStatusCode"] == 400
    assert failed["error"] == {"errors": [{"code": "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", "message": "in use"}]}
    assert "n3" in compute.networks


def test_the_fake_serves_routers_with_cloud_nat(compute):
    base = f"{compute.url}/compute/v1/projects/{PROJECT}"
    op = requests.post(f"{base}/global/networks", json={"name": "n1", "autoCreateSubnetworks": False}).json()
    requests.post(f"{base}/global/operations/{op['name']}/wait")
    nat = {
        "name": "nat1",
        "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
        "natIpAllocateOption": "AUTO_ONLY",
    }
    op = requests.post(
        f"{base}/regions/europe-west1/routers", json={"name": "r1", "network": "global/networks/n1", "nats": [nat]}
    ).json()
    assert op["kind"] == "compute#operation" and op["selfLink"].endswith(
        f"/regions/europe-west1/operations/{op['name']}"
    )
    assert requests.post(f"{base}/regions/europe-west1/operations/{op['name']}/wait").json()["status"] == "DONE"
    router = requests.get(f"{base}/regions/europe-west1/routers/r1").json()
    assert router["kind"] == "compute#router" and router["selfLink"] == op["targetLink"]
    assert router["network"] == f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/n1"
    assert router["nats"][0]["natIpAllocateOption"] == "AUTO_ONLY"
    listed = requests.get(f"{base}/regions/europe-west1/routers").json()
    assert listed["kind"] == "compute#routerList" and [r["name"] for r in listed["items"]] == ["r1"]
    # one NAT for all of a network's subnetworks per region; bad NAT settings; the network is in use
    second = requests.post(
        f"{base}/regions/europe-west1/routers", json={"name": "r2", "network": "global/networks/n1", "nats": [nat]}
    )
    assert second.status_code == 400 and "already has a NAT" in second.json()["error"]["message"]
    bad = requests.post(
        f"{base}/regions/europe-west1/routers",
        json={"name": "r3", "network": "global/networks/n1", "nats": [dict(nat, natIpAllocateOption="MANUAL_ONLY")]},
    )
    assert bad.status_code == 400 and "natIps" in bad.json()["error"]["message"]
    in_use = requests.delete(f"{base}/global/networks/n1")
    assert in_use.status_code == 400 and "routers/r1" in in_use.json()["error"]["message"]
    op = requests.delete(f"{base}/regions/europe-west1/routers/r1").json()
    requests.post(f"{base}/regions/europe-west1/operations/{op['name']}/wait")
    assert requests.get(f"{base}/regions/europe-west1/routers/r1").status_code == 404
    assert compute.routers == {}


# ---------------------------------------------------------------------------
# what a first real run met (issue 11)


def test_the_fake_refuses_a_persistent_disk_on_n4_as_the_api_does(compute):
    gce.create(node("network"))
    spec = {
        "machine_type": "n4-standard-4",
        "nics": ["mgmt"],
        "addresses": {"mgmt": "192.168.1.31"},
        "image": "projects/debian-cloud/global/images/family/debian-13",
        "disk_size_gb": 20,
        "disk_type": "pd-balanced",
        "ssh_username": "stack",
    }
    body = gce_instance.instance_body(PROJECT, ZONE, "saltlab", "storage", spec, nets(), "ssh-ed25519 AAAA op\n")
    answer = requests.post(
        f"{compute.url}/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances",
        data=type(body).to_json(body),
        timeout=10,
    )
    assert answer.status_code == 400 and "[pd-balanced] features are not compatible" in answer.text
