"""Bench: the meeting scheduler against an exact solver and a round-robin baseline.

    python bench/scheduler.py [--reference N] [--large N] [--skip-large]

Instances are generated the way the service builds them: random enterprises and
participants (bench/scoring.py), every pair scored by the real scoring, pairs at
or above the threshold eligible; a fifth of the parties cannot meet during a
block of 1-4 slots; participants have caps of 3-8 meetings or none; enterprises
should get a fair minimum of meetings. Two harder variants of the reference size
follow: "tight" (10 tables for 16 presidents, participants taking 1-3 meetings)
and "scattered" (as tight, with 60% of the parties free in a random half of the
slots only). Then the constraints of issue 12, each against an exact MILP that
models it (`solver/exact.py`, with a 300 s limit): "venues" (tight, over
Caohejing's 6 tables and Zhangjiang's 4, 45 minutes apart: presidents keep one
venue a day, visitors and interpreters travel), "interpreters" (tight, 3
interpreters, languages drawn per party), "agenda" (tight, a keynote and a lunch
block), and "cross-border" (scattered, all of them at once, Zhangjiang only after
lunch). The large size runs as planned and once more with scattered availability.

The target at the reference size is 100% of the exact optimum, proven, each
instance in under 2 s (`solve`: the exact path in stages, `solver/exact.py`,
within `EXACT_SECONDS`; without venues or interpreters the heuristic first,
which proves itself optimal when it reaches its LP bound); at the large size,
99.9% of the bound in under 10 s (the heuristic). The reference MILP is the same
model handed to HiGHS in one piece (`baselines.exact_schedule`), not the stages.
"proven" is what `solve` says of its own schedule (`stats["proven"]`); "cpu s"
is this process's CPU time, beside the wall clock, because the machine is
shared: the load is printed with every verdict.

Objective = total score of the meetings - 10 x meetings missing below the fair
minimum (where reachable), for every solver; "short" columns count those missing
meetings (round-robin's negative totals come from them). Per instance it prints the exact
optimum (time-indexed MILP, HiGHS via scipy.optimize.milp), our total, their
ratio, the round-robin total, and seconds. At the large size the MILP would have
millions of binaries and cannot be solved on 2 cores in minutes, so the
reference there is an upper bound instead: the LP relaxation of the
pair-aggregated model (degree caps, slot capacity, single-slot cuts), which no
schedule can beat.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench/scoring.py, run as a script

from scoring import THRESHOLD, random_enterprises, random_participants

from services.matching.interest import model as mi
from services.matching.scheduling import problem as sp
from services.matching.scheduling import solver as s
from services.matching.scheduling.solver import baselines
from services.matching.scoring import model as domain
from shared.contracts.matching import InterestState

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    name: str
    enterprises: int
    participants: int
    slots: int
    tables: int
    fair_minimum: int
    participant_caps: tuple[int, ...]  # drawn per participant; 0 means no cap
    scattered: bool = False  # availability: a block of 1-4 slots, or any half of them
    # Cross-border: tables per venue (the tables split over them), the travel
    # minutes between them, the slots (of 30 minutes) of the agenda's blocks,
    # a venue in use only from this slot on, how many interpreters.
    venues: tuple[int, ...] = ()
    travel: int = 0
    agenda: tuple[int, ...] = ()
    second_venue_from: int = 0
    interpreters: int = 0


# The reference event as held (a table per president); tight: fewer tables than
# presidents and local participants who take only a few meetings each, so the
# schedule has to choose; scattered: as tight, and most parties are free in a
# random half of the slots only, the hard case for fitting pairs into slots.
REFERENCE = Size("reference", 16, 64, 12, 16, 6, (3, 4, 6, 8, 0, 0))
TIGHT = Size("tight", 16, 64, 12, 10, 6, (1, 2, 2, 3))
SCATTERED = Size("scattered", 16, 64, 12, 10, 4, (1, 2, 2, 3), scattered=True)
# Opt-in leaves about a third of the pairs, too few for tight's fair minimum of
# 6 (most enterprises could not reach it, and the objective would be mostly
# penalties): the same event with a fair minimum of 2.
TIGHT_OPT_IN = Size("tight", 16, 64, 12, 10, 2, (1, 2, 2, 3))
# The new constraints, one at a time on the tight event, then all at once on the
# scattered one: Caohejing (6 tables) and Zhangjiang (4), 45 minutes apart; a
# keynote (first slot) and a lunch (slots 6-7); interpreters for the pairs whose
# sides share no language (presidents speak English, 30% also Chinese; local
# participants Chinese, 60% also English), each free in three quarters of the slots.
VENUES = dataclasses.replace(TIGHT, name="venues", venues=(6, 4), travel=45)
INTERPRETERS = dataclasses.replace(TIGHT, name="interpreters", interpreters=3)
AGENDA = dataclasses.replace(TIGHT, name="agenda", agenda=(0, 6, 7))
CROSS_BORDER = dataclasses.replace(
    SCATTERED,
    name="cross-border",
    venues=(6, 4),
    travel=45,
    agenda=(0, 6, 7),
    second_venue_from=6,
    interpreters=3,
)
LARGE = Size("large fair", 1000, 2000, 16, 700, 6, (3, 4, 6, 8, 0, 0))
LARGE_SCATTERED = Size("scattered", 1000, 2000, 16, 500, 4, (3, 4, 6, 8, 0, 0), scattered=True)


def make_instance(size: Size, seed: int) -> s.Instance:
    rng = random.Random(seed)
    enterprises = random_enterprises(rng, size.enterprises)
    participants = random_participants(rng, size.participants)
    total = domain.score(
        domain.enterprise_features(enterprises),
        domain.participant_features(participants),
        domain.Weights(),
    ).total
    pe, pp = np.nonzero(total >= THRESHOLD)
    nrng = np.random.default_rng(seed)

    def availability(rows: int) -> np.ndarray:
        free = np.ones((rows, size.slots), dtype=bool)
        if size.scattered:
            for i in np.flatnonzero(nrng.random(rows) < 0.6):
                free[i] = nrng.random(size.slots) < 0.5
            return free
        for i in np.flatnonzero(nrng.random(rows) < 0.2):
            start = int(nrng.integers(0, size.slots))
            free[i, start : start + int(nrng.integers(1, 5))] = False
        return free

    caps = nrng.choice(size.participant_caps, size.participants)
    caps = np.where(caps == 0, size.slots, caps)
    closed = np.isin(np.arange(size.slots), size.agenda)
    base = s.Instance(
        n_enterprises=size.enterprises,
        n_participants=size.participants,
        n_slots=size.slots,
        tables=size.tables,
        pair_enterprise=pe.astype(np.int64),
        pair_participant=pp.astype(np.int64),
        pair_score=total[pe, pp].astype(np.float64),
        enterprise_cap=np.full(size.enterprises, size.slots, dtype=np.int64),
        participant_cap=caps.astype(np.int64),
        enterprise_available=availability(size.enterprises) & ~closed,
        participant_available=availability(size.participants) & ~closed,
        fair_minimum=size.fair_minimum,
    )
    return with_resources(base, size, nrng)


def with_resources(inst: s.Instance, size: Size, nrng: np.random.Generator) -> s.Instance:
    """The instance with the size's venues, travel and interpreters, built by
    the service's own rules (`scheduling.problem`) from the parties' languages."""
    extra: dict[str, object] = {}
    if size.venues:
        open_at = np.ones((len(size.venues), size.slots), dtype=bool)
        open_at[1:, : size.second_venue_from] = False
        travel = np.full((len(size.venues),) * 2, size.travel, dtype=np.int64)
        np.fill_diagonal(travel, 0)
        starts = np.arange(size.slots, dtype=np.int64) * 30
        extra |= {
            "venue_tables": np.array(size.venues, dtype=np.int64),
            "venue_open": open_at,
            "slot_start": starts,
            "slot_end": starts + 30,
            "travel_minutes": travel,
        }
    if size.interpreters:
        e_lang = [
            frozenset({"en", "zh"}) if nrng.random() < 0.3 else frozenset({"en"})
            for _ in range(size.enterprises)
        ]
        p_lang = [
            frozenset({"zh", "en"}) if nrng.random() < 0.6 else frozenset({"zh"})
            for _ in range(size.participants)
        ]
        speakers = [frozenset({"en", "zh"}), frozenset({"en", "zh"}), frozenset({"es", "en", "zh"})]
        langs = [speakers[i % len(speakers)] for i in range(size.interpreters)]
        needs, able = sp.interpreter_arrays(
            [e_lang[int(e)] for e in inst.pair_enterprise],
            [p_lang[int(p)] for p in inst.pair_participant],
            langs,
        )
        extra |= {
            "pair_needs_interpreter": needs,
            "pair_interpreters": able,
            "interpreter_available": nrng.random((size.interpreters, size.slots)) < 0.75,
        }
    return dataclasses.replace(inst, **extra) if extra else inst  # type: ignore[arg-type]


def timed(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[T, float]:
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


@dataclass(frozen=True)
class Run:
    """A run of `solve`: its schedule, wall-clock and CPU seconds."""

    schedule: s.Schedule
    wall: float
    cpu: float

    @property
    def proven(self) -> bool:
        return bool(self.schedule.stats.get("proven"))


def run_solve(inst: s.Instance, **kwargs: object) -> Run:
    """`solve`, timed by the wall clock and by this process's CPU (the machine is
    shared: under others' load the wall clock runs ahead of the CPU time)."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = s.solve(inst, **kwargs)  # type: ignore[arg-type]
    return Run(out, time.perf_counter() - wall, time.process_time() - cpu)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


HEADER = (
    f"{'instance':<14}{'pairs':>8}{'reference':>12}{'ours':>11}{'ratio':>9}{'proven':>8}"
    f"{'round-robin':>13}{'rr ratio':>10}{'ours s':>9}{'cpu s':>7}{'ref s':>8}{'rr s':>7}"
    f"{'meetings':>10}{'short':>7}{'rr short':>10}"
)


def row(
    label: str,
    inst: s.Instance,
    reference_run: tuple[float, float],
    ours_run: Run,
    rr_run: tuple[s.Schedule, float],
    end: str = "\n",
) -> float:
    """One line of the table; the reference and round-robin runs are (their value
    or schedule, their seconds). `proven`: `solve` says its schedule is optimal."""
    (reference, ref_s), (rr, rr_s), ours = reference_run, rr_run, ours_run.schedule
    mine, base = s.objective(inst, ours), s.objective(inst, rr)
    assert s.violations(inst, ours) == [] and s.violations(inst, rr) == []
    proven = "yes" if ours_run.proven else "no"
    print(
        f"{label:<14}{inst.n_pairs:>8,}{reference:>12.2f}{mine:>11.2f}"
        f"{percent(mine, reference):>9}{proven:>8}{base:>13.2f}{percent(base, reference):>10}"
        f"{ours_run.wall:>9.2f}{ours_run.cpu:>7.2f}{ref_s:>8.2f}{rr_s:>7.2f}{ours.size:>10,}"
        f"{s.shortfall(inst, ours):>7}{s.shortfall(inst, rr):>10}",
        end=end,
    )
    return mine


def percent(value: float, reference: float) -> str:
    """value / reference, where a share means something: "100.00%" when equal
    (to 1e-6), "-" against a reference at or below zero (penalties outweigh the
    scores there), and never rounded up to 100.00% when short of it."""
    if abs(value - reference) <= 1e-6:
        return "100.00%"
    if reference <= 0:
        return "-"
    return (
        f"{min(value / reference, 0.9999):.2%}" if value < reference else f"{value / reference:.2%}"
    )


def reference_size(size: Size, instances: int) -> None:
    print(
        f"Reference event: {size.enterprises} enterprises, {size.participants} participants, "
        f"{size.slots} slots, {size.tables} tables, fair minimum {size.fair_minimum}, "
        f"participant caps drawn from {size.participant_caps} (0: none), "
        f"{'scattered' if size.scattered else 'block'} availability [{size.name}]"
    )
    extras = [
        f"venues {size.venues} tables, {size.travel} min apart" if size.venues else "",
        f"agenda slots {size.agenda}" if size.agenda else "",
        f"{size.interpreters} interpreters" if size.interpreters else "",
    ]
    if any(extras):
        print("  with " + "; ".join(x for x in extras if x))
    print(
        "reference = exact optimum (time-indexed MILP, HiGHS, whole, 300 s limit); ours = solve\n"
        f"(the same MILP in stages in production at this size, within {s.EXACT_SECONDS} s)\n"
        + HEADER
    )
    runs: list[tuple[float, float, Run]] = []
    for seed in range(1, instances + 1):
        inst = make_instance(size, seed)
        ours = run_solve(inst)
        (exact, bound, proven), exact_s = timed(baselines.exact_schedule, inst, 300.0)
        optimum = s.objective(inst, exact)
        assert s.violations(inst, exact) == []
        rr, rr_s = timed(baselines.round_robin, inst)
        label = f"seed {seed}" + ("" if proven else " (gap)")
        mine = row(label, inst, (optimum, exact_s), ours, (rr, rr_s))
        runs.append((mine, optimum, ours))
        if not proven:
            print(f"{'':<14}MILP stopped at its time limit; its bound is {bound:.2f}")
        if inst.pair_needs_interpreter is not None and seed == 1:
            helped = int((ours.schedule.interpreter >= 0).sum())
            print(
                f"{'':<14}{int(inst.pair_needs_interpreter.sum())} pairs need an interpreter;"
                f" {helped} meetings have one"
            )
    print(verdict(runs))


def verdict(runs: list[tuple[float, float, Run]]) -> str:
    """The reference size's target (issue 12): the exact optimum, proven, each in
    under 2 s. Runs are (our objective, the optimum, our run)."""
    short = sum(mine < optimum - 1e-6 for mine, optimum, _ in runs)
    unproven = sum(not run.proven for _, _, run in runs)
    slowest = max(runs, key=lambda r: r[2].wall)[2]
    met = short == 0 and unproven == 0 and slowest.wall < 2.0
    return (
        f"{len(runs) - short}/{len(runs)} at the optimum, {len(runs) - unproven} proven; slowest"
        f" {slowest.wall:.2f} s ({slowest.cpu:.2f} s CPU); {load()}\n"
        f"(target 100% of the optimum in < 2 s: {'meets' if met else 'MISSES'} it)\n"
    )


def large_size(size: Size, instances: int) -> None:
    print(
        f"Large fair: {size.enterprises:,} enterprises, {size.participants:,} participants, "
        f"{size.slots} slots, {size.tables} tables, fair minimum {size.fair_minimum}, "
        f"{'scattered' if size.scattered else 'block'} availability [{size.name}]"
    )
    print(
        "reference = LP-relaxation upper bound (pair-aggregated model); the exact MILP\n"
        "is not run here: pairs x slots binaries are far beyond what 2 cores solve in minutes\n"
        + HEADER
    )
    ratios: list[float] = []
    runs: list[Run] = []
    for seed in range(1, instances + 1):
        inst = make_instance(size, seed)
        usable = np.asarray(inst.common_slots().any(axis=1), dtype=bool)
        (_, bound), bound_s = timed(s.select_pairs, inst, usable, inst.common_slots())
        ours = run_solve(inst)
        rr, rr_s = timed(baselines.round_robin, inst)
        ratios.append(row(f"seed {seed}", inst, (bound, bound_s), ours, (rr, rr_s)) / bound)
        runs.append(ours)
    slowest = max(runs, key=lambda r: r.wall)
    met = "meets" if min(ratios) >= 0.999 and slowest.wall < 10.0 else "MISSES"
    print(
        f"worst ratio {min(ratios):.3%} of the bound, slowest {slowest.wall:.2f} s"
        f" ({slowest.cpu:.2f} s CPU); {load()}\n(target >= 99.9% in < 10 s: {met} it)"
    )


def opt_in_instance(size: Size, seed: int) -> tuple[s.Instance, np.ndarray, dict[str, int]]:
    """The reference event in opt-in mode: each side accepts a random 60% of its
    matches (so about a third are mutual), a side says must-meet on 4% and
    declines 10% (a decline wins over everything). The instance keeps the
    eligible pairs only, as `scheduling.problem.scheduling_problem` does, with the must-meet
    mask."""
    full = make_instance(size, seed)
    rng = np.random.default_rng(1000 + seed)
    n = full.n_pairs

    def answers() -> list[InterestState | None]:
        draw = rng.random(n)
        return [
            "decline" if d < 0.10 else "must-meet" if d < 0.14 else "accept" if d < 0.74 else None
            for d in draw
        ]

    pairs = [mi.PairInterest(e, p) for e, p in zip(answers(), answers(), strict=True)]
    eligible = np.array([mi.eligible(mi.OPT_IN, p) for p in pairs], dtype=bool)
    must = np.array([mi.must_meet(p) for p in pairs], dtype=bool)[eligible]
    inst = s.Instance(
        **{
            **{f.name: getattr(full, f.name) for f in dataclasses.fields(full)},
            "pair_enterprise": full.pair_enterprise[eligible],
            "pair_participant": full.pair_participant[eligible],
            "pair_score": full.pair_score[eligible],
        }
    )
    counts = {
        "matches": n,
        "eligible": int(eligible.sum()),
        "declined": sum(mi.declined(p) for p in pairs),
        "must": int(must.sum()),
    }
    return inst, must, counts


def opt_in_size(size: Size, instances: int) -> None:
    print(
        f"Opt-in event: the {size.name} event, each side accepting 60% of its matches at "
        f"random, must-meet 4%, decline 10% [{size.name}, opt-in]"
    )
    print(
        "reference = exact optimum over the eligible pairs (mutual accepts and must-meets),\n"
        "must-meets forced in both (the same bonus in the MILP); ratio on the real objective\n"
        + HEADER
        + f"{'must met':>10}"
    )
    runs: list[tuple[float, float, Run]] = []
    for seed in range(1, instances + 1):
        inst, must, counts = opt_in_instance(size, seed)
        run = run_solve(inst, must=must)
        ours = run.schedule
        boosted = dataclasses.replace(inst, pair_score=inst.pair_score + s.MUST_MEET_BONUS * must)
        (exact, _, proven), exact_s = timed(baselines.exact_schedule, boosted, 300.0)
        assert s.violations(inst, exact) == []
        optimum = s.objective(inst, exact)
        rr, rr_s = timed(baselines.round_robin, inst)
        label = f"seed {seed}" + ("" if proven else " (gap)")
        row(label, inst, (optimum, exact_s), run, (rr, rr_s), end="")
        # At the optimum of what both maximise: the objective with the must-meet bonus.
        runs.append((s.objective(boosted, ours), s.objective(boosted, exact), run))
        met = int(must[ours.pair].sum())
        exact_met = int(must[exact.pair].sum())
        print(f"{met:>5}/{counts['must']:<2} (MILP {exact_met})")
        if seed == 1:
            print(
                f"{'':<14}of {counts['matches']} matches {counts['eligible']} eligible, "
                f"{counts['declined']} declined"
            )
    print(verdict(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=int, default=5, help="reference-size instances")
    parser.add_argument("--large", type=int, default=2, help="large-size instances")
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    print(f"Machine: {load()} at the start (times are wall clock; cpu s is this process's)\n")
    for size in (REFERENCE, TIGHT, SCATTERED, VENUES, INTERPRETERS, AGENDA, CROSS_BORDER):
        reference_size(size, args.reference)
    opt_in_size(REFERENCE, args.reference)
    opt_in_size(TIGHT_OPT_IN, args.reference)
    if not args.skip_large:
        large_size(LARGE, args.large)
        print()
        large_size(LARGE_SCATTERED, 1)


if __name__ == "__main__":
    main()
