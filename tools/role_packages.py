"""
The Debian packages a node of the lab gets from its highstate, and the
debconf answers given before they install: read from the state tree itself
(its highstate rendered masterless on this machine, never applied), so
that a role image (the local provider's cache of a role's packages, see
_utils/nspawn_image.py) holds what Salt would install and nothing is
listed twice.

    .venv/bin/python tools/role_packages.py NODE      # e.g. controller, compute1

prints {"packages": [[package, ...], ...] (one list per pkg state, the
ones installed without recommends marked by a leading "--no-recommends"),
"debconf": {package: {question: {type, value}}}, "services": [the units
the highstate starts or stops itself]} as JSON.
"""

import json
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "_utils"))

import saltlab_model  # noqa: E402  (this repository's, by path)

NO_RECOMMENDS = "--no-recommends"


def render_lowstate(node, repo=REPO, grains=None):
    """
    The node's highstate as low chunks, rendered by a masterless
    salt-call with this checkout's state tree and pillar (its secrets
    included: pillar/secrets.json, made by tools/secrets) and the grains
    the local provider gives the node.
    """
    model = saltlab_model.load(repo / saltlab_model.PATH)
    spec = saltlab_model.node(model, node)
    with tempfile.TemporaryDirectory(prefix="saltlab-render-") as root:
        config = {
            "id": node,
            "file_client": "local",
            "root_dir": root,
            "file_roots": {"base": [str(repo / "salt")]},
            "pillar_roots": {"base": [str(repo / "pillar")]},
            "module_dirs": [str(repo / "_modules")],
            "states_dirs": [str(repo / "_states")],
            "utils_dirs": [str(repo / "_utils")],
            "grains": {"roles": spec["roles"], "virtual": "systemd-nspawn", **(grains or {})},
            "log_level_logfile": "quiet",
        }
        (pathlib.Path(root) / "minion").write_text(json.dumps(config))
        salt_call = pathlib.Path(sys.executable).parent / "salt-call"
        proc = subprocess.run(
            [salt_call, "--local", "--config-dir", root, "--out=json", "state.show_lowstate"],
            capture_output=True,
            text=True,
            check=False,
        )
    try:
        chunks = json.loads(proc.stdout)["local"]
    except (ValueError, KeyError):
        chunks = None
    if proc.returncode != 0 or not isinstance(chunks, list) or not all(isinstance(c, dict) for c in chunks):
        detail = chunks if isinstance(chunks, list) else (proc.stderr or proc.stdout).strip()[-2000:]
        raise RuntimeError(f"the highstate of {node} does not render: {detail}")
    return chunks


def role_packages(node, repo=REPO, grains=None):
    """What ``node``'s highstate installs and answers first (see the module's doc)."""
    packages, debconf, services = [], {}, set()
    for chunk in render_lowstate(node, repo, grains):
        if chunk.get("state") == "service" and chunk.get("fun") in ("running", "dead"):
            services.add(chunk["name"])
        if chunk.get("state") == "pkg" and chunk.get("fun") == "installed":
            names = [p if isinstance(p, str) else next(iter(p)) for p in chunk.get("pkgs") or [chunk["name"]]]
            packages.append(([NO_RECOMMENDS] if chunk.get("install_recommends") is False else []) + sorted(names))
        elif chunk.get("state") == "debconf" and chunk.get("fun") == "set":
            debconf[chunk["name"]] = chunk["data"]
    return {"packages": sorted(packages), "debconf": debconf, "services": sorted(services)}


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} NODE")
    try:
        print(json.dumps(role_packages(sys.argv[1]), indent=2, sort_keys=True))
    except (saltlab_model.ModelError, RuntimeError) as exc:
        sys.exit(f"role_packages: {exc}")


if __name__ == "__main__":
    main()
