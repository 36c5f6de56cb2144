"""Kernel glue for XDP: an eBPF assembler, the programs wirespeed generates,
and loading/attaching them through bpf() (no clang, no libbpf)."""
