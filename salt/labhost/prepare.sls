{#- Everything but the lab: the checkout, what the local provider needs,
    the `stack` user, the firewall. #}
include:
  - labhost.checkout
  - labhost.packages
  - labhost.user
  - labhost.firewall
