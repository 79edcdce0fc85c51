"""The tests: a package, so that its modules share helpers (workdirs, slurm_fixtures) by import."""
