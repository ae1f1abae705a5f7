#!/bin/sh
# saltlab node deploy script, called by salt-cloud with the flags of
# bootstrap-salt.sh (-c DIR -M -N -F -K -k DIR): salt-cloud passes those only
# to scripts that name bootstrap-salt, as this line does. Salt is already in
# the node image (tools/build-image), so this only installs the keys and
# configuration salt-cloud uploaded and starts the daemons. Nothing is
# downloaded.
set -eu
tmp=/tmp/.saltcloud make_master=0 make_minion=1 keep_tmp=0 preseed=""
while getopts "c:MNFKSk:" opt; do
  case $opt in
    c) tmp=$OPTARG ;;
    M) make_master=1 ;;
    N) make_minion=0 ;;
    K) keep_tmp=1 ;;
    k) preseed=$OPTARG ;;
    F|S) ;;
    *) echo "saltlab-node: unknown option" >&2; exit 2 ;;
  esac
done
install -d -m 0755 /etc/salt /etc/salt/minion.d
if [ "$make_master" = 1 ]; then
  install -d -m 0700 /etc/salt/pki/master /etc/salt/pki/master/minions
  install -m 0600 "$tmp/master.pem" /etc/salt/pki/master/master.pem
  install -m 0644 "$tmp/master.pub" /etc/salt/pki/master/master.pub
  install -m 0644 "$tmp/master" /etc/salt/master
  if [ -n "$preseed" ]; then
    for key in "$preseed"/*; do
      install -m 0644 "$key" "/etc/salt/pki/master/minions/$(basename "$key")"
    done
  fi
  systemctl enable --now salt-master.service
fi
if [ "$make_minion" = 1 ]; then
  install -d -m 0700 /etc/salt/pki/minion
  install -m 0600 "$tmp/minion.pem" /etc/salt/pki/minion/minion.pem
  install -m 0644 "$tmp/minion.pub" /etc/salt/pki/minion/minion.pub
  install -m 0644 "$tmp/minion" /etc/salt/minion
  if [ -f "$tmp/grains" ]; then install -m 0644 "$tmp/grains" /etc/salt/grains; fi
  systemctl enable salt-minion.service
  systemctl restart salt-minion.service
fi
[ "$keep_tmp" = 1 ] || true
