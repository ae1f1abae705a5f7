# The lab this checkout deploys: one of pillar/labs/. Switch by naming
# another here, `tools/push`, then `salt '*' state.apply`: what the new lab
# adds is installed, the rest is left as it is.
include:
  - labs.full
