# Pillar of every lab node. `secrets` is generated once by tools/secrets
# (git-ignored, mode 0600); until it exists it is skipped (ignore_missing
# applies to this whole block: `defaults` is in git).
base:
  '*':
    - defaults
    - secrets
    - ignore_missing: true
