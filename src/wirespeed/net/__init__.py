"""Packet headers as they are on the wire.

  frames.py     Ethernet/IPv4/UDP frames, built the way Linux builds them (the
                C twin, native/net/frame.c, also checks received frames)
"""
