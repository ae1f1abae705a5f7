"""
OpenStack resources as states, on the ``openstack`` execution module:
Keystone projects, users, role grants, catalog services and endpoints, Nova
flavors and Neutron networks. Every state compares what exists with what it
is given, changes only the difference, reports it in ``changes`` and writes
nothing under ``test=True``.

.. code-block:: yaml

    glance-keystone-endpoint-public:
      openstack.endpoint_present:
        - service: glance
        - interface: public
        - url: http://192.168.1.11:9292
        - region: RegionOne

Each state takes ``cloud`` (a name in ``clouds.yaml``), as the execution
module does.
"""

import functools

from salt.exceptions import CommandExecutionError

__virtualname__ = "openstack"

# Shown in changes instead of a password.
HIDDEN = "********"


def __virtual__():
    if "openstack.project_get" in __salt__:
        return __virtualname__
    return (False, "the openstack execution module is not loaded (openstacksdk missing?)")


def _api_errors_fail(state):
    """An API failure makes the state fail with its message, not a traceback."""

    @functools.wraps(state)
    def wrapper(name, *args, **kwargs):
        try:
            return state(name, *args, **kwargs)
        except CommandExecutionError as exc:
            return {"name": name, "result": False, "comment": str(exc), "changes": {}}

    return wrapper


def _present(name, what, current, wanted, create, update):
    """
    Make ``what`` (e.g. "project demo") exist with the ``wanted`` fields:
    ``create()`` when ``current`` is None, else ``update(diff)`` with the
    fields that differ.
    """
    ret = {"name": name, "result": True, "comment": "", "changes": {}}
    if current is None:
        ret["changes"] = {"old": None, "new": wanted}
        if __opts__["test"]:
            ret.update(result=None, comment=f"{what} would be created")
            return ret
        create()
        ret["comment"] = f"{what} created"
        return ret
    diff = {field: value for field, value in wanted.items() if current.get(field) != value}
    if not diff:
        ret["comment"] = f"{what} is already as wanted"
        return ret
    ret["changes"] = {"old": {field: current.get(field) for field in diff}, "new": diff}
    if __opts__["test"]:
        ret.update(result=None, comment=f"{what} would be updated")
        return ret
    update(diff)
    ret["comment"] = f"{what} updated"
    return ret


def _absent(name, what, current, delete):
    """Make ``what`` not exist: ``delete()`` unless ``current`` is None."""
    ret = {"name": name, "result": True, "comment": f"{what} is already absent", "changes": {}}
    if current is None:
        return ret
    ret["changes"] = {"old": current, "new": None}
    if __opts__["test"]:
        ret.update(result=None, comment=f"{what} would be deleted")
        return ret
    delete()
    ret["comment"] = f"{what} deleted"
    return ret


@_api_errors_fail
def project_present(name, description="", domain="default", cloud=None):
    """The project ``name`` exists, enabled, with ``description``."""
    where = {"domain": domain, "cloud": cloud}
    return _present(
        name, f"project {name}", __salt__["openstack.project_get"](name, **where),
        {"description": description, "is_enabled": True},
        lambda: __salt__["openstack.project_create"](name, description=description, **where),
        lambda diff: __salt__["openstack.project_update"](name, **diff, **where))


@_api_errors_fail
def project_absent(name, domain="default", cloud=None):
    where = {"domain": domain, "cloud": cloud}
    return _absent(name, f"project {name}", __salt__["openstack.project_get"](name, **where),
                   lambda: __salt__["openstack.project_delete"](name, **where))


@_api_errors_fail
def user_present(name, password, default_project=None, domain="default", cloud=None):
    """
    The user ``name`` exists with ``default_project`` and a password that
    Keystone accepts as ``password`` (tried by logging in; set when it fails).
    """
    where = {"domain": domain, "cloud": cloud}
    current = __salt__["openstack.user_get"](name, **where)
    wanted = {"default_project": default_project, "password": HIDDEN}
    if current is not None:
        # Same password: the comparison passes. Else it shows as a change.
        valid = __salt__["openstack.user_password_valid"](name, password, **where)
        current = dict(current, password=HIDDEN if valid else "(another)")

    def update(diff):
        __salt__["openstack.user_update"](
            name, password=password if "password" in diff else None,
            default_project=diff.get("default_project"), **where)

    return _present(
        name, f"user {name}", current, wanted,
        lambda: __salt__["openstack.user_create"](name, password, default_project=default_project, **where),
        update)


@_api_errors_fail
def user_absent(name, domain="default", cloud=None):
    where = {"domain": domain, "cloud": cloud}
    return _absent(name, f"user {name}", __salt__["openstack.user_get"](name, **where),
                   lambda: __salt__["openstack.user_delete"](name, **where))


@_api_errors_fail
def role_granted(name, user, project, domain="default", cloud=None):
    """``user`` has the role ``name`` on ``project``."""
    args = (name, user, project)
    where = {"domain": domain, "cloud": cloud}
    granted = __salt__["openstack.role_granted"](*args, **where)
    return _present(
        name, f"role {name} of {user} on {project}", {"granted": True} if granted else None,
        {"granted": True}, lambda: __salt__["openstack.role_grant"](*args, **where), None)


@_api_errors_fail
def role_revoked(name, user, project, domain="default", cloud=None):
    """``user`` does not have the role ``name`` on ``project``."""
    args = (name, user, project)
    where = {"domain": domain, "cloud": cloud}
    granted = __salt__["openstack.role_granted"](*args, **where)
    return _absent(name, f"role {name} of {user} on {project}", {"granted": True} if granted else None,
                   lambda: __salt__["openstack.role_revoke"](*args, **where))


@_api_errors_fail
def service_present(name, type, description="", cloud=None):  # pylint: disable=redefined-builtin
    """The catalog has one service ``name`` of ``type``, enabled."""
    return _present(
        name, f"service {name}", __salt__["openstack.service_get"](name, cloud=cloud),
        {"type": type, "description": description, "is_enabled": True},
        lambda: __salt__["openstack.service_create"](name, type, description=description, cloud=cloud),
        lambda diff: __salt__["openstack.service_update"](name, cloud=cloud, **diff))


@_api_errors_fail
def service_absent(name, cloud=None):
    """No service ``name`` (Keystone deletes its endpoints with it)."""
    return _absent(name, f"service {name}", __salt__["openstack.service_get"](name, cloud=cloud),
                   lambda: __salt__["openstack.service_delete"](name, cloud=cloud))


@_api_errors_fail
def endpoint_present(name, service, interface, url, region="RegionOne", cloud=None):
    """``service`` has one ``interface`` endpoint in ``region``, at ``url``."""
    where = {"region": region, "cloud": cloud}
    return _present(
        name, f"the {interface} endpoint of {service}",
        __salt__["openstack.endpoint_get"](service, interface, **where), {"url": url},
        lambda: __salt__["openstack.endpoint_create"](service, interface, url, **where),
        lambda _diff: __salt__["openstack.endpoint_update"](service, interface, url, **where))


@_api_errors_fail
def endpoint_absent(name, service, interface, region="RegionOne", cloud=None):
    where = {"region": region, "cloud": cloud}
    return _absent(name, f"the {interface} endpoint of {service}",
                   __salt__["openstack.endpoint_get"](service, interface, **where),
                   lambda: __salt__["openstack.endpoint_delete"](service, interface, **where))


@_api_errors_fail
def flavor_present(name, vcpus, ram, disk=0, is_public=True, cloud=None):
    """
    The flavor ``name`` has these sizes. Nova cannot change a flavor: a
    different one is deleted and made again (servers keep their sizes).
    """
    wanted = {"vcpus": vcpus, "ram": ram, "disk": disk, "is_public": is_public}

    def create():
        __salt__["openstack.flavor_create"](name, cloud=cloud, **wanted)

    def replace(_diff):
        __salt__["openstack.flavor_delete"](name, cloud=cloud)
        create()

    return _present(name, f"flavor {name}", __salt__["openstack.flavor_get"](name, cloud=cloud), wanted,
                    create, replace)


@_api_errors_fail
def flavor_absent(name, cloud=None):
    return _absent(name, f"flavor {name}", __salt__["openstack.flavor_get"](name, cloud=cloud),
                   lambda: __salt__["openstack.flavor_delete"](name, cloud=cloud))


@_api_errors_fail
def network_present(name, provider_network_type=None, provider_physical_network=None,
                    is_router_external=False, is_shared=False, mtu=None, cloud=None):
    """
    The network ``name`` exists. Its provider type and physical network are
    fixed when it is made (a network that differs there is an error: it may
    have ports); external, shared and MTU are updated.
    """
    current = __salt__["openstack.network_get"](name, cloud=cloud)
    fixed = {"provider_network_type": provider_network_type,
             "provider_physical_network": provider_physical_network}
    wanted = {"is_router_external": is_router_external, "is_shared": is_shared}
    if mtu is not None:
        wanted["mtu"] = mtu
    if current is not None:
        differ = {field: value for field, value in fixed.items() if value is not None and current[field] != value}
        if differ:
            return {"name": name, "result": False, "changes": {},
                    "comment": f"network {name} exists with {', '.join(f'{k}={current[k]}' for k in differ)},"
                               " which Neutron cannot change: delete the network to make it again"}
    return _present(
        name, f"network {name}", current, dict(fixed, **wanted) if current is None else wanted,
        lambda: __salt__["openstack.network_create"](
            name, cloud=cloud, **{k: v for k, v in dict(fixed, **wanted).items() if v is not None}),
        lambda diff: __salt__["openstack.network_update"](name, cloud=cloud, **diff))


@_api_errors_fail
def network_absent(name, cloud=None):
    return _absent(name, f"network {name}", __salt__["openstack.network_get"](name, cloud=cloud),
                   lambda: __salt__["openstack.network_delete"](name, cloud=cloud))
