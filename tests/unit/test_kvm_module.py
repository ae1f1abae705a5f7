"""
Unit tests of the kvm execution module: each reason KVM is or is not
usable, with /dev/kvm's ioctls and /proc/cpuinfo replaced; and one check
against this machine's real /dev/kvm, whatever it answers.
"""

import os
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


def test_this_machine_answers_one_way_or_the_other():
    result = kvm.check()
    assert isinstance(result["usable"], bool) and result["reason"]
    assert kvm.virt_type() == ("kvm" if result["usable"] else "qemu")
