"""Packets at rest: the file formats wirespeed reads and writes.

  pcapng.py     pcapng writer (ns timestamps, one interface per stream) and a
                reader for pcapng and classic pcap (native/formats/pcapng.c
                builds a batch's blocks)
"""
