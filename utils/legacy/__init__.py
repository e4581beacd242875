"""Reading what the legacy TF1 code wrote: its run directories (eval.pkl, events) and checkpoints."""
