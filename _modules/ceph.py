"""
A Ceph cluster through its own command-line tools, as the node's
``client.admin`` (``/etc/ceph/ceph.client.admin.keyring``): cephx
identities, OSD ids, pools, health. Salt 3008 has no Ceph module.

Every call asks the monitors (``ceph ... --format json``), giving up after
the connect timeout: a monitor that has just started answers within it, one
that is down makes the call fail. A failure raises CommandExecutionError
with Ceph's own message; a lookup of something that does not exist returns
None.

Minion configuration (optional):

.. code-block:: yaml

    ceph:
      cluster: ceph          # the cluster's name (its /etc/ceph/<cluster>.conf)
      connect_timeout: 60    # seconds

CLI examples:

.. code-block:: bash

    salt storage ceph.health
    salt storage ceph.auth_get client.cinder
    salt storage ceph.pool_get volumes
"""

import json
import logging

import salt.utils.path
from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "ceph"

# a pool size of 1 is refused without this (and mon_allow_pool_size_one)
REALLY = "--yes-i-really-mean-it"


def __virtual__():
    if salt.utils.path.which("ceph"):
        return __virtualname__
    return (False, "the ceph command is not on PATH (install ceph-common)")


def _run(tool, *args, stdin=None, timeout=None, json_out=True):
    """
    Run ``ceph`` (or ``rbd``) against the configured cluster: (retcode,
    stdout, stderr). ``timeout`` bounds the whole command (seconds).
    """
    argv = [tool, "--cluster", __salt__["config.get"]("ceph:cluster", "ceph")]
    if tool == "ceph":
        argv += ["--connect-timeout", str(__salt__["config.get"]("ceph:connect_timeout", 60))]
    argv += list(args)
    if json_out:
        argv += ["--format", "json"]
    ret = __salt__["cmd.run_all"](
        argv, python_shell=False, ignore_retcode=True, stdin=stdin, timeout=timeout, output_loglevel="quiet"
    )
    return ret["retcode"], ret["stdout"], ret["stderr"].strip()


def _ceph(*args, what, missing=False, **kwargs):
    """
    ``ceph ARGS``: its JSON output parsed ({} when there is none); None
    when it says ENOENT and ``missing`` allows that. Else
    CommandExecutionError("<what>: <Ceph's message>").
    """
    retcode, stdout, stderr = _run("ceph", *args, **kwargs)
    if retcode != 0:
        if missing and "ENOENT" in stderr:
            return None
        raise CommandExecutionError(f"{what}: {stderr or f'ceph exited {retcode}'}")
    if not kwargs.get("json_out", True) or not stdout.strip():
        return {}
    try:
        return json.loads(stdout)
    except ValueError as exc:
        raise CommandExecutionError(f"{what}: ceph printed no JSON ({exc}): {stdout[:200]}") from None


def keyring(name, key, caps=None):
    """
    The keyring file's text for the entity ``name`` with ``key`` and its
    ``caps`` ({"mon": "profile rbd", ...}), as Ceph's tools write it.

    CLI Example:

    .. code-block:: bash

        salt storage ceph.keyring client.cinder AQ...== '{mon: profile rbd}'
    """
    lines = [f"[{name}]", f"\tkey = {key}"]
    lines += [f'\tcaps {daemon} = "{cap}"' for daemon, cap in sorted((caps or {}).items())]
    return "\n".join(lines) + "\n"


def auth_get(name):
    """
    The cephx entity ``name`` (``client.cinder``, ``osd.0``, ``mgr.storage``):
    ``{"key": ..., "caps": {daemon: caps}}``, or None when there is none.

    CLI Example:

    .. code-block:: bash

        salt storage ceph.auth_get client.cinder
    """
    found = _ceph("auth", "get", name, what=f"reading cephx entity {name}", missing=True)
    if not found:
        return None
    return {"key": found[0]["key"], "caps": found[0].get("caps", {})}


def auth_import(name, key, caps):
    """
    Make the cephx entity ``name`` have ``key`` and exactly ``caps`` (made
    when it does not exist; its key and caps replaced when it does).

    CLI Example:

    .. code-block:: bash

        salt storage ceph.auth_import client.cinder AQ...== '{mon: profile rbd, osd: "profile rbd pool=volumes"}'
    """
    _ceph("auth", "import", "-i", "-", stdin=keyring(name, key, caps), what=f"importing cephx entity {name}")
    return True


def osd_get(osd_id):
    """
    The OSD ``osd_id`` as the OSD map has it: ``{"uuid", "up", "in"}``
    (up and in as booleans), or None when there is no such OSD.

    CLI Example:

    .. code-block:: bash

        salt storage ceph.osd_get 0
    """
    dump = _ceph("osd", "dump", what="reading the OSD map")
    for osd in dump.get("osds", []):
        if osd["osd"] == int(osd_id):
            return {"uuid": osd["uuid"], "up": bool(osd["up"]), "in": bool(osd["in"])}
    return None


def osd_new(osd_id, uuid):
    """
    Add the OSD ``osd_id`` with the UUID its data will carry (``ceph osd
    new``: no key of its own here, the caller makes its cephx entity).

    CLI Example:

    .. code-block:: bash

        salt storage ceph.osd_new 0 122e4e28-01d5-4853-86a0-08e9564c7ffe
    """
    _ceph("osd", "new", str(uuid), str(osd_id), what=f"adding OSD {osd_id}")
    return True


def pool_get(name):
    """
    The pool ``name``: ``{"size", "min_size", "quota_bytes", "pg_num",
    "applications": [names]}`` (a quota of 0 is none), or None when there
    is no such pool.

    CLI Example:

    .. code-block:: bash

        salt storage ceph.pool_get volumes
    """
    for pool in _ceph("osd", "pool", "ls", "detail", what="listing the pools"):
        if pool["pool_name"] == name:
            return {
                "size": pool["size"],
                "min_size": pool["min_size"],
                "quota_bytes": pool["quota_max_bytes"],
                "pg_num": pool["pg_num"],
                "applications": sorted(pool.get("application_metadata", {})),
            }
    return None


def pool_create(name):
    """
    Make the replicated pool ``name`` (the cluster's default size and
    placement groups; the PG autoscaler sizes these after).

    CLI Example:

    .. code-block:: bash

        salt storage ceph.pool_create volumes
    """
    _ceph("osd", "pool", "create", name, what=f"creating pool {name}", json_out=False)
    return True


def pool_set(name, variable, value):
    """
    Set a pool's ``variable`` (``size``, ``min_size``...). A size of 1
    needs the monitors' ``mon_allow_pool_size_one``.

    CLI Example:

    .. code-block:: bash

        salt storage ceph.pool_set volumes size 1
    """
    extra = [REALLY] if variable == "size" and int(value) == 1 else []
    _ceph("osd", "pool", "set", name, variable, str(value), *extra, what=f"setting {variable} of pool {name}")
    return True


def pool_set_quota(name, max_bytes):
    """
    Set the pool's quota of bytes (0: none). A pool at its quota refuses
    writes; the cluster stays healthy.

    CLI Example:

    .. code-block:: bash

        salt storage ceph.pool_set_quota volumes 6442450944
    """
    _ceph("osd", "pool", "set-quota", name, "max_bytes", str(int(max_bytes)), what=f"setting the quota of pool {name}")
    return True


def pool_application_enable(name, application, timeout=300):
    """
    Enable ``application`` on the pool. For ``rbd`` this is ``rbd pool
    init``, which also writes RBD's first objects into the pool: it waits
    (at most ``timeout`` seconds) until the pool's placement groups are
    active, so an OSD must be up.

    CLI Example:

    .. code-block:: bash

        salt storage ceph.pool_application_enable volumes rbd
    """
    if application == "rbd":
        retcode, _out, stderr = _run("rbd", "pool", "init", name, timeout=timeout, json_out=False)
        if retcode != 0:
            raise CommandExecutionError(
                f"rbd pool init {name}: {stderr or f'exited {retcode}'}"
                + (" (after the timeout: are the pool's placement groups active? ceph -s)" if not stderr else "")
            )
        return True
    _ceph("osd", "pool", "application", "enable", name, application, what=f"enabling {application} on pool {name}")
    return True


def health():
    """
    The cluster's health: ``{"status": "HEALTH_OK" | "HEALTH_WARN" |
    "HEALTH_ERR", "checks": {code: its summary}, "muted": [codes]}``.

    CLI Example:

    .. code-block:: bash

        salt storage ceph.health
    """
    found = _ceph("health", "detail", what="reading the cluster's health")
    return {
        "status": found["status"],
        "checks": {code: check["summary"]["message"] for code, check in found.get("checks", {}).items()},
        "muted": sorted(mute["code"] for mute in found.get("mutes", [])),
    }
