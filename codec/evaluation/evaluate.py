"""Rate-distortion evaluation: learned models and classical codecs on a folder
of images, through their real files, in one resumable run.

For each curve (a fixed-rate learned model over its shipped qualities, a
variable-rate model -- one checkpoint -- sampled at several qualities, either
of them with encode-time refinement as a curve of its own, or a classical
codec over its sweep), each setting and each image, one row: file size, bpp,
PSNR, MS-SSIM, encode and decode wall time, and for learned models the
model's own rate estimate and whether the decode equalled the encoder's
reconstruction. Rows are appended to ``results.csv`` as they finish, so an
interrupted run loses at most the entries in flight; a later run with the
same --out skips every (curve, setting, image) already there (images are
known by file name: one --out per dataset). Everything is checked (folder,
names, libraries, checkpoints) before anything is written.

Classical codecs run over images in a process pool (one torch thread per
worker for MS-SSIM; libjpeg, libwebp and OpenJPEG are single-threaded, so N
workers fill N cores); learned models run in this process, one image at a
time, since torch already uses every core. Timings taken with several
workers share the machine; use --workers 1 for timings to quote.
"""
from __future__ import annotations

import contextlib
import html
import math
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import classical, complexity, html_report, report, visual
from .ssimulacra2 import ssimulacra2
from .. import api, models, shipped
from .. import checkpoint as ckpt_io
from ..errors import CodecError
from ..image import IMAGE_SUFFIXES, load_rgb
from ..limits import REFINE_MAX
from ..metrics import MS_SSIM_MIN_SIDE, bpp, ms_ssim, ms_ssim_db, psnr
from ..models.variable_rate import on_grid
from .kodak import is_kodak24
from .report import Curve, CurveKind, Point, ResultsCSV, Row

DEFAULT_CODECS = ("jpeg", "webp", "jpeg2000", "avif", "hevc", "jxl")
DEFAULT_ANCHORS = ("jpeg-420", "hevc-444", "jxl")
PUBLISHED_PREFIX = "compressai:"
# Our model -> the CompressAI curve of the same architecture, decoded to 8 bits as ours are.
# Published classical anchors drawn by default (labelled as published figures, not our runs).
PUBLISHED_DEFAULT = ("vtm", "bpg444", "av1")
PUBLISHED_MATCH = {"factorized": "bmshj2018-factorized-mse-8bit", "hyperprior": "bmshj2018-hyperprior-mse-8bit",
                   "mean-scale": "mbt2018-mean-mse-8bit"}
VR_POINTS = 7          # default samples of a variable-rate model: evenly over its range, on the 1/256 grid
REFINE_TAG = "+refine"   # curve name of a refined run: "<model>+refine<N>" (a file name, an --anchors name)


class NoImages(CodecError):
    """The folder is missing, empty or holds no images."""


class DecodeMismatch(CodecError):
    """A learned decode differed from the encoder's reconstruction."""


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation. None means "everything available" for models,
    qualities and codecs, and "the default" for anchors and published."""

    folder: Path
    out: Path
    models: tuple[str, ...] | None = None
    # fixed-rate models: the integer indices of shipped checkpoints to use;
    # variable-rate models: the real qualities to sample (put on the 1/256 grid)
    qualities: tuple[float, ...] | None = None
    refine: tuple[int, ...] = ()      # refinement steps: each N > 0 adds one refined curve per model
    codecs: tuple[str, ...] | None = None
    anchors: tuple[str, ...] | None = None
    published: tuple[str, ...] | None = None
    workers: int | None = None
    limit: int | None = None
    device: str | None = None
    progress: bool = True
    html_images: int = 3              # images shown in report.html; 0: no report.html




def format_quality(q: float) -> str:
    """The results.csv setting of a quality: "3" for an integer (as fixed-rate
    rows always were), else the shortest repr of the grid value ("1.66796875"),
    which reads back exactly, so a resumed run finds its rows."""
    q = float(q)
    return str(int(q)) if q.is_integer() else repr(q)


def refined_curve(model: str, steps: int) -> str:
    return model if steps == 0 else f"{model}{REFINE_TAG}{steps}"


@dataclass(frozen=True)
class LearnedRun:
    """One rate point of a learned curve: a checkpoint coding at one quality,
    with ``refine`` encode-time refinement steps (0: the model as it is)."""

    model: str                 # registry name
    quality: float             # fixed-rate: the shipped index; variable-rate: a quality on the 1/256 grid
    path: Path
    variable: bool = False     # a variable-rate checkpoint (one file for the whole curve)
    refine: int = 0

    @property
    def curve(self) -> str:
        return refined_curve(self.model, self.refine)

    @property
    def setting(self) -> str:
        return format_quality(self.quality)


@dataclass(frozen=True)
class Plan:
    """Everything validated: what will run and on what."""

    images: tuple[Path, ...]
    learned: tuple[LearnedRun, ...]
    codecs: tuple[classical.ClassicalCodec, ...]
    anchors: tuple[str, ...]          # curve names, ours or "compressai:<name>"
    published: tuple[str, ...]        # keys of the published data file
    notes: tuple[str, ...]
    kodak: bool = False               # the images are the 24 Kodak files (by SHA-256): published curves compare


@dataclass
class EvalResult:
    curves: list[Curve]
    comparisons: list[report.Comparison]
    computed: int                     # entries coded in this run
    reused: int                       # entries found in results.csv
    files: list[Path]


# --- planning: every check before anything is written ------------------------

def find_images(folder: Path, limit: int | None = None) -> tuple[list[Path], list[str]]:
    """Image files of a folder, sorted, each checked readable; notes on what was skipped."""
    if not folder.is_dir():
        raise NoImages(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise NoImages(f"{folder}: folder is empty")
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    others = [p.name for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if not images:
        raise NoImages(f"{folder}: no images ({len(others)} other file(s), e.g. {others[0]}; "
                       f"looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    if limit is not None:
        if limit < 1:
            raise NoImages(f"--limit must be at least 1, not {limit}")
        images = images[:limit]
    notes = [f"skipped {len(others)} non-image file(s) in the folder: {', '.join(others[:5])}"] if others else []
    small = [p.name for p in images if min(load_rgb(p, quiet=True).shape[:2]) < MS_SSIM_MIN_SIDE]
    if small:
        notes.append(f"MS-SSIM is undefined (NaN) below {MS_SSIM_MIN_SIDE} pixels a side: {', '.join(small[:5])}")
    return images, notes


def shipped_qualities(model: str) -> list[tuple[int, Path]]:
    """(quality, path) of the shipped fixed-rate checkpoints of ``model``."""
    return [(s.quality, s.path) for s in shipped.shipped_checkpoints() if s.model == model and s.quality is not None]


def default_qualities(q_min: float, q_max: float, n: int = VR_POINTS) -> list[float]:
    """n qualities evenly from q_min to q_max (both included), on the 1/256 grid."""
    return list(dict.fromkeys(on_grid(q) for q in np.linspace(q_min, q_max, n)))


def _vr_range(name: str, path: Path) -> tuple[int, int]:
    """(q_min, q_max) of a variable-rate checkpoint, read from its stored config (nothing built)."""
    c = ckpt_io.load(path)
    if c.model != name:
        raise CodecError(f"{path} holds a '{c.model}' model, not '{name}'")
    cfg = c.model_config()
    return cfg.q_min, cfg.q_max


def _vr_qualities(cfg: EvalConfig, name: str, lo: int, hi: int, notes: list[str]) -> list[float]:
    if cfg.qualities is None:
        return default_qualities(lo, hi)
    out = []
    for q in cfg.qualities:
        g = on_grid(q)
        if not (math.isfinite(q) and lo <= g <= hi):
            msg = f"quality {q:g} is outside the range {lo}..{hi} of variable-rate model '{name}'"
            if cfg.models is not None:
                raise CodecError(msg)
            notes.append(msg + ": left out")
            continue
        if g != q:
            notes.append(f"{name}: quality {q:g} coded as {format_quality(g)} (the header's 1/256 grid)")
        out.append(g)
    return list(dict.fromkeys(out))


def _check_refine(steps: tuple[int, ...]) -> tuple[int, ...]:
    for n in steps:
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= REFINE_MAX:
            raise CodecError(f"--refine takes step counts in 0..{REFINE_MAX}, got {n!r}")
    return tuple(n for n in dict.fromkeys(steps) if n > 0)


def _can_refine(name: str, path: Path, variable: bool) -> None:
    """A fixed-rate checkpoint must record its MSE lambda to be refined (a variable-rate
    model has the lambda of each quality): checked before anything is coded."""
    if not variable and api.trained_lambda(ckpt_io.load(path)) is None:
        raise CodecError(f"{path} records no MSE lambda (train.lmbda): '{name}' cannot be refined")


def _plan_learned(cfg: EvalConfig, notes: list[str]) -> list[LearnedRun]:
    names = cfg.models if cfg.models is not None else tuple(models.registry())
    steps = (0,) + _check_refine(cfg.refine)
    runs = []
    for name in names:
        models.entry(name)                       # unknown names raise here
        variable = models.entry(name).variable_rate
        if variable:
            path = shipped.checkpoint_path(name)
            found = []
            if path.is_file():
                lo, hi = _vr_range(name, path)
                found = [(q, path) for q in _vr_qualities(cfg, name, lo, hi, notes)]
        else:
            found = [(q, p) for q, p in shipped_qualities(name) if cfg.qualities is None or q in cfg.qualities]
        if not found:
            want = "" if cfg.qualities is None else f" with quality {', '.join(f'{q:g}' for q in cfg.qualities)}"
            if cfg.models is not None:
                raise CodecError(f"no checkpoint for model '{name}'{want} in {shipped.checkpoint_dir()}")
            notes.append(f"no checkpoint for model '{name}' in {shipped.checkpoint_dir()}: not evaluated")
        if len(steps) > 1:
            for p in dict.fromkeys(p for _, p in found):
                _can_refine(name, p, variable)
        runs += [LearnedRun(name, q, p, variable, n) for n in steps for q, p in found]
    return runs


def _plan_classical(cfg: EvalConfig, notes: list[str],
                    learned: set[str]) -> tuple[list[classical.ClassicalCodec], list[str], list[str]]:
    codecs = classical.resolve(cfg.codecs if cfg.codecs is not None else DEFAULT_CODECS)
    anchors, published_anchors = [], []
    for a in (cfg.anchors if cfg.anchors is not None else DEFAULT_ANCHORS):
        if a.startswith(PUBLISHED_PREFIX):
            published_anchors.append(a[len(PUBLISHED_PREFIX):])
            anchors.append(a)
        elif (name := classical.anchor_name(a)) is not None:
            codec = classical.table()[name]
            if cfg.anchors is None and codec.missing():
                notes.append(f"default anchor {name} skipped: {codec.missing()}")
                continue
            codecs += [] if any(c.name == name for c in codecs) else [codec]
            anchors.append(name)
        elif a in learned:
            anchors.append(a)
        else:
            raise classical.UnknownCodec(f"unknown anchor '{a}' (a codec: {', '.join(classical.known_names())}; "
                                         f"a model being evaluated; or {PUBLISHED_PREFIX}<published curve>)")
    usable = []
    for c in codecs:
        if cfg.codecs is None and c.missing() and c.name not in anchors:
            notes.append(f"{c.name} skipped: {c.missing()}")
            continue
        c.check()                                # raises MissingLibrary naming the library
        usable.append(c)
    return usable, anchors, published_anchors


def family(model: str) -> str:
    """The fixed-rate family of a registry name ("mean-scale-vr" -> "mean-scale"), for the published match."""
    return model.removesuffix("-vr")


def make_plan(cfg: EvalConfig) -> Plan:
    images, notes = find_images(cfg.folder, cfg.limit)
    learned = _plan_learned(cfg, notes)
    codecs, anchors, pub_anchors = _plan_classical(cfg, notes, {r.curve for r in learned})
    available = report.load_published().curves
    wanted = list(cfg.published) if cfg.published is not None else \
        [PUBLISHED_MATCH[f] for f in dict.fromkeys(family(r.model) for r in learned) if f in PUBLISHED_MATCH] + \
        list(PUBLISHED_DEFAULT)
    for name in wanted + pub_anchors:
        if name not in available:
            raise CodecError(f"unknown published curve '{name}' (known: {', '.join(available)})")
    if not learned and not codecs:
        raise CodecError("nothing to evaluate: no model checkpoints and no classical codecs")
    kodak = is_kodak24(images)
    if not kodak and (wanted or pub_anchors):
        notes.append("the folder is not the 24 Kodak images (checked by SHA-256): published Kodak curves are "
                     "drawn for reference but left out of the BD-rate table")
    return Plan(tuple(images), tuple(learned), tuple(codecs), tuple(anchors),
                tuple(dict.fromkeys(wanted + pub_anchors)), tuple(notes), kodak)


def _row(curve: str, setting: str, image: Path, rgb: np.ndarray, data: bytes, rec: np.ndarray,
         enc_s: float, dec_s: float, est_bits: float = math.nan, decode_ok: bool = True) -> Row:
    h, w = rgb.shape[:2]
    s = ms_ssim(rgb, rec)
    return Row(curve, setting, image.name, h, w, len(data), bpp(len(data), h, w), est_bits / (h * w),
               psnr(rgb, rec), s, ms_ssim_db(s), ssimulacra2(rgb, rec), enc_s, dec_s, decode_ok)


# --- classical codecs: a process pool over images -------------------------------

def _worker_init() -> None:
    import signal

    import torch
    torch.set_num_threads(1)        # N single-threaded workers, not N x cores threads
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle: no worker tracebacks


@contextlib.contextmanager
def _one_torch_thread():
    """The classical stage in this process: MS-SSIM of one image gains nothing
    from threads, and idle-spinning torch threads slow it 100x on a busy machine."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def code_classical(task: tuple[str, tuple[str, ...], str]) -> list[Row]:
    """One codec, the given settings, one image (runs in a worker)."""
    name, settings, image = task
    codec = classical.table()[name]
    path = Path(image)
    rgb = load_rgb(path, quiet=True)
    rows = []
    for s in settings:
        t0 = time.perf_counter()
        data = codec.encode(rgb, float(s))
        t1 = time.perf_counter()
        rec = codec.decode(data)
        t2 = time.perf_counter()
        if rec.shape != rgb.shape:
            raise CodecError(f"{name} decoded {image} to {rec.shape}, expected {rgb.shape}")
        rows.append(_row(name, s, path, rgb, data, rec, t1 - t0, t2 - t1))
    return rows


def _run_classical(plan: Plan, store: ResultsCSV, workers: int, bar) -> int:
    tasks = []
    for codec in plan.codecs:
        for img in plan.images:
            todo = tuple(s for s in map(classical.format_setting, codec.settings)
                         if (codec.name, s, img.name) not in store.rows)
            if todo:
                tasks.append((codec.name, todo, str(img)))
    done = 0
    with contextlib.ExitStack() as stack:
        if workers <= 1 or len(tasks) <= 1:
            stack.enter_context(_one_torch_thread())
            results = map(code_classical, tasks)
        else:
            ctx = multiprocessing.get_context("spawn")   # no fork after torch started its threads
            pool = stack.enter_context(ctx.Pool(min(workers, len(tasks)), initializer=_worker_init))
            results = pool.imap_unordered(code_classical, tasks)
        for rows in results:
            for r in rows:
                store.add(r)
            bar.update(len(rows))
            done += len(rows)
    return done


# --- learned models: in this process, one image at a time -----------------------

def code_learned(model, img: Path, curve: str, setting: str, quality: float | None = None,
                 refine: int = 0) -> Row:
    """Code one image with a loaded model (``api.LoadedModel``) at ``quality``
    (None: a fixed-rate model's own) through the real file.

    Unrefined, the row's time to encode is ``api.compress`` alone (no
    synthesis of a reconstruction), after a warm-up; refined (``refine`` > 0
    steps), it is the one ``api.compress_full`` call that refines, codes and
    synthesizes (a second run would double the longest part of the evaluation).
    The decode check compares the decoded image with the reconstruction the
    encoder predicted.
    """
    rgb = load_rgb(img, quiet=True)
    if refine:
        t0 = time.perf_counter()
        full = api.compress_full(rgb, model, quality=quality, refine=refine)
        t1 = time.perf_counter()
    else:
        # The file and what the encoder predicts the decoder will show; also a warm-up.
        full = api.compress_full(rgb, model, quality=quality)
        t0 = time.perf_counter()
        api.compress(rgb, model, quality=quality)
        t1 = time.perf_counter()
    rec = api.decompress(full.data, model)
    t2 = time.perf_counter()
    ok = np.array_equal(rec, full.reconstruction)
    return _row(curve, setting, img, rgb, full.data, rec, t1 - t0, t2 - t1, full.bits, ok)


def _run_learned(plan: Plan, store: ResultsCSV, device: str | None, bar) -> int:
    done = 0
    loaded: tuple[Path, api.LoadedModel] | None = None    # one checkpoint at a time (a VR model: every point)
    for run in plan.learned:
        todo = [p for p in plan.images if (run.curve, run.setting, p.name) not in store.rows]
        if not todo:
            continue
        bar.set_postfix_str(f"{run.curve} q{run.setting}")
        if loaded is None or loaded[0] != run.path:
            loaded = (run.path, api.load_model(run.path, run.model, None if run.variable else run.quality, device))
        for img in todo:
            store.add(code_learned(loaded[1], img, run.curve, run.setting, run.quality, run.refine))
            bar.update(1)
            done += 1
    return done


# --- curves -------------------------------------------------------------------

def _mean(rows: list[Row], attr: str) -> float:
    return float(np.mean([getattr(r, attr) for r in rows]))


def build_curve(name: str, label: str, kind: CurveKind, setting_name: str, settings: list[str],
                rows: dict[tuple[str, str, str], Row], images: tuple[Path, ...]) -> Curve:
    """Average each setting over the images of this run (rows of other images
    in results.csv, e.g. from a run without --limit, are left out)."""
    points = []
    for s in settings:
        sel = [rows[(name, s, p.name)] for p in images if (name, s, p.name) in rows]
        if len(sel) < len(images):
            continue
        ms = _mean(sel, "ms_ssim")
        points.append(Point(s, _mean(sel, "bpp"), _mean(sel, "psnr"), ms, ms_ssim_db(ms),
                            ssimulacra2=_mean(sel, "ssimulacra2"), est_bpp=_mean(sel, "est_bpp"),
                            enc_s=_mean(sel, "enc_s"), dec_s=_mean(sel, "dec_s"), n_images=len(sel),
                            decode_ok=all(r.decode_ok for r in sel)))
    return Curve(name, label, kind, setting_name, points)


def _curves(plan: Plan, rows, published: report.Published) -> list[Curve]:
    curves = []
    for name in dict.fromkeys(r.curve for r in plan.learned):
        runs = [r for r in plan.learned if r.curve == name]
        label = _label(runs[0])
        curves.append(build_curve(name, label, CurveKind.LEARNED, "quality", [r.setting for r in runs], rows,
                                  plan.images))
    for c in plan.codecs:
        curves.append(build_curve(c.name, c.label, CurveKind.CLASSICAL, c.setting_name,
                                  [classical.format_setting(s) for s in c.settings], rows, plan.images))
    for name in plan.published:
        p = published.curves[name]
        curves.append(Curve(PUBLISHED_PREFIX + name, p.label, p.kind, p.setting_name, p.points, p.source))
    return curves


def _label(run: LearnedRun) -> str:
    what = [f"refine {run.refine}"] if run.refine else []
    what += ["ours", models.entry(run.model).paper] + (["one variable-rate model"] if run.variable else [])
    return f"{run.model} ({'; '.join(what)})"


def _comparisons(plan: Plan, curves: list[Curve]) -> list[report.Comparison]:
    """Every curve against every anchor. Published curves (as the curve or as
    the anchor) only on the 24 Kodak images: their figures are Kodak means.
    A learned curve is also compared with the published curve of its family,
    and a refined curve with the unrefined curve of the same model."""
    by = {c.name: c for c in curves}
    model_of = {r.curve: r.model for r in plan.learned}
    out = []
    for c in curves:      # published curves too: they show what the anchors mean on this machine
        if not c.points or (c.kind == CurveKind.PUBLISHED and not plan.kodak):
            continue
        against = [a for a in plan.anchors if a != c.name and (plan.kodak or not a.startswith(PUBLISHED_PREFIX))]
        if c.name in model_of:
            match = PUBLISHED_PREFIX + PUBLISHED_MATCH.get(family(model_of[c.name]), "")
            if plan.kodak and match in by and match not in against:
                against.append(match)
            base = model_of[c.name]
            if base != c.name and base in by and base not in against:
                against.append(base)
        out += [report.compare(c, by[a]) for a in against if by[a].points]
    return out


def _complexity(plan: Plan, curves: list[Curve], device: str | None) -> list[complexity.Entry]:
    """Counts of every unrefined fixed-rate run, and of each variable-rate
    model once (its gains are element-wise: the counts do not depend on the
    quality), with the mean timings of the run's point(s). Refined curves are
    not counted: refinement runs g_s and h_s N times more, its cost is the
    encode time in the points table."""
    by = {c.name: c for c in curves}
    out = []
    for curve in dict.fromkeys(r.curve for r in plan.learned if not r.refine):
        runs = [r for r in plan.learned if r.curve == curve]
        groups = [runs] if runs[0].variable else [[r] for r in runs]
        for group in groups:
            points = [p for p in by[curve].points if p.setting in {r.setting for r in group}]
            if not points:
                continue
            run = group[len(group) // 2]
            model = api.load_model(run.path, run.model, None if run.variable else run.quality, device)
            setting = (f"qualities {group[0].setting}..{group[-1].setting} (one model)" if run.variable
                       else f"quality {run.setting}")
            out.append(complexity.Entry(curve, setting, complexity.measure(model),
                                        float(np.mean([p.enc_s for p in points])),
                                        float(np.mean([p.dec_s for p in points]))))
    return out


def _html(cfg: EvalConfig, plan: Plan, curves: list[Curve], comparisons, rows, dataset: str) -> Path:
    """report.html: plots, BD table, and a few images coded by every curve at our rate."""
    by = {c.name: c for c in curves}
    views = []
    if plan.learned:
        # our reference: the first model, unrefined, at its middle quality
        runs = [r for r in plan.learned if r.curve == plan.learned[0].curve]
        run = runs[len(runs) // 2]
        ref = visual.Reference(run.curve, run.setting, f"{by[run.curve].label}, quality {run.setting}",
                               run.path, run.model, run.quality, run.variable)
        views = visual.build_views(visual.pick_images(plan.images, cfg.html_images), ref, plan.codecs, rows,
                                   cfg.device)
    intro = (f"{len(plan.images)} images of <code>{html.escape(str(cfg.folder))}</code>. Below the plots: "
             f"{len(views)} images, each crop at 1:1 from the original and from every codec at the setting whose "
             "bpp on that image is nearest ours, labelled with that entry's bpp, PSNR and SSIMULACRA 2. "
             "Crops are lossless PNG; published curves are drawn from their papers' tables, not run here.")
    table = [list(report.COMPARISON_HEADER)] + report.comparison_cells(comparisons, by)
    plots = [cfg.out / f for f, *_ in report.PLOTS]
    return html_report.write(cfg.out / "report.html", f"Rate-distortion evaluation on {dataset}", intro,
                             plots, table, views)


def _versions() -> tuple[str, ...]:
    import torch
    return (f"Python {sys.version.split()[0]}", f"torch {torch.__version__}") + classical.library_versions()


def run(cfg: EvalConfig) -> EvalResult:
    """Plan, code what results.csv lacks, then rewrite curves, summary and plots."""
    from tqdm import tqdm
    plan = make_plan(cfg)
    for n in plan.notes:
        print(f"note: {n}", file=sys.stderr)
    cfg.out.mkdir(parents=True, exist_ok=True)
    store = ResultsCSV(cfg.out / "results.csv")
    keys = [(r.curve, r.setting, p.name) for r in plan.learned for p in plan.images]
    keys += [(c.name, classical.format_setting(s), p.name)
             for c in plan.codecs for s in c.settings for p in plan.images]
    before = sum(k in store.rows for k in keys)
    try:
        with tqdm(total=len(keys), initial=before, unit="entry", disable=not cfg.progress, file=sys.stderr) as bar:
            computed = _run_classical(plan, store, cfg.workers or os.cpu_count() or 1, bar)
            computed += _run_learned(plan, store, cfg.device, bar)
    finally:
        store.close()
    published = report.load_published()
    curves = _curves(plan, store.rows, published)
    comparisons = _comparisons(plan, curves)
    dataset = cfg.folder.resolve().name
    info = report.RunInfo(dataset, str(cfg.folder), tuple(p.name for p in plan.images), _versions(),
                          plan.notes, plan.kodak)
    files = [store.path] + report.write_curves(cfg.out, curves, comparisons)
    with _one_torch_thread():    # counts do not depend on threads; spinning threads slow a busy machine
        counted = complexity.markdown(_complexity(plan, curves, cfg.device))
    files += [report.write_summary(cfg.out, info, curves, comparisons, published, counted)]
    files += report.write_plots(cfg.out, curves, dataset)
    if cfg.html_images > 0:
        files += [_html(cfg, plan, curves, comparisons, store.rows, dataset)]
    bad = [f"{c.name} q{p.setting}" for c in curves if c.kind == CurveKind.LEARNED for p in c.points if not p.decode_ok]
    if bad:
        raise DecodeMismatch(f"decode differed from the encoder's reconstruction for {', '.join(bad)} "
                             f"(column decode_ok in {store.path})")
    return EvalResult(curves, comparisons, computed, before, files)
