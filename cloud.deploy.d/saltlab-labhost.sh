#!/bin/sh
# saltlab lab host deploy script (profile baremetal-labhost and those that
# extend it), called by salt-cloud with the flags of bootstrap-salt.sh
# (-c DIR ...; salt-cloud passes them only to scripts that name
# bootstrap-salt, as this line does). It makes a masterless minion: Salt,
# pinned as in the uploaded requirements.txt, in a virtualenv at
# /opt/saltlab/venv (kept when it already has that release), and the
# minion configuration and grains salt-cloud uploaded. No daemon runs: the
# operator applies the role with `salt-call state.apply`.
set -eu
tmp=/tmp/.saltcloud
while getopts "c:MNFKSk:" opt; do
  case $opt in
    c) tmp=$OPTARG ;;
    M|N|F|K|S|k) ;;
    *) echo "saltlab-labhost: unknown option" >&2; exit 2 ;;
  esac
done
venv=/opt/saltlab/venv
release=$(sed -n 's/^salt==//p' /srv/saltlab/requirements.txt)
[ -n "$release" ] || { echo "saltlab-labhost: no salt== pin in /srv/saltlab/requirements.txt" >&2; exit 2; }
# `salt-call --version` prints "salt-call 3008.3 (Argon)"
installed=$("$venv/bin/salt-call" --version 2>/dev/null | cut -d' ' -f2) || installed=
if [ "$installed" != "$release" ]; then
  # timelib, a Salt dependency, builds from source on Debian 13's Python
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    python3-venv python3-dev python3-apt gcc ca-certificates >/dev/null
  python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "salt==$release"
fi
ln -sf "$venv/bin/salt-call" /usr/local/bin/salt-call
install -d -m 0755 /etc/salt
install -m 0644 "$tmp/minion" /etc/salt/minion
if [ -f "$tmp/grains" ]; then install -m 0644 "$tmp/grains" /etc/salt/grains; fi
echo "saltlab-labhost: Salt $release ready; apply the role with: salt-call state.apply"
