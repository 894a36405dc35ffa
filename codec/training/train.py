"""The training loop, as a function (argument parsing lives in codec.cli).

loss = lambda * 255^2 * MSE + bpp    (or lambda * (1 - MS-SSIM) + bpp)

with bpp = -sum log2 p(latents) / (B * H * W) from the noisy latents, and a
separate Adam on the factorized density's quantiles (the auxiliary loss) so
its tables cover the right range when frozen for coding.

A run folder holds ``last.pt`` (periodic, atomic), ``best.pt`` (lowest
validation loss) and TensorBoard events. ``resume=True`` restores weights,
both optimizers, the step, the crop sampler and every RNG (the learning rate is a
function of config and step: codec/training/schedule.py), so a
resumed run is the run that was interrupted (tested in fp32 on CPU).
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor
from tqdm import tqdm

from .. import api, models
from .. import checkpoint as ckpt_io
from .distributed import average_gradients, barrier, gather_objects, init_from_env, mean_over_ranks
from .config import Config, validate_for_training
from .data import ImageBank, centre_crops, list_images, split_holdout
from .rates import RateSetting, anchors, batch_lambdas
from .warmstart import warm_start
from .schedule import learning_rate
from ..errors import CodecError, OutputExists
from ..fsio import write_atomic
from ..image import to_uint8
from ..metrics import psnr
from ..models.base import rate_bits
from ..models.variable_rate import is_variable_rate
from ..precision import autocast, autocast_dtype
from ..quantize import TrainingQuantizer


class TrainingDiverged(CodecError):
    """The loss became NaN or Inf; the last good checkpoint is kept."""


@dataclass
class StepMetrics:
    loss: float
    bpp: float
    mse: float
    aux: float

    @property
    def psnr(self) -> float:
        return 10 * math.log10(1.0 / max(self.mse, 1e-12))


class Validation(NamedTuple):
    """Validation figures: per rate setting (one, or each anchor of a
    variable-rate model) and their mean (which picks best.pt)."""

    mean: StepMetrics
    points: list[tuple[RateSetting, StepMetrics]]


def rd_loss(net: models.CodecModel, x: Tensor, lmbda: float | Tensor, distortion: str,
            amp: torch.dtype | None,
            quantizer: TrainingQuantizer = TrainingQuantizer.NOISE) -> tuple[Tensor, StepMetrics]:
    """Forward pass and the rate-distortion loss; likelihood math stays fp32.

    lmbda: one float for the batch (a fixed-rate model), or a (B,) tensor, one
    lambda per example (a variable-rate batch, each example at its own
    quality). Either way the loss is the batch mean of lambda_b * D_b + bpp_b
    with bpp_b = bits_b / (H * W); with one float it is computed over the
    whole batch at once (lambda * mean D + total bits / (B H W)), the same
    value and, bit for bit, what fixed-rate runs always computed. The metrics
    are batch means.
    """
    with autocast(x.device.type, amp):
        out = net(x, quantizer)
    per_example = isinstance(lmbda, Tensor)
    B, _, H, W = x.shape
    bits = rate_bits(out.likelihoods, per_example)                  # (B,) or scalar
    bpp = bits / (H * W) if per_example else bits / (B * H * W)
    x_hat = out.x_hat.float()
    err = (x_hat - x) ** 2
    mse = err.mean(dim=(1, 2, 3)) if per_example else err.mean()    # on [0, 1]
    if per_example:
        lmbda = lmbda.to(x.device, torch.float32)
    if distortion == "ms-ssim":
        from pytorch_msssim import ms_ssim
        dist = lmbda * (1 - ms_ssim(x_hat.clamp(0, 1), x, data_range=1.0, size_average=not per_example))
    else:
        dist = lmbda * 255 ** 2 * mse
    loss = (dist + bpp).mean()   # the mean of a scalar is that scalar, exactly
    return loss, StepMetrics(float(loss.detach()), float(bpp.detach().mean()), float(mse.detach().mean()), 0.0)


def split_params(net: torch.nn.Module) -> tuple[list[Tensor], list[Tensor]]:
    """Main parameters, and the quantiles trained only by the auxiliary loss."""
    main = [p for n, p in net.named_parameters() if not n.endswith("quantiles")]
    aux = [p for n, p in net.named_parameters() if n.endswith("quantiles")]
    return main, aux


class Trainer:
    """Holds the state of one run; ``run()`` trains until cfg.train.steps."""

    def __init__(self, cfg: Config, resume: bool = False, device: str | None = None, log=print):
        validate_for_training(cfg)
        self.cfg, self.log = cfg, log
        t = cfg.train
        if t.threads:
            torch.set_num_threads(t.threads)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.world = init_from_env(self.device.type)
        if self.device.type == "cuda" and self.world.active:
            self.device = torch.device("cuda", self.world.local_rank)
        if not self.world.main:
            self.log = log = (lambda s: None)
        self.amp = autocast_dtype(t.precision, self.device)
        self.out = Path(t.out)
        self.out.mkdir(parents=True, exist_ok=True)
        resuming = resume and (self.out / "last.pt").is_file()

        paths = list_images(cfg.data.train)
        if cfg.data.val:
            train_paths, val_paths = paths, list_images(cfg.data.val)
        else:
            train_paths, val_paths = split_holdout(paths, cfg.data.holdout, cfg.data.holdout_files)
        self.bank = ImageBank(train_paths, cfg.data.crop, cfg.data.small)
        self.val_x = centre_crops(val_paths, cfg.data.val_crop, models.build(cfg.model).stride) if val_paths else None
        s = self.bank.stats
        log(f"data: {len(self.bank.images)} training images ({s.found} found, {s.unreadable} unreadable, "
            f"{s.padded} padded, {s.skipped_small} skipped as smaller than the crop), "
            f"{0 if self.val_x is None else len(self.val_x)} validation crops")

        torch.manual_seed(t.seed)  # same initial weights on every rank
        self.net = models.build(cfg.model)
        if t.init and not resuming:
            warm_start(self.net, cfg, t.init)
            log(f"weights initialised from {t.init}")
        self.net = self.net.to(self.device)
        if t.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        # crops and noise differ per rank; each rank's streams are checkpointed
        torch.manual_seed(t.seed + 1000 * self.world.rank)
        self.gen = torch.Generator().manual_seed(t.seed + 1000 * self.world.rank)
        self.forward_net = self.net
        if self.world.active:
            from torch.nn.parallel import DistributedDataParallel as DDP
            DDP._set_params_and_buffers_to_ignore_for_model(
                self.net, [n for n, _ in self.net.named_parameters() if n.endswith("quantiles")])
            self.forward_net = DDP(self.net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        main, aux = split_params(self.net)
        self.opt = torch.optim.Adam(main, lr=t.lr)
        self.aux_opt = torch.optim.Adam(aux, lr=t.aux_lr)
        self.quantizer = TrainingQuantizer(t.quantizer)
        # fp16 needs loss scaling; bf16 and fp32 do not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        self.step = t.start_step  # a warm start may enter the schedule part-way
        self.best = float("inf")
        self.stop_requested = False  # set by SIGTERM: finish the step, save, return
        if resuming:
            self._restore(ckpt_io.load(self.out / "last.pt"))
            log(f"resumed from {self.out / 'last.pt'} at step {self.step}")
        from torch.utils.tensorboard import SummaryWriter
        self.tb = SummaryWriter(str(self.out / "tb"), purge_step=self.step if self.step else None) \
            if self.world.main else None
        if self.step == 0 and self.world.main:
            self.tb.add_text("config", "```\n" + json.dumps(cfg.to_dict(), indent=2) + "\n```", 0)
            self.tb.add_text("meta", str(ckpt_io.package_meta()), 0)

    # --- state ------------------------------------------------------------------
    def _state(self) -> ckpt_io.Checkpoint:
        rng = {"torch": torch.get_rng_state(), "sampler": self.gen.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device).cpu()
        ranks = gather_objects(rng, self.world)
        rng = dict(ranks[0], ranks=ranks[1:]) if self.world.active else rng
        state = {"step": self.step, "best": self.best, "opt": self.opt.state_dict(),
                 "scaler": self.scaler.state_dict(),
                 "aux_opt": self.aux_opt.state_dict(), "rng": rng}
        sd = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        rates = anchors(self.net, self.cfg.train)
        card = {"lambda": rates[0].lmbda} if rates[0].quality is None else \
            {"qualities": f"{rates[0].quality:g}..{rates[-1].quality:g}",
             "lambda": f"{rates[0].lmbda:g}..{rates[-1].lmbda:g} (log-linear in quality)"}
        return ckpt_io.Checkpoint(self.cfg.model.name, self.cfg.to_dict(), sd, {},
                                  {**card, "steps": self.step},
                                  state, ckpt_io.package_meta())

    def _restore(self, c: ckpt_io.Checkpoint) -> None:
        self.net.load_state_dict({k: v.to(self.device) for k, v in c.state_dict.items()}, strict=False)
        s = c.train_state
        self.opt.load_state_dict(s["opt"])
        self.aux_opt.load_state_dict(s["aux_opt"])
        # no schedule state: the rate is learning_rate(config, step), so a
        # changed config schedule takes effect here (older run files carry a
        # "sched" entry, ignored)
        if s.get("scaler"):
            self.scaler.load_state_dict(s["scaler"])
        self.step, self.best = int(s["step"]), float(s["best"])
        rng = s["rng"]
        if self.world.rank > 0:
            rng = rng["ranks"][self.world.rank - 1]
        torch.set_rng_state(rng["torch"])
        self.gen.set_state(rng["sampler"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)

    # --- steps ------------------------------------------------------------------
    def train_step(self) -> StepMetrics:
        t = self.cfg.train
        self.net.train()
        x = self.bank.batch(t.batch, self.gen).to(self.device)
        if t.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for g in self.opt.param_groups:
            g["lr"] = learning_rate(t, self.step)
        lmbda = batch_lambdas(self.net, x.shape[0], t, self.gen)   # sets a variable-rate model's qualities
        loss, m = rd_loss(self.forward_net, x, lmbda, t.distortion, self.amp, self.quantizer)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss is {float(loss)} at step {self.step}; "
                                   f"last good checkpoint kept at {self.out / 'last.pt'}")
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if t.clip > 0:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.opt.param_groups[0]["params"], t.clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        aux = self.net.aux_loss()
        self.aux_opt.zero_grad(set_to_none=True)
        aux.backward()
        average_gradients(self.aux_opt.param_groups[0]["params"], self.world)
        self.aux_opt.step()
        self.step += 1
        m.aux = float(aux.detach())
        m.loss, m.bpp, m.mse, m.aux = mean_over_ranks([m.loss, m.bpp, m.mse, m.aux], self.world)
        return m

    @torch.no_grad()
    def validate(self) -> Validation | None:
        """Loss, bpp and MSE of the validation crops at every rate setting (one
        for a fixed-rate model, each anchor of a variable-rate one), and their mean."""
        if self.val_x is None:
            return None
        self.net.eval()
        points = []
        for r in anchors(self.net, self.cfg.train):
            r.apply(self.net)
            tot = StepMetrics(0, 0, 0, 0)
            for i in range(len(self.val_x)):
                x = self.val_x[i:i + 1].to(self.device)
                _, m = rd_loss(self.net, x, r.lmbda, self.cfg.train.distortion, self.amp, self.quantizer)
                tot.loss += m.loss / len(self.val_x)
                tot.bpp += m.bpp / len(self.val_x)
                tot.mse += m.mse / len(self.val_x)
            points.append((r, tot))
        aux = float(self.net.aux_loss())
        if len(points) == 1:
            mean = points[0][1]
        else:
            k = len(points)
            mean = StepMetrics(sum(m.loss for _, m in points) / k, sum(m.bpp for _, m in points) / k,
                               sum(m.mse for _, m in points) / k, 0.0)
        mean.aux = aux
        return Validation(mean, points)

    def save(self, name: str = "last.pt") -> Path:
        """Collective (every rank must call it); rank 0 writes."""
        path = self.out / name
        state = self._state()
        if self.world.main:
            ckpt_io.save(state, path)
            if name == "last.pt":  # position of last.pt, readable without torch (the campaign's status)
                write_atomic(self.out / "last.json", json.dumps(
                    {"step": self.step, "steps": self.cfg.train.steps, "time": time.time()}).encode())
        barrier(self.world)
        return path

    def _log(self, tag: str, m: StepMetrics) -> None:
        if self.tb is None:
            return
        for k, v in (("loss", m.loss), ("bpp", m.bpp), ("mse", m.mse), ("psnr", m.psnr), ("aux_loss", m.aux)):
            self.tb.add_scalar(f"{tag}/{k}", v, self.step)

    @property
    def end(self) -> int:
        """Step where this invocation stops: train.stop_at (a chunk) or train.steps."""
        t = self.cfg.train
        return min(t.stop_at, t.steps) if t.stop_at else t.steps

    @property
    def finished(self) -> bool:
        """True once the whole schedule (train.steps) has run."""
        return self.step >= self.cfg.train.steps

    def run(self) -> Path:
        """Train to ``self.end`` (or until SIGTERM), save last.pt, return its path."""
        with _stop_on_sigterm(self):
            self._loop()
        if self.finished:
            for r, bpp, db in self.validate_bitstream() or []:
                at = "" if r.quality is None else f" at quality {r.quality:g}"
                self.log(f"validation through the codec{at}: {bpp:.4f} bpp, {db:.2f} dB PSNR")
        if self.tb is not None:
            self.tb.flush()
        return self.out / "last.pt"

    def _loop(self) -> None:
        t = self.cfg.train
        # tqdm draws only on a terminal (disable=None); elsewhere a line per log_every steps
        progress_on_tty = sys.stderr.isatty() or not self.world.main
        bar = tqdm(total=t.steps, initial=self.step, dynamic_ncols=True, disable=None if self.world.main else True)
        t0, s0 = time.time(), self.step
        saved = True
        while self.step < self.end and not self.stop_requested:
            m = self.train_step()
            saved = False
            bar.update(1)
            # every log_every steps, and at the last step of this invocation so
            # that a short run (fewer steps than log_every) logs its scalars too
            if (self.step % t.log_every == 0 or self.step == self.end) and self.tb is not None:
                rate = (self.step - s0) / max(time.time() - t0, 1e-9)
                self._log("train", m)
                self.tb.add_scalar("train/lr", self.opt.param_groups[0]["lr"], self.step)
                self.tb.add_scalar("train/it_per_s", rate, self.step)
                bar.set_postfix(loss=f"{m.loss:.3f}", bpp=f"{m.bpp:.3f}", psnr=f"{m.psnr:.2f}")
                if not progress_on_tty:  # no bar to look at (a log file, a pipe, the campaign)
                    self.log(f"step {self.step}/{t.steps}: loss {m.loss:.4f}, {m.bpp:.4f} bpp, "
                             f"{m.psnr:.2f} dB, {rate:.2f} it/s, lr {self.opt.param_groups[0]['lr']:.3g}")
                t0, s0 = time.time(), self.step
            if self.step % t.image_every == 0 and self.val_x is not None and self.tb is not None:
                self._log_images()
            if self.step % t.val_every == 0 or self.step == t.steps:
                v = self.validate()  # same crops, same weights: identical on every rank
                if v is not None:
                    self._log("val", v.mean)
                    for r, m in v.points:
                        if r.quality is not None:
                            self._log(f"val/{r.tag[:-1]}", m)
                    if v.mean.loss < self.best:
                        self.best = v.mean.loss
                        self.save("best.pt")
            if self.step % t.ckpt_every == 0 or self.step == t.steps:
                self.save()
                saved = True
        if not saved:  # a chunk's end or a stop request between periodic saves
            self.save()
        bar.close()

    @torch.no_grad()
    def validate_bitstream(self) -> list[tuple[RateSetting, float, float]] | None:
        """Real files, not estimates: mean (bpp, PSNR) of the validation crops
        coded and decoded through the shipped form of the current weights, at
        each rate setting (a variable-rate model: every anchor).
        Collective (every rank calls it); rank 0 measures and logs."""
        state = self._state()
        if self.val_x is None or not self.world.main:
            return None
        m = api.model_from_checkpoint(ckpt_io.for_inference(state), str(self.device))
        out = []
        for r in anchors(m.net, self.cfg.train):
            bpp, db = [], []
            for i in range(len(self.val_x)):
                rgb = to_uint8(self.val_x[i:i + 1])
                res = api.compress_full(rgb, m, quality=r.quality)
                bpp.append(8 * len(res.data) / (rgb.shape[0] * rgb.shape[1]))
                db.append(psnr(rgb, res.reconstruction))
            out.append((r, sum(bpp) / len(bpp), sum(db) / len(db)))
            self.tb.add_scalar(f"val/{r.tag}real_bpp", out[-1][1], self.step)
            self.tb.add_scalar(f"val/{r.tag}real_psnr", out[-1][2], self.step)
        return out

    @torch.no_grad()
    def _log_images(self) -> None:
        self.net.eval()
        if is_variable_rate(self.net):
            self.net.set_quality(float(self.net.config.quality))   # the reference anchor
        x = self.val_x[:1].to(self.device)
        with autocast(x.device.type, self.amp):
            x_hat = self.net(x).x_hat.float().clamp(0, 1)
        self.tb.add_images("val/original_reconstruction", torch.cat([x, x_hat]), self.step)


class _stop_on_sigterm:
    """While training: SIGTERM asks the trainer to finish its step, save
    last.pt and return (the campaign stops chunks this way). Only the main
    thread can own signal handlers; elsewhere this does nothing."""

    def __init__(self, trainer: Trainer):
        self.trainer, self.previous = trainer, None

    def __enter__(self):
        import signal
        import threading
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                self.trainer.stop_requested = True
            self.previous = signal.signal(signal.SIGTERM, handler)
        return self

    def __exit__(self, *exc):
        import signal
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


def train(cfg: Config, resume: bool = False, device: str | None = None, log=print,
          force: bool = False) -> Path:
    """Train (or resume) a run; export an inference checkpoint if configured,
    only once the whole schedule has run (not after a chunk or a stop), and
    never over an existing file unless ``force``."""
    if cfg.train.export and Path(cfg.train.export).exists() and not force:
        raise OutputExists(f"train.export {cfg.train.export} exists (use --force to overwrite)")
    trainer = Trainer(cfg, resume=resume, device=device, log=log)
    last = trainer.run()
    if cfg.train.export and trainer.world.main and trainer.finished:
        export(last, cfg.train.export)
        log(f"exported inference checkpoint to {cfg.train.export}")
    return last


def export(run_checkpoint: str | Path, out: str | Path, card: dict | None = None) -> Path:
    """Freeze tables, drop training state, fp16 weights: the shipped schema."""
    c = ckpt_io.for_inference(ckpt_io.load(run_checkpoint))
    c.card.update(card or {})
    ckpt_io.save(c, out)
    return Path(out)


def untrained_checkpoint(name: str, path: str | Path, seed: int = 0, N: int = 32, M: int = 48,
                         note: str = "untrained test model") -> Path:
    """Save a seeded, untrained, frozen model of family ``name`` (N/M channels) in the
    shipped schema at ``path``: the small models that tests and the fuzzer's seed
    corpus code with. The same seed gives the same weights."""
    torch.manual_seed(seed)
    cfg = Config()
    cfg.model = models.config_for(name)
    cfg.model.N, cfg.model.M = N, M
    net = models.build(cfg.model)
    if is_variable_rate(net):
        # an untrained g_a's y is ~0.02, under one quantization bin at every
        # quality: raise the gains 64x (inverse gains 1/64) so rates move with q
        with torch.no_grad():
            for g in net.gains.values():
                g.log_gain += math.log(64)
                g.log_inverse -= math.log(64)
    sd = {k: v.detach().clone() for k, v in net.state_dict().items()}
    c = ckpt_io.for_inference(ckpt_io.Checkpoint(name, cfg.to_dict(), sd, card={"note": note}))
    ckpt_io.save(c, path)
    return Path(path)
