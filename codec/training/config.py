"""Typed configuration: defaults in dataclasses, small TOML files on top,
``section.key=value`` overrides from the command line, all checked.

Unknown keys, wrong types and missing data folders stop with one line naming
the key (``ConfigError``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from .. import models
from ..errors import ConfigError
from ..fsio import read_toml
from ..models import ModelConfig
from ..models.variable_rate import MSE_LAMBDAS as _MSE_LAMBDAS, VariableRateConfig, lmbda_at
from ..precision import PRECISIONS

#: names of train.lr_schedule (their curves: codec.training.schedule)
SCHEDULES = ("step", "cosine", "constant")

#: lambda for MSE per quality index 1..8, as in the published CompressAI table (defined
#: with the variable-rate models, whose gains are initialised from it)
MSE_LAMBDAS = _MSE_LAMBDAS
#: lambda for MS-SSIM per quality index 1..8
MSSSIM_LAMBDAS = (2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.00)


def channels_for_quality(model: str, quality: int) -> tuple[int, int]:
    """(N, M) as in the published configurations: 128/192 for qualities 1-5,
    192/320 for 6-8 (the same split for all three families)."""
    return (128, 192) if quality <= 5 else (192, 320)


@dataclass
class DataConfig:
    train: str = ""                # folder of training images (recursive)
    val: str = ""                  # held-out folder; empty: hold out `holdout` images
    holdout: int = 8               # images held out of `train` when `val` is empty
    holdout_files: str = ""        # text file of image names (stems) to hold out instead
                                   # of `holdout` (configs/holdout.txt: the fixed held-out set)
    crop: int = 256                # square crop size, pixels
    small: str = "pad"             # images smaller than the crop: "pad" or "skip"
    val_crop: int = 256            # centre crop of validation images for the loss


@dataclass
class TrainConfig:
    lmbda: float = 0.0130          # rate-distortion trade-off (MSE on [0,1], x255^2); a variable-rate
                                   # model ignores it: lambda = lmbda_at(q) per example (training/rates.py)
    distortion: str = "mse"        # "mse" or "ms-ssim"
    batch: int = 8
    steps: int = 100000
    lr: float = 1e-4
    lr_schedule: str = "step"      # "step", "cosine" or "constant" (codec/training/schedule.py)
    lr_milestones: list[int] = field(default_factory=list)  # "step": steps where lr *= gamma
    lr_gamma: float = 0.1
    warmup: int = 0                # steps of linear warm-up
    lr_min: float = 1e-5           # "cosine": the rate reached at train.steps
    decay_from: int = 0            # "cosine": step where the decay starts
    quantizer: str = "mixed"       # "noise" or "mixed" (rounded latent into g_s, noisy rate)
    stop_at: int = 0               # stop after this step, save last.pt, return (0: at train.steps)
    start_step: int = 0            # warm start at this schedule position (not when resuming)
    aux_lr: float = 1e-3           # optimizer of the factorized density quantiles
    clip: float = 1.0              # gradient-norm clip; 0 disables
    seed: int = 0
    precision: str = "auto"        # "auto", "fp32", "bf16", "fp16" (CUDA)
    channels_last: bool = True
    threads: int = 0               # CPU threads; 0 = all
    log_every: int = 50
    image_every: int = 1000
    val_every: int = 1000
    ckpt_every: int = 500
    out: str = "runs/default"      # run folder: checkpoints, TensorBoard events
    export: str = ""               # inference checkpoint written at the end
    init: str = ""                 # warm start: weights of this checkpoint (run or shipped),
                                   # fresh optimizer and step 0; ignored when resuming


@dataclass
class Config:
    model: ModelConfig = field(default_factory=lambda: models.default_config("mean-scale"))  # the family's dataclass
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(key: str, value: Any, typ: Any) -> Any:
    origin = get_origin(typ)
    if origin is list:
        (inner,) = get_args(typ)
        if isinstance(value, str):
            value = [v for v in value.strip("[]").split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"config key '{key}' must be a list")
        return [_coerce(key, v, inner) for v in value]
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise ConfigError(f"config key '{key}' must be true or false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(f"config key '{key}' must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise ConfigError(f"config key '{key}' must be an integer, got {value!r}") from None
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            raise ConfigError(f"config key '{key}' must be a number, got {value!r}") from None
    if typ is str:
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"config key '{key}' must be a string")
        return str(value)
    raise ConfigError(f"config key '{key}' has unsupported type")


def _apply(cfg: Config, section: str, key: str, value: Any) -> None:
    sub = getattr(cfg, section, None)
    if sub is None or not dataclasses.is_dataclass(sub) or section.startswith("_"):
        raise ConfigError(f"unknown config section '{section}'")
    if section == "model" and key == "name":
        # another family: its own config dataclass, keeping the fields both share
        cfg.model = models.config_for(_coerce("model.name", value, str), cfg.model)
        return
    hints = get_type_hints(type(sub))
    if key not in hints:
        raise ConfigError(f"unknown config key '{section}.{key}'")
    setattr(sub, key, _coerce(f"{section}.{key}", value, hints[key]))


def from_dict(d: dict[str, Any], cfg: Config | None = None) -> Config:
    cfg = cfg or Config()
    for section, values in d.items():
        if not isinstance(values, dict):
            raise ConfigError(f"config section '{section}' must be a table")
        # the model name first: it decides which keys the model section has
        for key, value in sorted(values.items(), key=lambda kv: kv[0] != "name"):
            _apply(cfg, section, key, value)
    return cfg


def load(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read a TOML config and apply ``section.key=value`` overrides."""
    cfg = from_dict(read_toml(path, ConfigError, "config file"))
    apply_overrides(cfg, overrides)
    return cfg


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"override '{item}' must look like section.key=value")
        dotted, value = item.split("=", 1)
        section, key = dotted.split(".", 1)
        _apply(cfg, section, key, value)
    return cfg


def lambda_description(cfg: Config) -> float | str:
    """The model card's 'lambda': train.lmbda of a fixed-rate model, or the
    lambda range of a variable-rate one (each example trains at lmbda_at(q))."""
    m = cfg.model
    if isinstance(m, VariableRateConfig):
        return (f"lmbda_at(q), q in {m.q_min}..{m.q_max}: "
                f"{lmbda_at(float(m.q_min)):g}..{lmbda_at(float(m.q_max)):g}")
    return cfg.train.lmbda


def _relative_rule(p: str) -> str:
    """The path rule, said where a relative path was not found: config paths
    are taken from the current folder (the repository's configs name
    ../shared/... for a run started at the repository root), not from the
    config file's folder."""
    if not p or Path(p).is_absolute():
        return ""
    return f" (relative paths are taken from the current folder, {Path.cwd()}, not from the config file's)"


def validate_for_training(cfg: Config) -> None:
    """Checks that need the file system or cross-field knowledge."""
    stride = models.build(cfg.model).stride
    if cfg.data.crop % stride:
        raise ConfigError(f"config key 'data.crop' must be a multiple of {stride} for model '{cfg.model.name}'")
    for key in ("train", "val"):
        p = getattr(cfg.data, key)
        if (key == "train" or p) and not Path(p).is_dir():
            raise ConfigError(f"config key 'data.{key}': folder not found: {p or '(empty)'}{_relative_rule(p)}")
    if cfg.train.init and not Path(cfg.train.init).is_file():
        raise ConfigError(f"config key 'train.init': checkpoint not found: {cfg.train.init}"
                          f"{_relative_rule(cfg.train.init)}")
    if cfg.train.distortion not in ("mse", "ms-ssim"):
        raise ConfigError("config key 'train.distortion' must be 'mse' or 'ms-ssim'")
    if isinstance(cfg.model, VariableRateConfig) and cfg.train.distortion != "mse":
        raise ConfigError("config key 'train.distortion': a variable-rate model trains on the MSE "
                          "lambda table (codec.models.variable_rate.lmbda_at); use 'mse'")
    if cfg.train.precision not in PRECISIONS:
        raise ConfigError("config key 'train.precision' must be auto, fp32, bf16 or fp16")
    t = cfg.train
    if t.lr_schedule not in SCHEDULES:
        raise ConfigError(f"config key 'train.lr_schedule' must be one of {', '.join(SCHEDULES)}")
    if t.quantizer not in ("noise", "mixed"):
        raise ConfigError("config key 'train.quantizer' must be 'noise' or 'mixed'")
    if not (0 <= t.decay_from < t.steps) and t.lr_schedule == "cosine":
        raise ConfigError("config key 'train.decay_from' must be in [0, train.steps)")
    if t.lr <= 0 or t.lr_min < 0 or t.warmup < 0 or t.stop_at < 0:
        raise ConfigError("config keys 'train.lr' must be > 0 and 'train.lr_min', 'train.warmup', "
                          "'train.stop_at' >= 0")
    if not 0 <= t.start_step < t.steps:
        raise ConfigError("config key 'train.start_step' must be in [0, train.steps)")
    if cfg.data.holdout_files and not Path(cfg.data.holdout_files).is_file():
        raise ConfigError(f"config key 'data.holdout_files': file not found: {cfg.data.holdout_files}")
    if cfg.data.small not in ("pad", "skip"):
        raise ConfigError("config key 'data.small' must be 'pad' or 'skip'")
    if cfg.train.batch < 1 or cfg.train.steps < 1 or cfg.data.crop < 16:
        raise ConfigError("config keys 'train.batch', 'train.steps' must be >= 1 and 'data.crop' >= 16")
