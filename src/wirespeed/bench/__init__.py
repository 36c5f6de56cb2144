"""Benchmarks: `wirespeed bench <what>`. Every figure that matters is a ratio
against a peer measured in the same run, since the machine is shared."""
