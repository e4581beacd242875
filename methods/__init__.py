"""Objectives: the legacy LagVAE / InfoVAE family (spec lagvae_legacy.md section 1)."""
