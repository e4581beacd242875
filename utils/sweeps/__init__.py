"""Sweeps on Ray: the papers' experiments as data (experiments), the engine (engine), one trial's
child command (runner), tables (tables) and TensorBoard HParams summaries (hparams)."""
