"""The training loops of the three commands: legacy LagVAE / InfoVAE (legacy), the 2D Soft-IntroVAE
(toy) and the image Soft-IntroVAE (images); each runs inside the plumbing's run lifecycle."""
