"""
Waits on other nodes: the lab's nodes apply their highstates at once, so a
state that needs another node's service (a compute node's nova-compute
needs the controller's nova-conductor, the storage node's cinder-volume
Cinder's database, queue and scheduler) waits for it, as a requisite: until
the service answers, at most ``timeout`` seconds, and then fails naming
what it waited for. Nothing changes; under ``test=True`` it looks once and
waits for nothing. An API that does not answer yet (still installing, or
restarting) is a reason to wait, not to fail.

.. code-block:: yaml

    nova-compute-conductor-up:
      ready.compute_service:
        - name: nova-conductor
        - cloud: saltlab-nova

    cinder-volume-scheduler-up:
      ready.volume_service:
        - name: cinder-scheduler
        - cloud: saltlab-cinder

    demo-compute-ready:
      ready.compute_hosts:
        - minimum: 2

    neutron-agents-server-up:
      ready.api_answers:
        - name: http://192.168.1.11:9696/

    demo-network-agents-ready:
      ready.network_agents:
        - name: network
        - agent_types: [DHCP agent, L3 agent, Metadata agent, Open vSwitch agent]
"""

import time
import urllib.error
import urllib.request

from salt.exceptions import CommandExecutionError

__virtualname__ = "ready"


def __virtual__():
    if "openstack.compute_hosts" in __salt__:
        return __virtualname__
    return (False, "the openstack execution module is not loaded")


def _wait(name, check, timeout, interval):
    """
    ``check()`` -> (ready, what is ready or still awaited) until ready or
    ``timeout``; an API error counts as "not ready", saying which.
    """

    def look():
        try:
            return check()
        except CommandExecutionError as exc:
            return False, f"the API does not answer yet ({exc})"

    ready, status = look()
    deadline = time.monotonic() + timeout
    while not ready and not __opts__["test"] and time.monotonic() < deadline:
        time.sleep(interval)
        ready, status = look()
    ret = {"name": name, "result": True, "changes": {}, "comment": status}
    if not ready:
        ret.update(result=None, comment=f"not ready now, would wait for: {status}")
        if not __opts__["test"]:
            ret.update(result=False, comment=f"not ready after {timeout} s, waited for: {status}")
    return ret


def _service_up(name, hosts):
    """A check that the service ``name`` is up on one of ``hosts()`` ({host: up})."""

    def check():
        listed = hosts()
        up = sorted(host for host, ok in listed.items() if ok)
        if up:
            return True, f"{name} is up on {', '.join(up)}"
        return False, f"{name} up on some host (it is down on: {', '.join(sorted(listed)) or 'none yet'})"

    return check


def compute_service(name, timeout=1800, interval=10, cloud=None):
    """
    Nova's service ``name`` (nova-conductor, nova-scheduler) up and
    enabled on at least one host, as the compute API reports it (``cloud``
    must be able to list services: an admin, or a service user).
    """

    return _wait(
        name, _service_up(name, lambda: __salt__["openstack.compute_services"](name, cloud=cloud)), timeout, interval
    )


def volume_service(name, timeout=1800, interval=10, cloud=None):
    """
    Cinder's service ``name`` (cinder-scheduler) up and enabled on at least
    one host, as the volume API reports it (``cloud`` must be able to list
    services: an admin, or a service user). It being up says that Cinder's
    API, database and message queue are too.
    """

    return _wait(
        name, _service_up(name, lambda: __salt__["openstack.volume_services"](name, cloud=cloud)), timeout, interval
    )


def compute_hosts(name, minimum=1, timeout=300, interval=5, cloud=None):
    """
    At least ``minimum`` compute hosts can take a server: nova-compute up
    and the host's Open vSwitch agent alive (``openstack.compute_hosts``;
    agents report a little after a highstate starts them). ``name`` is
    only a label.
    """

    def check():
        hosts = __salt__["openstack.compute_hosts"](cloud=cloud)
        usable = sorted(host for host, state in hosts.items() if all(state.values()))
        if len(usable) >= minimum:
            return True, f"compute hosts ready: {', '.join(usable)}"
        waiting = ", ".join(
            f"{host} ({', '.join(k for k, ok in state.items() if not ok)} not up)"
            for host, state in sorted(hosts.items())
            if not all(state.values())
        )
        return False, f"{minimum} compute hosts, {len(usable)} ready ({waiting or 'no nova-compute'})"

    return _wait(name, check, timeout, interval)


def network_agents(name, agent_types, timeout=600, interval=5, cloud=None):
    """
    Each of ``agent_types`` alive on the host ``name`` (``openstack.network_agents``).
    Agents started before neutron-server answered back off their first
    calls for minutes; a network made meanwhile gets no DHCP agent, and
    its servers no address.
    """

    def check():
        agents = __salt__["openstack.network_agents"](name, cloud=cloud)
        waiting = [kind for kind in agent_types if not agents.get(kind)]
        if waiting:
            return False, f"on {name}: {', '.join(waiting)} (not alive yet)"
        return True, f"alive on {name}: {', '.join(agent_types)}"

    return _wait(name, check, timeout, interval)


def api_answers(name, timeout=1800, interval=5):
    """
    The HTTP API at the URL ``name`` answers (any status but a server
    error: its root lists its versions without a token). Neutron's agents
    start after its server does: an agent whose first calls go unanswered
    backs them off for minutes.
    """

    def check():
        try:
            with urllib.request.urlopen(name, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)  # a URLError's is the socket's error
            return False, f"{name} to answer ({getattr(reason, 'strerror', None) or reason})"
        if status >= 500:
            return False, f"{name} to answer (HTTP {status})"
        return True, f"{name} answers (HTTP {status})"

    return _wait(name, check, timeout, interval)
