"""
`make verify`: tempest, OpenStack's own test suite, against the running
lab through its TLS proxy, from this checkout.

    python3 tools/verify.py venv        # var/tempest/venv: the pins of tests/tempest/requirements.txt
    python3 tools/verify.py config      # what tempest needs in the lab, and its tempest.conf
    python3 tools/verify.py run [--set smoke|full-api] [--concurrency N]
    python3 tools/verify.py cleanup     # tempest's leftovers in the lab
    python3 tools/verify.py summary [JUNIT_XML]

`venv` builds tempest's own virtual environment once (var/tempest/venv,
keyed by the hash of the pins: a new pin rebuilds it), apart from the
operator's .venv. `config` reads the lab: the services its pillar enables
(the master's pillar tree, as the highstate sees it), the model
(pillar/model.yaml: the catalog, the external network, the MTUs), the
proxy's address, the lab CA and the admin's password (pillar/secrets.json);
it makes, as admin and idempotently, what tempest needs (named `saltlab-
verify-*`, or the demo's own `external` network) and writes
var/tempest/workspace/etc/tempest.conf. `run` removes what an earlier run
left, lists the set's tests (tests/tempest/include-SET.txt less
tests/tempest/exclude.txt) of the lab's services only, runs them, writes
the subunit stream and a JUnit report under var/artefacts/, prints a
one-screen summary, and removes tempest's leftovers even when the run
failed or was interrupted; it exits non-zero when a test failed that
tests/tempest/known-failures.txt does not list.
"""

import argparse
import configparser
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import jinja2
import yaml

from lab import Lab
from tempest_lab import (
    EXTERNAL,
    PREFIX,
    ensure_external,
    ensure_flavors,
    ensure_image,
    external_network,
    leftovers,
    load_model,
    neutron_physnet,
    physnet_mtu,
    purge,
    say,
)

REPO = pathlib.Path(__file__).resolve().parent.parent
LISTS = REPO / "tests" / "tempest"
REQUIREMENTS = LISTS / "requirements.txt"
TEMPEST = REPO / "var" / "tempest"
VENV = TEMPEST / "venv"
WORKSPACE = TEMPEST / "workspace"
CONF = WORKSPACE / "etc" / "tempest.conf"
# what `config` found in the lab, for `run`
LAB_FACTS = WORKSPACE / "etc" / "saltlab-lab.json"
ARTEFACTS = REPO / "var" / "artefacts"
SETS = ("smoke", "full-api")
# the master's copy of the pillar (tools/push): what the highstate deploys
MASTER_PILLAR = "/srv/saltlab/pillar"

# Which of the lab's services (pillar saltlab:services, the model's catalog
# names) a tempest test belongs to, by its module: test ids under a prefix
# run only when every service named is enabled. Scenario tests boot
# servers on networks from images.
AREAS = (
    ("tempest.api.identity.", ("keystone",)),
    ("tempest.api.image.", ("glance",)),
    ("tempest.api.compute.", ("nova", "glance", "neutron")),
    ("tempest.api.network.", ("neutron",)),
    ("tempest.api.volume.", ("cinder",)),
    ("tempest.api.object_storage.", ("swift",)),
    ("tempest.scenario.", ("nova", "glance", "neutron")),
)
# tempest's [service_available] options that follow the lab's services
# (identity is always there; placement has no switch, and the dashboard's
# tests live in a plugin that is not installed)
AVAILABLE = ("glance", "nova", "neutron", "cinder", "swift")
# generous: servers boot under QEMU TCG on a small host
BUILD_TIMEOUT = 900


# --- the lab's facts ----------------------------------------------------


def lab_services(sls_text):
    """
    The services of a lab, from the text of pillar/lab.sls and a reader of
    pillar/labs/*.sls: sls_text(name) -> its text. The last included lab
    that sets saltlab:services wins, as in Salt's merge.
    """
    services = None
    lab = yaml.safe_load(sls_text("lab")) or {}
    for include in lab.get("include") or []:
        data = yaml.safe_load(sls_text(include.replace(".", "/"))) or {}
        services = (data.get("saltlab") or {}).get("services", services)
    services = ((lab.get("saltlab") or {}).get("services")) or services
    if not services:
        raise SystemExit("verify: the lab's pillar names no services (pillar/lab.sls and pillar/labs/)")
    return list(services)


def master_of(lab):
    """The lab's master (the model's `master:`), where its pillar tree is."""
    return getattr(lab, "master", None) or load_model()["master"]


def master_services(lab):
    """The lab's services, from the master's pillar tree (what its highstate deploys)."""

    def read(name):
        return lab.ssh(master_of(lab), f"cat {MASTER_PILLAR}/{name}.sls").stdout

    return lab_services(read)


def selected_tests(test_ids, services):
    """The ids whose area's services are all in `services`; ids of no known area are left out."""
    chosen = []
    for test_id in test_ids:
        for prefix, needs in AREAS:
            if test_id.startswith(prefix):
                if all(s in services for s in needs):
                    chosen.append(test_id)
                break
    return chosen


def area_of(test_id):
    """The summary's row of a test id: the service its area is for, or `scenario`."""
    for prefix, needs in AREAS:
        if test_id.startswith(prefix):
            return "scenario" if prefix == "tempest.scenario." else needs[0]
    return "other"


def read_list(path):
    """
    A tempest include/exclude list: [(regex, reason)], one regex a line,
    `# reason` after it; blank and comment-only lines skipped.
    """
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        regex, _, reason = line.partition("#")
        regex = regex.strip()
        if not regex:
            continue
        try:
            re.compile(regex)
        except re.error as exc:
            raise SystemExit(f"verify: {path}:{number}: not a regular expression: {exc}") from None
        entries.append((regex, reason.strip()))
    return entries


def check_reasons(path):
    """Every line of an exclusion or known-failures list carries a reason."""
    bare = [regex for regex, reason in read_list(path) if not reason]
    if bare:
        raise SystemExit(f"verify: {path}: every line needs a `# reason`; none for {', '.join(bare)}")


# --- tempest's virtual environment --------------------------------------


def pins_key():
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]


def ensure_venv(lab):
    """var/tempest/venv with the pinned tempest; rebuilt when the pins change."""
    stamp = VENV / "saltlab-pins"
    key = pins_key()
    if stamp.exists() and stamp.read_text().strip() == key and (VENV / "bin" / "tempest").exists():
        say(f"tempest's venv is current: {VENV} (pins {key})")
        return
    if VENV.exists():
        shutil.rmtree(VENV)
    TEMPEST.mkdir(parents=True, exist_ok=True)
    lab.run(["python3", "-m", "venv", VENV], capture=False)
    lab.run([VENV / "bin" / "pip", "install", "-q", "-r", REQUIREMENTS], capture=False, timeout=1800)
    stamp.write_text(key + "\n")


def tempest_bin(name):
    path = VENV / "bin" / name
    if not path.exists():
        raise SystemExit(f"verify: {path} is missing: run `python3 tools/verify.py venv` (make verify does)")
    return path


# --- tempest.conf -------------------------------------------------------------


def tempest_conf(facts):
    """
    tempest.conf's text (tools/tempest.conf.jinja) from the lab's facts:
    {services, auth_url, ca, admin_password, region, catalog_types, image,
    flavors, external_id, computes, compute_microversions, extensions,
    workspace}.
    """
    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(REPO / "tools"), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    ).get_template("tempest.conf.jinja")
    return template.render(
        facts,
        prefix=PREFIX,
        available=AVAILABLE,
        build_timeout=BUILD_TIMEOUT,
        external_network=EXTERNAL["network"],
    )


def write_conf(text, path=CONF):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the admin's password
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def ensure_workspace(lab):
    if not (WORKSPACE / ".stestr.conf").exists():
        lab.run(
            [
                tempest_bin("tempest"),
                "init",
                "--workspace-path",
                TEMPEST / "workspace.yaml",
                "--name",
                "saltlab",
                WORKSPACE,
            ],
            capture=False,
        )


def local_lab_services(name):
    """The services of pillar/labs/NAME.sls in this checkout."""

    def read(sls):
        return f"include:\n  - labs.{name}\n" if sls == "lab" else (REPO / "pillar" / f"{sls}.sls").read_text()

    if not (REPO / "pillar" / "labs" / f"{name}.sls").exists():
        raise SystemExit(f"verify: no lab {name} in pillar/labs/")
    return lab_services(read)


def configure(lab, only_lab=None):
    """
    Make what tempest needs in the lab and write tempest.conf; returns the
    services tested: the lab's, or those of pillar/labs/ONLY_LAB.sls (a
    smaller lab's tests on a lab that deploys at least its services).
    """
    ensure_workspace(lab)
    model = load_model()
    services = master_services(lab)
    if only_lab:
        wanted = local_lab_services(only_lab)
        missing = [s for s in wanted if s not in services]
        if missing:
            raise SystemExit(f"verify: lab {only_lab} needs {missing}, which this lab does not deploy")
        say(f"the lab deploys {', '.join(services)}; testing those of lab {only_lab}")
        services = wanted
    unknown = [s for s in services if s not in model["catalog"]]
    if unknown:
        raise SystemExit(f"verify: services not in the model's catalog: {unknown}")
    say(f"the lab's services: {', '.join(services)}")
    # the operator's clouds.yaml (tools/lab.py): Keystone at the proxy, the
    # lab CA, the admin's password (of pillar/secrets.json)
    conn = lab.connect("admin")
    cloud = conn.config.config
    facts = {
        "services": services,
        "auth_url": cloud["auth"]["auth_url"],
        "ca": pathlib.Path(cloud["cacert"]).resolve(),
        "admin_password": cloud["auth"]["password"],
        "region": model["region"],
        "catalog_types": {name: entry.get("type") for name, entry in model["catalog"].items()},
        "workspace": WORKSPACE,
        "image": None,
        "flavors": None,
        "external_id": None,
        "computes": 0,
        "compute_microversions": None,
        "volume_microversions": None,
        "extensions": [],
    }
    facts.update(service_facts(conn, lab, model, services))
    write_conf(tempest_conf(facts))
    LAB_FACTS.write_text(json.dumps({"services": services}) + "\n")
    say(f"wrote {CONF}")
    return services


def service_facts(conn, lab, model, services):
    """What tempest.conf needs of each of the lab's services, making what tempest needs there."""
    facts = {}
    if "glance" in services:
        facts["image"] = ensure_image(conn, lab)
    if "nova" in services:
        facts["flavors"] = ensure_flavors(conn)
        facts["compute_microversions"] = microversions(conn.compute)
        facts["computes"] = sum(
            1
            for s in conn.compute.services()
            if s.binary == "nova-compute" and s.state == "up" and s.status == "enabled"
        )
    if "cinder" in services:
        facts["volume_microversions"] = microversions(conn.block_storage)
    if "neutron" in services:
        facts["external_id"] = ensure_external(conn, external_network(model, neutron_physnet(), physnet_mtu(model)))
        facts["extensions"] = [e.alias for e in conn.network.extensions()]
    return facts


def microversions(proxy):
    """
    [min, max] of the microversions a service of the lab serves: tempest
    tries newer ones than 'latest' would reach, and without a range it
    skips every test that needs one (15 of Cinder's API tests did).
    """
    endpoint = proxy.get_endpoint_data()
    return [".".join(map(str, endpoint.min_microversion)), ".".join(map(str, endpoint.max_microversion))]


def configured_services():
    """The services `config` found in the lab (it writes them beside tempest.conf)."""
    if not CONF.exists() or not LAB_FACTS.exists():
        raise SystemExit(f"verify: {CONF} is missing: run `python3 tools/verify.py config` (make verify does)")
    return json.loads(LAB_FACTS.read_text())["services"]


# --- running, reporting, cleaning up ---------------------------------------


def tempest_env():
    env = dict(os.environ)
    env["TEMPEST_CONFIG_DIR"] = str(CONF.parent)
    env["TEMPEST_CONFIG"] = CONF.name
    # tempest's noVNC test fetches the console page with urllib3's default
    # trust store, not [identity] ca_certificates_file: point it at the lab
    # CA (tempest only talks to the lab's proxy)
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(CONF)
    ca = conf.get("identity", "ca_certificates_file", fallback="")
    if ca:
        env["SSL_CERT_FILE"] = ca
    return env


def run_in_workspace(argv, capture=False, check=True, timeout=None):
    print("$ (cd var/tempest/workspace && " + " ".join(str(a) for a in argv) + ")", file=sys.stderr, flush=True)
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=WORKSPACE,
        env=tempest_env(),
        text=True,
        capture_output=capture,
        check=False,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise SystemExit(f"verify: {argv[0]} exited {proc.returncode}\n{proc.stdout or ''}{proc.stderr or ''}")
    return proc


def run_tempest(argv):
    """
    `tempest run` in its own process group, so that when this tool is
    interrupted or terminated, its workers are stopped before the cleanup.
    """
    print("$ (cd var/tempest/workspace && " + " ".join(str(a) for a in argv) + ")", file=sys.stderr, flush=True)
    proc = subprocess.Popen([str(a) for a in argv], cwd=WORKSPACE, env=tempest_env(), start_new_session=True)
    try:
        return proc.wait()
    except BaseException:
        say("interrupted: stopping tempest")
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise


def cleanup(lab):
    """
    Remove what tempest made in the services `config` found: the servers,
    volumes and network resources of its projects (purge), then whatever
    carries its prefix (`tempest cleanup --prefix`: the dynamic
    credentials' projects and users above all, flavors, images...), then
    what that orphaned; then list what is left.
    """
    if not CONF.exists():
        say("no tempest.conf: nothing to clean")
        return []
    services = configured_services()
    conn = lab.connect("admin")
    purge(conn, services)
    proc = run_in_workspace([tempest_bin("tempest"), "cleanup", "--prefix", PREFIX], check=False, capture=True)
    (WORKSPACE / "logs").mkdir(exist_ok=True)
    (WORKSPACE / "logs" / "cleanup.log").write_text(proc.stdout + proc.stderr)
    purge(conn, services)
    left = leftovers(conn, services)
    if left:
        say(f"left after tempest cleanup: {left}")
    else:
        say("no tempest leftovers in the lab")
    return left


def list_tests(set_name, services):
    include = LISTS / f"include-{set_name}.txt"
    exclude = LISTS / "exclude.txt"
    check_reasons(exclude)
    proc = run_in_workspace(
        [tempest_bin("tempest"), "run", "--list-tests", "--include-list", include, "--exclude-list", exclude],
        capture=True,
    )
    ids = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("tempest.")]
    return selected_tests(ids, services)


def junit_results(path):
    """[(test id, status: passed|failed|skipped, seconds)] from subunit2junitxml's report."""
    results = []
    for case in ET.parse(path).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        found = re.match(r"^(\w+) \((.+)\)$", name)  # setUpClass (tempest.api.x.Class)
        test_id = f"{found.group(2)}.{found.group(1)}" if found and not classname else f"{classname}.{name}"
        if case.find("failure") is not None or case.find("error") is not None:
            status = "failed"
        elif case.find("skipped") is not None:
            status = "skipped"
        else:
            status = "passed"
        results.append((test_id, status, float(case.get("time") or 0)))
    return results


def known(test_id, known_failures):
    return next((reason for regex, reason in known_failures if re.search(regex, test_id)), None)


def summary(results, known_failures, wall=None):
    """The one-screen summary (text) and the unexpected failures."""
    rows = {}
    for test_id, status, _ in results:
        row = rows.setdefault(area_of(test_id), {"passed": 0, "failed": 0, "skipped": 0})
        row[status] += 1
    lines = [f"{'service':<12}{'passed':>8}{'failed':>8}{'skipped':>9}"]
    total = {"passed": 0, "failed": 0, "skipped": 0}
    for area in sorted(rows):
        row = rows[area]
        lines.append(f"{area:<12}{row['passed']:>8}{row['failed']:>8}{row['skipped']:>9}")
        for status in total:
            total[status] += row[status]
    lines.append(f"{'total':<12}{total['passed']:>8}{total['failed']:>8}{total['skipped']:>9}")
    if wall is not None:
        lines.append(f"run time: {wall:.0f} s")
    failed = [test_id for test_id, status, _ in results if status == "failed"]
    unexpected = [t for t in failed if known(t, known_failures) is None]
    for test_id in failed:
        reason = known(test_id, known_failures)
        lines.append(f"FAILED {test_id}" + (f"  (known: {reason})" if reason else ""))
    return "\n".join(lines), unexpected, total


def run(lab, set_name, concurrency):
    if set_name not in SETS:
        raise SystemExit(f"verify: unknown set {set_name!r}: one of {', '.join(SETS)}")
    services = configured_services()
    known_failures = read_list(LISTS / "known-failures.txt")
    check_reasons(LISTS / "known-failures.txt")
    say("removing what an earlier run left")
    cleanup(lab)
    tests = list_tests(set_name, services)
    if not tests:
        raise SystemExit(f"verify: no test of set {set_name} for services {services}")
    load_list = WORKSPACE / f"selected-{set_name}.txt"
    load_list.write_text("".join(t + "\n" for t in tests))
    say(f"{len(tests)} tests of set {set_name} for {', '.join(services)}: {load_list}")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    subunit = ARTEFACTS / f"tempest-{set_name}-{stamp}.subunit"
    junit = ARTEFACTS / f"tempest-{set_name}-{stamp}.xml"
    started = time.monotonic()

    def terminated(signum, _frame):
        raise SystemExit(128 + signum)

    # killed (CI's time-out, `kill`): still clean up, as after Ctrl-C
    signal.signal(signal.SIGTERM, terminated)
    try:
        returncode = run_tempest(
            [tempest_bin("tempest"), "run", "--load-list", load_list, "--concurrency", str(concurrency)]
        )
        wall = time.monotonic() - started
        say(f"tempest run exited {returncode} after {wall:.0f} s")
    finally:
        say("removing tempest's leftovers")
        cleanup(lab)
    with open(subunit, "wb") as fh:
        print("$ (cd var/tempest/workspace && stestr last --subunit) > " + str(subunit), file=sys.stderr)
        subprocess.run([tempest_bin("stestr"), "last", "--subunit"], cwd=WORKSPACE, stdout=fh, check=False)
    with open(subunit, "rb") as source, open(junit, "wb") as target:
        print(f"$ subunit2junitxml < {subunit} > {junit}", file=sys.stderr)
        subprocess.run([tempest_bin("subunit2junitxml")], stdin=source, stdout=target, check=False)
    for name, path in (("subunit", subunit), ("xml", junit)):
        latest = ARTEFACTS / f"tempest-{set_name}.{name}"
        latest.unlink(missing_ok=True)
        latest.symlink_to(path.name)
    results = junit_results(junit)
    text, unexpected, total = summary(results, known_failures, wall)
    print()
    print(f"tempest {set_name} on the lab ({', '.join(services)}):")
    print(text)
    print(f"subunit stream: {subunit}")
    print(f"JUnit report:   {junit}")
    print(f"tempest's log:  {WORKSPACE / 'logs' / 'tempest.log'}")
    print(f"{total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    if unexpected:
        print(f"verify: {len(unexpected)} unexpected failures (not in tests/tempest/known-failures.txt)")
        return 1
    if returncode != 0 and total["failed"] == 0:
        print(f"verify: tempest run exited {returncode} with no failed test: see its output above")
        return 1
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("venv", help="build var/tempest/venv from tests/tempest/requirements.txt (once per pin)")
    configuring = sub.add_parser("config", help="make what tempest needs in the lab and write tempest.conf")
    configuring.add_argument(
        "--lab", metavar="NAME", help="test only the services of pillar/labs/NAME.sls (default: the lab's own)"
    )
    running = sub.add_parser("run", help="run a set, report, clean up")
    running.add_argument("--set", default="smoke", choices=SETS)
    running.add_argument("--concurrency", type=int, default=2)
    sub.add_parser("cleanup", help="remove tempest's leftovers from the lab")
    summarise = sub.add_parser("summary", help="the summary of a JUnit report (default: the last smoke run)")
    summarise.add_argument("junit", nargs="?", default=str(ARTEFACTS / "tempest-smoke.xml"))
    args = parser.parse_args(argv)
    lab = Lab()
    if args.command == "venv":
        ensure_venv(lab)
    elif args.command == "config":
        configure(lab, args.lab)
    elif args.command == "run":
        return run(lab, args.set, args.concurrency)
    elif args.command == "cleanup":
        return 1 if cleanup(lab) else 0
    elif args.command == "summary":
        text, unexpected, _ = summary(junit_results(args.junit), read_list(LISTS / "known-failures.txt"))
        print(text)
        return 1 if unexpected else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
