"""Fixtures every test module may use by name: the single-node Slurm cluster (slurm_fixtures)."""

from .slurm_fixtures import slurm_cluster, slurm_profile_args

__all__ = ["slurm_cluster", "slurm_profile_args"]
