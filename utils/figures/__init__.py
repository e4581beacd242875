"""Figures: the Pareto (mutual information vs consistency) figure and the 2D Soft-IntroVAE plots."""
