"""
A Ceph cluster's cephx identities, OSD ids and pools as states, on the
``ceph`` execution module (the node's ``client.admin``). Each state asks
the cluster what is there, changes only the difference, says so in
``changes`` (keys hidden) and writes nothing under ``test=True``; Ceph's
message fails it otherwise.

.. code-block:: yaml

    ceph-client-cinder:
      ceph.auth_present:
        - name: client.cinder
        - key: AQ...==
        - caps:
            mon: profile rbd
            osd: profile rbd pool=volumes

    ceph-osd-0:
      ceph.osd_present:
        - name: 0
        - uuid: 122e4e28-01d5-4853-86a0-08e9564c7ffe

    ceph-pool-volumes:
      ceph.pool_present:
        - name: volumes
        - size: 1
        - quota_gb: 6
        - application: rbd
"""

import functools

from salt.exceptions import CommandExecutionError

__virtualname__ = "ceph"

HIDDEN = "********"
GIB = 1 << 30


def __virtual__():
    if "ceph.auth_get" in __salt__:
        return __virtualname__
    return (False, "the ceph execution module is not loaded (no ceph command)")


def _ceph_errors_fail(state):
    """Ceph's message fails the state, not a traceback."""

    @functools.wraps(state)
    def wrapper(name, *args, **kwargs):
        try:
            return state(name, *args, **kwargs)
        except CommandExecutionError as exc:
            return {"name": name, "result": False, "comment": str(exc), "changes": {}}

    return wrapper


def _apply(name, what, current, wanted, change, shown=None):
    """
    ``what`` (e.g. "cephx entity client.cinder") made or brought to the
    ``wanted`` fields: ``change(diff)`` with the fields that differ (all
    of them when ``current`` is None). ``shown`` maps a field to what the
    changes show of it.
    """
    shown = shown or {}

    def show(values):
        return {field: shown.get(field, value) for field, value in values.items()}

    ret = {"name": name, "result": True, "comment": f"{what} is as wanted", "changes": {}}
    diff = wanted if current is None else {f: v for f, v in wanted.items() if current.get(f) != v}
    if not diff:
        return ret
    verb = "created" if current is None else "updated"
    ret["changes"] = {
        "old": None if current is None else show({f: current.get(f) for f in diff}),
        "new": show(diff),
    }
    if __opts__["test"]:
        ret.update(result=None, comment=f"{what} would be {verb}")
        return ret
    change(diff)
    ret["comment"] = f"{what} {verb}"
    return ret


@_ceph_errors_fail
def auth_present(name, key, caps):
    """
    The cephx entity ``name`` exists with ``key`` and exactly ``caps``
    ({daemon: caps}).
    """
    current = __salt__["ceph.auth_get"](name)
    wanted = {"key": key, "caps": dict(caps)}
    return _apply(
        name,
        f"cephx entity {name}",
        current,
        wanted,
        lambda _diff: __salt__["ceph.auth_import"](name, key, dict(caps)),
        shown={"key": HIDDEN},
    )


@_ceph_errors_fail
def osd_present(name, uuid):
    """
    The OSD map has the OSD ``name`` (its id) with ``uuid`` (the UUID its
    data carries). One with another UUID is an error: that OSD is another
    disk's, and is not replaced silently.
    """
    osd_id = int(name)
    current = __salt__["ceph.osd_get"](osd_id)
    if current is not None and current["uuid"] != uuid:
        return {
            "name": name,
            "result": False,
            "changes": {},
            "comment": f"OSD {osd_id} exists with the UUID {current['uuid']}, not {uuid}: another OSD's"
            f" (ceph osd purge {osd_id} --yes-i-really-mean-it, if its data is to go)",
        }
    return _apply(
        name,
        f"OSD {osd_id}",
        None if current is None else {"uuid": current["uuid"]},
        {"uuid": uuid},
        lambda _diff: __salt__["ceph.osd_new"](osd_id, uuid),
    )


@_ceph_errors_fail
def pool_present(name, size=1, quota_gb=None, application=None, init_timeout=300):
    """
    The replicated pool ``name`` exists with ``size`` copies (and as many
    needed for I/O), a quota of ``quota_gb`` GiB when given, and
    ``application`` enabled when given (``rbd``: ``rbd pool init``, which
    waits up to ``init_timeout`` seconds for the pool's placement groups).
    """
    current = __salt__["ceph.pool_get"](name)
    wanted = {"size": size, "min_size": size}
    if quota_gb is not None:
        wanted["quota_bytes"] = int(quota_gb * GIB)
    if application is not None and (current is None or application not in current["applications"]):
        wanted["applications"] = sorted(set(current["applications"] if current else []) | {application})

    def change(diff):
        if current is None:
            __salt__["ceph.pool_create"](name)
        made = __salt__["ceph.pool_get"](name) if current is None else current
        for variable in ("size", "min_size"):
            if made[variable] != size:
                __salt__["ceph.pool_set"](name, variable, size)
        if "quota_bytes" in diff:
            __salt__["ceph.pool_set_quota"](name, wanted["quota_bytes"])
        if "applications" in diff:
            __salt__["ceph.pool_application_enable"](name, application, timeout=init_timeout)

    return _apply(name, f"pool {name}", current, wanted, change)
