"""
The map salt-cloud is about to make, checked whole before anything is made
(``salt-cloud -m maps/<provider>.yaml``): every profile it names exists,
every name is a hostname matched whole and is in the map once, and the
nodes of the lab's providers (nspawn, gce) are nodes of the lab model
(``pillar/model.yaml``: a bounded number of compute nodes, their addresses
and host numbers unique, none set by the map); a node outside the model (a
profile that gives its own ``nics``, as ``local-bare``) takes no model
node's host number.

salt-cloud itself logs a map's missing profile and makes the rest; a
driver sees the run's options when salt-cloud starts
(``get_configured_provider``, before the map is read for creating), and
stops it there with one line (:class:`MapError`).
"""

import logging
import os

from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

log = logging.getLogger(__name__)

# the drivers whose nodes are the lab model's
MODEL_DRIVERS = ("nspawn", "gce")
# salt-cloud options that make a map run anything but a create
NOT_CREATING = (
    "destroy",
    "action",
    "function",
    "profile",
    "list_locations",
    "list_images",
    "list_sizes",
    "list_providers",
    "list_profiles",
    "bootstrap",
)
# the map this process (and its workers) checked: path and modification time
CHECKED = "SALTLAB_MAP_CHECKED"
# what the model sets, never a map or a profile of a lab node
MODEL_KEYS = ("host_number", "nics", "roles")


class MapError(SaltCloudSystemExit):
    """
    A bad map: salt-cloud prints ``Error: <message>`` when its start fails
    with this (it formats the exception's ``args``).
    """

    @property
    def args(self):
        return str(self.message).replace("{", "{{").replace("}", "}}")

    def __reduce__(self):
        return type(self), (self.message,)


def creating_map(opts):
    """
    Whether this salt-cloud run makes a map (``-m MAP`` without -d, -a, -f,
    -p, a query or a listing).
    """
    return (
        bool(opts.get("map"))
        and opts.get("selected_query_option") is None
        and not any(opts.get(key) for key in NOT_CREATING)
    )


def check_run(cloud):
    """
    Check the map of this run when it is a create (see :func:`check`), once:
    salt-cloud's worker processes (-P), which start as this one did, inherit
    the note that it was.
    """
    if not creating_map(cloud.opts):
        return
    path = cloud.opts["map"]
    try:
        checked = f"{os.path.abspath(path)}:{os.stat(path).st_mtime_ns}"
    except OSError:
        checked = None
    if checked and os.environ.get(CHECKED) == checked:
        return
    check(cloud, read(cloud.opts), path)
    if checked:
        os.environ[CHECKED] = checked


def read(opts):
    """
    The map as salt-cloud renders it: ``{profile: {name: overrides}}``.
    """
    import salt.loader  # pylint: disable=import-outside-toplevel
    import salt.template  # pylint: disable=import-outside-toplevel

    path = opts["map"]
    if not os.path.isfile(path):
        raise MapError(f"map {path}: no such file")
    try:
        rendered = salt.template.compile_template(
            path,
            salt.loader.render(opts, {}),
            opts.get("renderer", "jinja|yaml"),
            opts.get("renderer_blacklist"),
            opts.get("renderer_whitelist"),
        )
    except Exception as exc:  # pylint: disable=broad-except
        raise MapError(f"map {path} does not render: {exc}") from None
    if not isinstance(rendered, dict):
        raise MapError(f"map {path}: must map profiles to lists of node names")
    return {profile: _entries(path, profile, mapped) for profile, mapped in rendered.items()}


def _entries(path, profile, mapped):
    if isinstance(mapped, str):
        mapped = [mapped]
    if isinstance(mapped, dict):
        mapped = [{name: overrides} for name, overrides in mapped.items()]
    if not isinstance(mapped, list):
        raise MapError(f"map {path}: {profile} must list node names")
    entries = []
    for item in mapped:
        for name, overrides in item.items() if isinstance(item, dict) else [(item, None)]:
            entries.append((name, overrides if isinstance(overrides, dict) else {}))
    return entries


def check(cloud, rendered, path):
    """
    The whole map, or :class:`MapError` naming the first thing wrong.
    """
    profiles = cloud.opts.get("profiles", {})
    seen = {}
    lab, outside = [], []
    for profile, entries in rendered.items():
        if profile not in profiles:
            names = ", ".join(str(name) for name, _ in entries)
            raise MapError(f"map {path}: profile {profile} (for {names}) is not in cloud.profiles.d; nothing was made")
        for name, overrides in entries:
            try:
                cloud.validate_name(name)
            except SaltCloudConfigError as exc:
                raise MapError(f"map {path}: {exc}") from None
            if name in seen:
                raise MapError(f"map {path}: node {name} is in the map twice ({seen[name]} and {profile})")
            seen[name] = profile
            set_by_map = sorted(set(overrides) & set(MODEL_KEYS))
            if set_by_map:
                raise MapError(
                    f"map {path}: {name} sets {', '.join(set_by_map)}; the lab model ({cloud.config_path('')}"
                    "pillar/model.yaml) gives every node its NICs, host number and roles"
                )
            driver = str(profiles[profile].get("provider", "")).rsplit(":", 1)[-1]
            if driver in MODEL_DRIVERS:
                (outside if profiles[profile].get("nics") else lab).append((name, profiles[profile]))
    _check_model(cloud, path, lab, outside)


def _check_model(cloud, path, lab, outside):
    if not lab and not outside:
        return
    try:
        model = cloud.utils["saltlab_model.load"](cloud.config_path("pillar/model.yaml"))
        nodes = cloud.utils["saltlab_model.check_names"](model, [name for name, _ in lab])
    except ValueError as exc:
        raise MapError(f"map {path}: {exc}") from None
    hosts = {node["host"]: name for name, node in nodes.items()}
    hosts.update(cloud.utils["saltlab_model.host_numbers"](model))
    for name, profile in outside:
        number = profile.get("host_number")
        if number in hosts:
            raise MapError(f"map {path}: {name}'s host number {number} is {hosts[number]}'s")
        hosts[number] = name
