"""The papers' experiments as data: every trial is one existing training command and its run directory.

A trial is `python examples/<script> <flags>` with `EXP_LOG_PATH` set to the sweep's root. Its run
directory is the one the command itself builds (the legacy `{mi}-{e1}-{e2}` folders; the
2D / image `config_name` of the two S-IntroVAE commands), so that a run started by hand and the same run
started by a sweep are one trial: a finished one (its result file present) is skipped, an interrupted one
resumes from its own `ckpt/`.

Experiments (`EXPERIMENTS`), each with presets (`full` is the papers' protocol):
* `pareto`: the UAI 2018 figure "Mutual Information vs Consistency".
* `toy2d-table1`: TMLR 2025 Table 1 (sintrovae): stage 1 the authors' beta grid search (seed 0,
  `IP:2D/demo_grid_search.py`), stage 2 the selected betas (lowest sample KL, `C2:188-251`) x 5 seeds.
* `images-ablation`: TMLR 2025 Tables 2/5 (sintrovae): N(0, I) and Vamp->MoG(K) for K in {10, 100}
  x LC x (IP, SWG) x r in {0, 1, 10, 100}, 3 seeds; the table keeps the best r per configuration.
"""
import json
import os
import pickle
from dataclasses import dataclass, field

from utils.plumbing.errors import UserError
from utils.legacy.runs import run_directory as legacy_run_directory

SCRIPTS = {"lagvae": "lagvae.py", "infovae": "infovae.py", "sintrovae_2d": "sintrovae_2d.py",
           "sintrovae_images": "sintrovae_images.py"}


@dataclass
class Trial:
    """One run: the command's script and flags (no --device: the engine adds it), its run directory relative
    to EXP_LOG_PATH, the file that marks it finished, and its configuration (also its HParams)."""
    script: str
    args: list
    run_dir: str
    done_file: str
    hparams: dict
    stage: str = "main"
    done_min: dict = field(default_factory=dict)   # e.g. {"epochs_trained": 220} for eval.json

    @property
    def name(self):
        return self.run_dir

    def command(self, python, script_dir, device, extra_args=()):
        return [python, os.path.join(script_dir, SCRIPTS[self.script])] + list(self.args) + \
            ["--device", str(device)] + list(extra_args)

    def finished(self, root):
        """The run's result file exists (and, for eval.json, records at least `done_min`)."""
        path = os.path.join(root, self.run_dir, self.done_file)
        if not os.path.exists(path):
            return False
        if not self.done_min:
            return True
        try:
            with open(path) as stream:
                record = json.load(stream)
            return all(float(record.get(key, -1)) >= value for key, value in self.done_min.items())
        except (OSError, ValueError, TypeError):
            return False

    def results(self, root):
        """The run's final metrics (eval.pkl or eval.json) as a dict of floats; {} when there is none."""
        path = os.path.join(root, self.run_dir, self.done_file)
        return read_results(path)


def read_results(path):
    """Numeric entries of an eval.pkl / eval.json as floats; {} when the file is missing or unreadable."""
    try:
        if path.endswith(".pkl"):
            with open(path, "rb") as stream:
                record = pickle.load(stream)
        else:
            with open(path) as stream:
                record = json.load(stream)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        return {}
    out = {}
    for key, value in record.items():
        if isinstance(value, bool):
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


# ----------------------------------------------------------------------------------------------- pareto
# Legacy.5 (the figure's LagVAE protocol) and 2.4 (the proposed InfoVAE grid; the paper's is unknown).
PARETO_FULL = dict(lagvae_mi=(1.0, -1.0), lagvae_e1=(80.0, 82.0, 84.0) + tuple(float(e) for e in range(85, 96)),
                   lagvae_e2=(5.0,), infovae=[(mi, l1, l2) for mi in (1.0, -1.0)
                                               for l1 in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
                                               for l2 in (0.1, 1.0, 10.0)], epochs=5000)
PARETO_PRESETS = {
    "full": PARETO_FULL,
    # the committed 12-epoch reproduction (docs/reproduction): 6 runs, ~40 minutes on a 2-core CPU
    "cpu-small": dict(lagvae_mi=(1.0, -1.0), lagvae_e1=(123.0, 153.0), lagvae_e2=(5.0,),
                      infovae=[(1.0, 10.0, 1.0), (-1.0, 1.0, 1.0)], epochs=12),
    # long enough for the Lagrangian mechanism: at 90 epochs a mi = +1, e1 = 120 run had -ELBO 115.5 with
    # lambda1 falling (0.12 from a peak of 1.45), so by 120 epochs the mi = +1 levels 115-130 are reached and
    # -ELBO rises back to e1; mi = -1 runs approach e1 from above (without the constraint the rate penalty
    # drives -ELBO up), so e1 = 125-145 pins them.
    "cpu-frontier": dict(lagvae_mi=None, lagvae_pairs=[(1.0, 115.0), (1.0, 120.0), (1.0, 125.0), (1.0, 130.0),
                                                       (-1.0, 125.0), (-1.0, 135.0), (-1.0, 145.0)],
                         lagvae_e2=(5.0,), infovae=[(1.0, 10.0, 1.0), (1.0, 1.0, 1.0), (-1.0, 1.0, 1.0)],
                         epochs=120),
    # what ran here (docs/reproduction/frontier40): 40 epochs per run, levels set from 40-epoch pilots (mi = -1,
    # e1 = 130 and mi = +1, e1 = 125 ended 11-14 nats inside e1 with lambda1 falling), so that the last ones bind
    "cpu-frontier40": dict(lagvae_mi=None, lagvae_pairs=[(1.0, 110.0), (1.0, 111.0), (1.0, 114.0), (1.0, 125.0),
                                                         (-1.0, 117.0), (-1.0, 118.0), (-1.0, 119.0),
                                                         (-1.0, 120.0), (-1.0, 130.0)],
                           lagvae_e2=(5.0,), infovae=[(1.0, 10.0, 1.0), (-1.0, 1.0, 1.0)], epochs=40),
}


def _float(value):
    return "%r" % float(value)


def pareto_trials(preset="full", z_dim=64, epochs=None):
    spec = PARETO_PRESETS[preset]
    epochs = epochs or spec["epochs"]
    pairs = spec.get("lagvae_pairs") or [(mi, e1) for mi in spec["lagvae_mi"] for e1 in spec["lagvae_e1"]]
    configs = [("lagvae", mi, e1, e2) for mi, e1 in pairs for e2 in spec["lagvae_e2"]]
    configs += [("infovae", mi, l1, l2) for mi, l1, l2 in spec["infovae"]]
    trials, seen = [], set()
    for method, mi, e1, e2 in configs:
        run_dir = os.path.relpath(legacy_run_directory("/", method, z_dim, mi, e1, e2), "/")
        if run_dir in seen:
            continue
        seen.add(run_dir)
        trials.append(Trial(method, ["--z_dim", str(z_dim), "--mi=" + _float(mi), "--e1=" + _float(e1),
                                     "--e2=" + _float(e2), "--epochs", str(epochs)], run_dir, "eval.pkl",
                            dict(method=method, z_dim=z_dim, mi=float(mi), e1=float(e1), e2=float(e2),
                                 epochs=epochs)))
    return trials


# ------------------------------------------------------------------------------------------ toy2d-table1
TOY2D_DATASETS = ("8Gaussian", "spiral", "checkerboard", "rings")
# The 8 rows of Table 1 (IP:2D/bash_scripts/submit_grid_search.sh:13-23): VAE N(0,I), Vamp(64) LC off / on;
# S-IntroVAE N(0,I), Vamp->MoG(64) with (LC, IP) in {off off, off on, on off, on on} (SWG = IP, clip on).
TOY2D_MODELS = {
    "VAE N(0,I)": dict(vae=True, prior="imposed"),
    "VAE Vamp(64)": dict(vae=True, prior="vamp", lc=False),
    "VAE Vamp(64) LC": dict(vae=True, prior="vamp", lc=True),
    "S-IntroVAE N(0,I)": dict(vae=False, prior="imposed"),
    "S-IntroVAE MoG(64)": dict(vae=False, prior="vamp", lc=False, ip=False),
    "S-IntroVAE MoG(64) IP": dict(vae=False, prior="vamp", lc=False, ip=True),
    "S-IntroVAE MoG(64) LC": dict(vae=False, prior="vamp", lc=True, ip=False),
    "S-IntroVAE MoG(64) LC IP": dict(vae=False, prior="vamp", lc=True, ip=True),
}
# The authors' beta grids (sintrovae, C2:116-182): S-IntroVAE 6 x 7 x 5 = 210, VAE 9 x 9 = 81.
SINTRO_BETA_REC = (0.05, 0.2, 0.3, 0.4, 0.8, 1.0)
SINTRO_BETA_KL = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0)
SINTRO_NEG_FACTORS = (1, 2, 3, 4, 5)
VAE_BETAS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.8, 1.0)
# The 2D command's per-data-set defaults (the authors' configs): one table, in utils/training/toy.py
from utils.training.toy import DEFAULT_BETAS as SINTRO_DEFAULT_BETAS, VAE_BETAS as VAE_DEFAULT_BETAS  # noqa: E402

TOY2D_PRESETS = {
    "full": dict(datasets=TOY2D_DATASETS, models=tuple(TOY2D_MODELS), grid="authors", seeds=(0, 1, 2, 3, 4),
                 schedule=dict(iterations=30000, warmup=2000, mog_warmup=100, milestones="10000,15000")),
    # 8 Gaussians only, a 2 x 2 grid per model, 2 seeds, the 1/20 schedule of the README's short runs
    "cpu-small": dict(datasets=("8Gaussian",), models=tuple(TOY2D_MODELS), grid="small", seeds=(0, 1),
                      schedule=dict(iterations=1500, warmup=100, mog_warmup=5, milestones="500,750")),
    # the S-IntroVAE N(0, I) row at the paper's full schedule with the code-default betas (no grid search)
    "gauss-8gaussian": dict(datasets=("8Gaussian",), models=("S-IntroVAE N(0,I)",), grid="defaults",
                            seeds=(0, 1, 2, 3, 4),
                            schedule=dict(iterations=30000, warmup=2000, mog_warmup=100, milestones="10000,15000")),
}


def _beta_grid(grid, vae, dataset):
    if grid == "defaults":
        return [VAE_DEFAULT_BETAS[dataset] + (1.0,)] if vae else [SINTRO_DEFAULT_BETAS[dataset]]
    if grid == "small":
        if vae:
            return [(0.8, kl, 1.0) for kl in (0.05, 0.1)]
        return [(0.2, kl, 3 * kl) for kl in (0.3, 0.5)]
    if vae:
        return [(rec, kl, 1.0) for rec in VAE_BETAS for kl in VAE_BETAS]
    return [(rec, kl, kl * f) for rec in SINTRO_BETA_REC for kl in SINTRO_BETA_KL for f in SINTRO_NEG_FACTORS]


def _toy2d_run_dir(dataset, model, betas, seed, schedule):
    """The run directory examples/sintrovae_2d.py builds for these flags (its own `config_name`)."""
    from utils.training.toy import config_name, parse_milestones
    iterations = schedule["iterations"]
    warmup = iterations if model["vae"] else schedule["warmup"]
    if model["prior"] == "imposed":
        k, lc, ip = 1, False, False if model["vae"] else True
    else:
        k, lc, ip = 64, model["lc"], model.get("ip", False)
    name = config_name(model["prior"], k, lc, ip, ip, True, 0.0, betas, 100, iterations, warmup,
                       parse_milestones(schedule["milestones"]))
    return os.path.join("sintrovae2d", dataset, name, "seed%d" % seed)


def toy2d_trial(dataset, model_name, betas, seed, schedule, stage):
    model = TOY2D_MODELS[model_name]
    iterations = schedule["iterations"]
    warmup = iterations if model["vae"] else schedule["warmup"]
    args = ["--dataset", dataset, "--prior", model["prior"], "--beta-rec", "%g" % betas[0],
            "--beta-kl", "%g" % betas[1], "--beta-neg", "%g" % betas[2], "--seed", str(seed)]
    if model["prior"] != "imposed":
        args += ["--num-components", "64",
                 "--learnable-contributions" if model["lc"] else "--no-learnable-contributions"]
    ip = (not model["vae"]) and (model["prior"] == "imposed" or model.get("ip", False))
    args += ["--intro-prior" if ip else "--no-intro-prior"]
    if (iterations, warmup, schedule["mog_warmup"], schedule["milestones"]) != (30000, 2000, 100, "10000,15000"):
        args += ["--iterations", str(iterations), "--warmup", str(warmup), "--mog-warmup",
                 str(schedule["mog_warmup"]), "--lr-milestones", schedule["milestones"]]
    hparams = dict(experiment="toy2d-table1", dataset=dataset, model=model_name, beta_rec=betas[0],
                   beta_kl=betas[1], beta_neg=betas[2], seed=seed, iterations=iterations, stage=stage)
    return Trial("sintrovae_2d", args, _toy2d_run_dir(dataset, model, betas, seed, schedule), "eval.json",
                 hparams, stage=stage)


def toy2d_grid_search(preset="full"):
    """Stage 1: every model's beta grid at seed 0 (a single point for the `defaults` grid)."""
    spec = TOY2D_PRESETS[preset]
    return [toy2d_trial(d, m, betas, 0, spec["schedule"], "grid-search") for d in spec["datasets"]
            for m in spec["models"] for betas in _beta_grid(spec["grid"], TOY2D_MODELS[m]["vae"], d)]


def select_betas(root, grid_trials):
    """{(dataset, model): betas} of the finished grid-search run with the lowest sample KL (C2:188-251);
    ties keep the first in grid order. Models with no finished run are missing."""
    best = {}
    for trial in grid_trials:
        kl = trial.results(root).get("kl")
        if kl is None or kl != kl:
            continue
        key = (trial.hparams["dataset"], trial.hparams["model"])
        if key not in best or kl < best[key][0]:
            best[key] = (kl, (trial.hparams["beta_rec"], trial.hparams["beta_kl"], trial.hparams["beta_neg"]))
    return {key: betas for key, (kl, betas) in best.items()}


def toy2d_seeds(root, preset="full"):
    """Stage 2: the selected betas x the preset's seeds; (trials, models still without a selection)."""
    spec = TOY2D_PRESETS[preset]
    if spec["grid"] == "defaults":
        selected = {(d, m): _beta_grid("defaults", TOY2D_MODELS[m]["vae"], d)[0] for d in spec["datasets"]
                    for m in spec["models"]}
    else:
        selected = select_betas(root, toy2d_grid_search(preset))
    trials, missing = [], []
    for dataset in spec["datasets"]:
        for model in spec["models"]:
            if (dataset, model) not in selected:
                missing.append((dataset, model))
                continue
            trials += [toy2d_trial(dataset, model, selected[(dataset, model)], seed, spec["schedule"], "seeds")
                       for seed in spec["seeds"]]
    return trials, missing


# --------------------------------------------------------------------------------------- images-ablation
IMAGE_DATASETS = ("mnist", "fashion_mnist", "cifar10")
IMAGES_PRESETS = {
    "full": dict(datasets=IMAGE_DATASETS, ks=(10, 100), lcs=(False, True), ips=(False, True),
                 rs=(0.0, 1.0, 10.0, 100.0), seeds=(0, 1, 2), epochs=220, extra=[]),
    # MNIST, K = 10, r in {0, 10}, 1 seed, 3 epochs of 4 batches on 512 images, MC 10
    "cpu-small": dict(datasets=("mnist",), ks=(10,), lcs=(False, True), ips=(False, True), rs=(0.0, 10.0),
                      seeds=(0,), epochs=3, extra=["--warmup-epochs", "1", "--mog-warmup", "1", "--subset", "512",
                                                   "--max-steps-per-epoch", "4", "--mc", "10",
                                                   "--eval-samples", "500"]),
}


def _images_run_dir(dataset, prior, k, lc, ip, r, seed, extra):
    """The run directory examples/sintrovae_images.py builds for these flags (its own `config_name`)."""
    from utils.training.images import config_name
    defaults = {"--mc": 100, "--warmup-epochs": 20, "--mog-warmup": 5, "--batch-size": None, "--subset": None,
                "--max-steps-per-epoch": None}
    values = dict(defaults)
    for flag, value in zip(extra[0::2], extra[1::2]):
        if flag in values:
            values[flag] = int(value)
    default_batch = 32 if dataset == "cifar10" else 128
    name = config_name(prior, k, lc, ip, ip, r, values["--mc"], values["--warmup-epochs"], values["--mog-warmup"],
                       values["--batch-size"] or default_batch, default_batch, values["--subset"],
                       values["--max-steps-per-epoch"])
    return os.path.join("sintrovae_images", dataset, name, "seed%d" % seed)


def images_trials(preset="full"):
    spec = IMAGES_PRESETS[preset]
    configs = [("imposed", 1, False, False, 0.0)]
    configs += [("vamp", k, lc, ip, r) for k in spec["ks"] for lc in spec["lcs"] for ip in spec["ips"]
                for r in spec["rs"]]
    trials = []
    for dataset in spec["datasets"]:
        for prior, k, lc, ip, r in configs:
            for seed in spec["seeds"]:
                args = ["--dataset", dataset, "--prior", prior, "--seed", str(seed), "--epochs", str(spec["epochs"])]
                if prior != "imposed":
                    args += ["--num-components", str(k), "--learnable-weights" if lc else "--fixed-weights",
                             "--intro-prior" if ip else "--no-intro-prior", "--responsibility-weight", "%g" % r]
                args += list(spec["extra"])
                trials.append(Trial("sintrovae_images", args,
                                    _images_run_dir(dataset, prior, k, lc, ip, r, seed, spec["extra"]), "eval.json",
                                    dict(experiment="images-ablation", dataset=dataset, prior=prior, K=k, LC=lc,
                                         IP=ip, r=r, seed=seed, epochs=spec["epochs"]),
                                    done_min={"epochs_trained": spec["epochs"]}))
    return trials


# ------------------------------------------------------------------------------------------------ registry
EXPERIMENTS = {"pareto": PARETO_PRESETS, "toy2d-table1": TOY2D_PRESETS, "images-ablation": IMAGES_PRESETS}


def check_preset(experiment, preset):
    if preset not in EXPERIMENTS[experiment]:
        raise UserError("%s has no preset %r: choose one of %s." % (experiment, preset,
                                                                    ", ".join(sorted(EXPERIMENTS[experiment]))))


def stages(experiment, preset="full", epochs=None):
    """The experiment's stages in order: a list of (name, function(root) -> (trials, note)). A later stage's
    trials may depend on the results of an earlier one (the 2D grid search selects the betas)."""
    check_preset(experiment, preset)
    if experiment == "pareto":
        return [("runs", lambda root: (pareto_trials(preset, epochs=epochs), ""))]
    if experiment == "images-ablation":
        return [("runs", lambda root: (images_trials(preset), ""))]

    def seeds(root):
        trials, missing = toy2d_seeds(root, preset)
        note = "" if not missing else "%d model(s) without a finished grid-search run, not run: %s" % (
            len(missing), "; ".join("%s %s" % m for m in missing))
        return trials, note
    if TOY2D_PRESETS[preset]["grid"] == "defaults":
        return [("seeds", seeds)]
    return [("grid-search", lambda root: (toy2d_grid_search(preset), "")), ("seeds", seeds)]
