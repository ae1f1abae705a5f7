"""
A stand-in for the bcrypt package, for ceph-mgr only (Managed by Salt:
saltlab ceph formula; on ceph-mgr's PYTHONPATH, nowhere else).

ceph-mgr runs each of its Python modules in a sub-interpreter, and every
module imports mgr_util, which imports bcrypt. Debian 13's python3-bcrypt
is built with PyO3, which refuses to load in a sub-interpreter
("PyO3 modules do not yet support subinterpreters"), so without this no
module loads and the cluster warns MGR_MODULE_DEPENDENCY. Only password
hashing (the dashboard's users) calls bcrypt; the lab runs no dashboard.
"""


def _unavailable(*_args, **_kwargs):
    raise NotImplementedError(
        "bcrypt is not available in ceph-mgr's sub-interpreters on this node (saltlab's stand-in): "
        "no password hashing for the dashboard"
    )


gensalt = hashpw = checkpw = kdf = _unavailable
