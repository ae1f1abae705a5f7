{#- The demo, on the controller (`salt controller state.apply demo`):
    what the admin provides (flavor, test image, the external network),
    then in the demo project a VXLAN network behind a router, and two
    servers on different compute nodes with floating IPs; in a lab with
    Cinder, a volume attached to one and the other booted from a volume;
    in a lab with Octavia, a load balancer in front of both.
    Every state is idempotent: a second run changes nothing. #}
include:
  - demo.admin
  - demo.project
  - demo.servers
  - demo.volumes
  - demo.loadbalancer
