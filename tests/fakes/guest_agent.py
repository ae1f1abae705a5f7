#!/usr/bin/python3
"""
A stand-in for Google's guest agent (google-guest-agent), in the gce
rehearsal's plain Debian 13 image (tools/build-rehearsal-image), doing what
of it the lab's path meets:

- the SSH host keys made at the first boot (``ssh-keygen -A``), and
  published as the instance's guest attributes (``hostkeys/<type>``) when
  its metadata has ``enable-guest-attributes: TRUE``;
- each user of the ``ssh-keys`` metadata (instance, and project unless
  ``block-project-ssh-keys``) made, in the group ``google-sudoers``, which
  has passwordless sudo, with the metadata's keys in its
  ``~/.ssh/authorized_keys``, marked ``# Added by Google``: lines without
  the mark (keys added on the node, e.g. by Salt) are kept, marked lines
  that left the metadata go; kept so every few seconds;
- no ``ssh-keys`` at all when OS Login is on (``enable-oslogin``: the
  instance's value, else the project's), as the real agent leaves SSH to
  OS Login then.

Where the real agent asks the metadata server, this reads the file the
rehearsal writes into the node (``/var/lib/google/metadata.json``, the
metadata server's ``?recursive=true`` document), and publishes guest
attributes to files the rehearsal reads (``/var/lib/google/guest-attributes/``).
Runs as ``google-guest-agent.service`` (Type=notify: ready after the first
pass, before sshd starts).
"""

import contextlib
import grp
import json
import os
import pwd
import socket
import subprocess
import sys
import time

METADATA = "/var/lib/google/metadata.json"
ATTRIBUTES = "/var/lib/google/guest-attributes"
MARK = "# Added by Google"
GROUP = "google-sudoers"
INTERVAL = 5


def log(message):
    print(f"google_guest_agent: {message}", file=sys.stderr, flush=True)


def truthy(value):
    return str(value or "").strip().lower() in ("true", "1", "yes", "y")


def metadata():
    try:
        with open(METADATA, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def attributes(data, scope):
    return (data.get(scope) or {}).get("attributes") or {}


def oslogin(data):
    instance, project = attributes(data, "instance"), attributes(data, "project")
    value = instance.get("enable-oslogin", project.get("enable-oslogin"))
    return truthy(value)


def wanted_keys(data):
    """{user: [key lines]} of the metadata's ssh-keys."""
    instance, project = attributes(data, "instance"), attributes(data, "project")
    texts = [instance.get("ssh-keys", ""), instance.get("sshKeys", "")]
    if not truthy(instance.get("block-project-ssh-keys")):
        texts += [project.get("ssh-keys", ""), project.get("sshKeys", "")]
    users = {}
    for line in "\n".join(texts).splitlines():
        user, sep, key = line.strip().partition(":")
        if not sep or not user or not key.strip() or not user.replace("-", "").replace("_", "").isalnum():
            continue
        users.setdefault(user, []).append(key.strip())
    return users


def host_keys(data):
    """The host keys made once; published when guest attributes are on."""
    if not any(n.startswith("ssh_host_") and n.endswith("_key") for n in os.listdir("/etc/ssh")):
        subprocess.run(["ssh-keygen", "-A"], check=True, capture_output=True)
        log("made the SSH host keys")
    if not truthy(attributes(data, "instance").get("enable-guest-attributes")):
        return
    os.makedirs(os.path.join(ATTRIBUTES, "hostkeys"), exist_ok=True)
    for name in os.listdir("/etc/ssh"):
        if name.startswith("ssh_host_") and name.endswith("_key.pub"):
            with open(os.path.join("/etc/ssh", name), encoding="ascii") as fh:
                kind, key = fh.read().split()[:2]
            path = os.path.join(ATTRIBUTES, "hostkeys", kind)
            with open(path + ".tmp", "w", encoding="ascii") as out:
                out.write(key)
            os.replace(path + ".tmp", path)


def ensure_group():
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", GROUP], check=True)
    rule = f"%{GROUP} ALL=(ALL:ALL) NOPASSWD:ALL\n"
    path = "/etc/sudoers.d/google_sudoers"
    if not os.path.exists(path):
        with open(path + ".tmp", "w", encoding="ascii") as fh:
            fh.write(rule)
        os.chmod(path + ".tmp", 0o440)
        os.replace(path + ".tmp", path)


def ensure_user(user):
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", "-G", GROUP, user], check=True)
        log(f"made user {user}")
        entry = pwd.getpwnam(user)
    if user not in grp.getgrnam(GROUP).gr_mem:
        subprocess.run(["gpasswd", "-a", user, GROUP], check=True, capture_output=True)
    return entry


def write_keys(entry, keys):
    """The metadata's keys in the user's authorized_keys; other lines kept."""
    ssh = os.path.join(entry.pw_dir, ".ssh")
    path = os.path.join(ssh, "authorized_keys")
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        lines = []
    kept = [line for line in lines if not line.rstrip().endswith(MARK)]
    wanted = kept + [f"{key} {MARK}" for key in keys]
    if wanted == lines:
        return
    os.makedirs(ssh, mode=0o700, exist_ok=True)
    os.chown(ssh, entry.pw_uid, entry.pw_gid)
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in wanted))
    os.chown(path + ".tmp", entry.pw_uid, entry.pw_gid)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)
    log(f"wrote {len(keys)} metadata key(s) for {entry.pw_name}")


def accounts(data, said):
    if oslogin(data):
        if not said.get("oslogin"):
            log("OS Login is enabled: ssh-keys metadata is not used")
            said["oslogin"] = True
        return
    said["oslogin"] = False
    users = wanted_keys(data)
    if users:
        ensure_group()
    for user, keys in users.items():
        write_keys(ensure_user(user), keys)


def notify(state):
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)) as sock:
        sock.connect(address)
        sock.sendall(state.encode())


def main():
    said = {}
    data = metadata()
    host_keys(data)
    accounts(data, said)
    notify("READY=1")
    while True:
        time.sleep(INTERVAL)
        try:
            data = metadata()
            host_keys(data)
            accounts(data, said)
        except (OSError, subprocess.CalledProcessError) as exc:
            log(f"error: {exc}")


if __name__ == "__main__":
    main()
