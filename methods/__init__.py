"""Objectives: the legacy LagVAE / InfoVAE family."""
