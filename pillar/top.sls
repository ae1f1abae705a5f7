# Pillar of every lab node: the defaults, the lab this checkout deploys
# (pillar/lab.sls names one of pillar/labs/), and the generated secrets.
# `secrets` is made once by tools/secrets (git-ignored, mode 0600); until
# it exists it is skipped (ignore_missing applies to this whole block).
base:
  '*':
    - defaults
    - lab
    - secrets
    - ignore_missing: true
  # Local (nspawn) nodes: what differs there (pillar/local.sls)
  'virtual:systemd-nspawn':
    - match: grain
    - local
