"""The campaign's plan and policy: plan parsing, CPU-share picking, chunk
boundaries, when to evaluate, the improvement rule and the restart point.
(The process side, scripts/campaign.py, has one slow end-to-end test.)"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codec.training.campaign import (CampaignError, JobState, RestartPoint, State, chunk_end, eval_due,
                                     improved, load_plan, parse_plan, pick_job, read_restart, read_state,
                                     restart_json)

ROOT = Path(__file__).resolve().parents[1]


def plan_dict(**top):
    return {"eval_every_cpu_h": 0.5, **top, "job": [
        {"name": "a", "config": "a.toml", "checkpoint": "checkpoints/a.pt", "share": 1.0},
        {"name": "b", "config": "b.toml", "checkpoint": "checkpoints/b.pt", "share": 3.0},
        {"name": "c", "config": "c.toml", "checkpoint": "checkpoints/c.pt", "enabled": False}]}


def test_the_repository_plan_parses_and_its_enabled_configs_exist(monkeypatch):
    monkeypatch.chdir(ROOT)
    plan = load_plan("configs/campaign.toml")
    assert [j.name for j in plan.enabled] == ["mean-scale-q3", "mean-scale-vr", "factorized-vr", "hyperprior-vr"]
    assert all((ROOT / j.config).is_file() for j in plan.enabled)
    assert plan.nice == 19 and plan.eval_every_cpu_h > 0
    assert plan.enabled[0].restart_file == Path("checkpoints/mean-scale-q3.campaign.json")
    assert plan.enabled[0].share >= 0.25      # the shipped default keeps a quarter


@pytest.mark.parametrize("change, match", [
    (lambda d: d["job"][0].pop("config"), "'config' is required"),
    (lambda d: d["job"][0].update(share=0), "share must be > 0"),
    (lambda d: d["job"][1].update(name="a"), "unique"),
    (lambda d: d["job"][0].update(colour="red"), "unknown key 'colour'"),
    (lambda d: d["job"][0].update(chunk_steps="500"), "wrong type"),
    (lambda d: d.update(nice=25), "nice"),
    (lambda d: [j.update(enabled=False) for j in d["job"]], "no enabled job"),
])
def test_bad_plans_are_refused_with_the_key_named(change, match):
    d = plan_dict()
    change(d)
    with pytest.raises(CampaignError, match=match):
        parse_plan(d)


def test_next_chunk_goes_to_the_job_with_fewest_cpu_hours_per_share():
    plan = parse_plan(plan_dict())
    state = State()
    assert pick_job(plan, state).name == "a"  # tie: plan order
    state.jobs["a"] = JobState(cpu_s=3600)
    state.jobs["b"] = JobState(cpu_s=3 * 3600 - 1, eval_cpu_s=0)
    assert pick_job(plan, state).name == "b"  # 0.99.. h per share < 1 h per share
    state.jobs["b"].eval_cpu_s = 2  # evaluation CPU counts too
    assert pick_job(plan, state).name == "a"
    state.jobs["c"] = JobState()  # disabled jobs never run
    assert pick_job(plan, state).name != "c"


def test_cpu_is_split_by_share_within_a_session_not_over_a_job_lifetime():
    plan = parse_plan(plan_dict())
    state = State()
    # "a" ran alone for 10 h before this session; "b" was just enabled
    state.jobs["a"] = JobState(cpu_s=10 * 3600, session_start_cpu_s=10 * 3600)
    state.jobs["b"] = JobState()
    assert pick_job(plan, state).name == "a"          # tie this session: plan order
    state.jobs["a"].cpu_s += 600
    assert pick_job(plan, state).name == "b"          # b has had nothing this session


def test_chunks_end_on_aligned_steps_and_at_the_cycle_end():
    assert chunk_end(0, 500, 4000) == 500
    assert chunk_end(137, 500, 4000) == 500   # an interrupted chunk resumes to the same stop
    assert chunk_end(500, 500, 4000) == 1000
    assert chunk_end(3900, 500, 4000) == 4000


def test_evaluation_is_due_by_cpu_at_cycle_end_and_first_but_never_twice_in_place():
    js = JobState(cpu_s=100.0, cycle=0, step=300)
    assert eval_due(js, 0.5, False)                # the shipped loss is not known yet
    js.best_loss, js.eval_pos, js.cpu_s_at_eval = 1.3, [0, 300], 100.0
    assert not eval_due(js, 0.5, False)
    js.step, js.cpu_s = 800, 100.0 + 1799
    assert not eval_due(js, 0.5, False)
    js.cpu_s += 1
    assert eval_due(js, 0.5, False)
    js.cpu_s, js.step = 200.0, 4000
    assert eval_due(js, 0.5, True)                 # end of a cycle
    js.eval_pos = [0, 4000]
    assert not eval_due(js, 0.5, True)


def test_the_checkpoint_is_replaced_only_on_strictly_lower_heldout_loss():
    assert improved(1.2899, 1.2900)
    assert not improved(1.2900, 1.2900)
    assert not improved(1.3, 1.29)
    with pytest.raises(CampaignError, match="measured first"):
        improved(1.0, None)


def test_restart_point_round_trips_and_gives_the_schedule_position(tmp_path):
    r = RestartPoint(2, 1700, 3.25, {"loss": 1.28, "bpp": 0.57, "psnr": 28.5}, [{"step": 1700}], 13500)
    p = tmp_path / "m.campaign.json"
    p.write_text(restart_json(r))
    back = read_restart(p)
    assert back == r
    assert back.next_position(4000) == (2, 1700)
    assert RestartPoint(2, 4000, 3.3, {}).next_position(4000) == (3, 0)  # finished cycle: next one
    assert read_restart(tmp_path / "absent.json") is None
    p.write_text("{}")
    with pytest.raises(CampaignError, match="unreadable"):
        read_restart(p)


def test_state_round_trips_through_json(tmp_path):
    s = State({"a": JobState(cpu_s=12.5, cycle=1, step=40, best_loss=1.3)}, 123, True, None, 5.0)
    p = tmp_path / "state.json"
    p.write_text(s.to_json())
    back = read_state(p)
    assert back.jobs["a"].cpu_h == pytest.approx(12.5 / 3600) and back.paused and back.scheduler_pid == 123
    assert read_state(tmp_path / "none.json").jobs == {}


def test_status_answers_fast_without_a_running_campaign(tmp_path):
    plan = tmp_path / "plan.toml"
    (tmp_path / "job.toml").write_text("[train]\nsteps = 10\nout = \"runs/x\"\n")
    plan.write_text(f'state = "{tmp_path / "state.json"}"\n[[job]]\nname = "x"\n'
                    f'config = "{tmp_path / "job.toml"}"\ncheckpoint = "{tmp_path / "x.pt"}"\n')
    t = time.time()
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "campaign.py"), "--plan", str(plan), "status"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "not running" in out.stdout and "- x" in out.stdout
    assert time.time() - t < 20  # the before-stop hook's limit
    probe = ("import runpy, sys\nsys.argv = ['campaign.py', '--plan', sys.argv[1], 'status']\n"
             "try:\n    runpy.run_path(sys.argv[0] if False else %r, run_name='__main__')\n"
             "except SystemExit:\n    pass\nprint('torch' in sys.modules)" % str(ROOT / "scripts" / "campaign.py"))
    light = subprocess.run([sys.executable, "-c", probe, str(plan)], capture_output=True, text=True, timeout=60)
    assert light.stdout.strip().endswith("False"), light.stdout + light.stderr  # status never imports torch
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "campaign.py"), "--plan", str(tmp_path / "no.toml"),
                          "status"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
