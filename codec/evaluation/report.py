"""The results of an evaluation and the files that hold them: per-image rows
(results.csv, appended as they finish), rate-distortion curves and their
Bjøntegaard comparison, per-curve JSON, summary.md and the two plots.

A curve is a list of points, one per rate setting, each the mean over the
evaluated images: bpp (whole file in bits / original pixels), PSNR (dB, 8-bit
RGB, per image then averaged), MS-SSIM (mean) and its dB form taken from the
mean, as CompressAI computes its published tables. Published curves come
from ``codec/data/published_kodak.json``, a copy of CompressAI's numbers with
the repository, commit and file of each curve.
"""
from __future__ import annotations

import csv
import enum
import io
import json
import math
from dataclasses import astuple, dataclass, field, fields
from importlib import resources
from pathlib import Path

import numpy as np

from ..fsio import write_atomic
from ..errors import CodecError
from ..metrics import BDUndefined, bd_psnr, bd_rate, quality_at_rate


class ResultsLayout(CodecError):
    """--out holds a results.csv of another layout."""


class CurveKind(enum.Enum):
    LEARNED = "learned"
    CLASSICAL = "classical"
    PUBLISHED = "published"


@dataclass(frozen=True)
class Point:
    """One rate setting, averaged over ``n_images`` images."""

    setting: str
    bpp: float
    psnr: float              # dB
    ms_ssim: float
    ms_ssim_db: float        # -10 log10(1 - ms_ssim)
    ssimulacra2: float = math.nan  # mean SSIMULACRA 2 score (0..100, higher is better)
    est_bpp: float = math.nan  # the model's own estimate (-log2 P / pixels); learned only
    enc_s: float = math.nan    # wall seconds per image
    dec_s: float = math.nan
    n_images: int = 0
    decode_ok: bool = True     # every decode equalled the encoder's reconstruction


@dataclass
class Curve:
    name: str
    label: str
    kind: CurveKind
    setting_name: str
    points: list[Point]
    source: str = "this run"

    def column(self, attr: str) -> np.ndarray:
        return np.array([getattr(p, attr) for p in self.points], dtype=np.float64)


@dataclass(frozen=True)
class Comparison:
    """Bjøntegaard deltas of ``curve`` against ``anchor``; None where
    undefined, with the reason in ``note``. For a one-point curve,
    ``anchor_psnr_at_bpp`` is the anchor's PSNR interpolated at its bpp."""

    curve: str
    anchor: str
    bd_rate_psnr: float | None        # percent; negative: fewer bits than the anchor
    bd_psnr: float | None             # dB; positive: better than the anchor
    bd_rate_msssim: float | None      # percent, on MS-SSIM dB
    bd_msssim_db: float | None        # dB of MS-SSIM dB
    bd_rate_ssimulacra2: float | None = None   # percent, on SSIMULACRA 2
    bd_ssimulacra2: float | None = None        # SSIMULACRA 2 points at equal rate
    note: str = ""
    anchor_psnr_at_bpp: float | None = None


@dataclass
class Published:
    """The package's copy of published curves and where they come from."""

    source: str
    repo: str
    commit: str
    curves: dict[str, Curve] = field(default_factory=dict)


def load_published() -> Published:
    raw = json.loads(resources.files("codec").joinpath("data/published_kodak.json").read_text("utf-8"))
    curves = {}
    for name, c in raw["curves"].items():
        n = len(c["bpp"])
        settings = c.get("quality") or c.get("quality_param") or list(range(1, n + 1))
        ms = c.get("ms-ssim", [math.nan] * n)
        msdb = c.get("ms-ssim-db") or [-10 * math.log10(1 - v) if v < 1 else math.inf for v in ms]
        pts = [Point(str(settings[i]), c["bpp"][i], c.get("psnr", [math.nan] * n)[i], ms[i], msdb[i])
               for i in range(n)]
        curves[name] = Curve(name, f"published: {name} (CompressAI's Kodak table, not run here)",
                             CurveKind.PUBLISHED, "quality", pts,
                             f"{raw['repo']} @ {raw['commit'][:10]}: {c.get('file', '')}")
    return Published(raw["source"], raw["repo"], raw["commit"], curves)


def _delta(fn, anchor: Curve, test: Curve, attr: str) -> tuple[float | None, str]:
    try:
        return fn(anchor.column("bpp"), anchor.column(attr), test.column("bpp"), test.column(attr)), ""
    except BDUndefined as e:
        return None, str(e)


def compare(test: Curve, anchor: Curve) -> Comparison:
    """BD-rate and BD-quality on PSNR, on MS-SSIM dB and on SSIMULACRA 2
    (None on a metric a curve lacks, e.g. SSIMULACRA 2 of published curves)."""
    r_p, why = _delta(bd_rate, anchor, test, "psnr")
    d_p, _ = _delta(bd_psnr, anchor, test, "psnr")
    r_m, _ = _delta(bd_rate, anchor, test, "ms_ssim_db")
    d_m, _ = _delta(bd_psnr, anchor, test, "ms_ssim_db")
    r_s, _ = _delta(bd_rate, anchor, test, "ssimulacra2")
    d_s, _ = _delta(bd_psnr, anchor, test, "ssimulacra2")
    at = None
    if len(test.points) == 1:
        q = quality_at_rate(anchor.column("bpp"), anchor.column("psnr"), test.points[0].bpp)
        at = None if math.isnan(q) else q
    return Comparison(test.name, anchor.name, r_p, d_p, r_m, d_m, r_s, d_s, why, at)


# --- per-image rows: results.csv ----------------------------------------------

@dataclass(frozen=True)
class Row:
    """One (curve, setting, image) entry, the CSV's row; times in seconds."""

    curve: str
    setting: str
    image: str
    height: int
    width: int
    bytes: int
    bpp: float
    est_bpp: float
    psnr: float
    ms_ssim: float
    ms_ssim_db: float
    ssimulacra2: float
    enc_s: float
    dec_s: float
    decode_ok: bool

    @property
    def key(self) -> tuple[str, str, str]:
        return self.curve, self.setting, self.image

    def to_csv(self) -> list[str]:
        # repr: floats read back bit for bit, so a resumed run averages the same numbers as a fresh one
        return [repr(v) if isinstance(v, float) else str(int(v)) if isinstance(v, bool) else str(v)
                for v in astuple(self)]

    @classmethod
    def from_csv(cls, values: list[str]) -> "Row":
        kinds = [f.type for f in fields(cls)]
        if len(values) != len(kinds):
            raise ValueError(f"{len(values)} fields, expected {len(kinds)}")
        conv = {"str": str, "int": int, "float": float, "bool": lambda s: bool(int(s))}
        return cls(*(conv[k](v) for k, v in zip(kinds, values)))


CSV_FIELDS = tuple(f.name for f in fields(Row))


class ResultsCSV:
    """results.csv, appended one flushed row at a time."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: dict[tuple[str, str, str], Row] = {}
        if path.exists() and path.stat().st_size:
            self._load()
        else:
            path.write_text(",".join(CSV_FIELDS) + "\n")
        self._f = open(path, "a", newline="")
        self._w = csv.writer(self._f, lineterminator="\n")

    def _load(self) -> None:
        text = self.path.read_text()
        if not text.endswith("\n"):           # a row cut by an interruption: drop it
            text = text[: text.rfind("\n") + 1]
            self.path.write_text(text)
        lines = list(csv.reader(text.splitlines()))
        if not lines or tuple(lines[0]) != CSV_FIELDS:
            raise ResultsLayout(f"{self.path} has another layout than this version writes; "
                                "move it away or choose another --out")
        for n, values in enumerate(lines[1:], start=2):
            try:
                row = Row.from_csv(values)
            except (ValueError, TypeError, KeyError):
                raise ResultsLayout(f"{self.path}, line {n}: not a row of results; fix or remove it") from None
            self.rows[row.key] = row

    def add(self, row: Row) -> None:
        self._w.writerow(row.to_csv())
        self._f.flush()
        self.rows[row.key] = row

    def close(self) -> None:
        self._f.close()


# --- files ------------------------------------------------------------------

def _finite(v):
    """JSON has no NaN/inf: write null instead."""
    return v if isinstance(v, (int, str, bool)) or (v is not None and math.isfinite(v)) else None


def curve_json(curve: Curve, comparisons: list[Comparison]) -> dict:
    """The published files' layout (parallel lists), plus our BD deltas."""
    d = {"name": curve.name, "label": curve.label, "kind": curve.kind.value, "source": curve.source,
         "images": max((p.n_images for p in curve.points), default=0), "setting_name": curve.setting_name,
         "settings": [p.setting for p in curve.points]}
    for key, attr in (("bpp", "bpp"), ("est_bpp", "est_bpp"), ("psnr", "psnr"), ("ms-ssim", "ms_ssim"),
                      ("ms-ssim-db", "ms_ssim_db"), ("ssimulacra2", "ssimulacra2"), ("enc_s", "enc_s"),
                      ("dec_s", "dec_s")):
        if curve.kind == CurveKind.LEARNED or key != "est_bpp":
            d[key] = [_finite(float(getattr(p, attr))) for p in curve.points]
    if curve.kind == CurveKind.LEARNED:
        d["decode_ok"] = [p.decode_ok for p in curve.points]
    d["comparisons"] = [{k: _finite(v) for k, v in vars(c).items()} for c in comparisons if c.curve == curve.name]
    return d


def write_curves(out: Path, curves: list[Curve], comparisons: list[Comparison]) -> list[Path]:
    folder = out / "curves"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for c in curves:
        p = folder / f"{c.name.replace(':', '_').replace('/', '_')}.json"
        write_atomic(p, (json.dumps(curve_json(c, comparisons), indent=1) + "\n").encode())
        paths.append(p)
    return paths


def _plot(curves: list[Curve], attr: str, ylabel: str, title: str, path: Path) -> None:
    from matplotlib.figure import Figure   # no pyplot: no global figure state, no display needed
    ours = [c for c in curves if c.kind != CurveKind.PUBLISHED]
    learned = [c for c in ours if c.kind == CurveKind.LEARNED]
    top = max((p.bpp for c in (learned or ours) for p in c.points), default=2.0)
    xmax = max(1.0, min(top * 1.15, max((p.bpp for c in curves for p in c.points), default=2.0)))
    fig = Figure(figsize=(8, 6), dpi=120)
    ax = fig.add_subplot()
    visible = []
    for c in curves:
        x, y = c.column("bpp"), c.column(attr)
        order = np.argsort(x)
        style = {CurveKind.LEARNED: dict(ls="-", marker="o", lw=2, ms=5),
                 CurveKind.CLASSICAL: dict(ls="--", marker=".", lw=1.2),
                 CurveKind.PUBLISHED: dict(ls=":", marker="x", lw=1.2, ms=4)}[c.kind]
        ax.plot(x[order], y[order], label=c.label, **style)
        visible += [v for b, v in zip(x, y) if b <= xmax and math.isfinite(v)]
    if visible:
        ax.set_ylim(min(visible) - 0.5, max(visible) + 0.5)
    ax.set_xlim(0, xmax)
    ax.set_xlabel("bits per pixel (whole file / original pixels)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    write_atomic(path, buf.getvalue())


PLOTS = (("psnr.png", "psnr", "PSNR (dB, 8-bit RGB, mean over images)", "PSNR"),
         ("msssim_db.png", "ms_ssim_db", "MS-SSIM (dB) = -10 log10(1 - MS-SSIM)", "MS-SSIM"),
         ("ssimulacra2.png", "ssimulacra2", "SSIMULACRA 2 (mean over images; higher is better)", "SSIMULACRA 2"))


def write_plots(out: Path, curves: list[Curve], dataset: str) -> list[Path]:
    """One PNG per metric; published curves have no SSIMULACRA 2 and are not
    in that plot."""
    paths = []
    for file, attr, ylabel, what in PLOTS:
        shown = [c for c in curves if np.isfinite(c.column(attr)).any()]
        _plot(shown, attr, ylabel, f"{dataset}: {what} vs rate", out / file)
        paths.append(out / file)
    return paths


# --- summary.md ---------------------------------------------------------------

@dataclass(frozen=True)
class RunInfo:
    """What the summary says about the run itself."""

    dataset: str
    folder: str
    images: tuple[str, ...]
    versions: tuple[str, ...]          # "Pillow 11.3.0", ...
    notes: tuple[str, ...] = ()
    kodak24: bool = False              # the images are the 24 Kodak files (SHA-256)


def _f(v: float | None, fmt: str, unit: str = "") -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:{fmt}}{unit}"


def _bd_cells(c: Comparison) -> list[str]:
    if c.bd_rate_psnr is None and c.bd_rate_msssim is None:
        return [f"n/a ({c.note})"] * 6
    return [_f(c.bd_rate_psnr, "+.2f", " %"), _f(c.bd_psnr, "+.3f", " dB"),
            _f(c.bd_rate_msssim, "+.2f", " %"), _f(c.bd_msssim_db, "+.3f", " dB"),
            _f(c.bd_rate_ssimulacra2, "+.2f", " %"), _f(c.bd_ssimulacra2, "+.2f")]


COMPARISON_HEADER = ("curve", "against", "BD-rate (PSNR)", "BD-PSNR", "BD-rate (MS-SSIM dB)", "BD-MS-SSIM",
                     "BD-rate (SSIMULACRA 2)", "BD-SSIMULACRA 2", "note")


def comparison_cells(comparisons: list[Comparison], by_name: dict[str, Curve]) -> list[list[str]]:
    """The BD table as text cells, one list per comparison (summary.md and report.html)."""
    rows = []
    for c in comparisons:
        note = ""
        if len(by_name[c.curve].points) == 1:
            p = by_name[c.curve].points[0]
            at = _f(c.anchor_psnr_at_bpp, ".2f", " dB") if c.anchor_psnr_at_bpp is not None else "outside its range"
            note = f"{c.anchor} at equal bpp ({p.bpp:.3f}): {at}; ours {_f(p.psnr, '.2f', ' dB')}"
        elif c.note:
            note = c.note
        rows.append([by_name[c.curve].label, by_name[c.anchor].label] + _bd_cells(c) + [note])
    return rows


def _comparison_rows(comparisons: list[Comparison], by_name: dict[str, Curve]) -> list[str]:
    rows = ["| " + " | ".join(COMPARISON_HEADER) + " |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    return rows + ["| " + " | ".join(cells) + " |" for cells in comparison_cells(comparisons, by_name)]


def _point_rows(curves: list[Curve], learned: bool) -> list[str]:
    head = "| curve | setting | bpp | " + ("estimated bpp | " if learned else "") + \
        "PSNR (dB) | MS-SSIM | MS-SSIM (dB) | SSIMULACRA 2 | encode (s/img) | decode (s/img) |" + \
        (" decode = encoder |" if learned else "")
    rows = [head, "| " + " | ".join(["---"] * (head.count("|") - 1)) + " |"]
    for c in curves:
        for p in c.points:
            cells = [c.name, f"{c.setting_name} {p.setting}", _f(p.bpp, ".4f")]
            cells += [_f(p.est_bpp, ".4f")] if learned else []
            cells += [_f(p.psnr, ".2f"), _f(p.ms_ssim, ".4f"), _f(p.ms_ssim_db, ".2f"), _f(p.ssimulacra2, ".2f"),
                      _f(p.enc_s, ".3f"), _f(p.dec_s, ".3f")]
            cells += ["yes" if p.decode_ok else "**NO**"] if learned else []
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def summary_markdown(info: RunInfo, curves: list[Curve], comparisons: list[Comparison],
                     published: Published, complexity: tuple[str, ...] = ()) -> str:
    """The whole summary.md; ``complexity`` is its complexity section's lines
    (complexity.markdown), placed after the learned models."""
    by_name = {c.name: c for c in curves}
    learned = [c for c in curves if c.kind == CurveKind.LEARNED]
    classical = [c for c in curves if c.kind == CurveKind.CLASSICAL]
    drawn = [c for c in curves if c.kind == CurveKind.PUBLISHED]
    shown = ", ".join(info.images[:6]) + (", ..." if len(info.images) > 6 else "")
    lines = [f"# Rate-distortion evaluation on {info.dataset}", "",
             f"{len(info.images)} images from `{info.folder}` ({shown}).", "",
             "Rate: the whole file in bits over the original H x W pixels. PSNR on 8-bit RGB per image, "
             "then the mean over images; MS-SSIM from pytorch-msssim (data range 255), mean over images, "
             "and in dB as -10 log10(1 - mean MS-SSIM). SSIMULACRA 2 (the JPEG XL project's perceptual metric, "
             "0..100, higher is better; codec/evaluation/ssimulacra2.py) per image, then the mean. "
             "Times are wall seconds per image on this machine. "
             "BD-rate: Bjøntegaard delta with piecewise cubic (PCHIP) interpolation of log-rate over the "
             "quality range both curves cover; negative means fewer bits than the curve it is compared "
             "against at equal quality. BD-PSNR: positive means higher quality at equal rate.", ""]
    if comparisons:
        lines += ["## Bjøntegaard deltas", ""] + _comparison_rows(comparisons, by_name) + [""]
    if learned:
        bad = sum(not p.decode_ok for c in learned for p in c.points)
        lines += ["## Learned models", "",
                  "Every file was decoded from its bytes and compared with the encoder's reconstruction: "
                  + ("all equal." if not bad else f"**{bad} rate point(s) had a decode that differed**."), ""]
        lines += _point_rows(learned, True) + [""]
    lines += list(complexity)
    if classical:
        lines += ["## Classical codecs", ""] + _point_rows(classical, False) + [""]
    if drawn:
        lines += ["## Published curves", "",
                  f"From {published.source}; {published.repo}, commit {published.commit}. Copied into "
                  "codec/data/published_kodak.json. Drawn: " + ", ".join(c.name for c in drawn) + ". These are "
                  "published figures, not runs of this evaluation: means over all 24 Kodak images. "
                  + ("This folder is those 24 images (checked by SHA-256), so they are in the BD-rate table."
                     if info.kodak24 else "This folder is not those 24 images (checked by SHA-256): they are "
                     "drawn for reference and left out of the BD-rate table."), ""]
    lines += ["## Plots", ""] + [f"![{what} vs bpp]({file})\n" for file, _, _, what in PLOTS]
    lines += ["## Software", ""] + [f"- {v}" for v in info.versions] + [""]
    if info.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in info.notes] + [""]
    return "\n".join(lines)


def write_summary(out: Path, info: RunInfo, curves: list[Curve], comparisons: list[Comparison],
                  published: Published, complexity: tuple[str, ...] = ()) -> Path:
    path = out / "summary.md"
    write_atomic(path, summary_markdown(info, curves, comparisons, published, complexity).encode("utf-8"))
    return path
