"""
What the lab's salt-cloud drivers (``_clouds/``: nspawn, gce, packet) share:
their provider settings, the lab model (``pillar/model.yaml``) and the
node it makes of a name, progress lines, cloud events, the checks of node
names and SSH key files, the call checks of salt-cloud functions, the
translation of API errors, the listing functions and the redaction of
deploy arguments. The node life cycle (create, destroy, the SSH way in,
the master) is ``saltlab_node``; the map's check, ``saltlab_map``.

A Salt utils module: salt-cloud loads it from ``utils_dirs`` (``_utils`` in
the ``cloud`` configuration file) and hands it to the drivers as
``__utils__``. Utils modules get only ``__opts__`` as the loader packs it,
so everything here takes what it needs as arguments. A driver binds the
helpers to itself where it uses them (its dunders resolved then, so that
the utils modules it hands the object to can use them):

.. code-block:: python

    def _cloud():
        return __utils__["saltlab_cloud.cloud"](
            __virtualname__, __active_provider_name__, __opts__, __utils__, DEFAULTS)

    _cloud().setting("zone")
    _cloud().progress(name, "creating the instance")
"""

import contextlib
import logging
import os
import re
import sys

import salt.config as config
import salt.loader.context
from salt.exceptions import SaltCloudConfigError, SaltCloudException, SaltCloudSystemExit

log = logging.getLogger(__name__)

# a lowercase RFC 1123 / RFC 1035 label: hostnames, Compute Engine names
HOSTNAME_RE = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
# what salt-cloud's events of a new node carry of its profile
EVENT_KEYS = ["name", "profile", "provider", "driver"]
# the lab model, relative to the configuration directory (this checkout)
MODEL = "pillar/model.yaml"


def _resolved(dunder):
    """
    What a driver's loader dunder names, resolved here, in the utils'
    loader: its ``__opts__`` (the same options) and, for ``__utils__``,
    that loader itself (which packs no ``__utils__``).
    """
    if not isinstance(dunder, salt.loader.context.NamedLoaderContext):
        return dunder  # a test's loader mocks: the values themselves
    return dunder.loader() if dunder.name == "__utils__" else dunder.value()


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
        # The driver's dunders are resolved now: under Salt's loader they
        # name what the loader running the code that reads them packs, and
        # the utils run under theirs (the life cycle in saltlab_node too).
        self.name = virtualname
        self._active_provider_name = active_provider_name
        self.opts = _resolved(opts)
        self.utils = _resolved(utils)
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

    def configured(self):
        """
        A driver's ``get_configured_provider``, which salt-cloud calls when
        it starts: the provider, after the map salt-cloud is about to make
        is checked whole (``saltlab_map``), so that a bad map stops before
        anything is made.
        """
        provider = self.provider()
        if provider is not False:
            self.utils["saltlab_map.check_run"](self)
        return provider

    def setting(self, key, vm_=None):
        """
        A value from the profile (when vm_ is given), else the provider,
        else the driver default.
        """
        return config.get_cloud_config_value(
            key, vm_ or self.provider(), self.opts, default=self.defaults.get(key), search_global=False
        )

    def config_path(self, path):
        """
        Paths in the configuration are relative to the config dir (this
        checkout); ``~`` is the operator's home.
        """
        path = os.path.expanduser(str(path))
        return os.path.join(os.path.dirname(self.opts["conf_file"]), path)

    def model(self):
        """
        The lab model (``pillar/model.yaml`` of the checkout), checked; a bad
        one is one line naming the key.
        """
        try:
            return self.utils["saltlab_model.load"](self.config_path(MODEL))
        except ValueError as exc:  # saltlab_model.ModelError
            raise SaltCloudConfigError(f"{self.name}: {exc}") from None

    def lab_node(self, name, model=None):
        """
        The node ``name`` as the model makes it ({name, kind, host, nics,
        roles, addresses}), or a one-line error saying which names are nodes.
        """
        model = model or self.model()
        try:
            return self.utils["saltlab_model.node"](model, name)
        except ValueError as exc:
            raise SaltCloudConfigError(f"{self.name}: {exc}") from None

    def validate_name(self, name, what="node name", kind="hostname"):
        """
        A node name must be a lowercase hostname label (RFC 1123; RFC 1035
        for Compute Engine, the same rule), matched whole.
        """
        if not isinstance(name, str) or not HOSTNAME_RE.fullmatch(name):
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
    def destroy_call(call):
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

    # -- the listing functions, from what a driver lists ----------------------

    def list_nodes(self, call, inventory):
        """
        ``salt-cloud -Q``: ``inventory()`` gives ``{name: (brief, full)}``
        (two callables), and each node's brief description is listed.
        """
        self.function(call, "list_nodes")
        return {name: brief() for name, (brief, _full) in inventory().items()}

    def list_nodes_full(self, call, inventory):
        """
        ``salt-cloud -F``: everything known of each node.
        """
        self.function(call, "list_nodes_full")
        return {name: full() for name, (_brief, full) in inventory().items()}

    def list_nodes_select(self, call, inventory):
        """
        ``salt-cloud -S``: the fields of each node chosen by ``query.selection``.
        """
        return self.utils["cloud.list_nodes_select"](
            self.list_nodes_full("function", inventory), self.opts["query.selection"], call
        )

    def show_instance(self, name, call, find, full, where):
        """
        ``salt-cloud -a show_instance NAME``: one node's details, from
        ``find(name)`` (None when there is none ``where``).
        """
        self.action(call, "show_instance")
        found = find(name)
        if found is None:
            raise SaltCloudSystemExit(f"{self.name}: {where} has no node named {name}")
        return full(found)

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

    def forget_minion(self, name):
        """
        salt-cloud's minion cache entry of a destroyed node.
        """
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

    # -- the node life cycle (saltlab_node) ------------------------------------

    # (through an object: called through the loader, a utils function runs
    # under the utils' loader, where the driver's operations it calls back
    # would not find their dunders)

    def create(self, vm_, ops):
        """A node made, deployed and announced; see ``saltlab_node.create``."""
        return self.utils["saltlab_node.life"](self).create(vm_, ops)

    def destroy(self, name, call, ops):
        """A node removed whole; see ``saltlab_node.destroy``."""
        return self.utils["saltlab_node.life"](self).destroy(name, call, ops)
