# Pillar of every lab node: the lab model, the defaults, the lab this
# checkout deploys (pillar/lab.sls names one of pillar/labs/), and the
# node's own secrets (of pillar/secrets.json, made once by tools/secrets:
# git-ignored, mode 0600). A lab host is not a lab node: only the
# defaults (salt-cloud uploads no other pillar to it).
base:
  'not G@roles:labhost':
    - match: compound
    - model
    - defaults
    - lab
    - secrets
  'G@roles:labhost':
    - match: compound
    - defaults
  # Nodes of a local lab (nspawn): what differs there (pillar/local.sls).
  # A lab host is not a lab node, even on a container (as in the tests).
  'G@virtual:systemd-nspawn and not G@roles:labhost':
    - match: compound
    - local
