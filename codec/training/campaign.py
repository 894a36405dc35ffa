"""The training campaign's plan and policy: what to train next, when to
evaluate, which weights to ship. Pure functions and small typed records; the
processes (chunks, signals, the state file's writer) live in
``scripts/campaign.py``. Deliberately free of torch imports, so
``campaign.py status`` answers in well under a second on a loaded machine.

The plan (``configs/campaign.toml``)::

    eval_every_cpu_h = 0.5        # held-out evaluation after this much training CPU per job
    holdout = "configs/holdout.txt"
    kodak = "../shared/data/kodak" # re-measure the model card when a checkpoint changes ("" = never)
    nice = 19                     # niceness of every child
    autogroup_nice = 19           # niceness of the campaign's session autogroup
    [[job]]
    name = "mean-scale-q3"
    config = "configs/campaign/mean-scale-q3.toml"   # ONE cycle: train.steps, its lr schedule
    checkpoint = "checkpoints/mean-scale-q3.pt"      # the shipped file it improves
    share = 1.0                   # relative CPU share
    chunk_steps = 500             # steps per `codec train --resume` child
    enabled = true

The next chunk goes to the enabled job with the fewest CPU-hours per share
spent this session, so in every session each job's CPU is proportional to its
share.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import CodecError
from ..fsio import read_toml


class CampaignError(CodecError):
    """A plan or state file is missing or wrong; the message names the key."""


@dataclass(frozen=True)
class Job:
    name: str
    config: str            # training config of one cycle
    checkpoint: str        # shipped checkpoint this job replaces when held-out RD improves
    share: float = 1.0
    chunk_steps: int = 500
    enabled: bool = True

    @property
    def restart_file(self) -> Path:
        """checkpoints/<name>.campaign.json: the restart point committed with the checkpoint."""
        return Path(self.checkpoint).with_suffix(".campaign.json")


@dataclass(frozen=True)
class Plan:
    jobs: tuple[Job, ...]
    eval_every_cpu_h: float = 0.5
    holdout: str = "configs/holdout.txt"
    kodak: str = ""
    nice: int = 19
    autogroup_nice: int = 19
    state: str = "runs/campaign/state.json"

    @property
    def enabled(self) -> tuple[Job, ...]:
        return tuple(j for j in self.jobs if j.enabled)


def _typed(cls, d: dict, where: str):
    known = {f.name: f for f in fields(cls)}
    out = {}
    for k, v in d.items():
        if k not in known:
            raise CampaignError(f"{where}: unknown key '{k}'")
        want = {"str": str, "float": (int, float), "int": int, "bool": bool}.get(str(known[k].type))
        if want is None:
            raise CampaignError(f"{where}: unknown key '{k}'")
        if isinstance(v, bool) and want is not bool or not isinstance(v, want):
            raise CampaignError(f"{where}: key '{k}' has the wrong type ({type(v).__name__})")
        out[k] = float(v) if known[k].type == "float" else v
    return out


def parse_plan(d: dict[str, Any], where: str = "plan") -> Plan:
    """A plan from its TOML dict; every key checked, one-line errors."""
    d = dict(d)
    raw_jobs = d.pop("job", [])
    if not isinstance(raw_jobs, list) or not raw_jobs:
        raise CampaignError(f"{where}: needs at least one [[job]]")
    jobs = []
    for i, j in enumerate(raw_jobs):
        kw = _typed(Job, j, f"{where} job {i + 1}")
        for k in ("name", "config", "checkpoint"):
            if not kw.get(k):
                raise CampaignError(f"{where} job {i + 1}: key '{k}' is required")
        job = Job(**kw)
        if job.share <= 0 or job.chunk_steps < 1:
            raise CampaignError(f"{where} job '{job.name}': share must be > 0 and chunk_steps >= 1")
        jobs.append(job)
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise CampaignError(f"{where}: job names must be unique")
    plan = Plan(tuple(jobs), **_typed(Plan, {k: v for k, v in d.items()}, where))
    if plan.eval_every_cpu_h <= 0 or not 0 <= plan.nice <= 19 or not 0 <= plan.autogroup_nice <= 19:
        raise CampaignError(f"{where}: eval_every_cpu_h must be > 0, nice and autogroup_nice in 0..19")
    if not plan.enabled:
        raise CampaignError(f"{where}: no enabled job")
    return plan


@dataclass(frozen=True)
class JobRun:
    """What the scheduler needs of a job's training config, read without
    importing the trainer (torch): the cycle length and the run folder."""

    steps: int
    out: Path


def job_run(job: Job) -> JobRun:
    """train.steps and train.out of the job's config; both must be set there."""
    t = read_toml(job.config, CampaignError, f"job '{job.name}': config").get("train", {})
    steps, out = t.get("steps"), t.get("out")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1 or not isinstance(out, str) or not out:
        raise CampaignError(f"job '{job.name}': {job.config} must set train.steps (the cycle) and train.out")
    return JobRun(steps, Path(out))


def load_plan(path: str | Path) -> Plan:
    path = Path(path)
    plan = parse_plan(read_toml(path, CampaignError, "campaign plan"), str(path))
    for j in plan.enabled:
        if not Path(j.config).is_file():
            raise CampaignError(f"{path} job '{j.name}': config not found: {j.config}")
        job_run(j)
    return plan


# --- state ----------------------------------------------------------------------
@dataclass
class JobState:
    """What the campaign knows of one job (persisted in state.json)."""

    cpu_s: float = 0.0          # CPU seconds of training chunks (rusage of finished children)
    eval_cpu_s: float = 0.0     # CPU seconds of held-out evaluations and model cards
    cpu_s_at_eval: float = 0.0  # cpu_s when the last evaluation ran
    session_start_cpu_s: float = 0.0  # cpu_s + eval_cpu_s when `start` last ran
    cycle: int = 0              # completed cycles of the job's config
    step: int = 0               # position inside the current cycle
    chunks: int = 0
    evals: int = 0
    improvements: int = 0
    best_loss: float | None = None  # held-out loss of the shipped checkpoint
    last_eval: dict | None = None
    eval_pos: list | None = None    # [cycle, step] of the last evaluation

    @classmethod
    def from_restart(cls, r: "RestartPoint | None") -> "JobState":
        """A job new to state.json: on a machine without runs/, the CPU so far
        and the cycle come with the checkpoint's restart point."""
        js = cls()
        if r is not None:
            js.cpu_s, js.cycle, js.best_loss = r.cpu_h * 3600, r.cycle, r.heldout.get("loss")
        return js

    @property
    def total_cpu_s(self) -> float:
        return self.cpu_s + self.eval_cpu_s

    @property
    def cpu_h(self) -> float:
        return self.total_cpu_s / 3600


@dataclass
class State:
    jobs: dict[str, JobState] = field(default_factory=dict)
    scheduler_pid: int | None = None
    paused: bool = False
    running: dict | None = None  # {"job", "kind", "pid", "started", "cpu_s", "stop_at"}
    started: float | None = None

    def to_json(self) -> str:
        d = asdict(self)
        return json.dumps(d, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "State":
        d = json.loads(text)
        jobs = {k: JobState(**{f: v for f, v in js.items() if f in JobState.__dataclass_fields__})
                for k, js in d.get("jobs", {}).items()}
        return cls(jobs, d.get("scheduler_pid"), bool(d.get("paused")), d.get("running"), d.get("started"))


def read_state(path: str | Path) -> State:
    path = Path(path)
    if not path.is_file():
        return State()
    try:
        return State.from_json(path.read_text())
    except (ValueError, TypeError) as e:
        raise CampaignError(f"campaign state {path} is unreadable ({e})") from None


# --- policy ---------------------------------------------------------------------
def pick_job(plan: Plan, state: State) -> Job:
    """The enabled job with the fewest CPU-hours per unit of share spent in
    this session (since ``start``, or since the job was enabled; plan order on
    ties). Counting per session splits each session's CPU by the shares: a job
    enabled late does not take all the CPU until its lifetime total catches
    up with jobs that ran alone for many sessions."""
    def used(j: Job) -> float:
        js = state.jobs.get(j.name)
        return (js.total_cpu_s - js.session_start_cpu_s if js else 0.0) / j.share
    return min(plan.enabled, key=used)


def chunk_end(step: int, chunk_steps: int, cycle_steps: int) -> int:
    """train.stop_at of the next chunk: the next multiple of chunk_steps, capped
    at the cycle's end (aligned boundaries, so an interrupted chunk resumes to
    the same stop)."""
    return min(cycle_steps, (step // chunk_steps + 1) * chunk_steps)


def eval_due(js: JobState, every_cpu_h: float, cycle_done: bool) -> bool:
    """Evaluate after every ``every_cpu_h`` of training CPU, at each cycle's
    end, and first of all when the shipped checkpoint's loss is not known yet
    (never twice at the same position)."""
    if js.eval_pos == [js.cycle, js.step]:
        return False
    return cycle_done or js.best_loss is None or (js.cpu_s - js.cpu_s_at_eval) >= every_cpu_h * 3600


def improved(candidate_loss: float, current_loss: float | None) -> bool:
    """Ship the candidate only if its held-out loss is strictly lower than the
    shipped checkpoint's (measured the same way); unknown current: measure first."""
    if current_loss is None:
        raise CampaignError("the shipped checkpoint's held-out loss must be measured first")
    return candidate_loss < current_loss


@dataclass(frozen=True)
class RestartPoint:
    """Where a machine without runs/ picks the job up: the shipped weights,
    a fresh optimizer, the schedule position ``step`` of cycle ``cycle``
    (train.start_step), and the CPU already spent."""

    cycle: int
    step: int
    cpu_h: float
    heldout: dict
    history: list = field(default_factory=list)
    base_steps: int = 0         # steps the checkpoint had before the campaign
    offset_steps: int = 0       # campaign steps not counted as cycle * cycle_steps + step
                                # (an adopted run; a cycle length changed since)

    def next_position(self, cycle_steps: int) -> tuple[int, int]:
        """(cycle, start_step) to warm-start at; a finished cycle starts the next."""
        if self.step >= cycle_steps:
            return self.cycle + 1, 0
        return self.cycle, self.step


def read_restart(path: str | Path) -> RestartPoint | None:
    path = Path(path)
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text())
        return RestartPoint(int(d["cycle"]), int(d["step"]), float(d["cpu_h"]), dict(d["heldout"]),
                            list(d.get("history", [])), int(d.get("base_steps", 0)),
                            int(d.get("offset_steps", 0)))
    except (ValueError, KeyError, TypeError) as e:
        raise CampaignError(f"restart point {path} is unreadable ({e})") from None


def restart_json(r: RestartPoint) -> str:
    return json.dumps(asdict(r), indent=1) + "\n"


def proc_cpu_s(pid: int) -> float:
    """user + system CPU seconds of a live process (all its threads), from
    /proc (0.0 where it cannot be read): what a job's chunk has spent."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0
