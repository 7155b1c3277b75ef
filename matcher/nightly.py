"""The nightly batch job: read the store, match with the pipeline, write results back.

One run (:func:`run_nightly`):

1. connect to the store (GeoPackage file or PostGIS) and take its run lock
   (:class:`~matcher.errors.StoreUnavailableError` exit 4,
   :class:`~matcher.errors.LockedError` exit 5);
2. mark runs left ``running`` by a killed job as failed, then record this run
   as ``running``;
3. read and validate the five input tables, the ``decisions`` log and the
   ``placement_periods`` table when the store has them (:mod:`matcher.decisions`,
   :mod:`matcher.periods`; every problem at once, exit 2); a child without
   ``current_home_id`` gets it (and ``placed_since``) from its open period;
4. fingerprint the run: the tables' contents, the OSM file, the settings and
   the run date. When the latest successful run has the same fingerprint the
   run is recorded as "unchanged, skipped" (unless ``force``);
5. build the road network, or load it from ``cache_dir`` when the OSM file
   and speed settings are unchanged;
6. match with :func:`matcher.pipeline.run`, the engine of ``matcher match``,
   keeping the proposals of the latest successful run where the score allows
   (``matcher match --previous``; :class:`~matcher.errors.InfeasibleError` exit 3);
7. write the run row, one ``match_results`` row per child, one
   ``match_unmatched`` row per unmatched child, one ``match_history`` row per
   waiting child (:mod:`matcher.waiting`), a placement period for every
   approval that has none (:func:`matcher.periods.from_approvals`), and delete
   runs beyond ``retention_runs``, all in ONE transaction.

Any failure after step 2 is recorded in ``match_runs`` (status ``failed``,
``error``, ``exit_code``) and leaves the previous results untouched. Events
are logged to the ``matcher.nightly`` logger with ``run_id``, ``step``,
``duration_s`` and counts in ``record.fields``; they never hold coordinates,
names or free text from the inputs.

Configuration (TOML)
--------------------
``[store]``: ``url`` (``.gpkg`` path or ``postgresql+psycopg://user@host:port/db``),
``password_env`` or ``password_file`` (mode 0600), ``schema`` (PostgreSQL,
default ``public``). ``[network]``: ``osm`` and ``cache_dir`` besides the
speed keys of :class:`matcher.config.NetworkSettings`. ``[job]``:
``retention_runs`` (default 30), ``as_of`` (default: the run day),
``log_file`` (default: stderr). ``[travel]``, ``[scoring]`` and
``[assignment]`` as in :mod:`matcher.config`. Relative paths are relative to
the configuration file.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from matcher import __version__, pipeline, schema
from matcher import config as config_mod
from matcher import decisions as decisions_mod
from matcher import network as network_mod
from matcher import periods as periods_mod
from matcher.config import NightlyConfig, Settings, StoreOptions
from matcher.errors import (
    InfeasibleError,
    InputError,
    MatcherError,
    Problem,
)
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.io import readers, stores
from matcher.io import registers as io_registers
from matcher.run import RunSummary

__all__ = [
    "Checkpoint",
    "NightlyOutcome",
    "current_run_id",
    "input_fingerprint",
    "load_config",
    "load_inputs",
    "open_store",
    "read_store",
    "run_nightly",
]

logger = logging.getLogger(__name__)

Checkpoint = Callable[[str], None]
"""Called with ``locked`` (lock taken), ``running`` (run row committed) and ``mid-write``
(inside the write transaction, after the run row and before the results); tests pass a
:class:`matcher.testing.Fault` to kill or stall the job there."""

_RUN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("nightly_run_id",
                                                                    default=None)


@dataclass(frozen=True)
class NightlyOutcome:
    """What one nightly run did (failures raise instead).

    Attributes
    ----------
    run_id
        Id of the run in ``match_runs``.
    status
        ``"success"`` or ``"skipped"`` (inputs and configuration unchanged).
    note
        Human-readable note stored with the run.
    store
        Where the store is (no secrets).
    input_fingerprint, config_hash
        Hashes recorded with the run.
    previous_run_id
        For a skipped run, the successful run it matches.
    counts
        ``children``, ``homes``, ``placed``, ``unmatched``, ``locked``,
        ``results_written``, ``unmatched_written``.
    solver_status, mip_gap
        From the assignment (``None`` when skipped).
    timings
        Seconds per step: ``read``, ``network``, ``travel_times``, ``scoring``,
        ``assignment``, ``write``, ``total``.
    deleted_runs, interrupted_runs
        Runs removed by retention; runs of killed jobs marked failed.
    summary
        The pipeline summary (``None`` when skipped).
    """

    run_id: str
    status: Literal["success", "skipped"]
    note: str
    store: str
    input_fingerprint: str
    config_hash: str
    previous_run_id: str | None
    counts: dict[str, int]
    solver_status: str | None
    mip_gap: float | None
    timings: dict[str, float]
    deleted_runs: int
    interrupted_runs: int
    summary: RunSummary | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (without the pipeline summary)."""
        return {k: v for k, v in self.__dict__.items() if k != "summary"}


# --------------------------------------------------------------------------- configuration


def load_config(path: str | Path) -> NightlyConfig:
    """Load the job's configuration (:func:`matcher.config.load_nightly`)."""
    return config_mod.load_nightly(path)


def open_store(options: StoreOptions) -> stores.Store:
    """Return the configured store (resolving the password; not yet connected).

    Raises
    ------
    InputError
        On a bad URL or an unusable password source.
    """
    password = None
    if "://" in options.url:
        password = stores.resolve_password(password_env=options.password_env,
                                           password_file=options.password_file)
    return stores.open_store(options.url, password=password, db_schema=options.db_schema)


def current_run_id() -> str | None:
    """Return the id of the run in progress in this context (for log formatters)."""
    return _RUN_ID.get()


# --------------------------------------------------------------------------- the run


@dataclass
class _Known:
    """What is known about the run so far (recorded if it fails)."""

    fields: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def run_nightly(config: NightlyConfig, *, force: bool = False,
                checkpoint: Checkpoint | None = None) -> NightlyOutcome:
    """Run the nightly job once (see the module docstring for the steps).

    Parameters
    ----------
    config
        The job configuration (:func:`load_config`).
    force
        Match and write even when inputs and configuration are unchanged.
    checkpoint
        Called at the job's checkpoints (see :data:`Checkpoint`); for fault tests.

    Returns
    -------
    NightlyOutcome
        The recorded run (``success`` or ``skipped``).

    Raises
    ------
    StoreUnavailableError
        The store cannot be reached (exit 4); nothing is recorded.
    LockedError
        Another run holds the lock (exit 5); nothing is recorded.
    InputError
        Bad configuration (nothing recorded) or bad input tables (recorded as failed).
    InfeasibleError
        The assignment cannot be solved (recorded as failed).
    """
    started = datetime.datetime.now(datetime.UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    token = _RUN_ID.set(run_id)
    try:
        return _run(config, run_id, started, force=force,
                    checkpoint=checkpoint or (lambda point: None))
    finally:
        _RUN_ID.reset(token)


def _run(config: NightlyConfig, run_id: str, started: datetime.datetime, *,
         force: bool, checkpoint: Checkpoint) -> NightlyOutcome:
    t_start = time.perf_counter()
    store = open_store(config.store)
    as_of = config.job.as_of or datetime.date.today()  # the machine's local day
    with store, store.lock(wait_seconds=config.job.lock_wait_seconds):
        checkpoint("locked")
        store.ensure_schema()
        interrupted = store.mark_interrupted(finished_at=started)
        store.begin_run({"run_id": run_id, "started_at": stores.stamp(started),
                         "status": "running", "software_version": f"fostermatch {__version__}",
                         "config_hash": config.config_hash(), "as_of": as_of.isoformat()})
        _event("run started", step="start", store=store.display, store_kind=store.kind,
               force=force, interrupted_runs=interrupted, as_of=as_of.isoformat())
        known = _Known()
        try:
            checkpoint("running")
            outcome = _work(config, store, run_id, as_of, known, force=force,
                            interrupted=interrupted, checkpoint=checkpoint)
        except BaseException as exc:
            _record_failure(store, run_id, exc, known, keep=config.job.retention_runs)
            raise _public_error(exc, run_id) from None
    total = time.perf_counter() - t_start
    timings = {**outcome.timings, "total": round(total, 3)}
    _event("run finished", step="done", status=outcome.status, duration_s=round(total, 3),
           counts=outcome.counts)
    return dataclasses.replace(outcome, timings=timings)


def _work(config: NightlyConfig, store: stores.Store, run_id: str, as_of: datetime.date,
          known: _Known, *, force: bool, interrupted: int,
          checkpoint: Checkpoint) -> NightlyOutcome:
    settings = config.settings
    with _step("read", known) as counts:
        frames, problems = store.read_tables()
        decision_frame = store.read_decisions()
        period_frame = store.read_periods()
        counts.update({name: len(f) for name, f in frames.items() if f is not None})
        if decision_frame is not None:
            counts["decisions"] = len(decision_frame)
        if period_frame is not None:
            counts["placement_periods"] = len(period_frame)
    with _step("validate", known) as counts:
        inputs, decisions, periods = _validate_all(frames, problems, decision_frame, settings,
                                                   as_of, period_frame)
        counts.update({"children": len(inputs.children), "homes": len(inputs.homes),
                       "contacts": len(inputs.contacts),
                       "placements": len(inputs.placements), "vetoes": len(inputs.vetoes)})
        if decisions is not None:
            counts["decisions"] = len(decisions.table)
    known.fields.update(n_children=len(inputs.children), n_homes=len(inputs.homes))

    osm = config.source.osm
    if not osm.is_file():
        raise InputError(_("{path}: OSM file not found; check network.osm").format(path=osm))
    network_key = network_mod.file_key(osm, settings.network)
    config_hash = config.config_hash()
    sources = dict(inputs.sources)
    if decisions is not None:
        sources["decisions"] = decisions.sha256
    if period_frame is not None:
        sources["placement_periods"] = hashlib.sha256(
            period_frame.to_csv(index=False).encode()).hexdigest()
    fingerprint = input_fingerprint(sources, network_key=network_key,
                                    config_hash=config_hash, as_of=as_of)
    known.fields.update(input_fingerprint=fingerprint, network_key=network_key)
    base_counts = {"children": len(inputs.children), "homes": len(inputs.homes)}

    last = store.last_success()
    if last is not None and last.input_fingerprint == fingerprint and not force:
        note = _("unchanged, skipped (same inputs and configuration as run {run_id})").format(
            run_id=last.run_id)
        fields = {**known.fields, "status": "skipped", "note": note, "exit_code": 0,
                  "finished_at": stores.stamp(datetime.datetime.now(datetime.UTC))}
        with _step("write", known) as counts:
            written = store.finish_run(run_id, fields, keep_runs=config.job.retention_runs)
            counts["deleted_runs"] = written.deleted_runs
        _event("inputs unchanged, skipped", step="skip", previous_run_id=last.run_id)
        return NightlyOutcome(
            run_id=run_id, status="skipped", note=note, store=store.display,
            input_fingerprint=fingerprint, config_hash=config_hash,
            previous_run_id=last.run_id, counts=base_counts, solver_status=None, mip_gap=None,
            timings={k: round(v, 3) for k, v in known.timings.items()},
            deleted_runs=written.deleted_runs, interrupted_runs=interrupted)

    with _step("network", known) as counts:
        net = network_mod.build(osm, settings.network, cache_dir=config.source.cache)
        counts.update(nodes=net.info.nodes, edges=net.info.edges,
                      from_cache=int(net.info.from_cache))

    t0 = time.perf_counter()
    previous = store.latest_results() if last is not None else None
    previous_day = _last_success_day(store) if last is not None else None
    result = pipeline.run(inputs, settings, net=net, as_of=as_of,
                          extra_sources={"network": network_key}, decisions=decisions,
                          previous=previous if previous is not None and len(previous) else None,
                          previous_as_of=previous_day)
    summary = result.summary
    for name in ("travel_times", "scoring", "assignment"):
        known.timings[name] = float(summary.timings_seconds.get(name, 0.0))
    counts_out = {**base_counts, "placed": summary.placed, "unmatched": summary.unmatched,
                  "locked": summary.locked}
    _event("matched", step="match", duration_s=round(time.perf_counter() - t0, 3),
           counts=counts_out, solver_status=summary.status,
           timings={k: round(v, 3) for k, v in known.timings.items()
                    if k in ("travel_times", "scoring", "assignment")})

    table = result.assignments
    unmatched = table.loc[table["home_id"].isna(), ["child_id", "reason"]]
    note = _("forced re-run") if force and last is not None and \
        last.input_fingerprint == fingerprint else _("matched")
    fields = {**known.fields, "status": "success", "note": note, "exit_code": 0,
              "solver_status": summary.status, "mip_gap": summary.mip_gap,
              "n_placed": summary.placed, "n_unmatched": summary.unmatched,
              "n_locked": summary.locked,
              "summary_json": json.dumps(summary.to_dict(), sort_keys=True)}
    changes = None
    if decisions is not None:
        changes = periods_mod.from_approvals(
            _approvals(decisions, inputs), periods if periods is not None
            else periods_mod.validate(periods_mod.empty()),
            children=inputs.children, homes=inputs.homes, assignments=table)
    with _step("write", known) as counts:
        fields["finished_at"] = stores.stamp(datetime.datetime.now(datetime.UTC))
        history = None
        if result.history is not None:
            history = result.history.assign(as_of=as_of.isoformat())
        written = store.finish_run(run_id, fields, results=table, unmatched=unmatched,
                                   keep_runs=config.job.retention_runs,
                                   between=lambda: checkpoint("mid-write"), history=history,
                                   history_before=as_of - datetime.timedelta(
                                       days=config.job.history_days), periods=changes)
        counts.update(results=written.results, unmatched=written.unmatched,
                      deleted_runs=written.deleted_runs, periods_opened=written.periods_opened)
    return NightlyOutcome(
        run_id=run_id, status="success", note=note, store=store.display,
        input_fingerprint=fingerprint, config_hash=config_hash, previous_run_id=None,
        counts={**counts_out, "results_written": written.results,
                "unmatched_written": written.unmatched,
                "periods_opened": written.periods_opened},
        solver_status=summary.status, mip_gap=summary.mip_gap,
        timings={k: round(v, 3) for k, v in known.timings.items()},
        deleted_runs=written.deleted_runs, interrupted_runs=interrupted, summary=summary)


def _last_success_day(store: stores.Store) -> datetime.date | None:
    """Run date of the latest successful run (for the decisions audit)."""
    runs = store.runs()
    done = runs[runs["status"] == "success"]
    if done.empty or done.iloc[-1]["as_of"] is None:
        return None
    return datetime.date.fromisoformat(str(done.iloc[-1]["as_of"])[:10])


def _approvals(decisions: decisions_mod.Decisions, inputs: schema.Inputs) -> Any:
    """The approvals in force of known children and homes: ``child_id, home_id,
    decided_on, actor``."""
    last = decisions_mod.effective(decisions)
    keep = last["decision"].isin(decisions_mod.LOCKING) \
        & last["child_id"].isin(set(inputs.children["child_id"])) \
        & last["home_id"].isin(set(inputs.homes["home_id"]))
    return last.loc[keep, ["child_id", "home_id", "decided_on", "actor"]]


def read_store(store: stores.Store, settings: Settings, as_of: datetime.date
               ) -> tuple[schema.Inputs, decisions_mod.Decisions | None]:
    """Read and validate a connected store's input tables and decisions log.

    Children without ``current_home_id`` get it from their open placement
    period (:func:`matcher.periods.current_homes`).

    Raises
    ------
    InputError
        Listing every problem of the tables, the log and the periods at once.
    """
    frames, problems = store.read_tables()
    inputs, decisions, _periods = _validate_all(frames, problems, store.read_decisions(),
                                                settings, as_of, store.read_periods())
    return inputs, decisions


def _validate_all(frames: dict[str, Any], problems: list[Problem], decision_frame: Any,
                  settings: Settings, as_of: datetime.date, period_frame: Any = None
                  ) -> tuple[schema.Inputs, decisions_mod.Decisions | None, Any]:
    """Validate the input tables, the decisions log and the placement periods; raise once
    with every problem. Returns the inputs (current homes filled from open periods), the
    decisions and the typed periods (``None`` when the store has none)."""
    inputs = None
    found: list[Problem] = []
    try:
        inputs = _validate(frames, problems, settings)
    except InputError as exc:
        found += exc.problems
    decisions = None
    if decision_frame is not None:
        try:
            decisions = decisions_mod.validate(decision_frame, label="decisions", as_of=as_of,
                                               inputs=inputs)
        except InputError as exc:
            found += exc.problems
    periods = None
    if period_frame is not None:
        try:
            periods = periods_mod.validate(period_frame)
        except InputError as exc:
            found += exc.problems
    if periods is not None and inputs is not None:
        locked = set(zip(inputs.placements["child_id"], inputs.placements["home_id"],
                         strict=True))
        if decisions is not None:
            approved = _approvals(decisions, inputs)
            locked |= set(zip(approved["child_id"], approved["home_id"], strict=True))
        children, more = periods_mod.current_homes(inputs.children, periods,
                                                   homes=inputs.homes["home_id"], locked=locked)
        found += more
        inputs = dataclasses.replace(inputs, children=children)
    if found or inputs is None:
        raise InputError(_invalid(len(found)), found)
    return inputs, decisions, periods


def _validate(frames: dict[str, Any], problems: list[Problem],
              settings: Settings) -> schema.Inputs:
    """Validate the frames read; raise once with the read and validation problems."""
    if frames.get("children") is None or frames.get("homes") is None:
        n = len(problems)
        raise InputError(ngettext("invalid inputs: {n} problem reading the store",
                                  "invalid inputs: {n} problems reading the store", n)
                         .format(n=n), problems)
    try:
        inputs = schema.validate(frames["children"], frames["homes"], frames.get("contacts"),
                                 frames.get("placements"), frames.get("vetoes"),
                                 settings=settings.scoring,
                                 registers=io_registers.default_registers())
    except InputError as exc:
        all_problems = [*problems, *exc.problems]
        raise InputError(_invalid(len(all_problems)), all_problems) from None
    if problems:
        raise InputError(_invalid(len(problems)), problems)
    return inputs


def _invalid(n: int) -> str:
    return ngettext("invalid inputs: {n} problem", "invalid inputs: {n} problems", n).format(n=n)


def input_fingerprint(sources: dict[str, str], *, network_key: str, config_hash: str,
                      as_of: datetime.date) -> str:
    """Return the run fingerprint: table digests, OSM file key, settings hash and run date.

    Parameters
    ----------
    sources
        Table name -> SHA-256 of the table's contents (``Inputs.sources``).
    network_key
        :func:`matcher.network.file_key` of the OSM file (its bytes and speed settings).
    config_hash
        :meth:`matcher.config.Settings.fingerprint`.
    as_of
        Run date (waiting times depend on it).
    """
    payload = {"tables": dict(sorted(sources.items())), "osm": network_key,
               "config": config_hash, "as_of": as_of.isoformat()}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _record_failure(store: stores.Store, run_id: str, exc: BaseException, known: _Known, *,
                    keep: int) -> None:
    """Record the failed run; log its type, exit code and problem locations only."""
    exit_code = _exit_code(exc)
    solver_status = "infeasible" if isinstance(exc, InfeasibleError) else None
    if isinstance(exc, SystemExit | KeyboardInterrupt):
        error = _("terminated (exit code {code}: SIGTERM, e.g. a systemd stop or timeout, or "
                  "Ctrl-C); nothing of this run was written").format(code=exit_code)
    else:
        error = f"{type(exc).__name__}: {exc}"
    fields = {**known.fields, "status": "failed", "exit_code": exit_code,
              "error": error, "solver_status": solver_status,
              "finished_at": stores.stamp(datetime.datetime.now(datetime.UTC))}
    recorded = True
    try:
        store.finish_run(run_id, fields, keep_runs=keep)
    except Exception as record_exc:  # the store may be what failed
        recorded = False
        logger.warning("could not record the failed run", extra={"fields": {
            "step": "record_failure", "error_type": type(record_exc).__name__}})
    extra: dict[str, Any] = {"step": "failed", "error_type": type(exc).__name__,
                             "exit_code": exit_code, "recorded": recorded}
    if isinstance(exc, InputError):
        extra["problems"] = len(exc.problems)
        extra["where"] = [_where(p) for p in exc.problems[:50]]
    elif isinstance(exc, MatcherError) and not isinstance(exc, InputError):
        extra["message"] = str(exc).splitlines()[0][:300]
    logger.error("run failed", extra={"fields": extra})


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, MatcherError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, SystemExit) and isinstance(exc.code, int):
        return exc.code
    return 1


def _where(problem: Problem) -> str:
    where = problem.source
    if problem.row is not None:
        where += f" row {problem.row}"
    if problem.column is not None:
        where += f" column '{problem.column}'"
    return where


def _public_error(exc: BaseException, run_id: str) -> BaseException:
    """Return the error to show: input problems by location only (no input values)."""
    if isinstance(exc, InputError) and exc.problems:
        places = [p.location() for p in exc.problems]
        shown = "; ".join(places[:20])
        if len(places) > 20:
            more = len(places) - 20
            shown = ngettext("{places}; and {n} more", "{places}; and {n} more", more).format(
                places=shown, n=more)
        return InputError(_("{summary} at: {places}. Run {run_id} is recorded as failed; "
                            "match_runs.error holds each problem and its fix")
                          .format(summary=exc.summary, places=shown, run_id=run_id))
    if isinstance(exc, MatcherError):
        return type(exc)(_("{error} (run {run_id} recorded as failed)")
                         .format(error=exc, run_id=run_id))
    return exc


# --------------------------------------------------------------------------- loading inputs


def load_inputs(config: NightlyConfig, folder: str | Path) -> dict[str, int]:
    """Validate the CSV tables of a folder and store them as the input tables.

    Reads ``children.csv`` and ``homes.csv`` and, when present,
    ``contacts.csv``, ``placements.csv`` and ``vetoes.csv`` (the layout of
    ``matcher sample``), validates them with :func:`matcher.io.readers.read_inputs`
    and replaces the store's input tables while holding the run lock. A
    missing GeoPackage is created. A ``placement_periods.csv`` in the folder
    (:mod:`matcher.periods`) replaces the store's periods; without one the
    store's periods are kept (they are a record, written by the job and
    ``matcher placement end``).

    Returns
    -------
    dict
        Rows stored per table.

    Raises
    ------
    InputError
        If the tables are invalid (nothing is stored).
    StoreUnavailableError, LockedError
        If the store cannot be reached or a run holds it.
    """
    folder = Path(folder)
    paths = {name: folder / f"{name}.csv" for name in schema.TABLES}
    for name in ("children", "homes"):
        if not paths[name].is_file():
            raise InputError(_("{path}: not found; the folder needs children.csv and "
                               "homes.csv (see `matcher sample`)").format(path=paths[name]))
    optional = {n: (p if p.is_file() else None) for n, p in paths.items()
                if n not in ("children", "homes")}
    inputs = readers.read_inputs(paths["children"], paths["homes"], optional["contacts"],
                                optional["placements"], optional["vetoes"],
                                settings=config.settings.scoring)
    tables = stores.export_inputs(inputs)
    tables = {n: t for n, t in tables.items() if n in ("children", "homes")
              or optional.get(n) is not None}
    period_path = folder / "placement_periods.csv"
    period_frame = None
    if period_path.is_file():
        from matcher.io import periods as io_periods

        period_frame, _typed = io_periods.read_periods(period_path)
    store = open_store(config.store)
    store.connect(create=True)
    try:
        with store.lock(wait_seconds=config.job.lock_wait_seconds):
            store.write_inputs(tables)
            store.ensure_schema()
            if period_frame is not None:
                store.replace_periods(period_frame)
    finally:
        store.close()
    counts = {name: len(frame) for name, frame in tables.items()}
    if period_frame is not None:
        counts["placement_periods"] = len(period_frame)
    logger.info("stored input tables", extra={"fields": {"step": "load", "counts": counts,
                                                         "store": store.display}})
    return counts


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _step(name: str, known: _Known) -> Iterator[dict[str, int]]:
    """Time a step, keep its duration in ``known`` and log it with its counts."""
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    try:
        yield counts
    finally:
        seconds = time.perf_counter() - t0
        known.timings[name] = known.timings.get(name, 0.0) + seconds
    _event(f"{name} done", step=name, duration_s=round(seconds, 3), counts=counts)


def _event(message: str, **fields: Any) -> None:
    logger.info(message, extra={"fields": fields})
