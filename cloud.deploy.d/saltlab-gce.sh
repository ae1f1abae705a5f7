#!/bin/sh
# saltlab deploy script for Google Cloud nodes (the gce-* profiles), called
# by salt-cloud with the flags of bootstrap-salt.sh (-c DIR -M -N -F -K -k
# DIR): salt-cloud passes those only to scripts that name bootstrap-salt, as
# this line does. Debian 13's Compute Engine image has no Salt, so this
# installs what the local provider's image has (tools/build-image): the Salt
# release and Salt extensions pinned in requirements.txt, in a virtualenv
# at /opt/saltlab/venv (kept when it already has that release), the
# commands in /usr/local/bin, the salt-master and salt-minion units. Then it
# runs saltlab-node.sh with the same flags, which installs the keys and
# configuration salt-cloud uploaded and starts the daemons. The profile's
# file_map uploads both files to /var/tmp/saltlab-deploy first.
# Packages come from Debian's mirror and PyPI: the nodes without an external
# address reach them through the lab's Cloud NAT.
set -eu
dir=/var/tmp/saltlab-deploy
for file in requirements.txt saltlab-node.sh; do
  if [ ! -f "$dir/$file" ]; then
    echo "saltlab-gce: $dir/$file was not uploaded (the profile's file_map names it relative to the checkout: run salt-cloud from there)" >&2
    exit 2
  fi
done
venv=/opt/saltlab/venv
release=$(sed -n 's/^salt==//p' "$dir/requirements.txt")
[ -n "$release" ] || { echo "saltlab-gce: no salt== pin in $dir/requirements.txt" >&2; exit 2; }
extensions=$(sed -n 's/^\(saltext\.[A-Za-z0-9_.-]*==[^ ]*\).*/\1/p' "$dir/requirements.txt")
# `salt-call --version` prints "salt-call 3008.3 (Argon)"
installed=$("$venv/bin/salt-call" --version 2>/dev/null | cut -d' ' -f2) || installed=
if [ "$installed" != "$release" ]; then
  echo "saltlab-gce: installing Salt $release $extensions into $venv"
  # timelib, a Salt dependency, builds from source on Debian 13's Python;
  # the venv sees python3-apt (Salt's apt module uses it); tools/push's
  # remote side is rsync; salt-cloud probes the nodes behind the master with
  # nc on the master (netcat-openbsd: not in Debian's plain image). The
  # image's first boot may still hold apt's lock.
  apt="apt-get -o DPkg::Lock::Timeout=600 -qq"
  $apt update
  DEBIAN_FRONTEND=noninteractive $apt install -y --no-install-recommends \
    gcc python3-dev python3-venv python3-apt ca-certificates rsync netcat-openbsd >/dev/null
  python3 -m venv --system-site-packages "$venv"
  # pip trusts Debian's certificate store (ca-certificates), not the bundle
  # it carries: the same CAs on a cloud, and a network's own CA where the
  # image trusts one (the rehearsal's)
  # shellcheck disable=SC2086 # one word per extension
  "$venv/bin/pip" install --no-cache-dir --quiet --disable-pip-version-check \
    --cert /etc/ssl/certs/ca-certificates.crt "salt==$release" $extensions
fi
for cmd in salt salt-call salt-key salt-master salt-minion salt-run salt-cp; do
  ln -sf "$venv/bin/$cmd" "/usr/local/bin/$cmd"
done
# pip ships no service units: saltlab-node.sh enables these
for daemon in master minion; do
  cat > "/etc/systemd/system/salt-$daemon.service" <<UNIT
[Unit]
Description=Salt $daemon (saltlab)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
LimitNOFILE=16384
ExecStart=$venv/bin/salt-$daemon
KillMode=process
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
done
systemctl daemon-reload
sh "$dir/saltlab-node.sh" "$@"
rm -rf "$dir"
