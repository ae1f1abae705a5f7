"""
`state.apply` on the lab's master, with live progress: run by tools/lab.py
on the master (its Salt's Python, the script on standard input), it
publishes the job, prints one line per node as its states run (from the
master's event bus: the master config's `state_events: True` makes every
minion report each state), a heartbeat for nodes that are busy, a summary
line per node at the end, and the returns as one JSON document on
standard output ({minion: return}). Exit status: 0 when every targeted
minion returned with no failed state.

    /opt/saltlab/venv/bin/python3 - '*' [SLS,...] [--test] [--pillar JSON] < tools/master_apply.py
"""

import argparse
import json
import logging
import sys
import time

import salt.client
import salt.config
import salt.utils.event

HEARTBEAT = 30


def say(line):
    print(line, file=sys.stderr, flush=True)


def elapsed(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class Progress:
    """What each node has done so far, from its progress events."""

    def __init__(self, minions, started):
        self.started = started
        self.nodes = {minion: {"done": 0, "total": None, "last": None, "seen": started} for minion in minions}
        self.returns = {}

    def state(self, minion, data):
        chunk = data.get("ret", {})
        node = self.nodes.setdefault(minion, {"done": 0, "total": None, "last": None, "seen": self.started})
        node.update(done=node["done"] + 1, total=data.get("len"), last=chunk.get("__id__"), seen=time.monotonic())
        mark = "" if chunk.get("result") is not False else "  FAILED"
        say(
            f"[{minion}] {node['done']}/{node['total'] or '?'} {chunk.get('__id__')}"
            f" ({elapsed(node['seen'] - self.started)}){mark}"
        )

    def heartbeat(self, now):
        for minion, node in sorted(self.nodes.items()):
            if minion not in self.returns and now - node["seen"] >= HEARTBEAT:
                after = f", after {node['last']}" if node["last"] else " (compiling its states)"
                say(f"[{minion}] {node['done']}/{node['total'] or '?'} busy for {elapsed(now - node['seen'])}{after}")
                node["seen"] = now

    def returned(self, minion, ret):
        self.returns[minion] = ret
        took = elapsed(time.monotonic() - self.started)
        if not isinstance(ret, dict):
            say(f"[{minion}] FAILED before any state ran ({took}): {ret}")
            return
        states = [s for s in ret.values() if isinstance(s, dict)]
        failed = [s.get("__id__") for s in states if s.get("result") is False]
        changed = sum(1 for s in states if s.get("changes"))
        say(
            f"[{minion}] done: {len(states)} states, {changed} changed, {len(failed)} failed, {took}"
            + (f": {', '.join(failed)}" if failed else "")
        )

    def failed(self):
        def bad(ret):
            return not isinstance(ret, dict) or any(
                isinstance(s, dict) and s.get("result") is False for s in ret.values()
            )

        return sorted(m for m, ret in self.returns.items() if bad(ret))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("sls", nargs="?", default="")
    parser.add_argument("--test", action="store_true")
    parser.add_argument("--pillar", default=None)
    parser.add_argument("--timeout", type=int, default=3600)
    args = parser.parse_args()
    # what this script says is the progress; Salt's own client chatter
    # (reconnects of its request channel) is not
    logging.getLogger("salt").setLevel(logging.CRITICAL)

    opts = salt.config.client_config("/etc/salt/master")
    kwarg = {"test": True} if args.test else {}
    if args.pillar:
        kwarg["pillar"] = json.loads(args.pillar)
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True) as bus:
        client = salt.client.LocalClient(mopts=opts)
        if args.sls:
            # a highstate syncs the custom modules first, an SLS run does
            # not: its states may be newer than the nodes' last highstate
            say(f"saltutil.sync_all on {args.target}")
            client.cmd(args.target, "saltutil.sync_all", timeout=120)
        pub = client.run_job(args.target, "state.apply", arg=[args.sls] if args.sls else [], kwarg=kwarg, timeout=60)
        if not pub or not pub.get("minions"):
            say(f"no minion matches {args.target!r}, or the master did not publish the job")
            return 2
        started = time.monotonic()
        progress = Progress(pub["minions"], started)
        say(f"state.apply {args.sls or '(highstate)'} on {', '.join(sorted(pub['minions']))}: job {pub['jid']}")
        prefix = f"salt/job/{pub['jid']}/"
        while len(progress.returns) < len(pub["minions"]):
            now = time.monotonic()
            if now - started > args.timeout:
                break
            progress.heartbeat(now)
            event = bus.get_event(wait=1, tag=prefix, full=True)
            if not event:
                continue
            parts = event["tag"][len(prefix) :].split("/")
            if parts[0] == "prog":
                # a minion's event reaches the master bus wrapped in one of its own
                progress.state(parts[1], event["data"].get("data", {}))
            elif parts[0] == "ret" and event["data"].get("fun") == "state.apply":
                progress.returned(parts[1], event["data"].get("return"))
    silent = sorted(set(pub["minions"]) - set(progress.returns))
    for minion in silent:
        say(f"[{minion}] no return after {elapsed(args.timeout)}")
    failed = progress.failed()
    returned = f"{len(progress.returns)} of {len(pub['minions'])} returned"
    say(f"{returned}, {len(failed)} with failures: {', '.join(failed) or '-'}")
    json.dump(progress.returns, sys.stdout)
    return 0 if not failed and not silent else 1


if __name__ == "__main__":
    sys.exit(main())
