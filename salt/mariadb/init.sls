{#- MariaDB on the controller's management address: the OpenStack
    services' databases. #}
include:
  - mariadb.install
  - mariadb.config
  - mariadb.service
  - mariadb.root
