{#- dpkg without an fsync per file (a lab node loses nothing by it: an
    install cut short is done again by the next highstate), and man-db's
    index not rebuilt after every package. #}
{%- from 'apt/map.jinja' import apt with context %}

apt-dpkg-unsafe-io:
  file.managed:
    - name: {{ apt.dpkg_config }}
    - contents: |
        # Managed by Salt (saltlab apt formula): do not edit.
        force-unsafe-io
    - mode: '0644'

{#- man-db's trigger rebuilds its index only while this file exists (what
    its debconf question man-db/auto-update sets) #}
apt-man-db-no-auto-update:
  file.absent:
    - name: /var/lib/man-db/auto-update
