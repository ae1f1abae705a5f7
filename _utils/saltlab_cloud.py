"""
What the lab's salt-cloud drivers (``_clouds/``: nspawn, gce, packet) share:
their provider settings, progress lines, cloud events, the checks of node
names, SSH key files and lab networks, the call checks of salt-cloud
functions, the translation of API errors, the destroy events and the
redaction of deploy arguments.

A Salt utils module: salt-cloud loads it from ``utils_dirs`` (``_utils`` in
the ``cloud`` configuration file) and hands it to the drivers as
``__utils__``. Utils modules get only ``__opts__`` as the loader packs it,
so everything here takes what it needs as arguments. A driver binds the
helpers to itself where it uses them; the object is used under the
driver's loader, where the driver's dunders it holds are what they say:

.. code-block:: python

    def _cloud():
        return __utils__["saltlab_cloud.cloud"](
            __virtualname__, __active_provider_name__, __opts__, __utils__, DEFAULTS)

    _cloud().setting("zone")
    _cloud().progress(name, "creating the instance")
"""

import contextlib
import ipaddress
import logging
import os
import re
import sys

import salt.config as config
from salt.exceptions import SaltCloudConfigError, SaltCloudException, SaltCloudSystemExit

log = logging.getLogger(__name__)

# a lowercase RFC 1123 / RFC 1035 label: hostnames, Compute Engine names
HOSTNAME_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
NETWORK_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
# what salt-cloud's events of a new node carry of its profile
EVENT_KEYS = ["name", "profile", "provider", "driver"]


def cloud(virtualname, active_provider_name, opts, utils, defaults=None, required=()):
    """
    The helpers bound to one driver: its name (the prefix of its messages),
    the provider salt-cloud runs it for (``__active_provider_name__``, or
    the first one configured with the driver), salt-cloud's options and
    utils, the driver's default settings and the provider keys it requires.
    """
    return Cloud(virtualname, active_provider_name, opts, utils, defaults, required)


class Cloud:
    """
    A driver's view of its provider; see :func:`cloud`.
    """

    def __init__(self, virtualname, active_provider_name, opts, utils, defaults=None, required=()):
        # The driver's dunders stay as they are: made here, under the utils
        # loader, this object is used by the driver, under its own loader,
        # where they name the driver's provider, options and utils.
        self.name = virtualname
        self._active_provider_name = active_provider_name
        self.opts = opts
        self.utils = utils
        self.defaults = defaults or {}
        self.required = tuple(required)

    @property
    def active(self):
        """
        The provider salt-cloud runs the driver for (``alias:driver``), or
        the driver's name (then the first provider using it).
        """
        return self._active_provider_name or self.name

    # -- configuration ----------------------------------------------------

    def virtual(self, available=True, missing=None):
        """
        A driver's ``__virtual__``: load when a provider uses the driver and
        what it needs is installed (else say what is ``missing``).
        """
        if self.provider() is False:
            return False
        if not available:
            return False, missing
        return self.name

    def provider(self):
        """
        The provider's configuration, or False when none uses the driver.
        """
        return config.is_provider_configured(self.opts, self.active, self.required)

    def setting(self, key, vm_=None):
        """
        A value from the profile (when vm_ is given), else the provider,
        else the driver default.
        """
        return config.get_cloud_config_value(
            key, vm_ or self.provider(), self.opts, default=self.defaults.get(key), search_global=False
        )

    def validate_name(self, name, what="node name", kind="hostname"):
        """
        A node name must be a lowercase hostname label (RFC 1123; RFC 1035
        for Compute Engine, the same rule).
        """
        if not isinstance(name, str) or not HOSTNAME_RE.match(name):
            raise SaltCloudConfigError(
                f"{self.name}: {what} {name!r} is not a valid {kind} "
                "(lowercase letters, digits and '-', at most 63, starting with a letter)"
            )
        return name

    def keyfile(self, path, missing):
        """
        An SSH private key with its ``.pub`` next to it; ``missing`` says
        what to do when either is not there.
        """
        if not os.path.isfile(path) or not os.path.isfile(path + ".pub"):
            raise SaltCloudConfigError(f"{self.name}: {missing}")
        return path

    def operator_keyfile(self, vm_):
        """
        The operator's SSH key (``ssh_keyfile``), checked.
        """
        keyfile = os.path.expanduser(str(self.setting("ssh_keyfile", vm_)))
        return self.keyfile(
            keyfile,
            f"the operator's SSH key {keyfile} (and {keyfile}.pub) is missing; "
            f"create it with: ssh-keygen -t ed25519 -N '' -f {keyfile}",
        )

    def lab_networks(self, raw, mtu, mtu_range, fields=None, mtu_note=""):
        """
        The provider's networks, checked in order: a mapping of valid names,
        strict IPv4 CIDRs, then what ``fields(where, net, spec)`` makes of
        a network's other keys (it raises on bad ones), an integer MTU in
        ``mtu_range`` (default ``mtu``), no two networks overlapping.

        Returns ``{name: {"net": IPv4Network, **fields, "mtu": int}}``.
        """
        if not isinstance(raw, dict) or not raw:
            raise SaltCloudConfigError(f"{self.name}: lab_networks must map network names to settings")
        low, high = mtu_range
        nets = {}
        for name, spec in raw.items():
            where = f"lab_networks:{name}"
            if not NETWORK_NAME_RE.match(str(name)):
                raise SaltCloudConfigError(f"{self.name}: {where}: network names are 1-12 lowercase letters/digits")
            spec = spec or {}
            try:
                net = ipaddress.IPv4Network(str(spec.get("cidr")), strict=True)
            except ValueError as exc:
                raise SaltCloudConfigError(f"{self.name}: {where}:cidr: {exc}") from None
            extra = fields(where, net, spec) if fields else {}
            net_mtu = spec.get("mtu", mtu)
            if not isinstance(net_mtu, int) or not low <= net_mtu <= high:
                raise SaltCloudConfigError(f"{self.name}: {where}:mtu must be an integer {low}-{high}{mtu_note}")
            for other, seen in nets.items():
                if net.overlaps(seen["net"]):
                    raise SaltCloudConfigError(
                        f"{self.name}: networks {other} ({seen['net']}) and {name} ({net}) overlap"
                    )
            nets[name] = {"net": net, **extra, "mtu": net_mtu}
        return nets

    # -- the cloud's API ------------------------------------------------------

    @contextlib.contextmanager
    def api(self, doing, error_text):
        """
        Turn whatever the API or the network raises into one clear
        salt-cloud error, ``error_text(exc, doing)``, naming what was being
        done; salt-cloud's own errors pass as they are.
        """
        try:
            yield
        except SaltCloudException:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            log.debug("%s: %s", self.name, doing, exc_info=True)
            raise SaltCloudSystemExit(error_text(exc, doing)) from None

    # -- salt-cloud's calling conventions -----------------------------------

    @staticmethod
    def function(call, function, strict=False):
        """
        Refuse a function called as an action (``strict``: called any other
        way than with -f).
        """
        if call == "action" or (strict and call != "function"):
            raise SaltCloudSystemExit(f"The {function} function must be called with -f or --function.")

    @staticmethod
    def destroy(call):
        """
        Refuse a destroy called as a function.
        """
        if call == "function":
            raise SaltCloudSystemExit("The destroy action must be called with -d, --destroy, -a or --action.")

    @staticmethod
    def action(call, action):
        """
        Refuse an action called any other way than with -a.
        """
        if call != "action":
            raise SaltCloudSystemExit(f"The {action} action must be called with -a or --action.")

    def list_nodes_select(self, list_nodes_full, call=None):
        """
        The fields of each node chosen by ``query.selection``.
        """
        return self.utils["cloud.list_nodes_select"](list_nodes_full(), self.opts["query.selection"], call)

    # -- what the user and the event bus see --------------------------------

    @staticmethod
    def progress(name, message):
        """
        Long steps print a line, so a user sees where the minutes go.
        """
        print(f"[{name}] {message}", file=sys.stderr, flush=True)
        log.info("%s: %s", name, message)

    def fire(self, name, what, tag, args=None, vm_=None):
        """
        A salt-cloud event ``salt/cloud/<name>/<tag>``; with ``vm_``, its
        arguments are the profile's keys salt-cloud's events carry.
        """
        if vm_ is not None:
            args = self.utils["cloud.filter_event"](tag, vm_, EVENT_KEYS)
        self.utils["cloud.fire_event"](
            "event",
            what,
            f"salt/cloud/{name}/{tag}",
            args=args,
            sock_dir=self.opts["sock_dir"],
            transport=self.opts["transport"],
        )

    @contextlib.contextmanager
    def destroying(self, name, message):
        """
        What every destroy does around its own work: the destroying event
        and a progress line before it; after it, the destroyed event and
        salt-cloud's minion cache entry removed.
        """
        self.fire(name, "destroying instance", "destroying", {"name": name})
        self.progress(name, message)
        yield
        self.fire(name, "destroyed instance", "destroyed", {"name": name})
        if self.opts.get("update_cachedir", False):
            self.utils["cloud.delete_minion_cachedir"](name, self.active.split(":")[0], self.opts)

    @staticmethod
    def deployed(ret, keep_empty=True):
        """
        salt-cloud needs the deploy host of a new master; the rest of the
        deploy arguments (keys included) must not reach the console.
        """
        deployed = ret.get("deploy_kwargs", {})
        ret["deploy_kwargs"] = {k: deployed[k] for k in ("host", "salt_host") if k in deployed}
        if not ret["deploy_kwargs"] and not keep_empty:
            ret.pop("deploy_kwargs")
        return ret
