"""Data-parallel helpers for ``torchrun`` (torch.distributed DDP).

One process per device; rank 0 owns logging, validation and checkpoints. The
main loss is averaged by DDP's gradient all-reduce; the auxiliary loss (which
trains only the factorized density's quantiles, outside the DDP forward) has
its gradients averaged here, so every rank keeps identical quantiles; logged
metrics are averaged over ranks before rank 0 writes them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def init_from_env(device_type: str) -> World:
    """Join the process group torchrun describes in the environment, if any."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def average_gradients(params: list[torch.Tensor], world: World) -> None:
    """All-reduce (mean) the gradients of parameters DDP does not manage."""
    if not world.active:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world.size)


def mean_over_ranks(values: list[float], world: World) -> list[float]:
    if not world.active:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return (t / world.size).tolist()


def gather_objects(obj, world: World) -> list:
    """Every rank's ``obj`` (e.g. RNG states), in rank order."""
    if not world.active:
        return [obj]
    out = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()
