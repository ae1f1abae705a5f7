"""
Unit tests of the kvm execution module: each reason KVM is or is not
usable, with /dev/kvm's ioctls and /proc/cpuinfo replaced; and one check
against this machine's real /dev/kvm, compared with whether QEMU runs a
guest on KVM here.
"""

import os
import shutil
import subprocess
from unittest.mock import patch

import pytest

import extensions

kvm = extensions.load("_modules", "kvm")

FLAGS_VMX = "processor\t: 0\nflags\t\t: fpu vme sse2 vmx ssse3\n"
FLAGS_NONE = "processor\t: 0\nflags\t\t: fpu vme sse2 ssse3 hypervisor\n"


@pytest.fixture
def configure_loader_modules():
    return {kvm: {}}


@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    path = tmp_path / "cpuinfo"
    monkeypatch.setattr(kvm, "CPUINFO", str(path))
    return path


@pytest.fixture
def device(tmp_path, monkeypatch):
    """A stand-in /dev/kvm: a file the (replaced) ioctls are asked about."""
    path = tmp_path / "kvm"
    path.write_bytes(b"")
    monkeypatch.setattr(kvm, "DEVICE", str(path))
    return path


def ioctls(version=12, create_vm=True):
    def ioctl(fd, request, arg):  # pylint: disable=unused-argument
        if request == kvm.KVM_GET_API_VERSION:
            return version
        if request == kvm.KVM_CREATE_VM:
            if not create_vm:
                raise OSError(22, "Invalid argument")
            return os.dup(fd)
        raise AssertionError(f"unexpected ioctl {request:#x}")

    return patch.object(kvm.fcntl, "ioctl", side_effect=ioctl)


def test_usable_with_a_working_device_and_vmx(device, cpuinfo):  # pylint: disable=unused-argument
    cpuinfo.write_text(FLAGS_VMX)
    with ioctls():
        assert kvm.check()["usable"] is True
        assert kvm.virt_type() == "kvm"


def test_no_extensions_in_the_cpu_means_qemu(device, cpuinfo):  # pylint: disable=unused-argument
    cpuinfo.write_text(FLAGS_NONE)
    with ioctls():
        result = kvm.check()
        assert result == {"usable": False, "reason": "the CPU has neither of the flags vmx svm (" + str(cpuinfo) + ")"}
        assert kvm.virt_type() == "qemu"


def test_a_device_that_does_not_open(cpuinfo, tmp_path, monkeypatch):
    cpuinfo.write_text(FLAGS_VMX)
    missing = tmp_path / "no-kvm"
    monkeypatch.setattr(kvm, "DEVICE", str(missing))
    assert kvm.check() == {"usable": False, "reason": f"{missing} does not open: No such file or directory"}
    assert kvm.virt_type() == "qemu"


def test_another_api_version(device, cpuinfo):
    cpuinfo.write_text(FLAGS_VMX)
    with ioctls(version=11):
        assert kvm.check()["reason"] == f"{device} speaks KVM API 11, not 12"


def test_a_device_that_creates_no_vm(device, cpuinfo):
    cpuinfo.write_text(FLAGS_VMX)
    with ioctls(create_vm=False):
        assert kvm.check() == {"usable": False, "reason": f"{device} creates no VM: Invalid argument"}


# A boot sector that writes "K" to the first serial port and halts.
BOOT_SECTOR = bytes([0xBA, 0xF8, 0x03, 0xB0, 0x4B, 0xEE, 0xF4, 0xEB, 0xFD]).ljust(510, b"\0") + b"\x55\xaa"


def qemu_runs_a_guest_on_kvm(tmp_path):
    """
    An independent answer: whether QEMU runs a guest's first instructions
    on KVM here (the BIOS, then a boot sector that writes to the serial
    port): a /dev/kvm that opens but runs nothing hangs instead.
    """
    disk = tmp_path / "boot.bin"
    disk.write_bytes(BOOT_SECTOR)
    command = ["qemu-system-x86_64", "-accel", "kvm", "-m", "16", "-display", "none", "-nodefaults"]
    command += ["-serial", "stdio", "-drive", f"format=raw,file={disk},if=floppy"]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=15, check=False)
    except subprocess.TimeoutExpired as exc:
        return b"K" in (exc.stdout or b"")
    return b"K" in proc.stdout


@pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="QEMU (Debian: qemu-system-x86) is not installed"
)
def test_this_machine_is_called_usable_only_if_qemu_runs_a_guest_on_kvm(tmp_path):
    """
    The module may be stricter than QEMU's first instructions (seen here: a
    /dev/kvm that runs a boot sector on a CPU without vmx or svm, which
    Nova's guests would not get far on), never looser: a machine it calls
    usable runs QEMU's guest on KVM.
    """
    result = kvm.check()
    if result["usable"]:
        assert qemu_runs_a_guest_on_kvm(tmp_path), result
    else:
        assert result["reason"]
    assert kvm.virt_type() == ("kvm" if result["usable"] else "qemu")
