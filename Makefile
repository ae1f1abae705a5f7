# The local lab in one command, and the tests. Every recipe line is a
# native command, printed before it runs.
SALT_CLOUD := .venv/bin/salt-cloud
MAP ?= maps/local.yaml
SSH_MASTER := python3 tools/lab.py ssh network

.PHONY: lab deps test-deps highstate demo verify verify-cleanup destroy destroy-all lint test test-all unit bench bench-amphora bench-loadbalancer rehearse-gce

# salt-cloud exits 0 when a node of the map failed: `tools/lab.py created`
# reads its result and stops here naming each node it did not make.
# `tools/lab.py apply` runs `salt '*' state.apply` on the master and prints
# each node's progress as it goes (the master's event bus), then a summary
# line per node; it fails when a state failed or a node did not return.
lab: deps
	tools/secrets
	$(SALT_CLOUD) -m $(MAP) -y -P --out=json --out-file=var/map-run.json
	python3 tools/lab.py created var/map-run.json
	python3 tools/lab.py wait
	python3 tools/lab.py apply
	python3 tools/lab.py clouds
	@echo
	@echo "Lab is up. Master and SSH bastion: python3 tools/lab.py ssh network"
	@echo "OpenStack APIs through the TLS proxy: https://$$(python3 tools/lab.py address network):5000/v3"
	@echo "Credentials: var/openstack/clouds.yaml (clouds saltlab-admin, saltlab-demo),"
	@echo "  pillar/secrets.json (mode 0600), SSH key var/ssh/lab_ed25519"
	@echo "Horizon: https://$$(python3 tools/lab.py address network)/horizon/ (from another machine:"
	@echo "  ssh -D 1080 <you>@<this host>, and the browser's SOCKS proxy localhost:1080)"

deps:
	tools/install-host-deps

test-deps:
	tools/install-host-deps --tests

highstate:
	tools/push
	python3 tools/lab.py apply

# The demo on a running full lab: the test guest image (built once, from
# Debian packages), pushed to the master, then the demo SLS on the controller.
demo: deps
	tools/build-test-image
	tools/push
	python3 tools/lab.py apply controller demo
	@echo
	@echo "Demo servers (their floating IPs answer from the network node):"
	$(SSH_MASTER) ". /root/demo-openrc && openstack server list"

# Tempest, OpenStack's own tests, against the running lab through the proxy:
# its pinned venv (var/tempest/venv, built once per pin), then tempest.conf
# from the lab (and the image, flavors and external network it needs),
# then the set (smoke, or SET=full-api) of the lab's services, the reports
# under var/artefacts/ and a summary; tempest's leftovers are removed even
# when tests fail. Non-zero exit: a failure not in tests/tempest/known-failures.txt.
# LAB=core: only the tests of pillar/labs/core.sls's services.
SET ?= smoke
CONCURRENCY ?= 2
LAB ?=
verify: deps
	.venv/bin/python tools/verify.py venv
	.venv/bin/python tools/verify.py config$(if $(LAB), --lab $(LAB))
	nice .venv/bin/python tools/verify.py run --set $(SET) --concurrency $(CONCURRENCY)

# tempest's leftovers alone (make verify removes them itself)
verify-cleanup: deps
	.venv/bin/python tools/verify.py cleanup

destroy: deps
	$(SALT_CLOUD) -m $(MAP) -d -y

# Every local node, whichever map or test made it, and what a killed gce
# rehearsal left (its nodes, the fake Google network).
destroy-all: deps
	nodes="$$(python3 tools/lab.py nodes)"; [ -z "$$nodes" ] || $(SALT_CLOUD) -d $$nodes -y
	$(SALT_CLOUD) -f clean_host local
	PYTHONPATH=_utils .venv/bin/python tests/fakes/rehearsal.py teardown

# Python (ruff: lint and format), YAML (yamllint) and SLS (salt-lint).
lint: deps
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/yamllint -s .
	git ls-files -z 'salt/*.sls' 'pillar/*.sls' | xargs -0 .venv/bin/salt-lint

test: test-deps
	.venv/bin/pytest -m "not opt_in"

# make test, and what is too long for it (pyproject.toml's opt_in marker)
test-all: test-deps
	.venv/bin/pytest

# the fast tier: no lab, no real salt-call or salt-cloud, no QEMU
unit: deps
	.venv/bin/pytest -m "not e2e and not slow"

bench: deps
	.venv/bin/python bench/lab.py

# The Octavia amphora image: a cold build and boots under QEMU TCG.
bench-amphora: test-deps
	.venv/bin/python bench/amphora.py

# Octavia's load balancers on a running loadbalancing lab: create to ACTIVE,
# the memory each adds, delete.
bench-loadbalancer: deps
	.venv/bin/python bench/loadbalancer.py

# The Google Cloud path on booted machines (tests/fakes/rehearsal.py): the
# whole map, the full lab and the demo; the default test run rehearses the
# keystone lab on three nodes (tests/e2e/test_08_gce_rehearsal.py).
rehearse-gce: test-deps
	SALTLAB_REHEARSAL=full .venv/bin/pytest -p no:cacheprovider tests/e2e/test_08_gce_rehearsal.py
