"""
Every role's highstate renders with the default pillar and generated
secrets (salt-call --local state.show_highstate on this machine: rendered,
not applied), and each role gets the states meant for it.
"""

import json
import subprocess

import pytest

from conftest import REPO

ROLES = {"controller": "controller", "network": "network", "compute": "compute1", "storage": "storage"}


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("secrets")
    subprocess.run([REPO / "tools/secrets", "--pillar", path / "secrets.sls",
                    "--ssh-key", path / "ssh" / "lab"], check=True, capture_output=True)
    return path


def show_highstate(tmp_path, secrets_dir, role, minion_id):
    config = {
        "id": minion_id,
        "file_client": "local",
        "root_dir": str(tmp_path),
        "file_roots": {"base": [str(REPO / "salt")]},
        "pillar_roots": {"base": [str(secrets_dir), str(REPO / "pillar")]},
        "grains": {"roles": [role]},
        "log_level_logfile": "quiet",
    }
    (tmp_path / "minion").write_text(json.dumps(config))
    proc = subprocess.run(
        [REPO / ".venv/bin/salt-call", "--local", "--config-dir", tmp_path, "--out=json",
         "--retcode-passthrough", "state.show_highstate"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    states = json.loads(proc.stdout)["local"]
    assert isinstance(states, dict), states
    return states


def functions(states):
    """
    {state id: 'module.function'} of a rendered highstate.
    """
    found = {}
    for state_id, body in states.items():
        for module, args in body.items():
            if module.startswith("__"):
                continue
            function = next(a for a in args if isinstance(a, str))
            found[state_id] = f"{module}.{function}"
    return found


@pytest.fixture(params=sorted(ROLES), scope="module")
def rendered(request, tmp_path_factory, secrets_dir):
    role = request.param
    return role, show_highstate(tmp_path_factory.mktemp(role), secrets_dir, role, ROLES[role])


def test_every_role_renders_the_common_formulas(rendered):
    _role, states = rendered
    found = functions(states)
    assert found["users-stack"] == "user.present"
    assert found["users-stack-ssh-key"] == "ssh_auth.present"
    assert found["chrony-service"] == "service.running"
    assert found["base-packages"] == "pkg.installed"


def test_the_apt_cache_is_on_the_controller_and_the_proxy_everywhere_else(rendered):
    role, states = rendered
    found = functions(states)
    if role == "controller":
        assert found["apt-cache-service"] == "service.running"
        assert "apt-proxy-config" not in found
    else:
        assert "apt-cache-pkg" not in found
        assert found["apt-proxy-config"] == "file.managed"
        proxy = states["apt-proxy-config"]["file"]
        assert {"contents": 'Acquire::http::Proxy "http://192.168.1.11:3142";'} in proxy


def test_packages_wait_for_the_apt_formula(rendered):
    _role, states = rendered
    for state_id in ("chrony-pkg", "base-packages"):
        requires = next(a["require"] for a in states[state_id]["pkg"] if isinstance(a, dict) and "require" in a)
        assert {"sls": "apt"} in requires


def test_chrony_serves_on_the_controller_and_follows_it_elsewhere(rendered):
    role, states = rendered
    context = next(a["context"] for a in states["chrony-config"]["file"] if isinstance(a, dict) and "context" in a)
    assert context["server"] is (role == "controller")
    assert context["controller"] == "192.168.1.11"


def test_forwarding_only_on_network_and_compute(rendered):
    role, states = rendered
    assert ("sysctl-net.ipv4.ip_forward" in states) is (role in ("network", "compute"))
