"""`python -m wirespeed` is the `wirespeed` command."""
from wirespeed.cli import main

main()
