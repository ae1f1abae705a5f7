{#- Octavia's worker, health manager and housekeeping on the network
    node, and what they boot amphorae with: the flavor, image, keypair,
    management network and the health manager's port on it, the
    certificates. The API is octavia, on the controller. #}
include:
  - octavia.worker.install
  - octavia.worker.ready
  - octavia.worker.resources
  - octavia.worker.interface
  - octavia.worker.pki
  - octavia.worker.config
  - octavia.worker.service
