"""Where accounts are kept: non-secret settings on disk, secrets in the OS keyring, nothing else."""
