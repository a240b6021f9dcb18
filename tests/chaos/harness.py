"""One chaos run, start to finish: the site up, load on, faults in turn, drain, count.

    run = await run_chaos(folder, Options(scenarios=["worker-kill", "db-lock"]))
    print(report(run))

The load starts; after `warmup` seconds the scenarios are injected one after the other.
Each next fault waits until the backlog the last one left has drained, or `settle` seconds
after it (so a slow recovery cannot stretch a run without end; its recovery is still
measured in the background, and the report says that faults overlapped). Once the last
fault is over and `tail` seconds have passed, the load starts no new leads; the calls of
leads already started still go out, and every call is retried until it is acknowledged.
Then the run waits until every lead has settled (or `drain` seconds pass), and counts.

No sleep decides an outcome: the waits are for conditions, under generous deadlines; the
recovery figures are measured, with the clock read on both sides.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.chaos.books import first_delivery_after, first_step_after
from tests.chaos.faults import SCENARIOS, Fault, Injector, Windows
from tests.chaos.load import Plan, Producer, plan_load
from tests.chaos.progress import Arrivals, acknowledged_before, promises, until_caught_up
from tests.chaos.site import WRITE_KEY, Layout, Site
from tests.chaos.tally import Tally, count

RECOVERY_WATCH = 300.0
"""Seconds after a fault's restart its recovery is still watched for."""


@dataclass
class Options:
    """What a run does."""

    scenarios: list[str] = field(default_factory=lambda: list(SCENARIOS))
    layout: Layout = field(default_factory=Layout)
    rate: float = 1.5  # new leads per second while the load runs
    warmup: float = 8.0  # seconds of load before the first fault
    settle: float = 15.0  # most seconds a fault waits for the last one's recovery
    tail: float = 5.0  # seconds of load after the last fault
    drain: float = 240.0  # most seconds to wait for every lead to settle
    windows: Windows = field(default_factory=Windows)
    bad_addresses: float = 0.05  # share of leads whose mailbox does not exist (and as
    # many whose mail is refused by policy), when smtp-refusals is chosen
    seed: int = 1

    def __post_init__(self) -> None:
        unknown = [name for name in self.scenarios if name not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenario {', '.join(unknown)}; choose from "
                             f"{', '.join(SCENARIOS)}")


@dataclass
class ChaosRun:
    """What one run did and found."""

    options: Options
    plan: Plan
    producer: Producer
    faults: list[Fault]
    tally: Tally
    started: float
    load_seconds: float = 0.0
    drain_seconds: float = 0.0
    drained: bool = False
    unsettled: dict[str, str] = field(default_factory=dict)
    overlapped: int = 0  # faults injected before the last one had recovered
    exited: list[str] = field(default_factory=list)  # processes that died on their own
    smtp_refused: Counter[str] = field(default_factory=Counter)  # by status given
    folder: Path | None = None


async def run_chaos(folder: Path, options: Options) -> ChaosRun:
    """Start a site in `folder`, run the load and the faults, drain, count, stop."""
    faults_chosen = [name for name in options.scenarios if name != "smtp-refusals"]
    refusals = "smtp-refusals" in options.scenarios
    longest = options.warmup + len(faults_chosen) * (options.settle + 30) + options.tail
    plan = plan_load(max(1, int(options.rate * longest)), longest, seed=options.seed,
                     bad_share=options.bad_addresses if refusals else 0.0)
    started = time.time()
    async with Site(folder, options.layout) as site:
        for lead in plan.leads:
            if lead.bounce:
                site.smtp.bounce.add(lead.email.lower())
            if lead.refuse:
                site.smtp.refuse.add(lead.email.lower())
        producer = Producer(plan, site.api_urls, WRITE_KEY, seed=options.seed)
        arrivals = Arrivals(lambda: site.client)
        run = ChaosRun(options, plan, producer, [], Tally(), started, folder=folder)
        loading = asyncio.create_task(producer.run())
        watchers: list[asyncio.Task[None]] = []
        flows: list[asyncio.Task[None]] = []
        try:
            await _wait_or_fail(loading, options.warmup)
            injector = Injector(site, producer, options.windows)
            for name in faults_chosen:
                if watchers and not watchers[-1].done():
                    done, _ = await asyncio.wait([watchers[-1], loading],
                                                 timeout=options.settle,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if loading in done:
                        loading.result()
                    if not watchers[-1].done():
                        run.overlapped += 1
                fault = await injector.inject(name)
                run.faults.append(fault)
                watchers.append(asyncio.create_task(_watch(site, arrivals, plan, fault)))
                flows.append(asyncio.create_task(_first_flow(site, fault)))
            await _wait_or_fail(loading, options.tail)
            producer.stop()
            await loading
            run.load_seconds = time.time() - started
            drain_began = time.time()
            everyone = promises(plan, producer.acknowledged)
            settled_at, run.unsettled = await until_caught_up(
                site, arrivals, everyone, settle=True, deadline=drain_began + options.drain,
                every=1.0)
            run.drained = settled_at is not None
            run.drain_seconds = time.time() - drain_began
            # Those still watching give up here (a fault that never recovered says so).
            if watchers:
                await asyncio.wait([*watchers, *flows], timeout=5)
            run.tally = await count(site, plan, producer, time.time())
            run.exited = [child.name for child in site.exited()]
            run.smtp_refused = Counter(site.smtp.refused)
        finally:
            for task in [*watchers, *flows, loading]:
                task.cancel()
            await asyncio.gather(*watchers, *flows, loading, return_exceptions=True)
    return run


async def _wait_or_fail(loading: asyncio.Task[None], seconds: float) -> None:
    """Let the load run for `seconds` (it may end sooner); its failure is raised."""
    done, _ = await asyncio.wait([loading], timeout=seconds)
    if done:
        loading.result()


async def _watch(site: Site, arrivals: Arrivals, plan: Plan, fault: Fault) -> None:
    """Measure the fault's recovery (filled into `fault`): the first moment at which
    everything acknowledged before the fault was over (the process back up, the window
    closed) has been applied, nothing those leads were due is late, and the calls
    acknowledged since (until LAG seconds before) have been applied too: the backlog is
    drained and the system keeps up again."""
    fault.recovered, fault.behind = await until_caught_up(
        site, arrivals, acknowledged_before(plan, fault.up), settle=False,
        deadline=fault.up + RECOVERY_WATCH,
        newer=lambda moment: acknowledged_before(plan, moment, since=fault.up))


async def _first_flow(site: Site, fault: Fault) -> None:
    """Measure when work was first seen flowing after the fault (filled into `fault`): for
    an API, the relay delivering a call; for a worker, an email sent or a lead's step
    recorded; for the rest, any of those."""
    assert site.store is not None
    store, up = site.store, fault.up
    relay = fault.scenario != "worker-kill"
    worker = fault.scenario != "api-kill"
    while fault.first_flow is None:
        found = [at for at in (
            next((d.at for d in site.smtp.deliveries if d.at > up), None) if worker else None,
            await asyncio.to_thread(first_step_after, store, up) if worker else None,
            await asyncio.to_thread(first_delivery_after, store, up) if relay else None)
            if at is not None]
        if found:
            fault.first_flow = min(found)
            return
        await asyncio.sleep(0.25)
