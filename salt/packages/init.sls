{#- The tools every lab node has. #}
include:
  - packages.install
