"""
What the end-to-end tests of the local lab share: the map, the nodes, where
artefacts go, and the checks they make of highstate returns, servers and
the external bridge.
"""

import contextlib
import json
import pathlib
import time

MAP = "maps/local.yaml"
MINIONS = ["compute1", "compute2", "controller", "network", "storage"]
# screenshots, logs and reports, kept after the run
ARTEFACTS = pathlib.Path(__file__).resolve().parents[2] / "var" / "artefacts"


def failed_states(returns):
    failures = []
    for minion, states in returns.items():
        failures += [
            f"{minion}: {s.get('__id__')}: {s.get('comment')}" if isinstance(s, dict) else f"{minion}: {s}"
            for s in states
            if not isinstance(s, dict) or not s.get("result")
        ]
    return failures


def changed_states(returns):
    return [
        f"{minion}: {s.get('__sls__')}: {s.get('__id__')}"
        for minion, states in returns.items()
        for s in states
        if isinstance(s, dict) and s.get("changes")
    ]


def wait_until(what, check, timeout=300, interval=5):
    """check() until it returns something truthy (returned), or fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s (last: {result!r})"
        time.sleep(interval)


def proxy_address(lab):
    return lab.nodes()[lab.master]["public_ips"][0]


def banner(lab, address):
    """The test guest's banner line (port 8), or "" when it does not answer."""
    return lab.tcp(address, 8)


def ping_over_the_external_bridge(lab, node, payload):
    """
    Ping the external network's gateway (the network node) from a port of
    `node`'s br-ext that stands in for a server on physnet, with DF set and
    `payload` bytes of ICMP data (IP packet: payload + 28). The port's own
    MTU is 1500: only the way over the underlay can refuse a packet.
    """
    probe = "probe"
    lab.ssh(
        node,
        f"ovs-vsctl add-port br-ext {probe} -- set interface {probe} type=internal"
        f" && ip addr add 172.16.0.201/24 dev {probe} && ip link set {probe} mtu 1500 up",
    )
    try:
        return lab.ssh(node, f"ping -c 2 -W 5 -M do -s {payload} -I {probe} 172.16.0.1", check=False)
    finally:
        lab.ssh(node, f"ovs-vsctl --if-exists del-port br-ext {probe}", check=False)


@contextlib.contextmanager
def horizon_as_demo(lab, profile_dir, screenshot):
    """
    Headless Chromium logged in to Horizon through the proxy as `demo`
    (yields the browser and Horizon's base URL); the page it ends on is
    kept as var/artefacts/SCREENSHOT. The lab CA is not in the browser's
    store: the page is the proxy's, whose certificate the API tests check.
    """
    from selenium import webdriver  # noqa: PLC0415  (the e2e tests' own dependency)
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    password = json.loads((lab.repo / "pillar" / "secrets.json").read_text())["saltlab"]["secrets"]["demo"]
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile_dir}",
        "--ignore-certificate-errors",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    base = f"https://{proxy_address(lab)}/horizon"
    try:
        browser.get(f"{base}/")
        WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "id_username"))
        browser.find_element(By.ID, "id_username").send_keys("demo")
        browser.find_element(By.ID, "id_password").send_keys(password)
        browser.find_element(By.ID, "loginBtn").click()
        WebDriverWait(browser, 120).until(lambda b: "/project/" in b.current_url)
        yield browser, base
    finally:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTEFACTS / screenshot))
        browser.quit()


def assert_highstate_refused(lab, node, pillar, key):
    """
    A highstate of `node` with this pillar stops before any state runs: its
    return is a list of render errors, each naming `key`.
    """
    returns, code = lab.salt(node, "state.apply", f"pillar={json.dumps(pillar)}", "--timeout=600")
    assert code != 0
    errors = returns[node]
    assert isinstance(errors, list) and errors, errors
    assert all(isinstance(e, str) and key in e for e in errors), errors
