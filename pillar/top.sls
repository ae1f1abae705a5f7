base:
  '*':
    - defaults
    # generated once by tools/secrets (git-ignored, mode 0600)
    - secrets
