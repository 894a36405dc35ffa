"""The training campaign: train the shipped models in the background, at low
priority, in chunks that pick up where the last one stopped.

    python scripts/campaign.py start     # start the scheduler (detached)
    python scripts/campaign.py status    # what it trains, steps, CPU-hours, held-out figures
    python scripts/campaign.py pause     # SIGSTOP the running chunk (quiet machine for timings)
    python scripts/campaign.py resume    # SIGCONT it
    python scripts/campaign.py stop      # the chunk finishes its step, saves last.pt, all exit
    python scripts/campaign.py adopt JOB RUN/last.pt --cpu-h X   # ship a study's run if better

The plan is configs/campaign.toml (see codec/training/campaign.py). Each chunk
is a child ``codec train --config <job config> --resume --set
train.stop_at=<n>`` at nice 19 inside the scheduler's own session, whose
autogroup niceness is lowered too: with sched_autogroup on (Linux default),
``nice`` only orders processes inside one session; between sessions the
kernel shares the CPU by autogroup, so a nice-19 trainer in its own session
would otherwise get as much CPU as a whole interactive session.

CPU-hours are the children's own rusage (user + system): time spent stopped
(paused) or waiting for the CPU is not charged. Every ``eval_every_cpu_h`` of
training CPU (and at the end of each cycle) an evaluation child exports the
newest weights to the shipped fp16 form, scores them on the fixed held-out
images through real files (codec/training/heldout.py) and replaces
``checkpoints/<name>.pt`` only if the held-out loss improved, writing
``checkpoints/<name>.campaign.json`` (the restart point for a machine
without runs/) and, when the plan names a Kodak folder, a re-measured model
card. State: runs/campaign/state.json (written only by the scheduler).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codec.errors import CodecError  # noqa: E402
from codec.fsio import write_atomic  # noqa: E402
from codec.training.campaign import (CampaignError, Job, JobState, Plan, State, chunk_end,  # noqa: E402
                                     eval_due, improved, job_run, load_plan, pick_job, proc_cpu_s, read_restart,
                                     read_state, restart_json, RestartPoint)

POLL_S = 2.0
# card keys written by the run a checkpoint came from before the campaign took
# it over (its CPU-hours, its recipe): kept, renamed pre_campaign_<key>, so a
# card never shows them as if they described the campaign's training
PRE_CAMPAIGN_KEYS = ("cpu_hours", "recipe")


def card_data(cfg, plan: Plan) -> str:
    """The model card's 'data' of a campaign job."""
    return f"{cfg.data.train} (8 fixed held out: {plan.holdout}; never Kodak)"


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def set_autogroup_nice(pid: int, value: int) -> None:
    """Lower the CPU weight of ``pid``'s session autogroup (no-op where unsupported)."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(value))
    except OSError:
        pass


def save_state(plan: Plan, state: State) -> None:
    Path(plan.state).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(plan.state, state.to_json().encode())


def run_position(out: Path) -> int | None:
    """Step of out/last.pt, from the trainer's last.json (or, for a run folder
    written before last.json existed, from the checkpoint itself)."""
    if not (out / "last.pt").is_file():
        return None
    j = out / "last.json"
    if j.is_file() and j.stat().st_mtime >= (out / "last.pt").stat().st_mtime - 5:
        return int(json.loads(j.read_text())["step"])
    code = ("import torch,sys; print(torch.load(sys.argv[1], map_location='cpu', weights_only=True)"
            "['train_state']['step'])")
    r = subprocess.run([sys.executable, "-c", code, str(out / "last.pt")], capture_output=True, text=True)
    return int(r.stdout.strip())


# --- the scheduler ----------------------------------------------------------------
class Scheduler:
    def __init__(self, plan_path: str):
        self.plan_path = plan_path
        self.plan = load_plan(plan_path)
        self.state = read_state(self.plan.state)
        self.flags = {"pause": False, "resume": False, "stop": False}
        self.log_file = Path(self.plan.state).parent / "campaign.log"

    def log(self, msg: str) -> None:
        with open(self.log_file, "a") as f:
            f.write(f"{now()} {msg}\n")

    def _init_jobs(self, session_start: bool = True) -> None:
        for job in self.plan.enabled:
            js = self.state.jobs.get(job.name)
            if js is None:
                js = self.state.jobs[job.name] = JobState.from_restart(read_restart(job.restart_file))
                if not session_start:
                    js.session_start_cpu_s = js.total_cpu_s
            if session_start:
                js.session_start_cpu_s = js.total_cpu_s

    def main(self) -> None:
        for sig, name in ((signal.SIGUSR1, "pause"), (signal.SIGUSR2, "resume"), (signal.SIGTERM, "stop")):
            signal.signal(sig, lambda s, f, n=name: self.flags.__setitem__(n, True))
        set_autogroup_nice(os.getpid(), self.plan.autogroup_nice)
        self._init_jobs()
        self.state.scheduler_pid, self.state.started, self.state.running = os.getpid(), time.time(), None
        self.state.paused = False
        save_state(self.plan, self.state)
        self.log(f"scheduler {os.getpid()} started; jobs: {', '.join(j.name for j in self.plan.enabled)}")
        try:
            while not self.flags["stop"]:
                self._handle_flags(None)
                self._reload_plan()
                if self.state.paused:
                    time.sleep(POLL_S)
                    continue
                try:
                    self.step_once()
                except (CodecError, OSError, ValueError) as e:
                    self.log(f"error: {e}; retrying in 60 s")
                    self._sleep(60)
        finally:
            self.state.scheduler_pid, self.state.running = None, None
            save_state(self.plan, self.state)
            self.log("scheduler stopped")

    def _reload_plan(self) -> None:
        """Edits of the plan (shares, enabled jobs, priorities) take effect at
        the next chunk without a restart; a broken edit keeps the old plan."""
        try:
            plan = load_plan(self.plan_path)
        except CodecError as e:
            self.log(f"plan not reloaded: {e}")
            return
        if plan.state != self.plan.state:
            self.log("plan's state path changed: ignored until a restart")
            plan = Plan(plan.jobs, plan.eval_every_cpu_h, plan.holdout, plan.kodak, plan.nice,
                        plan.autogroup_nice, self.plan.state)
        if plan.autogroup_nice != self.plan.autogroup_nice:
            set_autogroup_nice(os.getpid(), plan.autogroup_nice)
            self.log(f"autogroup niceness now {plan.autogroup_nice}")
        self.plan = plan
        self._init_jobs(session_start=False)

    def _sleep(self, seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end and not self.flags["stop"]:
            time.sleep(min(POLL_S, max(end - time.time(), 0)))

    def _handle_flags(self, child: subprocess.Popen | None) -> None:
        for name, sig, paused in (("pause", signal.SIGSTOP, True), ("resume", signal.SIGCONT, False)):
            if self.flags[name]:
                self.flags[name] = False
                if child is not None:
                    os.kill(child.pid, sig)
                self.state.paused = paused
                save_state(self.plan, self.state)
                self.log("paused" if paused else "resumed")

    def step_once(self) -> None:
        job = pick_job(self.plan, self.state)
        js = self.state.jobs[job.name]
        run = job_run(job)
        steps, out = run.steps, run.out
        pos = run_position(out)
        if pos is not None:
            js.step = pos
        done = pos is not None and pos >= steps
        if pos is not None and eval_due(js, self.plan.eval_every_cpu_h, done):
            self.evaluate(job, js, out, steps)
            return
        overrides = []
        if done:  # cycle finished and evaluated: the next cycle warm-starts from its end
            self._roll_over(out, js)
            pos = None
        if pos is None:
            cycle_file = self._cycle_file(out)
            r = read_restart(job.restart_file)
            if cycle_file is not None:
                overrides.append(f"train.init={cycle_file}")
                js.step = 0
            elif r is not None:  # no runs/: the shipped weights at the saved schedule position
                js.cycle, js.step = r.next_position(steps)
                overrides += [f"train.init={job.checkpoint}", f"train.start_step={js.step}"]
        stop_at = chunk_end(js.step, job.chunk_steps, steps)
        argv = [sys.executable, "-m", "codec.cli", "train", "--config", job.config, "--resume",
                "--set", f"train.stop_at={stop_at}"] + [a for o in overrides for a in ("--set", o)]
        rc, cpu = self.run_child(job, "train", argv, stop_at)
        js.cpu_s += cpu
        js.chunks += 1
        pos = run_position(out)
        js.step = pos if pos is not None else js.step
        save_state(self.plan, self.state)
        self.log(f"{job.name}: chunk to {stop_at} exited {rc}, step {js.step}, {cpu:.0f} CPU-s, "
                 f"{js.cpu_h:.3f} CPU-h in all")
        if rc != 0 and not self.flags["stop"]:
            self._sleep(60)  # a failing config should not spin

    @staticmethod
    def _cycle_file(out: Path) -> Path | None:
        files = sorted(out.glob("cycle-*.pt"), key=lambda p: int(p.stem.split("-")[1]))
        return files[-1] if files else None

    def _roll_over(self, out: Path, js: JobState) -> None:
        """Keep the finished cycle's weights as the next cycle's warm start
        (one file: older ones are removed) and its TensorBoard log."""
        old = list(out.glob("cycle-*.pt"))
        os.replace(out / "last.pt", out / f"cycle-{js.cycle}.pt")
        for p in old:
            p.unlink(missing_ok=True)
        for name in ("best.pt", "last.json"):
            (out / name).unlink(missing_ok=True)
        if (out / "tb").is_dir():
            shutil.move(str(out / "tb"), str(out / f"tb-cycle{js.cycle}"))
        js.cycle += 1
        js.step = 0
        self.log(f"cycle {js.cycle - 1} finished; next cycle warm-starts from cycle-{js.cycle - 1}.pt")

    def evaluate(self, job: Job, js: JobState, out: Path, steps: int) -> None:
        result = out / "eval.json"
        result.unlink(missing_ok=True)
        argv = [sys.executable, str(Path(__file__).resolve()), "--plan", self.plan_path, "_eval", job.name,
                "--cycle", str(js.cycle), "--step", str(js.step), "--cycle-steps", str(steps),
                "--cpu-h", f"{js.cpu_h:.4f}"]
        if js.best_loss is not None:
            argv += ["--current-loss", repr(js.best_loss)]
        rc, cpu = self.run_child(job, "eval", argv, None)
        js.eval_cpu_s += cpu
        if rc == 0 and result.is_file():
            r = json.loads(result.read_text())
            js.last_eval, js.best_loss = r, r["best_loss"]
            js.evals += 1
            js.improvements += int(r["improved"])
            js.eval_pos, js.cpu_s_at_eval = [js.cycle, js.step], js.cpu_s
            self.log(f"{job.name}: held-out {r['candidate']} vs shipped {r['current_loss']:.5f}: "
                     f"{'checkpoint replaced' if r['improved'] else 'kept'} ({cpu:.0f} CPU-s)")
        else:
            self.log(f"{job.name}: evaluation exited {rc}")
            if not self.flags["stop"]:
                self._sleep(60)
        save_state(self.plan, self.state)

    def run_child(self, job: Job, kind: str, argv: list[str], stop_at: int | None) -> tuple[int, float]:
        """Run one child at nice ``plan.nice``; (exit status, CPU seconds from rusage)."""
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        nice = self.plan.nice
        log = open(Path(self.plan.state).parent / f"{job.name}.log", "a")
        log.write(f"\n{now()} {' '.join(argv[1:])}\n")
        log.flush()
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL,
                                 preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, nice))
        log.close()
        set_autogroup_nice(child.pid, self.plan.autogroup_nice)
        self.state.running = {"job": job.name, "kind": kind, "pid": child.pid, "started": time.time(),
                              "stop_at": stop_at, "cpu_s": 0.0}
        save_state(self.plan, self.state)
        if self.state.paused:
            os.kill(child.pid, signal.SIGSTOP)
        stopping = False
        while True:
            pid, status, ru = os.wait4(child.pid, os.WNOHANG)
            if pid:
                child.returncode = os.waitstatus_to_exitcode(status)
                break
            if self.flags["stop"] and not stopping:
                stopping = True  # finish the step, save last.pt, exit
                os.kill(child.pid, signal.SIGCONT)
                os.kill(child.pid, signal.SIGTERM)
            self._handle_flags(child)
            self.state.running["cpu_s"] = proc_cpu_s(child.pid)
            save_state(self.plan, self.state)
            time.sleep(POLL_S)
        self.state.running = None
        return child.returncode, ru.ru_utime + ru.ru_stime


# --- the evaluation child -----------------------------------------------------------
def _scorer(plan: Plan, job: Job):
    """(the job's config, checkpoint -> held-out score): a variable-rate job is
    scored at every anchor with the lambda table's own lambdas (mean over
    anchors), a fixed-rate job at its config's lambda."""
    import warnings
    warnings.filterwarnings("ignore")
    from codec.training import config as config_io, heldout
    from codec.models.variable_rate import VariableRateConfig
    cfg = config_io.load(job.config)
    paths = heldout.heldout_paths(cfg.data.train, plan.holdout)
    lmbda = None if isinstance(cfg.model, VariableRateConfig) else cfg.train.lmbda
    return cfg, lambda checkpoint: heldout.score(checkpoint, paths, lmbda)


def evaluate_child(plan: Plan, job: Job, a) -> None:
    """Score the newest weights and the shipped checkpoint on the held-out
    images; replace the checkpoint (atomically) only on improvement."""
    from codec import checkpoint as ckpt_io
    cfg, score = _scorer(plan, job)
    out = Path(cfg.train.out)
    current = a.current_loss
    if current is None and Path(job.checkpoint).is_file():
        current = score(ckpt_io.load(job.checkpoint)).loss
    shipped = ckpt_io.for_inference(ckpt_io.load(out / "last.pt"))
    cand = score(shipped)
    better = current is None or improved(cand.loss, current)
    old = read_restart(job.restart_file)
    campaign_steps = (old.offset_steps if old else 0) + a.cycle * a.cycle_steps + a.step
    ship(plan, job, cfg, shipped if better else None, cand, current, a.cycle, a.step, a.cpu_h, campaign_steps)
    result = {"candidate": cand.to_dict(), "current_loss": current if current is not None else float("nan"),
              "improved": better, "best_loss": cand.loss if better else current,
              "cycle": a.cycle, "step": a.step, "time": now()}
    write_atomic(out / "eval.json", json.dumps(result, indent=1).encode())
    print(json.dumps(result))


def ship(plan: Plan, job: Job, cfg, shipped, cand, current: float | None, cycle: int, step: int, cpu_h: float,
         campaign_steps: int, note: str = "", offset_steps: int | None = None) -> None:
    """Record one held-out evaluation in the job's restart point; where
    ``shipped`` (the candidate's inference checkpoint) is given, it beat the
    shipped checkpoint: replace that (atomically) with it, restart point
    (cycle, step, cpu_h) and a re-measured model card.

    ``campaign_steps``: optimizer steps the candidate had in the campaign;
    ``offset_steps``: the restart point's steps not counted as
    cycle * cycle_steps + step (an adopted run, a changed cycle length);
    None keeps the old one."""
    from codec import checkpoint as ckpt_io
    from codec.training import config as config_io
    old = read_restart(job.restart_file)
    old_card = ckpt_io.load(job.checkpoint).card if Path(job.checkpoint).is_file() else {}
    base_steps = old.base_steps if old else int(old_card.get("steps", 0))
    offset = (old.offset_steps if old else 0) if offset_steps is None else offset_steps
    entry = {"time": now(), "cycle": cycle, "step": step, "campaign_steps": campaign_steps,
             "cpu_h": round(cpu_h, 4), **cand.to_dict(), "shipped_loss": current, "improved": shipped is not None}
    if note:
        entry["note"] = note
    history = (old.history if old else []) + [entry]
    if shipped is not None:
        # training facts carry over; Kodak figures belong to the old weights
        # (the Markdown card beside the checkpoint is re-measured below)
        shipped.card = {k: v for k, v in old_card.items() if not k.startswith("kodak_")}
        for k in PRE_CAMPAIGN_KEYS:   # facts of the run before the campaign, named as such
            if k in shipped.card:
                shipped.card[f"pre_campaign_{k}"] = shipped.card.pop(k)
        # a job trained from scratch has no earlier card: its training facts from the config
        shipped.card.setdefault("data", card_data(cfg, plan))
        shipped.card.setdefault("lambda", config_io.lambda_description(cfg))
        shipped.card.update({"steps": base_steps + campaign_steps, "campaign_steps": campaign_steps,
                             "campaign_cycle": cycle, "campaign_cpu_hours": round(cpu_h, 3),
                             "heldout": f"{cand.images} images of configs/holdout.txt",
                             "heldout_loss": round(cand.loss, 5), "heldout_bpp": round(cand.bpp, 5),
                             "heldout_psnr": round(cand.psnr, 3)})
        ckpt_io.save(shipped, job.checkpoint)  # atomic: temporary file, then rename
        r = RestartPoint(cycle, step, cpu_h, cand.to_dict(), history, base_steps, offset)
    elif old is not None:
        r = RestartPoint(old.cycle, old.step, old.cpu_h, old.heldout, history, base_steps, offset)
    else:
        r = None  # nothing shipped by the campaign yet: no restart point to write
    if r is not None:
        write_atomic(job.restart_file, restart_json(r).encode())
    if shipped is not None and plan.kodak and Path(plan.kodak).is_dir():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "write_model_card.py"), job.checkpoint,
                        plan.kodak, "--command", "python scripts/campaign.py start",
                        "--data", card_data(cfg, plan)],
                       cwd=ROOT, check=False, stdout=subprocess.DEVNULL)


# --- commands -----------------------------------------------------------------------
def cmd_start(plan: Plan, a) -> int:
    state = read_state(plan.state)
    if alive(state.scheduler_pid):
        print(f"campaign already running (scheduler pid {state.scheduler_pid})")
        return 0
    if state.running and alive(state.running.get("pid")):
        raise CampaignError(f"a chunk of an earlier scheduler still runs (pid {state.running['pid']}); "
                            "wait for it or stop it first")
    Path(plan.state).parent.mkdir(parents=True, exist_ok=True)
    log = open(Path(plan.state).parent / "campaign.log", "a")
    p = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--plan", a.plan, "_run"], cwd=ROOT,
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                         preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, plan.nice))
    for _ in range(50):
        time.sleep(0.2)
        if read_state(plan.state).scheduler_pid == p.pid:
            print(f"campaign started (scheduler pid {p.pid}); log {Path(plan.state).parent / 'campaign.log'}")
            return 0
        if p.poll() is not None:
            raise CampaignError(f"the scheduler exited at once ({p.returncode}); see campaign.log")
    print(f"campaign starting (scheduler pid {p.pid})")
    return 0


def _signal(plan: Plan, sig: int, want_paused: bool | None, what: str) -> int:
    state = read_state(plan.state)
    if not alive(state.scheduler_pid):
        raise CampaignError("the campaign is not running (python scripts/campaign.py start)")
    os.kill(state.scheduler_pid, sig)
    for _ in range(100):
        time.sleep(0.1)
        s = read_state(plan.state)
        if want_paused is not None and s.paused == want_paused:
            break
        if want_paused is None and not alive(state.scheduler_pid):
            break
    print(what)
    return 0


def cmd_stop(plan: Plan, a) -> int:
    state = read_state(plan.state)
    if not alive(state.scheduler_pid):
        print("campaign is not running")
        return 0
    os.kill(state.scheduler_pid, signal.SIGTERM)
    end = time.time() + a.wait
    while alive(state.scheduler_pid) and time.time() < end:
        time.sleep(0.5)
    if alive(state.scheduler_pid):
        print(f"stop requested; the chunk is still finishing its step (scheduler pid {state.scheduler_pid})")
    else:
        print("campaign stopped (last.pt saved by the chunk)")
    return 0


def cmd_adopt(plan: Plan, a) -> int:
    """Ship weights trained outside the campaign (a recipe study's run of the
    job's own model) as the job's checkpoint if they beat it on the held-out
    images; the job's next cycle then warm-starts from them and its unfinished
    cycle (runs/campaign/<job>, moved aside) is dropped. The campaign must be
    stopped: the scheduler owns state.json."""
    from codec import checkpoint as ckpt_io
    state = read_state(plan.state)
    if alive(state.scheduler_pid):
        raise CampaignError("stop the campaign first (python scripts/campaign.py stop)")
    job = next((j for j in plan.enabled if j.name == a.job), None)
    if job is None:
        raise CampaignError(f"no enabled job '{a.job}' in {a.plan}")
    weights = Path(a.weights)
    # the trainer's last.json describes its last.pt only
    steps = a.steps if a.steps is not None else run_position(weights.parent) if weights.name == "last.pt" else None
    if steps is None:
        raise CampaignError(f"no last.json beside {weights} tells its steps: pass --steps (the run's optimizer steps)")
    cfg, score = _scorer(plan, job)
    cand_ckpt = ckpt_io.for_inference(ckpt_io.load(weights))
    if cand_ckpt.model != cfg.model.name:
        raise CampaignError(f"{weights} is a {cand_ckpt.model} model; job '{job.name}' trains {cfg.model.name}")
    shipped_now = ckpt_io.load(job.checkpoint) if Path(job.checkpoint).is_file() else None
    current = score(shipped_now).loss if shipped_now is not None else None
    cand = score(cand_ckpt)
    if current is not None and not improved(cand.loss, current):
        print(f"{weights}: held-out loss {cand.loss:.5f} does not beat the shipped {current:.5f}: nothing changed")
        return 1
    js = state.jobs.get(job.name) or JobState.from_restart(read_restart(job.restart_file))
    state.jobs[job.name] = js
    # the run's own steps on top of the weights it started from: by default the
    # shipped checkpoint (a study started from an older one passes --from-steps)
    shipped_steps = int(shipped_now.card.get("campaign_steps", 0)) if shipped_now is not None else 0
    campaign_steps = (a.from_steps if a.from_steps is not None else shipped_steps) + steps
    run = job_run(job)
    cycle = js.cycle + 1
    js.cpu_s += a.cpu_h * 3600
    ship(plan, job, cfg, cand_ckpt, cand, current, cycle, 0, js.cpu_h, campaign_steps,
         note=f"adopted {weights} ({steps} steps, {a.cpu_h} CPU-h){': ' + a.note if a.note else ''}",
         offset_steps=campaign_steps - cycle * run.steps)
    out = run.out
    if out.exists():   # the unfinished cycle: kept aside, never resumed
        os.replace(out, out.with_name(f"{out.name}.superseded-{time.strftime('%Y%m%d-%H%M%S')}"))
    js.cycle, js.step, js.best_loss, js.eval_pos = cycle, 0, cand.loss, None
    js.evals, js.improvements = js.evals + 1, js.improvements + 1
    js.last_eval = {"candidate": cand.to_dict(), "current_loss": current if current is not None else float("nan"),
                    "improved": True, "best_loss": cand.loss, "cycle": cycle, "step": 0, "time": now()}
    save_state(plan, state)
    print(f"{job.name}: adopted {weights}: held-out loss {cand.loss:.5f} (shipped was "
          f"{current if current is not None else float('nan'):.5f}); cycle {cycle} starts from it")
    return 0


def cmd_status(plan: Plan, a) -> int:
    state = read_state(plan.state)
    run = state.running if alive(state.scheduler_pid) else None
    if a.json:
        print(json.dumps({"running": alive(state.scheduler_pid), "paused": state.paused,
                          "state": json.loads(state.to_json())}, indent=1))
        return 0
    head = "paused" if state.paused else "running"
    print(f"campaign: {head if alive(state.scheduler_pid) else 'not running'}"
          + (f" (scheduler pid {state.scheduler_pid})" if alive(state.scheduler_pid) else ""))
    for job in plan.jobs:
        js = state.jobs.get(job.name, JobState())
        live = run["cpu_s"] if run and run["job"] == job.name else 0.0
        tag = "" if job.enabled else " [disabled]"
        print(f"- {job.name}{tag}: share {job.share}, config {job.config}")
        if not job.enabled:
            continue
        try:
            run_info = job_run(job)
            out, steps = run_info.out, run_info.steps
            pos = json.loads((out / "last.json").read_text())["step"] if (out / "last.json").is_file() else js.step
        except (CodecError, OSError, ValueError):
            pos, steps = js.step, "?"
        total = js.total_cpu_s + live
        print(f"  cycle {js.cycle}, step {pos}/{steps}, chunks {js.chunks}, "
              f"CPU-hours {total / 3600:.3f} (train {js.cpu_s / 3600:.3f} + eval {js.eval_cpu_s / 3600:.3f}"
              f" + running {live / 3600:.3f}); this session {(total - js.session_start_cpu_s) / 3600:.3f}")
        if run and run["job"] == job.name:
            what = f"chunk to step {run['stop_at']}" if run["kind"] == "train" else "held-out evaluation"
            print(f"  now: {what} (pid {run['pid']}, {live:.0f} CPU-s)")
        if js.last_eval:
            c = js.last_eval["candidate"]
            print(f"  last held-out ({js.last_eval['time']}, cycle {js.last_eval['cycle']} step "
                  f"{js.last_eval['step']}): loss {c['loss']:.4f}, {c['bpp']:.4f} bpp, {c['psnr']:.2f} dB; "
                  f"shipped {js.last_eval['current_loss']:.4f}; "
                  f"{'checkpoint replaced' if js.last_eval['improved'] else 'checkpoint kept'}")
        print(f"  evaluations {js.evals}, checkpoint improvements {js.improvements}"
              + (f", shipped held-out loss {js.best_loss:.4f}" if js.best_loss is not None else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", default="configs/campaign.toml")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("start")
    st = sub.add_parser("status")
    st.add_argument("--json", action="store_true")
    sub.add_parser("pause")
    sub.add_parser("resume")
    sp = sub.add_parser("stop")
    sp.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the chunk to save")
    ad = sub.add_parser("adopt", help="ship a run's weights as a job's checkpoint if better on held-out")
    ad.add_argument("job")
    ad.add_argument("weights", help="a training run's last.pt of the job's model")
    ad.add_argument("--cpu-h", type=float, required=True, help="CPU-hours the run spent (added to the job's)")
    ad.add_argument("--steps", type=int, default=None, help="the run's steps (default: its last.json)")
    ad.add_argument("--from-steps", type=int, default=None,
                    help="campaign steps of the weights the run started from (default: the shipped card's)")
    ad.add_argument("--note", default="", help="where the run came from (kept in the restart point's history)")
    sub.add_parser("_run")
    ev = sub.add_parser("_eval")
    ev.add_argument("job")
    for k, t in (("--cycle", int), ("--step", int), ("--cycle-steps", int), ("--cpu-h", float),
                 ("--current-loss", float)):
        ev.add_argument(k, type=t, default=None)
    a = ap.parse_args(argv)
    if Path(a.plan).is_file():  # relative to the caller; otherwise to the repository
        a.plan = str(Path(a.plan).resolve())
    os.chdir(ROOT)
    try:
        if a.cmd == "_run":
            Scheduler(a.plan).main()
            return 0
        plan = load_plan(a.plan)
        if a.cmd == "_eval":
            job = next((j for j in plan.jobs if j.name == a.job), None)
            if job is None:
                raise CampaignError(f"no job '{a.job}' in {a.plan}")
            evaluate_child(plan, job, a)
            return 0
        return {"start": cmd_start, "status": cmd_status, "stop": cmd_stop, "adopt": cmd_adopt,
                "pause": lambda p, a: _signal(p, signal.SIGUSR1, True, "campaign paused"),
                "resume": lambda p, a: _signal(p, signal.SIGUSR2, False, "campaign resumed")}[a.cmd](plan, a)
    except CodecError as e:
        print(f"campaign: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
