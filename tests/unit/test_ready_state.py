"""
The ``ready`` states (_states/ready.py): waits on another node's service
as requisites, with the openstack execution module mocked by autospec of
the real one (a call with the wrong arguments fails the test). They wait
through an API that does not answer yet, fail after their timeout naming
what they waited for, and under test=True look once.
"""

import types
from unittest.mock import create_autospec

import pytest
from salt.exceptions import CommandExecutionError

import extensions

ready = extensions.load("_states", "ready")
module = extensions.load("_modules", "openstack")

READY = {"nova_compute": True, "ovs_agent": True}
AGENT_DOWN = {"nova_compute": True, "ovs_agent": False}


@pytest.fixture
def exec_mod():
    names = ("compute_hosts", "compute_services", "volume_services", "network_agents")
    functions = {name: getattr(module, name) for name in names}
    return create_autospec(types.SimpleNamespace(**functions))


@pytest.fixture
def clock(monkeypatch):
    """A clock that moves 10 s per look, and sleeps that do not."""
    ticks = iter(range(0, 100000, 10))
    monkeypatch.setattr(ready.time, "monotonic", lambda: next(ticks))
    monkeypatch.setattr(ready.time, "sleep", lambda seconds: None)


@pytest.fixture
def configure_loader_modules(opts, exec_mod):
    salt_dunder = {
        f"openstack.{name}": getattr(exec_mod, name)
        for name in ("compute_hosts", "compute_services", "volume_services", "network_agents")
    }
    return {ready: {"__opts__": opts, "__salt__": salt_dunder}}


def test_virtual_needs_the_openstack_module():
    assert ready.__virtual__() == "ready"


def test_a_compute_node_waits_for_the_conductor_through_an_api_still_installing(exec_mod, clock):
    exec_mod.compute_services.side_effect = [
        CommandExecutionError("nova-conductor services: Unable to establish connection to http://192.168.1.11:5000"),
        {},
        {"controller": False},
        {"controller": True},
    ]
    ret = ready.compute_service("nova-conductor", cloud="saltlab-nova")
    assert ret == {
        "name": "nova-conductor",
        "result": True,
        "changes": {},
        "comment": "nova-conductor is up on controller",
    }
    assert exec_mod.compute_services.call_count == 4
    exec_mod.compute_services.assert_called_with("nova-conductor", cloud="saltlab-nova")


def test_the_conductor_wait_fails_after_its_timeout_naming_what_it_waited_for(exec_mod, clock):
    exec_mod.compute_services.return_value = {"controller": False}
    ret = ready.compute_service("nova-conductor", timeout=60, cloud="saltlab-nova")
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == (
        "not ready after 60 s, waited for: nova-conductor up on some host (it is down on: controller)"
    )


def test_the_last_api_error_is_what_the_timeout_names(exec_mod, clock):
    exec_mod.compute_services.side_effect = CommandExecutionError("nova-conductor services: 503 Service Unavailable")
    ret = ready.compute_service("nova-conductor", timeout=30)
    assert ret["result"] is False
    assert ret["comment"].endswith("the API does not answer yet (nova-conductor services: 503 Service Unavailable)")


def test_cinder_volume_waits_for_the_scheduler_through_an_api_still_installing(exec_mod, clock):
    exec_mod.volume_services.side_effect = [
        CommandExecutionError("cinder-scheduler services: Unable to establish connection to http://192.168.1.11:8776"),
        {"controller": False},
        {"controller": True},
    ]
    ret = ready.volume_service("cinder-scheduler", cloud="saltlab-cinder")
    assert ret == {
        "name": "cinder-scheduler",
        "result": True,
        "changes": {},
        "comment": "cinder-scheduler is up on controller",
    }
    exec_mod.volume_services.assert_called_with("cinder-scheduler", cloud="saltlab-cinder")


def test_the_scheduler_wait_fails_after_its_timeout_naming_what_it_waited_for(exec_mod, clock):
    exec_mod.volume_services.return_value = {}
    ret = ready.volume_service("cinder-scheduler", timeout=60)
    assert ret["result"] is False
    assert (
        ret["comment"] == "not ready after 60 s, waited for: cinder-scheduler up on some host (it is down on: none yet)"
    )


def test_compute_hosts_waits_for_the_agents(exec_mod, clock):
    exec_mod.compute_hosts.side_effect = [
        {"compute1": READY, "compute2": AGENT_DOWN},
        {"compute1": READY, "compute2": READY},
    ]
    ret = ready.compute_hosts("demo", minimum=2)
    assert ret == {"name": "demo", "result": True, "changes": {}, "comment": "compute hosts ready: compute1, compute2"}
    assert exec_mod.compute_hosts.call_count == 2


def test_compute_hosts_fails_after_the_timeout_naming_what_is_missing(exec_mod, clock):
    exec_mod.compute_hosts.return_value = {"compute1": READY, "compute2": AGENT_DOWN}
    ret = ready.compute_hosts("demo", minimum=2, timeout=30)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == (
        "not ready after 30 s, waited for: 2 compute hosts, 1 ready (compute2 (ovs_agent not up))"
    )


AGENTS = ["DHCP agent", "L3 agent", "Open vSwitch agent"]


def test_network_agents_waits_for_every_agent_of_the_host(exec_mod, clock):
    exec_mod.network_agents.side_effect = [
        CommandExecutionError("Neutron agents on network: 503"),
        {"DHCP agent": True, "L3 agent": True},
        {"DHCP agent": True, "L3 agent": True, "Open vSwitch agent": False},
        {"DHCP agent": True, "L3 agent": True, "Open vSwitch agent": True},
    ]
    ret = ready.network_agents("network", AGENTS, cloud="saltlab-admin")
    assert ret == {
        "name": "network",
        "result": True,
        "changes": {},
        "comment": "alive on network: DHCP agent, L3 agent, Open vSwitch agent",
    }
    assert exec_mod.network_agents.call_count == 4
    exec_mod.network_agents.assert_called_with("network", cloud="saltlab-admin")


def test_network_agents_fails_after_the_timeout_naming_the_agents_not_alive(exec_mod, clock):
    exec_mod.network_agents.return_value = {"DHCP agent": False, "L3 agent": True}
    ret = ready.network_agents("network", AGENTS, timeout=30)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == (
        "not ready after 30 s, waited for: on network: DHCP agent, Open vSwitch agent (not alive yet)"
    )


def test_in_test_mode_it_looks_once(opts, exec_mod):
    opts["test"] = True
    exec_mod.compute_hosts.return_value = {}
    ret = ready.compute_hosts("demo", minimum=1)
    assert ret["result"] is None
    assert ret["comment"] == "not ready now, would wait for: 1 compute hosts, 0 ready (no nova-compute)"
    assert exec_mod.compute_hosts.call_count == 1


@pytest.fixture
def api():
    """
    A real HTTP server on loopback whose answers are ``statuses`` in turn
    (the last one repeated), recording how often it was asked.
    """
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            server.asked += 1
            status = server.statuses[min(server.asked, len(server.statuses)) - 1]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.asked, server.statuses, server.closed = 0, [200], False
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    if not server.closed:
        server.shutdown()
        server.server_close()


def test_an_api_is_waited_for_through_server_errors(api):
    # (real time: the patched clock would be the server thread's too)
    api.statuses = [503, 502, 401]
    ret = ready.api_answers(api.url, interval=0)
    # a 401 is an answer: the API is there, it wants a token
    assert ret == {"name": api.url, "result": True, "changes": {}, "comment": f"{api.url} answers (HTTP 401)"}
    assert api.asked == 3


def test_an_api_that_never_listens_fails_after_the_timeout_naming_it(api):
    url = api.url
    api.shutdown()
    api.server_close()
    api.closed = True
    ret = ready.api_answers(url, timeout=0.2, interval=0.1)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == f"not ready after 0.2 s, waited for: {url} to answer (Connection refused)"


def test_an_api_in_test_mode_is_asked_once(opts, api):
    opts["test"] = True
    api.statuses = [503]
    ret = ready.api_answers(api.url)
    assert ret["result"] is None and ret["comment"] == f"not ready now, would wait for: {api.url} to answer (HTTP 503)"
    assert api.asked == 1
