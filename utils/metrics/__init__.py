"""Evaluation: mutual-information estimators of the legacy runs, the image metrics (FID, FD-LeNet,
precision/recall) and the 2D sample metrics (KL, JSD, gnELBO) of the Soft-IntroVAE experiments."""
