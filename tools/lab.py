"""
Drive the local lab from Python: the end-to-end tests and the benchmarks
use this to run the same native commands an operator types.

    lab = Lab()
    lab.cloud("-m", "maps/local.yaml", "-y")
    lab.salt("*", "test.ping")          # salt on the master, over SSH
    lab.ssh("compute1", "chronyc -n sources")

The lab's shape (the master, its networks, the proxy's CA, Keystone's port
and path, the region) is the lab model's, pillar/model.yaml.
"""

import importlib.util
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
# the nspawn driver's records (its default state_dir)
STATE_DIR = pathlib.Path("/var/lib/saltlab")
# ssh's own failures (refused, no route, a host key that is not the one recorded)
SSH_FAILED = 255


# Salt's Python on the nodes (tools/build-image, cloud.deploy.d/saltlab-gce.sh)
MASTER_PYTHON = "/opt/saltlab/venv/bin/python3"
# tools/master_apply.py's line for one state done ("[node] 12/42 id (3s)")
STATE_LINE = re.compile(r"^\[\S+\] \d+/")


def read_model(repo=REPO):
    """The lab model of a checkout, read and checked by _utils/saltlab_model.py."""
    spec = importlib.util.spec_from_file_location("saltlab_model", pathlib.Path(repo) / "_utils" / "saltlab_model.py")
    saltlab_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(saltlab_model)
    return saltlab_model.load(str(pathlib.Path(repo) / "pillar" / "model.yaml"))


def salt_returns(text):
    """
    What `salt ... --out=json --out-indent=-1` printed: ({minion: return}
    from its JSON lines, [every other line]). A master that is still
    starting prints plain text, or JSON that is no minion's return.
    """
    returns, other = {}, []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, dict):
            returns.update(value)
        else:
            other.append(line.strip())
    return returns, other


def host_leftovers():
    """
    Everything of the lab that could stay behind on this machine.
    """

    def out(*argv):
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

    links = [line.split()[0] for line in out("ip", "-br", "link").splitlines()]
    cgroups = [str(p) for p in pathlib.Path("/sys/fs/cgroup").glob("*/saltlab")]
    networks = [spec["cidr"] for spec in read_model()["networks"].values()]
    return {
        "nodes": sorted(p.name for p in (STATE_DIR / "nodes").glob("*")),
        "netns": [n for n in out("ip", "netns", "list").split() if n.startswith("saltlab-")],
        "links": [link for link in links if link.startswith("sl")],
        "mounts": [line for line in out("cat", "/proc/mounts").splitlines() if str(STATE_DIR) in line],
        "cgroups": cgroups,
        "routes": [
            line for line in out("ip", "route").splitlines() if "sl-" in line or any(n in line for n in networks)
        ],
        "iptables": [line for line in out("iptables-save").splitlines() if "SALTLAB" in line],
        "processes": [line for line in out("ps", "-eo", "args").splitlines() if "saltlab-node-" in line],
    }


class Lab:
    """
    The local lab, seen from the operator's checkout; or another
    provider's (``provider``, e.g. gce) run from a configuration directory
    of its own (``config_dir``: salt-cloud's, with its var/), where the
    master salt-cloud recorded (var/bastion) says the SSH user and key:
    a user other than root runs commands with sudo.
    """

    def __init__(self, repo=REPO, echo=True, provider="local", config_dir=None):
        self.repo = pathlib.Path(repo)
        self.provider = provider
        self.config_dir = pathlib.Path(config_dir) if config_dir else self.repo
        self.echo = echo
        self.model = read_model(self.repo)
        # the master: salt runs there, and it is the SSH bastion and the TLS proxy
        self.master = self.model["master"]
        self._nodes = None
        self._clouds_config = None

    def login(self):
        """(SSH user, key) of the lab's nodes: var/bastion's, else root with the lab key."""
        user, key = "root", self.repo / "var" / "ssh" / "lab_ed25519"
        try:
            text = (self.config_dir / "var" / "bastion").read_text()
        except FileNotFoundError:
            return user, key
        pairs = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        return pairs.get("bastion_user", user), pathlib.Path(pairs.get("bastion_key", key))

    @property
    def key(self):
        return self.login()[1]

    def as_root(self, command):
        """A shell command line as root on a node: sudo for another user."""
        return command if self.login()[0] == "root" else f"sudo sh -c {shlex.quote(command)}"

    def run(self, argv, check=True, timeout=3600, capture=True, stdin=None):
        """
        Run a command from the checkout, echoing it first; `stdin` is text
        for its standard input.
        """
        if self.echo:
            print("$ " + " ".join(shlex.quote(str(a)) for a in argv), file=sys.stderr, flush=True)
        proc = subprocess.run(
            [str(a) for a in argv],
            cwd=self.config_dir,
            text=True,
            timeout=timeout,
            capture_output=capture,
            check=False,
            input=stdin,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited {proc.returncode}\n{proc.stdout or ''}\n{proc.stderr or ''}")
        return proc

    def start(self):
        """
        Ready this machine for a new lab: the lab's secrets (made once), and
        no lab of ours already up (refused, naming what is there).
        """
        self.run([self.repo / "tools/secrets"])
        leftovers = {kind: found for kind, found in host_leftovers().items() if found}
        if leftovers:
            raise RuntimeError(f"a lab is already up on this machine: {leftovers}")
        return self

    def cloud(self, *args, **kwargs):
        self._nodes = None
        self._clouds_config = None
        config = ["-c", self.config_dir] if self.config_dir != self.repo else []
        return self.run([self.repo / ".venv/bin/salt-cloud", *config, *args], **kwargs)

    def nodes(self):
        """
        {node: record} as the lab's provider's driver reports them (only
        that provider is asked: saltify's list asks a master on this machine).
        """
        if self._nodes is None:
            data = json.loads(self.cloud("-f", "list_nodes_full", self.provider, "--out=json").stdout or "{}")
            self._nodes = {
                name: record
                for providers in data.values()
                for nodes in providers.values()
                for name, record in nodes.items()
            }
        return self._nodes

    def _ssh_argv(self, node):
        """
        ssh to a node as the lab's user (root locally), through the master
        when the node has no public address; host keys checked against the
        ones recorded when the node was made (var/ssh/known_hosts).
        """
        nodes = self.nodes()
        if node not in nodes:
            raise RuntimeError(no_node(node, nodes))
        user, key = self.login()
        known_hosts = self.config_dir / "var" / "ssh" / "known_hosts"
        opts = ["-i", key, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes"]
        opts += ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "HashKnownHosts=no"]
        opts += ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]
        if nodes[node]["public_ips"] and (node == self.master or self.provider == "local"):
            return ["ssh", *opts, f"{user}@{nodes[node]['public_ips'][0]}"]
        if self.master not in nodes:
            raise RuntimeError(f"{node} is reached through the master, and {no_node(self.master, nodes)}")
        bastion = nodes[self.master]["public_ips"][0]
        jump = " ".join(["ssh", *map(shlex.quote, map(str, opts)), "-W", "%h:%p", f"{user}@{bastion}"])
        management = self.model["purposes"]["management"]
        return ["ssh", *opts, "-o", f"ProxyCommand={jump}", f"{user}@{self._address(node, management)}"]

    def _address(self, node, network):
        """A node's address on a network of the model (the model's, whatever the provider lists)."""
        record = self.nodes()[node]
        if "addresses" in record:  # the local provider's record
            return record["addresses"][network]
        spec = importlib.util.spec_from_file_location("saltlab_model", self.repo / "_utils" / "saltlab_model.py")
        saltlab_model = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(saltlab_model)
        return saltlab_model.node(self.model, node)["addresses"][network]

    def ssh(self, node, command, **kwargs):
        """
        Run a shell command on a node as root (through the bastion when the
        node has no public address; with sudo when the lab's user is not root).
        """
        return self.run([*self._ssh_argv(node), self.as_root(command)], **kwargs)

    def salt(self, target, *args, timeout=3600):
        """
        `salt TARGET ARGS` on the master; the returns ({minion: return})
        and the exit code, non-zero when a minion's return code is.
        """
        # One JSON document per minion and line. Not --static: Salt 3008's
        # CLI exits 0 with it whatever the minions' return codes.
        proc = self._salt(target, *args, timeout=timeout)
        returns, other = salt_returns(proc.stdout)
        if not returns and other:
            raise RuntimeError(f"salt printed no JSON: {proc.stdout}\n{proc.stderr}")
        return returns, proc.returncode

    def _salt(self, target, *args, timeout=3600):
        command = " ".join(shlex.quote(a) for a in ["salt", target, *args, "--out=json", "--out-indent=-1"])
        return self.ssh(self.master, command, check=False, timeout=timeout)

    def waiting_for(self, minions):
        """
        What the lab is still waiting for ("" when every minion answers
        test.ping), and {minion: return}: SSH to the master, the master
        answering, the minions still silent.
        """
        try:
            proc = self._salt("*", "test.ping", "--timeout=10", timeout=120)
        except subprocess.TimeoutExpired:
            return f"the master {self.master}: salt did not answer in 120 s", {}
        returns, other = salt_returns(proc.stdout)
        if proc.returncode == SSH_FAILED and not returns:
            why = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
            return f"SSH to the master {self.master}: {why}", {}
        if not returns:
            why = (other or proc.stderr.strip().splitlines() or ["no answer"])[0]
            return f"the salt master on {self.master} to answer: {why}", {}
        silent = [m for m in minions if returns.get(m) is not True]
        if silent:
            return f"{len(silent)} of {len(minions)} minions to answer: {', '.join(silent)}", returns
        return "", returns

    def wait_for_minions(self, minions, timeout=180, interval=3, say=None):
        """
        Wait until every minion answers test.ping, saying (``say``, one
        line each time it changes) what it waits for; a master still
        booting (SSH refused, plain text instead of JSON) is waited for too.
        """
        deadline = time.monotonic() + timeout
        said = None
        while True:
            waiting, answered = self.waiting_for(minions)
            if not waiting:
                return answered
            if say and waiting != said:
                say(f"waiting for {waiting}")
                said = waiting
            if time.monotonic() > deadline:
                raise TimeoutError(f"still waiting after {timeout} s for {waiting}")
            time.sleep(interval)

    def apply(self, target="*", *sls, test=False, pillar=None, progress=True):
        """
        `state.apply` on the target (the highstate, or the SLS given), as
        `salt TARGET state.apply` runs it on the master, with a line per
        state as each node runs it on this program's standard error (the
        master's event bus, tools/master_apply.py; `progress=False`: only
        the summary lines); returns {minion: [state result]} and the exit
        status (0 when every minion returned without a failed state).
        """
        argv = [MASTER_PYTHON, "-", shlex.quote(target)] + ([shlex.quote(",".join(sls))] if sls else [])
        argv += ["--test"] if test else []
        argv += ["--pillar", shlex.quote(json.dumps(pillar))] if pillar else []
        if self.echo:
            shown = f"salt {shlex.quote(target)} state.apply {','.join(sls)}".rstrip()
            print(f"$ {shown}  # on the master {self.master}, live progress from its event bus", file=sys.stderr)
        with subprocess.Popen(
            [*self._ssh_argv(self.master), ("" if self.login()[0] == "root" else "sudo ") + " ".join(argv)],
            cwd=self.config_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            proc.stdin.write((self.repo / "tools" / "master_apply.py").read_text())
            proc.stdin.close()
            # the returns (standard output, large) read beside the progress:
            # one pipe left full would stop ssh delivering the other
            out = []
            reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))
            reader.start()
            for line in proc.stderr:
                if progress or not STATE_LINE.match(line):
                    print(line, end="", file=sys.stderr, flush=True)
            reader.join()
            returns = out[0]
        try:
            returns = json.loads(returns)
        except ValueError:
            tail = returns.strip()[-2000:] or "nothing (the connection to the master ended first)"
            raise RuntimeError(f"state.apply on the master returned no JSON: {tail}") from None
        states = {m: list(r.values()) if isinstance(r, dict) else r for m, r in returns.items()}
        return states, proc.returncode

    def highstate(self):
        """The highstate on every minion: {minion: [state result]}."""
        return self.apply()[0]

    def demo(self):
        """
        The demo, as `make demo` runs it: the test image built (or taken
        from its cache) and pushed to the master, then the demo SLS on the
        controller. Returns {minion: [state result]}.
        """
        self.run([self.repo / "tools/build-test-image"])
        self.run([self.config_dir / "tools/push"])
        return self.apply("controller", "demo")[0]

    def select_lab(self, name):
        """
        Make the master deploy pillar/labs/NAME.sls, as an operator would by
        editing pillar/lab.sls and pushing it (tools/push puts the
        checkout's choice back).
        """
        self.ssh(self.master, f"printf 'include:\\n  - labs.{name}\\n' > /srv/saltlab/pillar/lab.sls")

    def clouds_yaml(self):
        """
        The operator's OpenStack client configuration: var/openstack/
        clouds.yaml (0600; clouds saltlab-admin and saltlab-demo through
        the TLS proxy) and the lab CA it trusts, fetched from the network
        node. Returns the clouds.yaml path.
        """
        directory = self.config_dir / "var" / "openstack"
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        ca = directory / "lab-ca.crt"
        ca.write_text(self.ssh(self.master, f"cat {shlex.quote(self.model['entry']['ca'])}").stdout)
        secrets = json.loads((self.config_dir / "pillar" / "secrets.json").read_text())["saltlab"]["secrets"]
        # what the operator reaches: on Google, the master's external address (1:1 NAT), not its NIC's
        proxy = self.nodes()[self.master]["public_ips"][0]
        keystone = self.model["catalog"]["keystone"]
        clouds = {
            f"saltlab-{who}": {
                "auth": {
                    "auth_url": f"https://{proxy}:{keystone.get('public_port', keystone['port'])}{keystone['path']}",
                    "username": who,
                    "password": secrets[password],
                    "project_name": who,
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": self.model["region"],
                "identity_api_version": 3,
                "interface": "public",
                "cacert": str(ca),
            }
            for who, password in (("admin", "keystone_admin"), ("demo", "demo"))
        }
        path = directory / "clouds.yaml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"clouds": clouds}, fh, indent=2)
        os.chmod(path, 0o600)
        return path

    def connect(self, who="admin"):
        """
        An openstacksdk connection as admin or demo, with the operator's
        clouds.yaml: through the proxy, over TLS verified against the lab CA.
        """
        import openstack.config  # pylint: disable=import-outside-toplevel  (the venv's, not the CLI's python3)
        import openstack.connection  # pylint: disable=import-outside-toplevel

        # the clouds.yaml and CA once per lab, not once per connection
        if self._clouds_config is None:
            self._clouds_config = openstack.config.OpenStackConfig(config_files=[str(self.clouds_yaml())])
        return openstack.connection.Connection(config=self._clouds_config.get_one(cloud=f"saltlab-{who}"))

    def servers(self):
        """
        {name: {"host", "status", "fixed", "floating"}} of every server, as
        the lab's admin sees them (fixed and floating: address lists).
        """
        servers = {}
        for server in self.connect().compute.servers(all_projects=True, details=True):
            addresses = [a for network in server.addresses.values() for a in network]
            servers[server.name] = {
                "host": server.compute_host,
                "status": server.status,
                "fixed": [a["addr"] for a in addresses if a.get("OS-EXT-IPS:type") == "fixed"],
                "floating": [a["addr"] for a in addresses if a.get("OS-EXT-IPS:type") == "floating"],
            }
        return servers

    def tcp(self, address, port, line=""):
        """
        From the network node (the external network's gateway): connect to
        address:port, send `line`, close our side; returns what came back
        ("" when nothing answers).
        """
        script = (
            "import socket, sys\n"
            f"s = socket.create_connection(({address!r}, {port}), timeout=30)\n"
            f"s.sendall({line.encode()!r})\n"
            "s.shutdown(socket.SHUT_WR)\n"
            "data = b''\n"
            "while chunk := s.recv(65536):\n"
            "    data += chunk\n"
            "sys.stdout.write(data.decode())\n"
        )
        return self.ssh(self.master, "python3 -", stdin=script, check=False).stdout

    def memory_of(self, node):
        """
        Proportional set size (bytes) of every process in the node's cgroup.
        """
        total = 0
        for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"):
            base = pathlib.Path(root) / "saltlab" / node
            if not base.is_dir():
                continue
            for procs in base.rglob("cgroup.procs"):
                for pid in procs.read_text().split():
                    try:
                        rollup = pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text()
                    except (FileNotFoundError, ProcessLookupError, PermissionError):
                        continue
                    for line in rollup.splitlines():
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
            break
        return total


def wait(lab, timeout):
    """
    `tools/lab.py wait [SECONDS]`: until every node of the lab answers
    `salt '*' test.ping` on the master, saying what it waits for; None, or
    the one line that ends it after the timeout.
    """
    nodes = sorted(lab.nodes())
    if lab.master not in nodes:
        return f"no lab on this machine (no {lab.master} node)"

    def say(line):
        print(line, flush=True)

    try:
        answered = lab.wait_for_minions(nodes, timeout=timeout, interval=5, say=say)
    except TimeoutError as exc:
        return f"tools/lab.py wait: {exc}"
    print(f"{len(answered)} minions answer: {', '.join(sorted(answered))}")
    return None


def no_node(name, nodes):
    """The one line for a node that this machine has not."""
    return f"no node named {name} on this machine (nodes: {', '.join(sorted(nodes)) or 'none'})"


def created(path):
    """
    `tools/lab.py created FILE`: salt-cloud's map run (`--out=json
    --out-file FILE`) made every node, or the one line naming each node it
    did not make and why (salt-cloud logs a node that failed and exits 0).
    """
    try:
        with open(path, encoding="utf-8") as fh:
            result = json.load(fh)
    except (OSError, ValueError) as exc:
        return f"tools/lab.py created: no result of salt-cloud's map run in {path} ({exc})"
    if not isinstance(result, dict) or not result:
        return f"tools/lab.py created: salt-cloud's map run made nothing ({path})"
    failed = {
        name: (ret or {}).get("Error") or "no result"
        for name, ret in sorted(result.items())
        if not isinstance(ret, dict) or "Error" in ret or not ret
    }
    if failed:
        why = "; ".join(f"{name}: {error}" for name, error in failed.items())
        return f"salt-cloud did not make {len(failed)} of {len(result)} nodes: {why} (the others are up; run it again)"
    print(f"{len(result)} nodes made: {', '.join(sorted(result))}")
    return None


def main():
    """
    `python3 tools/lab.py ssh NODE [COMMAND]` opens a shell on a node, or
    runs COMMAND there (one shell command line: quote it whole, as with
    ssh, so that a `*` reaches salt and not the node's shell);
    `python3 tools/lab.py wait [SECONDS]` waits (600 s by default) until every
    node of the lab answers `salt '*' test.ping` on the master (which starts
    slowly on a small host, or after the host rebooted), saying what it
    waits for: SSH to the master, the master answering, the silent minions;
    `python3 tools/lab.py created FILE` fails naming each node that
    salt-cloud's map run (its JSON result in FILE) did not make;
    `python3 tools/lab.py status` exits 0 when every node answers now;
    `python3 tools/lab.py apply [TARGET [SLS]] [--test] [--quiet]` runs
    `salt TARGET state.apply SLS` on the master (the highstate on every
    node by default) with a line per state as each node runs it (--quiet:
    only a line per node when it is done), and exits non-zero when a
    state failed or a node did not return;
    `python3 tools/lab.py clouds` writes the operator's clouds.yaml;
    `python3 tools/lab.py address NODE` prints a node's public address;
    `python3 tools/lab.py nodes` prints the name of every local node, the
    map's and any other (a test's node left by an interrupted run).
    """
    usage = (
        "usage: tools/lab.py ssh NODE [COMMAND] | wait [SECONDS] | created FILE | status"
        " | apply [TARGET [SLS]] [--test] [--quiet]"
        " | clouds | address NODE | nodes"
    )
    if sys.argv[1:] == ["nodes"]:
        print(" ".join(sorted(Lab(echo=False).nodes())))
        return
    if sys.argv[1:2] == ["address"] and len(sys.argv) == 3:
        nodes = Lab(echo=False).nodes()
        if sys.argv[2] not in nodes:
            sys.exit(f"tools/lab.py: {no_node(sys.argv[2], nodes)}")
        print(nodes[sys.argv[2]]["public_ips"][0])
        return
    if sys.argv[1:] == ["clouds"]:
        path = Lab(echo=False).clouds_yaml()
        print(f"OpenStack clients: export OS_CLIENT_CONFIG_FILE={path}")
        print("then e.g. openstack --os-cloud saltlab-admin token issue (or saltlab-demo)")
        return
    if sys.argv[1:2] == ["created"] and len(sys.argv) == 3:
        sys.exit(created(sys.argv[2]))
    if sys.argv[1:2] == ["wait"] and len(sys.argv) <= 3:
        sys.exit(wait(Lab(echo=False), float(sys.argv[2]) if len(sys.argv) == 3 else 600))
    if sys.argv[1:2] == ["apply"]:
        flags = {a for a in sys.argv[2:] if a.startswith("--")}
        words = [a for a in sys.argv[2:] if not a.startswith("--")]
        if flags - {"--test", "--quiet"} or len(words) > 2:
            sys.exit(usage)
        _states, code = Lab(echo=True).apply(*(words or ["*"]), test="--test" in flags, progress="--quiet" not in flags)
        sys.exit(code)
    if sys.argv[1:] == ["status"]:
        lab = Lab(echo=False)
        nodes = sorted(lab.nodes())
        if lab.master not in nodes:
            sys.exit(f"no lab on this machine (no {lab.master} node)")
        waiting, _ = lab.waiting_for(nodes)
        if waiting:
            sys.exit(f"not ready: waiting for {waiting}")
        print(f"{len(nodes)} nodes answer: {', '.join(nodes)}")
        return
    if len(sys.argv) < 3 or sys.argv[1] != "ssh":
        sys.exit(usage)
    lab = Lab(echo=False)
    argv = lab._ssh_argv(sys.argv[2]) + sys.argv[3:]
    os.execvp(argv[0], [str(a) for a in argv])


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as exc:
        # what the lab answered, in one message: no traceback
        sys.exit(f"tools/lab.py: {exc}")
