"""
Whether this machine can run KVM guests, and so which ``virt_type`` Nova's
libvirt driver should use (``kvm`` or ``qemu``, QEMU's own emulator).

A ``/dev/kvm`` that opens is not enough: in a container on a virtual
machine without nested virtualization the device may be there and even
create a VM, while the CPU lacks the virtualization extensions guests need.
KVM counts as usable when all of these hold:

- ``/dev/kvm`` opens read-write;
- it speaks KVM's stable API (``KVM_GET_API_VERSION`` is 12);
- it creates a VM (``KVM_CREATE_VM``);
- the CPU flags in ``/proc/cpuinfo`` include ``vmx`` (Intel VT-x) or
  ``svm`` (AMD-V).
"""

import fcntl
import logging
import os

log = logging.getLogger(__name__)

__virtualname__ = "kvm"

DEVICE = "/dev/kvm"
CPUINFO = "/proc/cpuinfo"
# <linux/kvm.h>: _IO(KVMIO, 0x00) and _IO(KVMIO, 0x01), KVMIO = 0xAE
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12
CPU_FLAGS = ("vmx", "svm")


def __virtual__():
    return __virtualname__


def _cpu_flags():
    """The CPU flags of the first processor in /proc/cpuinfo."""
    with open(CPUINFO, encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                return set(value.split())
    return set()


def check():
    """
    Why KVM guests can or cannot run here: ``{"usable": bool, "reason": str}``.

    CLI Example:

    .. code-block:: bash

        salt 'compute*' kvm.check
    """
    try:
        device = os.open(DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return {"usable": False, "reason": f"{DEVICE} does not open: {exc.strerror}"}
    try:
        version = fcntl.ioctl(device, KVM_GET_API_VERSION, 0)
        if version != KVM_API_VERSION:
            return {"usable": False, "reason": f"{DEVICE} speaks KVM API {version}, not {KVM_API_VERSION}"}
        try:
            os.close(fcntl.ioctl(device, KVM_CREATE_VM, 0))
        except OSError as exc:
            return {"usable": False, "reason": f"{DEVICE} creates no VM: {exc.strerror}"}
    finally:
        os.close(device)
    if not _cpu_flags() & set(CPU_FLAGS):
        return {"usable": False, "reason": f"the CPU has neither of the flags {' '.join(CPU_FLAGS)} ({CPUINFO})"}
    return {"usable": True, "reason": f"{DEVICE} creates VMs and the CPU has virtualization extensions"}


def virt_type():
    """
    ``kvm`` when KVM guests can run here (see :func:`check`), else ``qemu``.

    CLI Example:

    .. code-block:: bash

        salt 'compute*' kvm.virt_type
    """
    result = check()
    log.debug("kvm: %s", result["reason"])
    return "kvm" if result["usable"] else "qemu"
