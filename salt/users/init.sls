{#- The install user (`stack`): passwordless sudo, the lab SSH key. #}
include:
  - users.install
  - users.account
  - users.sudo
