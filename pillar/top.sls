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
  # Nodes of a local lab (nspawn): what differs there (pillar/local.sls).
  # A lab host is not a lab node, even on a container (as in the tests).
  'G@virtual:systemd-nspawn and not G@roles:labhost':
    - match: compound
    - local
