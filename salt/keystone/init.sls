{#- Keystone, the identity service: its database, fernet and credential
    keys, the bootstrap (admin, the identity endpoints), the service and
    demo projects. #}
include:
  - keystone.install
  - keystone.db
  - keystone.config
  - keystone.service
  - keystone.bootstrap
  - keystone.projects
