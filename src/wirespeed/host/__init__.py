"""The host wirespeed runs on: what it can do, and a second host for tests.

  doctor.py     `wirespeed doctor`: kernel, privileges, interfaces, CPUs and
                memory checked for kernel bypass, each with its fix
  testbed.py    `wirespeed testbed`: a network namespace joined by veth, the
                exchange side's host
"""
