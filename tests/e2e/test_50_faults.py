"""
Faults, each without a hand, on the lab with the demo running: MariaDB and
RabbitMQ killed; a highstate killed half-way with work to do (a service
stopped, a configuration file gone), then run again; a schema behind the
code migrated; a compute node added to the running lab, converging in its
first highstate, destroyed (its key, mine data, /etc/hosts line and VXLAN
port go) and added again; a node stopped and started from its overlay
(what `salt-cloud -a start` does after this machine rebooted); every node
rebooted at the same moment, the demo's servers resumed by Nova.
"""

import json
import subprocess
import time

import pytest
from labcheck import MAP, MINIONS, banner, changed_states, failed_states, wait_until

# about half an hour on 2 cores (each fault waits for the lab to recover):
# make test-all, not make test
pytestmark = [pytest.mark.e2e, pytest.mark.opt_in]

NOVA_MIGRATIONS = "/usr/lib/python3/dist-packages/nova/db/main/migrations"


def boot_and_delete_a_server(cloud, name):
    """A server of the demo project boots ACTIVE (the control plane works end to end), then goes."""
    conn = cloud("demo")
    server = conn.compute.create_server(
        name=name,
        image_id=conn.image.find_image("saltlab-test").id,
        flavor_id=conn.compute.find_flavor("m1.nano").id,
        networks=[{"uuid": conn.network.find_network("demo-net").id}],
    )
    try:
        server = conn.compute.wait_for_server(server, status="ACTIVE", wait=600)
        assert server.status == "ACTIVE"
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=300)


def test_mariadb_and_rabbitmq_killed_come_back_and_the_services_reconnect(lab, cloud):
    for service, process in (("mariadb", "mariadbd"), ("rabbitmq-server", "beam.smp")):
        before = lab.ssh("controller", f"systemctl show -p MainPID --value {service}").stdout.strip()
        lab.ssh("controller", f"pkill -KILL -x {process}")

        def restarted(service=service, before=before):
            # key=value: with --value, systemctl prints the properties in its own order
            shown = lab.ssh("controller", f"systemctl show -p ActiveState -p MainPID {service}").stdout.split()
            now = dict(line.split("=", 1) for line in shown)
            return now["ActiveState"] == "active" and now["MainPID"] not in ("0", before)

        wait_until(f"{service} started again by systemd", restarted, timeout=180)
    boot_and_delete_a_server(cloud, "after-the-kill")


def test_a_highstate_killed_half_way_then_run_again_converges(lab):
    # work for it early (memcached stopped and disabled) and late (Horizon's
    # settings gone); killed once the early work is done
    horizon = "/etc/openstack-dashboard/local_settings.d/_90_saltlab.py"
    lab.ssh("controller", f"systemctl disable --now memcached && rm {horizon}")
    run = subprocess.Popen([*lab._ssh_argv(lab.master), "salt controller state.apply --timeout=3000"])
    try:
        wait_until(
            "the highstate to start memcached again",
            lambda: lab.ssh("controller", "systemctl is-active memcached", check=False).returncode == 0,
            timeout=900,
            interval=1,
        )
    finally:
        run.kill()
        lab.ssh(lab.master, "salt controller saltutil.kill_all_jobs", check=False)
    assert lab.ssh("controller", f"test -e {horizon}", check=False).returncode != 0, "killed too late"
    states, code = lab.apply("controller")
    assert code == 0 and failed_states(states) == []
    states, _ = lab.apply("controller")
    assert changed_states(states) == []
    assert lab.ssh("controller", "systemctl is-enabled memcached && systemctl is-active memcached").returncode == 0
    assert lab.ssh("controller", f"test -s {horizon}").returncode == 0


def test_a_schema_behind_the_code_is_migrated(lab):
    # cell0 emptied: its schema is behind nova's migrations
    lab.ssh("controller", "mariadb -e 'DROP DATABASE nova_cell0; CREATE DATABASE nova_cell0'")
    behind, _ = lab.salt("controller", "saltlab.schema_current", '["nova", "nova_cell0"]', NOVA_MIGRATIONS)
    assert behind["controller"] is False
    states, code = lab.apply("controller")
    assert code == 0 and failed_states(states) == []
    assert "controller: nova.db: nova-db-sync" in changed_states(states)
    current, _ = lab.salt("controller", "saltlab.schema_current", '["nova", "nova_cell0"]', NOVA_MIGRATIONS)
    assert current["controller"] is True


def test_a_compute_node_added_to_the_running_lab_converges_and_leaves_cleanly(lab):
    def keys():
        return json.loads(lab.ssh(lab.master, "salt-key -L --out=json").stdout)

    for _ in range(2):  # made, destroyed, made again
        lab.cloud("-p", "local-compute", "compute3", "-y", timeout=1200)
        assert "compute3" in keys()["minions"] and keys()["minions_pre"] == []
        assert lab.wait_for_minions(["compute3"], timeout=300)["compute3"] is True
        # its first highstate converges; the network node gets its VXLAN port
        states, code = lab.apply("compute3")
        assert code == 0 and failed_states(states) == []
        states, code = lab.apply("network", "extbridge")
        assert code == 0
        assert "vx-compute3" in lab.ssh(lab.master, "ovs-vsctl list-ports br-ext").stdout.split()
        lab.cloud("-d", "compute3", "-y", timeout=600)
        assert "compute3" not in json.dumps(keys())
        # its cached grains and mine data went with its key
        assert lab.ssh(lab.master, "test -e /var/cache/salt/master/minions/compute3", check=False).returncode != 0
        assert "compute3" not in (lab.repo / "var/ssh/known_hosts").read_text()
        # and its /etc/hosts line and VXLAN port on the next highstate
        states, code = lab.apply("network", "hosts,extbridge")
        assert code == 0
        assert "vx-compute3" not in lab.ssh(lab.master, "ovs-vsctl list-ports br-ext").stdout.split()
        assert "compute3" not in lab.ssh(lab.master, "cat /etc/hosts").stdout


def test_a_stopped_node_starts_again_from_its_overlay(lab):
    # what `salt-cloud -a start -m maps/local.yaml` does after this machine rebooted
    lab.cloud("-a", "stop", "compute2", "-y", timeout=600)
    assert lab.nodes()["compute2"]["state"] == "stopped"
    lab.cloud("-a", "start", "-m", MAP, "-y", timeout=600)
    assert lab.nodes()["compute2"]["state"] == "running"
    assert lab.wait_for_minions(["compute2"], timeout=300)["compute2"] is True


def test_every_node_rebooted_at_once_comes_back_with_the_servers_nova_resumed(lab, cloud):
    servers = lab.servers()
    assert servers and all(s["status"] == "ACTIVE" for s in servers.values()), servers
    init_started = "cut -d' ' -f22 /proc/1/stat"
    before = {node: lab.ssh(node, init_started).stdout.strip() for node in MINIONS}
    # all at the same moment, master included: a timer on each node for one
    # wall-clock second (the nodes share this machine's clock). A reboot
    # sent over SSH to every node at once reached none of the nodes behind
    # the master when the master went first.
    at = time.time() + 30
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    for node in MINIONS:
        lab.ssh(node, f"systemd-run --quiet --on-calendar='{when}' --timer-property=AccuracySec=1s systemctl reboot")
    assert time.time() < at - 5, "the reboots were not all scheduled in time"

    def rebooted():
        now = {node: lab.ssh(node, init_started, check=False).stdout.strip() for node in MINIONS}
        return all(now[node] and now[node] != before[node] for node in MINIONS)

    wait_until("every node booted again", rebooted, timeout=600, interval=10)
    lab.wait_for_minions(MINIONS, timeout=900)
    # the APIs through the proxy
    wait_until("a token through the proxy", lambda: cloud().authorize(), timeout=600, interval=10)
    # the servers: ACTIVE and answering again because Nova resumed them; nothing here starts them
    for name, server in sorted(servers.items()):
        wait_until(f"{name} ACTIVE again", lambda n=name: lab.servers()[n]["status"] == "ACTIVE", timeout=900)
        line = wait_until(f"{name} answering", lambda s=server: banner(lab, s["floating"][0]), timeout=600)
        assert f"ip={server['fixed'][0]}/24 " in line
    states, code = lab.apply()
    assert code == 0 and failed_states(states) == []
    assert changed_states(states) == []
