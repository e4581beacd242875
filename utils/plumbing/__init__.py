"""One run's life: run directory, configuration, lock, guard against signals and storage errors,
checkpoints, the Baselines-style logger, progress bar, atomic results, devices and command-line flags."""
