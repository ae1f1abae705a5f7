"""
Load balancing on the lab the e2e tests share, after the demo: the lab
switched to `loadbalancing` (the amphora image built and pushed, then
pillar/labs/loadbalancing.sls on the master, as an operator would switch
it), its highstate, then the demo's load balancer: ACTIVE and ONLINE
through the TLS proxy, both servers answering its address in turn, one
server stopped and every request answered by the other once the health
monitor has seen it go, the server started again and back in rotation;
a second highstate and demo change nothing; Horizon's load balancer
panel.

The amphora boots under TCG on a compute node (about a minute on an idle
machine): make test-all, not make test.
"""

import time

import pytest
from labcheck import changed_states, failed_states, horizon_as_demo, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.opt_in]

# the demo's (salt/demo/defaults.yaml)
LB, POOL, SERVERS = "demo-lb", "demo-pool", ("demo1", "demo2")


def switch_to_loadbalancing(lab):
    """The amphora image built and pushed with the rest, then the master's lab set to loadbalancing."""
    lab.run([lab.repo / "tools/build-amphora-image"])
    lab.run([lab.config_dir / "tools/push"])
    lab.select_lab("loadbalancing")


def answers(lab, address, count):
    """The servers' names in the order they answered `count` HTTP requests to address:80 from the network node."""
    names = []
    for _ in range(count):
        reply = lab.ssh(lab.master, f"curl -s -m 10 http://{address}/", check=False).stdout
        names.append(next((w.split("=", 1)[1] for w in reply.split() if w.startswith("hostname=")), reply or None))
    return names


def members(conn):
    """{member name: operating status} of the demo's pool."""
    pool = conn.load_balancer.find_pool(POOL)
    return {m.name: m.operating_status for m in conn.load_balancer.members(pool)}


@pytest.fixture(scope="module")
def balanced(lab, cloud):
    """The lab switched, highstated and its demo run; the demo user's connection and the load balancer's address."""
    switch_to_loadbalancing(lab)
    started = time.monotonic()
    states, code = lab.apply(progress=False)
    assert code == 0 and failed_states(states) == []
    print(f"the switch's highstate: {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    states, code = lab.apply("controller", "demo", progress=False)
    assert code == 0 and failed_states(states) == []
    print(f"the demo with its load balancer (amphora boot under TCG included): {time.monotonic() - started:.0f} s")
    conn = cloud("demo")
    return conn, conn.load_balancer.find_load_balancer(LB).vip_address


def test_the_load_balancer_is_active_and_online_through_the_proxy(balanced):
    conn, _address = balanced
    lb = conn.load_balancer.find_load_balancer(LB)
    assert (lb.provisioning_status, lb.operating_status) == ("ACTIVE", "ONLINE")
    assert wait_until("both members ONLINE", lambda: members(conn) == dict.fromkeys(SERVERS, "ONLINE"), timeout=120)


def test_both_servers_answer_in_turn(lab, balanced):
    _conn, address = balanced
    names = answers(lab, address, 6)
    assert sorted(set(names)) == list(SERVERS), names
    # round robin: never the same server twice in a row
    assert all(a != b for a, b in zip(names, names[1:], strict=False)), names


def test_a_stopped_server_leaves_the_rotation_and_comes_back(lab, balanced):
    conn, address = balanced
    server = conn.compute.find_server("demo2")
    conn.compute.stop_server(server)
    conn.compute.wait_for_server(server, status="SHUTOFF", wait=300)
    try:
        wait_until("the health monitor marks demo2 down", lambda: members(conn)["demo2"] == "ERROR", timeout=180)
        assert answers(lab, address, 6) == ["demo1"] * 6
    finally:
        conn.compute.start_server(server)
        conn.compute.wait_for_server(server, status="ACTIVE", wait=300)
    wait_until("demo2 ONLINE again", lambda: members(conn)["demo2"] == "ONLINE", timeout=300)
    assert sorted(set(answers(lab, address, 6))) == list(SERVERS)


def test_second_highstate_and_demo_change_nothing(lab, balanced):
    states, code = lab.apply(progress=False)
    demo, demo_code = lab.apply("controller", "demo", progress=False)
    states.update({"controller (demo)": demo["controller"]})
    assert (code, demo_code) == (0, 0) and failed_states(states) == []
    assert changed_states(states) == []


def test_horizon_shows_the_load_balancer(lab, balanced, tmp_path_factory):
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415  (the e2e tests' own dependency)

    with horizon_as_demo(lab, tmp_path_factory.mktemp("chromium"), "horizon-load-balancers.png") as (browser, base):
        # the panel of python3-octavia-dashboard (an Angular page: the list comes after the page)
        browser.get(f"{base}/project/load_balancer/")
        WebDriverWait(browser, 120).until(lambda b: LB in b.page_source)
