"""Kernel glue for the host: /proc and /sys readers, capabilities, ethtool,
netdev features, network namespaces. Named `system` rather than `sys` so no
module here can be mistaken for the standard library's `sys`."""
