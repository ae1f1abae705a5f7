"""
What the fake Compute API offers every project, mixed into its
``ComputeAPI`` (``compute_api.py``): the project itself with its metadata
(``projects.get``), the zones and their regions, the machine types
(vCPUs, memory, CPU platform, whether they nest) and the public images
and their families, as fixed catalogues; with the checks the other
resources make against them (a known zone or region, an image that
exists).
"""

import re

try:
    from fakes.compute_common import SELF_BASE, ApiError
except ImportError:  # run by hand: python3 tests/fakes/compute_api.py
    from compute_common import SELF_BASE, ApiError

ZONES = {
    "europe-west1-b": "europe-west1",
    "europe-west1-c": "europe-west1",
    "us-central1-a": "us-central1",
}
# name: (vCPUs, memory MB, CPU platform, nested virtualization)
MACHINE_TYPES = {
    "n1-standard-1": (1, 3840, "Intel Skylake", True),
    "n1-standard-2": (2, 7680, "Intel Skylake", True),
    "n1-standard-4": (4, 15360, "Intel Skylake", True),
    "n1-standard-8": (8, 30720, "Intel Skylake", True),
    "n2-standard-4": (4, 16384, "Intel Cascade Lake", True),
    "n4-standard-4": (4, 16384, "Intel Emerald Rapids", True),
    "c4-standard-4": (4, 15360, "Intel Emerald Rapids", True),
    "e2-standard-4": (4, 16384, "Intel Broadwell", False),
    "n2d-standard-4": (4, 16384, "AMD Rome", False),
    "t2a-standard-4": (4, 16384, "Ampere Altra", False),
}
# project: [(name, family)]
IMAGES = {
    "debian-cloud": [
        ("debian-12-bookworm-v20251111", "debian-12"),
        ("debian-13-trixie-v20251111", "debian-13"),
    ],
}
# machine series that take only Hyperdisk volumes (no pd-*), boot disks included
HYPERDISK_ONLY = ("c4", "c4a", "c4d", "n4", "n4d", "h3", "x4", "m4", "h4d")


class Catalog:
    """
    Mixed into ComputeAPI: ``self.project``, ``project_metadata``, ``link``
    and ``_list``.
    """

    # -- the project ---------------------------------------------------------------------

    def get_project(self, query, body):
        """projects.get: the project and its metadata (commonInstanceMetadata)."""
        return 200, {
            "kind": "compute#project",
            "id": "123456789012",
            "name": self.project,
            "selfLink": self.link(),
            "commonInstanceMetadata": {
                "kind": "compute#metadata",
                "fingerprint": "projectmeta0",
                "items": [{"key": k, "value": v} for k, v in sorted(self.project_metadata.items())],
            },
            "defaultNetworkTier": "PREMIUM",
        }

    # -- zones, machine types, images -------------------------------------------------

    # the zone or region a path names: one the fake has, else a 404
    def _zone(self, zone):
        if zone not in ZONES:
            raise ApiError(404, "notFound", f"The resource 'projects/{self.project}/zones/{zone}' was not found")
        return zone

    def _region(self, region):
        if region not in ZONES.values():
            raise ApiError(404, "notFound", f"The resource 'projects/{self.project}/regions/{region}' was not found")
        return region

    def _zone_view(self, zone):
        return {
            "kind": "compute#zone",
            "id": str(2000 + sorted(ZONES).index(zone)),
            "name": zone,
            "description": zone,
            "status": "UP",
            "region": self.link("regions", ZONES[zone]),
            "selfLink": self.link("zones", zone),
            "availableCpuPlatforms": sorted({m[2] for m in MACHINE_TYPES.values()}),
        }

    def list_zones(self, query, body):
        return self._list("compute#zoneList", [self._zone_view(z) for z in sorted(ZONES)], query)

    def get_zone(self, zone, query, body):
        return 200, self._zone_view(self._zone(zone))

    def _machine_type_view(self, zone, name):
        cpus, memory, _platform, _nested = MACHINE_TYPES[name]
        return {
            "kind": "compute#machineType",
            "id": str(3000 + sorted(MACHINE_TYPES).index(name)),
            "name": name,
            "description": f"{cpus} vCPU{'s' if cpus > 1 else ''}, {memory / 1024:g} GB RAM",
            "guestCpus": cpus,
            "memoryMb": memory,
            "maximumPersistentDisks": 128,
            "maximumPersistentDisksSizeGb": "263168",
            "zone": zone,
            "isSharedCpu": False,
            "selfLink": self.link("zones", zone, "machineTypes", name),
        }

    def list_machine_types(self, zone, query, body):
        self._zone(zone)
        return self._list(
            "compute#machineTypeList", [self._machine_type_view(zone, n) for n in sorted(MACHINE_TYPES)], query
        )

    def get_machine_type(self, zone, name, query, body):
        self._zone(zone)
        if name not in MACHINE_TYPES:
            raise ApiError(
                404,
                "notFound",
                f"The resource 'projects/{self.project}/zones/{zone}/machineTypes/{name}' was not found",
            )
        return 200, self._machine_type_view(zone, name)

    def _image_view(self, project, name, family):
        return {
            "kind": "compute#image",
            "id": str(4000 + len(name)),
            "name": name,
            "family": family,
            "creationTimestamp": "2025-11-11T00:00:00.000-08:00",
            "status": "READY",
            "archiveSizeBytes": "1234567890",
            "diskSizeGb": "10",
            "architecture": "X86_64",
            "description": f"Debian, {family}, amd64 built on {name[-8:]}",
            "selfLink": f"{SELF_BASE}/projects/{project}/global/images/{name}",
        }

    def _images(self, project):
        if project not in IMAGES:
            raise ApiError(404, "notFound", f"The resource 'projects/{project}' was not found")
        return [self._image_view(project, n, f) for n, f in IMAGES[project]]

    def list_images(self, project, query, body):
        return self._list("compute#imageList", self._images(project), query)

    def image_from_family(self, project, family, query, body):
        for image in self._images(project):
            if image["family"] == family:
                return 200, image
        raise ApiError(
            404, "notFound", f"The resource 'projects/{project}/global/images/family/{family}' was not found"
        )

    def _image(self, reference):
        match = re.search(r"projects/([^/]+)/global/images/(family/)?([^/]+)$", str(reference or ""))
        if not match:
            raise ApiError(400, "invalid", f"Invalid value for field 'sourceImage': '{reference}'")
        images = self._images(match.group(1))
        key = "family" if match.group(2) else "name"
        if not any(image[key] == match.group(3) for image in images):
            raise ApiError(404, "notFound", f"The resource '{reference}' was not found")
