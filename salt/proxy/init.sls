{#- The TLS proxy on the network node: the lab CA and the proxy's
    certificate, NGINX in front of every enabled API (rewriting the
    controller's internal URLs to its own), the public NIC closed to all
    else, and openrc files for root. #}
include:
  - proxy.pki
  - proxy.install
  - proxy.config
  - proxy.service
  - proxy.credentials
