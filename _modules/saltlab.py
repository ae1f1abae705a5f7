"""
The lab's pillar checked whole, and this node as the lab model makes it.

Every formula imports ``salt/lib/lab.jinja``, which calls :func:`facts`
once per render: a bad value anywhere in pillar ``saltlab`` (a value only
one role uses included) stops every node's highstate before anything is
written, with one line naming each bad key. The checks:

- the lab model's keys (``pillar/model.yaml``: networks, external network,
  nodes, master, proxy, catalog) through the same reader the salt-cloud
  drivers use (``_utils/saltlab_model.py``);
- ``saltlab:services`` (known services of the catalog, keystone first);
- every formula's overrides (``saltlab:<formula>:...``) against the
  formula's ``defaults.yaml``: known keys only (a typo is an error), the
  default's type, and by the key's name ports (1-65535), MTUs, VXLAN ids,
  addresses, CIDRs and non-negative numbers; a formula's ``schema.yaml``
  adds what types cannot say: ``choices`` ({key: [allowed values]}, keys
  below the formula's, ``:``-separated);
- this node: a node of the model (its addresses come from the model, never
  from its NICs).

CLI examples:

.. code-block:: bash

    salt '*' saltlab.facts
    salt compute1 saltlab.node
"""

import copy
import hashlib
import ipaddress
import json
import logging
import os

import salt.utils.yaml

log = logging.getLogger(__name__)

__virtualname__ = "saltlab"

# pillar saltlab keys that are not formulas: the model's, the lab's own
MODEL_KEYS = ("name", "region", "networks", "external", "master", "nodes", "entry", "catalog")
LAB_KEYS = {"secrets": dict, "ssh_public_key": str}
# integer settings by the end of their key: (low, high)
RANGES = {"port": (1, 65535), "mtu": (1280, 9000), "vni": (1, 16777215)}
NAMES = (str, type(None))


def __virtual__():
    return __virtualname__


class _Errors(list):
    def add(self, key, message):
        self.append(f"pillar saltlab:{key} {message}")


def _formula_file(formula, name):
    """A formula's YAML file (a formula of the state tree or of its lib/), or None."""
    if "saltlab.files" not in __context__:
        __context__["saltlab.files"] = set(__salt__["cp.list_master"]())
    for path in (f"{formula}/{name}", f"lib/{formula}/{name}"):
        if path in __context__["saltlab.files"]:
            return salt.utils.yaml.safe_load(__salt__["cp.get_file_str"](f"salt://{path}")) or {}
    return None


def _describe(value):
    return f"got {value!r}"


def _check_scalar(key, default, value, errors):
    """One value against its default's type, and what its key's name (a list item's: the list's) says."""
    parts = key.split(":")
    leaf = parts[-1]
    if leaf.isdigit():  # a list's item: what the list's name says of each
        leaf = next(part for part in reversed(parts) if not part.isdigit()).removesuffix("s")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            errors.add(key, f"must be true or false, {_describe(value)}")
        return
    if isinstance(default, int):
        low, high = next((r for end, r in RANGES.items() if leaf.endswith(end)), (0, None))
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high and value > high):
            errors.add(key, f"must be an integer {f'{low}-{high}' if high else f'>= {low}'}, {_describe(value)}")
        return
    if leaf.endswith("address") and value is not None:
        try:
            ipaddress.IPv4Address(str(value))
        except ValueError:
            errors.add(key, f"must be an IPv4 address, {_describe(value)}")
        return
    if leaf.endswith("cidr"):
        try:
            ipaddress.IPv4Network(str(value), strict=True)
        except ValueError:
            errors.add(key, f"must be an IPv4 network in CIDR notation, {_describe(value)}")
        return
    if isinstance(default, str) and not isinstance(value, str):
        errors.add(key, f"must be a string, {_describe(value)}")


def _check_override(key, default, value, errors, choices):
    """A formula's override against its default, recursively."""
    relative = key.partition(":")[2]
    if relative.rpartition(":")[2].isdigit():  # a list's item: the list's choices
        relative = relative.rpartition(":")[0]
    allowed = None if isinstance(value, (dict, list)) else choices.get(relative)
    if allowed is not None and value not in allowed:
        errors.add(key, f"must be one of {', '.join(map(str, allowed))}, {_describe(value)}")
        return
    if isinstance(default, dict):
        if not isinstance(value, dict):
            errors.add(key, f"must be a mapping, {_describe(value)}")
            return
        if not default:
            return  # free-form data (e.g. sysctl parameters)
        for sub, sub_value in value.items():
            if sub not in default:
                errors.add(f"{key}:{sub}", f"is not a setting of this formula (known: {', '.join(sorted(default))})")
            else:
                _check_override(f"{key}:{sub}", default[sub], sub_value, errors, choices)
        return
    if isinstance(default, list):
        if not isinstance(value, list):
            errors.add(key, f"must be a list, {_describe(value)}")
            return
        if default:
            for index, item in enumerate(value):
                _check_override(f"{key}:{index}", default[0], item, errors, choices)
        return
    if default is None:
        _check_scalar(key, value if not isinstance(value, (dict, list)) else "", value, errors)
        return
    _check_scalar(key, default, value, errors)


def _check_services(lab, errors):
    services = lab.get("services", [])
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        errors.add("services", f"must be a list of service names, {_describe(services)}")
        return
    catalog = lab.get("catalog") or {}
    for service in services:
        if service not in catalog:
            errors.add("services", f"names an unknown service {service} (known: {', '.join(catalog)})")
    if services and "keystone" not in services:
        errors.add("services", f"needs keystone in every lab, got {', '.join(services)}")


def _check_formulas(lab, errors):
    """Every key of pillar saltlab that is not the model's: the lab's own, the formulas' overrides."""
    _check_services(lab, errors)
    for key, value in lab.items():
        if key in MODEL_KEYS or key == "services":
            continue
        if key in LAB_KEYS:
            if not isinstance(value, LAB_KEYS[key]):
                errors.add(key, f"must be a {LAB_KEYS[key].__name__}, {_describe(value)}")
            continue
        defaults = _formula_file(key, "defaults.yaml")
        if defaults is None or key not in defaults:
            errors.add(key, "is neither a setting of the lab nor a formula of the state tree")
        else:
            choices = (_formula_file(key, "schema.yaml") or {}).get("choices", {})
            _check_override(key, defaults[key], value, errors, choices)


def _lab_facts(lab, errors):
    """The model (checked), this node and the lab's addresses; None after an error."""
    try:
        model = __utils__["saltlab_model.check"]({key: lab.get(key) for key in MODEL_KEYS})
    except ValueError as exc:
        errors.add(exc.key, exc.message)
        return None
    node = __utils__["saltlab_model.node"]
    try:
        this = node(model, __grains__["id"])
    except ValueError as exc:
        errors.append(f"this node: {exc}")
        return None
    controller = next(kind for kind, spec in model["nodes"].items() if "controller" in spec["roles"])
    return {
        "model": model,
        "node": this,
        "controller_address": node(model, controller)["addresses"][model["purposes"]["management"]],
        "master_address": __utils__["saltlab_model.master_address"](model),
        "master_public_address": __utils__["saltlab_model.master_address"](model, "public"),
        "mtus": model["mtus"],
    }


def facts():
    """
    The lab as this node sees it, after checking pillar ``saltlab`` whole:
    ``{"error": one line naming every bad key}``, or ``{"lab": the pillar,
    "model": the checked model, "node": this node (name, kind, host, nics,
    roles, addresses), "controller_address", "master_address", "mtus"}``.
    A lab host (role ``labhost``) is no node of a lab: only its formulas'
    settings are checked, and it has no model, node or addresses.
    Computed once per run.

    CLI example:

    .. code-block:: bash

        salt '*' saltlab.facts
    """
    lab = __salt__["pillar.get"]("saltlab", {})
    # the same pillar (a run's pillar= override included) is checked once
    key = "saltlab.facts." + hashlib.sha256(json.dumps(lab, sort_keys=True, default=str).encode()).hexdigest()
    if key in __context__:
        return copy.deepcopy(__context__[key])
    errors = _Errors()
    found = {"model": None, "node": None}
    if not isinstance(lab, dict):
        errors.add("", f"must be a mapping, {_describe(lab)}")
    else:
        _check_formulas(lab, errors)
        if "labhost" not in __grains__.get("roles", []):
            found = _lab_facts(lab, errors)
    result = {"error": "; ".join(errors)} if errors else {"lab": lab, **found}
    __context__[key] = result
    return copy.deepcopy(result)


def node(name=None):
    """
    A node of the lab model (this one by default): its kind, host number,
    NICs, roles and an address per NIC.

    CLI example:

    .. code-block:: bash

        salt compute1 saltlab.node
        salt compute1 saltlab.node storage
    """
    found = facts()
    if "error" in found:
        return found
    if name is None:
        return found["node"]
    try:
        return __utils__["saltlab_model.node"](found["model"], name)
    except ValueError as exc:
        return {"error": str(exc)}


# Debian's own Python: a service's migration scripts import the service,
# whose dependencies are Debian's, not those of Salt's virtualenv
HEADS = (
    "import sys\n"
    "from alembic.script import ScriptDirectory\n"
    "print(' '.join(ScriptDirectory(sys.argv[1], recursive_version_locations=True).get_heads()))\n"
)
# The heads of each migrations directory, by a digest of its scripts'
# names, sizes and times: they change only with the package, and asking
# alembic starts a Python that imports the service (1.5 s on a local
# controller, six times a highstate).
HEADS_CACHE = "/var/cache/saltlab/migration-heads.json"


def _scripts_digest(migrations):
    found = []
    for root, _dirs, files in os.walk(migrations):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                stat = os.stat(path)
                found.append([os.path.relpath(path, migrations), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(sorted(found)).encode()).hexdigest()


def _heads(migrations):
    """The set of heads of a migrations directory (HEADS_CACHE, else alembic's answer), or None."""
    digest = _scripts_digest(migrations)
    try:
        with open(HEADS_CACHE, encoding="utf-8") as fh:
            cache = json.load(fh)
    except (OSError, ValueError):
        cache = {}
    known = cache.get(migrations) or {}
    if known.get("digest") == digest:
        return set(known["heads"])
    heads = __salt__["cmd.run_all"](["/usr/bin/python3", "-c", HEADS, migrations], python_shell=False)
    if heads["retcode"] != 0 or not heads["stdout"].split():
        log.warning("saltlab.schema_current: no migration heads in %s: %s", migrations, heads["stderr"])
        return None
    cache[migrations] = {"digest": digest, "heads": sorted(heads["stdout"].split())}
    os.makedirs(os.path.dirname(HEADS_CACHE), exist_ok=True)
    with open(HEADS_CACHE + ".new", "w", encoding="utf-8") as fh:
        json.dump(cache, fh, indent=1, sort_keys=True)
    os.replace(HEADS_CACHE + ".new", HEADS_CACHE)
    return set(cache[migrations]["heads"])


def schema_current(databases, migrations):
    """
    Whether each of ``databases`` (a name or a list) has the schema the
    installed code wants: its ``alembic_version`` rows are the heads of the
    service's migration scripts in ``migrations`` (a directory; its heads
    are asked of alembic once per change of its scripts). False when a
    database or its version table does not exist yet, or is behind (a
    package upgrade, a sync killed half-way): the formulas run their sync
    unless this is True. Asks MariaDB as root (the controller's
    ``/root/.my.cnf``).

    CLI example:

    .. code-block:: bash

        salt controller saltlab.schema_current nova_api /usr/lib/python3/dist-packages/nova/db/api/migrations
    """
    wanted = _heads(migrations)
    if not wanted:
        return False
    for database in [databases] if isinstance(databases, str) else databases:
        current = __salt__["cmd.run_all"](
            ["mariadb", "-N", "-e", f"SELECT version_num FROM `{database}`.alembic_version"], python_shell=False
        )
        if current["retcode"] != 0 or set(current["stdout"].split()) != wanted:
            return False
    return True
