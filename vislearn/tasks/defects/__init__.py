"""The defects task: its training, model, outputs and command-line parts, one file each."""
