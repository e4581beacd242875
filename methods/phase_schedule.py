"""The Soft-IntroVAE phase schedule: the one-time events at the start of a training step, in one place for the 2D
benchmark, Keras `fit` and the images.

Matches the authors' loops, athaioan/intro_prior at c5f1e3b: per iteration in
2D/train_scripts/prior_decoder_cooperation_target_prior_variance_clipping_entropy_encoder_assignment.py
(T2:135-151) and per epoch in the file of the same name in images/train_scripts/ (TI:136-166).
"""

VAMP_TO_MOG, RESET_PRIOR_OPTIMIZER, ADVERSARIAL = "vamp_to_mog", "reset_prior_optimizer", "adversarial"


class PhaseSchedule:
    """When a `SoftIntroVAE` (methods/sintrovae.py) changes phase, counted in the caller's unit: iterations
    (2D, `fit`) or epochs (images). At the start of step t, in this order:

    * VampPrior -> MoG, all three Adams reset (`convert_vamp_to_mog`), at t = warmup - mog_warmup when the
      prior is still a VampPrior and the run goes past the warm-up (`total` > warmup; `total` None: unknown);
    * with `reset_prior_optimizer` (images only, TI:153-166): a fresh prior Adam at t = max(warmup - mog_warmup,
      0) when the prior is learned by the introspective game (intro_prior and not imposed);
    * the adversarial phase (frozen clipping bounds, `start_adversarial_phase`) at t = warmup;
    * the MultiStepLR learning rates of step t (`set_schedule_step`).
    """

    def __init__(self, warmup, mog_warmup=0, total=None, reset_prior_optimizer=False):
        self.warmup, self.mog_warmup = int(warmup), int(mog_warmup)
        self.total = None if total is None else int(total)
        self.reset_prior_optimizer = bool(reset_prior_optimizer)

    def begin(self, model, step):
        """Apply the events of step `step` to `model`; returns their names (VAMP_TO_MOG, RESET_PRIOR_OPTIMIZER,
        ADVERSARIAL), in the order applied, for the caller's log."""
        events = []
        past_warmup = self.total is None or self.total > self.warmup
        if model.prior.kind == "vamp" and step == self.warmup - self.mog_warmup and past_warmup:
            model.convert_vamp_to_mog()
            events.append(VAMP_TO_MOG)
        if (self.reset_prior_optimizer and model.intro_prior and not model.prior.is_imposed
                and step == max(self.warmup - self.mog_warmup, 0)):
            model.reset_optimizers(model.optimizer_p)
            events.append(RESET_PRIOR_OPTIMIZER)
        if step == self.warmup and not model.in_adversarial_phase:
            model.start_adversarial_phase()
            events.append(ADVERSARIAL)
        model.set_schedule_step(step)
        return tuple(events)
