"""
The life cycle of a lab node, the same for every driver (``_clouds/``):

create: check (the driver refuses bad input; nothing is made) -> the
node's lab settings (its ``roles`` grain, its master's management address)
-> ``creating`` event -> make (the driver: the machine up, SSH listening)
-> the SSH host and gateway -> its host keys recorded -> its minion key on
the lab's master -> deploy (salt-cloud's ``cloud.bootstrap``) -> a new
master is published (``var/bastion``, ``tools/push``) -> ``created`` event.
Whatever fails after the check removes what was made.

destroy: the driver's delete, then its host keys and its key on the lab's
master go; a step that fails does not stop the others, and is reported
after them; the ``destroyed`` event and salt-cloud's minion cache last.

A driver hands ``Cloud.create``/``Cloud.destroy`` (``saltlab_cloud``) its
operations, a mapping of callables:

- ``check(vm_, deploy)`` -> plan: a dict with ``model``, ``node`` (the
  model's node, or None for a node outside the model), ``keyfile``, ``user`` (the
  SSH user), ``public`` (has a public NIC), ``gateway`` (the master's
  public address, for a node without one that is deployed);
- ``make(plan)``: sets ``plan["public_address"]`` (what the operator reaches),
  ``plan["addresses"]`` ({network: address});
- ``grains(plan)`` (optional): grains the node gets that are known only
  once it is made (e.g. an address the cloud gave it outside the VM);
- ``host_keys(plan)`` (optional): the node's SSH host public keys, or None
  (then the first key seen is trusted, and recorded);
- ``remove(plan)``: what ``make`` made, gone (safe on a half-made node);
- ``describe(plan)``: what salt-cloud prints of the new node;
- ``lookup(name)``: the node to destroy (raises when there is none);
- ``delete(found)``: removes it (raising at the end when a step failed);
  returns extra keys for the destroy's answer;
- ``addresses(found)``: its addresses (host keys are recorded under them).
"""

import contextlib
import fcntl
import logging
import os
import shlex
import subprocess
import sys
import tempfile
import time

import salt.config as config
from salt.exceptions import SaltCloudException, SaltCloudSystemExit

log = logging.getLogger(__name__)

KNOWN_HOSTS = "var/ssh/known_hosts"
BASTION = "var/bastion"
PKI = "/etc/salt/pki/master"


def life(cloud):
    """
    The life cycle bound to a driver's ``saltlab_cloud.Cloud``. Its methods
    run where the driver calls them, under the driver's loader, so that the
    driver's operations they call back find the driver's dunders.
    """
    return Life(cloud)


class Life:
    """See :func:`life`."""

    def __init__(self, cloud):
        self.cloud = cloud

    def create(self, vm_, ops):
        """See :func:`create`."""
        return create(self.cloud, vm_, ops)

    def destroy(self, name, call, ops):
        """See :func:`destroy`."""
        return destroy(self.cloud, name, call, ops)


# ---------------------------------------------------------------------------
# create


def create(cloud, vm_, ops):
    """
    Make a node from a profile and deploy Salt on it; see the module.
    """
    deploy = config.get_cloud_config_value("deploy", vm_, cloud.opts, default=True) is not False
    plan = ops["check"](vm_, deploy)  # the node's name first: each driver says what kind of name
    name = plan["name"] = vm_["name"]
    _lab_settings(cloud, vm_, plan)
    cloud.fire(name, "starting create", "creating", vm_=vm_)
    try:
        ops["make"](plan)
        learnt = ops["grains"](plan) if "grains" in ops else None
        if learnt:
            vm_["grains"] = dict(vm_.get("grains") or {}, **learnt)
        _ssh_target(cloud, vm_, plan)
        _host_keys(cloud, vm_, plan, ops.get("host_keys"), deploy)
        if deploy:
            ret = _deploy(cloud, vm_, plan)
        else:
            cloud.progress(name, "up; Salt not deployed (deploy: False)")
            ret = {}
    except BaseException:
        cloud.progress(name, "creation failed; removing what was made for it")
        # its key too, which salt-cloud accepted on the master before the
        # minion started: a highstate of '*' would wait for the node
        for undo in (
            lambda: ops["remove"](plan),
            lambda: forget_host_keys(cloud, name, _addresses(plan)),
            lambda: _forget_on_master(cloud, name, _addresses(plan)),
        ):
            try:
                undo()
            except (OSError, SaltCloudException) as exc:
                cloud.progress(name, f"cleaning up failed too: {exc}")
        raise
    cloud.deployed(ret, keep_empty=False)
    ret.update(ops["describe"](plan))
    cloud.fire(name, "created instance", "created", vm_=vm_)
    cloud.progress(name, "ready" + (f" at {plan['public_address']}" if plan.get("public") else ""))
    return ret


def _lab_settings(cloud, vm_, plan):
    """
    A node of the model gets its roles as the ``roles`` grain and its
    master's management address as ``master`` (computed, never typed);
    the master listens there only, from its first start.
    """
    node, model = plan.get("node"), plan.get("model")
    if node is None:
        return
    plan["management_address"] = node["addresses"][model["purposes"]["management"]]
    master = cloud.utils["saltlab_model.master_address"](model)
    vm_["grains"] = dict(vm_.get("grains") or {}, roles=list(node["roles"]))
    vm_["minion"] = dict(vm_.get("minion") or {}, master=master)
    if node["kind"] == model["master"]:
        vm_["master"] = dict(vm_.get("master") or {}, interface=master)


def _ssh_target(cloud, vm_, plan):
    """
    The one choice of how salt-cloud reaches a node: its public address, or
    its management address through the master's public one (a node without
    a public NIC, or one the driver gives a gateway: on Google, where only
    the master lets the operator in).
    """
    if plan.get("public") and not plan.get("gateway"):
        vm_["ssh_host"] = plan["public_address"]
    else:
        vm_["ssh_host"] = plan["management_address"]
        if plan.get("gateway"):
            vm_["gateway"] = {
                "ssh_gateway": plan["gateway"],
                "ssh_gateway_user": plan["user"],
                "ssh_gateway_key": plan["keyfile"],
                "ssh_gateway_command": "-W %h:%p",
            }
    vm_["key_filename"] = plan["keyfile"]
    vm_["ssh_username"] = plan["user"]


def _deploy(cloud, vm_, plan):
    """
    Salt on the node: its key on the lab's master first (a node added to a
    running lab), salt-cloud's bootstrap, and a new master published.
    """
    name = plan["name"]
    make_master = config.get_cloud_config_value("make_master", vm_, cloud.opts) is True
    if plan.get("node") is not None and not make_master:
        accept_key(cloud, name, vm_.get("pub_key"))
    gateway = vm_.get("gateway", {}).get("ssh_gateway")
    cloud.progress(
        name,
        f"deploying Salt over SSH to {plan['user']}@{vm_['ssh_host']}" + (f" via {gateway}" if gateway else ""),
    )
    ret = _bootstrap(cloud, vm_, name)
    if make_master:
        publish_master(cloud, name, vm_["ssh_host"], plan["keyfile"], plan["user"])
    return ret


def _bootstrap(cloud, vm_, name, tries=3, pause=5):
    """
    salt-cloud's bootstrap; a command whose SSH connection failed (exit
    code 255: seen once on a node just booted, right after its first login
    succeeded) is tried again, with the whole bootstrap (its steps can be
    repeated).
    """
    for attempt in range(1, tries + 1):
        try:
            return cloud.utils["cloud.bootstrap"](vm_, cloud.opts)
        except SaltCloudSystemExit as exc:
            if not str(exc).endswith("failed. Exit code: 255") or attempt == tries:
                raise
            cloud.progress(name, f"SSH lost its connection ({exc}); trying again in {pause} s")
            time.sleep(pause)


def publish_master(cloud, name, host, keyfile, user):
    """
    Record the new master as the bastion (``var/bastion``: its address, the
    key and the SSH user, who uses sudo when not root) and push the state
    tree and pillar to it (``tools/push``).
    """
    path = cloud.config_path(BASTION)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"bastion_host={host}\nbastion_key={keyfile}\nbastion_user={user}\n")
    cloud.progress(name, f"pushing the state tree and pillar to the master as {user} (tools/push)")
    try:
        proc = subprocess.run([cloud.config_path("tools/push"), host], stdout=sys.stderr, check=False)
    except OSError as exc:
        raise SaltCloudSystemExit(f"{cloud.name}: cannot run tools/push: {exc}") from None
    if proc.returncode != 0:
        raise SaltCloudSystemExit(f"{cloud.name}: tools/push to the new master {host} failed (see above)")


# ---------------------------------------------------------------------------
# destroy


def destroy(cloud, name, call, ops):
    """
    Remove a node whole; see the module.
    """
    cloud.destroy_call(call)
    found = ops["lookup"](name)
    addresses = ops["addresses"](found)
    cloud.fire(name, "destroying instance", "destroying", {"name": name})
    cloud.progress(name, ops.get("destroying", "destroying"))
    failures = []
    extra = {}
    try:
        extra = ops["delete"](found) or {}
    except SaltCloudException as exc:
        failures.append(str(exc))
    forget_host_keys(cloud, name, addresses)
    try:
        _forget_on_master(cloud, name, addresses)
    except SaltCloudException as exc:
        failures.append(str(exc))
    if failures:
        raise SaltCloudSystemExit("; ".join(failures))
    cloud.fire(name, "destroyed instance", "destroyed", {"name": name})
    cloud.forget_minion(name)
    return dict({"destroyed": name}, **extra)


def _forget_on_master(cloud, name, addresses):
    """
    A destroyed node's key (and with it its mine data) leaves the lab's
    master; the master itself takes its record (var/bastion) with it.
    """
    bastion = read_bastion(cloud)
    if not bastion:
        return
    if bastion["bastion_host"] in addresses:
        os.unlink(cloud.config_path(BASTION))
        return
    try:
        model = cloud.model()
        node = cloud.lab_node(name, model)
    except SaltCloudException:
        return  # not a node of the lab: its master never had its key
    if node["kind"] == model["master"]:
        return
    proc = master_run(cloud, bastion, f"salt-key -y -d {shlex.quote(name)}")
    if proc is None:
        cloud.progress(name, "the lab's master does not answer: no key to delete there")
    elif proc.returncode != 0:
        raise SaltCloudSystemExit(f"{cloud.name}: deleting {name}'s key on the master failed: {proc.stderr.strip()}")


# ---------------------------------------------------------------------------
# the lab's master, over SSH


def read_bastion(cloud):
    """
    ``var/bastion`` ({bastion_host, bastion_key, bastion_user}), or None
    when no master is recorded.
    """
    try:
        with open(cloud.config_path(BASTION), encoding="utf-8") as fh:
            pairs = [line.strip().split("=", 1) for line in fh if "=" in line]
    except FileNotFoundError:
        return None
    bastion = dict(pairs)
    bastion.setdefault("bastion_user", "root")
    return bastion if bastion.get("bastion_host") and bastion.get("bastion_key") else None


def ssh_options(cloud, keyfile):
    """
    How the operator's side logs in to a node: the key only, no prompt,
    host keys checked against var/ssh/known_hosts.
    """
    return [
        "-i",
        keyfile,
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "LogLevel=ERROR",
        "-o",
        f"UserKnownHostsFile={cloud.config_path(KNOWN_HOSTS)}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "HashKnownHosts=no",
    ]


def master_run(cloud, bastion, command, stdin=None):
    """
    A shell command on the lab's master as root (sudo for another user);
    None when the master cannot be reached (gone, or not up).
    """
    user = bastion["bastion_user"]
    remote = command if user == "root" else f"sudo sh -c {shlex.quote(command)}"
    argv = ["ssh", *ssh_options(cloud, bastion["bastion_key"]), f"{user}@{bastion['bastion_host']}", remote]
    try:
        feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, **feed)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("ssh to the master: %s", exc)
        return None
    # ssh's own failures (no route, refused, timeout) exit 255
    return None if proc.returncode == 255 else proc


def accept_key(cloud, name, public_key):
    """
    The new minion's key, accepted on the lab's master before the minion
    starts: a node added to a running lab is never left pending (salt-cloud
    pre-seeds keys only on a master it makes in the same run; this is the
    same key there, written again).
    """
    bastion = read_bastion(cloud)
    if not public_key or not bastion:
        cloud.progress(name, "no lab master recorded (var/bastion): its key is accepted when the map makes one")
        return
    quoted = shlex.quote(name)
    command = (
        f"install -d -m 0700 {PKI}/minions && cat > {PKI}/minions/.{quoted}.new && "
        f"mv -f {PKI}/minions/.{quoted}.new {PKI}/minions/{quoted} && "
        f"rm -f {PKI}/minions_pre/{quoted} {PKI}/minions_rejected/{quoted} {PKI}/minions_denied/{quoted}"
    )
    cloud.progress(name, f"accepting its minion key on the master {bastion['bastion_host']}")
    proc = master_run(cloud, bastion, command, stdin=public_key)
    if proc is None or proc.returncode != 0:
        why = "it does not answer SSH" if proc is None else proc.stderr.strip()
        raise SaltCloudSystemExit(
            f"{cloud.name}: cannot accept {name}'s key on the master {bastion['bastion_host']}: {why}"
        )


# ---------------------------------------------------------------------------
# SSH host keys (var/ssh/known_hosts)


@contextlib.contextmanager
def _known_hosts(cloud):
    """
    The known_hosts lines, to change under a lock (parallel creates);
    written back atomically.
    """
    path = cloud.config_path(KNOWN_HOSTS)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            lines = []
        before = list(lines)
        yield lines
        if lines != before:
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".known_hosts.")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("".join(line + "\n" for line in lines))
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)


def _names_any(line, name, addresses):
    fields = line.split()
    if not fields or line.startswith("#"):
        return False
    return fields[-1] == f"saltlab:{name}" or bool(set(fields[0].split(",")) & set(addresses))


def record_host_keys(cloud, name, addresses, keys):
    """
    The node's host keys under each of its addresses (what was there for
    those addresses before goes: an older node's).
    """
    addresses = sorted(set(addresses))
    with _known_hosts(cloud) as lines:
        lines[:] = [line for line in lines if not _names_any(line, name, addresses)]
        lines.extend(f"{','.join(addresses)} {' '.join(key.split()[:2])} saltlab:{name}" for key in keys)


def forget_host_keys(cloud, name, addresses):
    """
    A node's host keys leave var/ssh/known_hosts with it.
    """
    addresses = list(addresses)
    with _known_hosts(cloud) as lines:
        lines[:] = [line for line in lines if not _names_any(line, name, addresses)]


def _host_keys(cloud, vm_, plan, host_keys, deploy):
    """
    The node's host keys as the driver knows them from where it made the
    node, or else, for a node Salt is deployed on, the first ones it shows
    (trust on first use); salt-cloud's deploy then checks them.
    """
    keys = host_keys(plan) if host_keys else None
    if keys:
        record_host_keys(cloud, plan["name"], _addresses(plan), keys)
    elif deploy:
        _first_use(cloud, vm_, plan)
    vm_["known_hosts_file"] = cloud.config_path(KNOWN_HOSTS)


def _addresses(plan):
    """Every address of a new node: its NICs', and what the operator reaches."""
    addresses = list((plan.get("addresses") or {}).values())
    if plan.get("public_address"):
        addresses.append(plan["public_address"])
    return addresses


def _first_use(cloud, vm_, plan):
    """
    Log in once, recording the key the node shows (the gateway's is known
    already), until it answers or ``ssh_connect_timeout`` passes.
    """
    name = plan["name"]
    cloud.progress(name, f"its host keys are not published: trusting the first one {vm_['ssh_host']} shows")
    options = ssh_options(cloud, plan["keyfile"])
    options[options.index("StrictHostKeyChecking=yes")] = "StrictHostKeyChecking=accept-new"
    if vm_.get("gateway"):
        jump = " ".join(
            ["ssh", *map(shlex.quote, ssh_options(cloud, plan["keyfile"])), "-W", "%h:%p"]
            + [f"{plan['user']}@{plan['gateway']}"]
        )
        options += ["-o", f"ProxyCommand={jump}"]
    deadline = time.monotonic() + float(cloud.setting("ssh_connect_timeout", vm_) or 600)
    while True:
        proc = subprocess.run(
            ["ssh", *options, f"{plan['user']}@{vm_['ssh_host']}", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 0:
            return
        if "Host key verification failed" in proc.stderr or time.monotonic() > deadline:
            raise SaltCloudSystemExit(f"{cloud.name}: SSH to {name} ({vm_['ssh_host']}): {proc.stderr.strip()}")
        time.sleep(5)
