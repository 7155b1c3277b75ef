"""Tests for the nightly job: `matcher nightly`, matcher.nightly and matcher.stores.

Every store test runs twice, against a GeoPackage file and against a REAL
PostgreSQL + PostGIS server (never a mock). One throwaway server per session
is started on 127.0.0.1 with initdb/pg_ctl in a temporary folder (as the
``postgres`` user when the tests run as root). Without the server binaries
the PostGIS tests skip, saying what to install; with ``CI`` set they fail.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import Sample
from typer.testing import CliRunner

from matcher import config, network, nightly, pipeline, schema, testing
from matcher.cli import app
from matcher.errors import InputError, StoreUnavailableError
from matcher.io import readers, stores
from matcher.scenarios import fjord as sample_mod

runner = CliRunner()
AS_OF = sample_mod.REFERENCE_DATE
INSTALL_HINT = "apt-get install postgresql postgresql-15-postgis-3"
CLI = [sys.executable, "-c", "from matcher.cli import main; main()"]


# --------------------------------------------------------------------------- fixtures


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> None:
    """Skip a PostGIS test for a missing server, or fail it when CI is set."""
    if "apt-get" not in reason:
        reason += f"; install it: {INSTALL_HINT}"
    if _ci():
        pytest.fail(f"{reason} (CI is set, so a missing PostgreSQL/PostGIS fails the run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[testing.TemporaryPostgres]:
    """One throwaway PostgreSQL + PostGIS server for the whole session."""
    ctx = testing.temporary_postgres()
    try:
        server = ctx.__enter__()
    except StoreUnavailableError as exc:
        _unavailable(str(exc))
        raise
    try:
        yield server
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="session")
def sample_dir(small_sample: Sample) -> Path:
    return small_sample.folder


@pytest.fixture(scope="session")
def network_cache(small_sample: Sample) -> Path:
    return small_sample.net_dir


@dataclass
class Backend:
    """One store under test and the raw access the tests need to damage it."""

    kind: str
    folder: Path
    sample_dir: Path
    cache: Path
    server: testing.TemporaryPostgres | None = None
    db_schema: str = "public"

    @property
    def gpkg(self) -> Path:
        return self.folder / "store.gpkg"

    @property
    def log_file(self) -> Path:
        return self.folder / "nightly.log"

    def config(self, *, retention: int = 5, name: str = "nightly.toml") -> Path:
        """Write the nightly TOML; PostGIS reads its password from a 0600 file."""
        if self.server is not None:
            pw = self.folder / "db-password"
            pw.write_text(self.server.password + "\n")
            pw.chmod(0o600)
            store = (f'url = "{self.server.url}"\npassword_file = "db-password"\n'
                     f'schema = "{self.db_schema}"\n')
        else:
            store = 'url = "store.gpkg"\n'
        path = self.folder / name
        path.write_text(
            f"[store]\n{store}\n"
            f'[network]\nosm = "{self.sample_dir / "roads.osm"}"\ncache_dir = "{self.cache}"\n\n'
            f'[job]\nretention_runs = {retention}\nas_of = {AS_OF}\nlog_file = "nightly.log"\n\n'
            "[travel]\nworkers = 1\n")
        return path

    def load(self) -> None:
        result = runner.invoke(app, ["-q", "nightly-load", "--config", str(self.config()),
                                     "--from", str(self.sample_dir)])
        assert result.exit_code == 0, result.output

    @contextlib.contextmanager
    def store(self) -> Iterator[stores.Store]:
        access = self.config(name="access.toml")
        with nightly.open_store(nightly.load_config(access).store) as store:
            yield store

    def sql(self, statement: str) -> None:
        """Run SQL on the store's input tables (outside the job)."""
        if self.server is None:
            conn = sqlite3.connect(self.gpkg, isolation_level=None)
            try:
                conn.execute(statement)
            finally:
                conn.close()
            return
        import psycopg

        with psycopg.connect(autocommit=True, **self.server.conninfo()) as conn:
            conn.execute(f'SET search_path TO "{self.db_schema}", public')
            conn.execute(statement)  # type: ignore[arg-type]

    def drop_table(self, name: str) -> None:
        self.sql(f"DROP TABLE {name}")
        if self.server is None:
            for meta in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents"):
                self.sql(f"DELETE FROM {meta} WHERE table_name = '{name}'")

    @contextlib.contextmanager
    def unavailable(self) -> Iterator[str]:
        """Make the store unreachable: stop the database, or move the file away."""
        if self.server is None:
            away = self.gpkg.with_name("moved.gpkg")
            self.gpkg.rename(away)
            try:
                yield "not found"
            finally:
                away.rename(self.gpkg)
            return
        self.server.stop()
        try:
            yield "is unavailable"
        finally:
            self.server.start()

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Wait until no job connection is left (a killed client's backend ends)."""
        if self.server is None:
            return
        import psycopg

        deadline = time.monotonic() + timeout
        with psycopg.connect(autocommit=True, **self.server.conninfo()) as conn:
            while time.monotonic() < deadline:
                row = conn.execute("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE application_name = 'fostermatch'").fetchone()
                if row is not None and row[0] == 0:
                    return
                time.sleep(0.1)
        raise AssertionError("a job connection is still open")


@pytest.fixture(params=["geopackage", "postgis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, sample_dir: Path,
            network_cache: Path) -> Iterator[Backend]:
    if request.param == "geopackage":
        yield Backend("geopackage", tmp_path, sample_dir, network_cache)
        return
    server: testing.TemporaryPostgres = request.getfixturevalue("postgres")
    schema_name = f"t_{uuid.uuid4().hex[:12]}"
    item = Backend("postgis", tmp_path, sample_dir, network_cache, server, schema_name)
    item.sql(f"CREATE SCHEMA {schema_name}")
    try:
        yield item
    finally:
        if not server.is_running():
            server.start()
        item.sql(f"DROP SCHEMA {schema_name} CASCADE")


def nightly_cli(cfg: Path, *args: str) -> object:
    return runner.invoke(app, ["--json", "nightly", "--config", str(cfg), *args])


def run_ok(cfg: Path, *args: str) -> dict[str, object]:
    result = nightly_cli(cfg, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def subprocess_run(cfg: Path, fault: str, *args: str) -> subprocess.Popen[bytes]:
    """Run the nightly job in its own process with a :class:`matcher.testing.Fault`."""
    return subprocess.Popen([sys.executable, "-m", "matcher.testing", fault, "--config",
                             str(cfg), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def log_lines(backend: Backend) -> list[dict[str, object]]:
    return [json.loads(line) for line in backend.log_file.read_text().splitlines() if line]


# --------------------------------------------------------------------------- the job


def test_nightly_writes_runs_results_and_unmatched_like_match(backend: Backend) -> None:
    backend.load()
    out = run_ok(backend.config())
    assert out["status"] == "success"
    run_id = out["run_id"]
    with backend.store() as store:
        runs = store.runs()
        results = store.results(run_id)
        unmatched = store.unmatched(run_id)
    assert len(runs) == 1
    run = runs.iloc[0]
    settings = config.Settings.model_validate({"travel": {"workers": 1}})
    assert run["run_id"] == run_id and run["status"] == "success" and run["exit_code"] == 0
    assert run["solver_status"] == "optimal" and run["n_children"] == 60
    assert run["n_placed"] + run["n_unmatched"] == 60 and run["mip_gap"] == 0
    assert run["config_hash"] == settings.fingerprint() and len(run["input_fingerprint"]) == 64
    assert str(run["software_version"]).startswith("fostermatch ")
    assert str(run["as_of"]).startswith(AS_OF)
    assert run["started_at"] is not None and run["finished_at"] is not None
    summary = run["summary_json"]
    summary = json.loads(summary) if isinstance(summary, str) else summary
    assert summary["placed"] == run["n_placed"] and summary["status"] == "optimal"

    # The same engine as `matcher match`: identical assignments on the same inputs.
    csv = {t: backend.sample_dir / f"{t}.csv" for t in schema.TABLES}
    inputs = readers.read_inputs(csv["children"], csv["homes"], csv["contacts"],
                                csv["placements"], csv["vetoes"], settings=settings.scoring)
    net = network.build(backend.sample_dir / "roads.osm", settings.network,
                        cache_dir=backend.cache)
    expected = pipeline.run(inputs, settings, net=net,
                            as_of=datetime.date.fromisoformat(AS_OF)).assignments
    assert list(results.columns) == ["run_id", *pipeline.ASSIGNMENT_COLUMNS]
    assert len(results) == 60 and results["child_id"].is_unique
    got = results.set_index("child_id")
    want = expected.set_index("child_id")
    assert got["home_id"].fillna("").to_dict() == want["home_id"].fillna("").to_dict()
    pd.testing.assert_series_equal(got["score"], want["score"], check_names=False,
                                   check_dtype=False)
    assert set(unmatched["child_id"]) == set(want.index[want["home_id"].isna()])
    assert len(unmatched) == run["n_unmatched"] and (unmatched["reason"].str.len() > 0).all()

    # Structured logs: run_id, steps with durations and counts, no personal data.
    lines = log_lines(backend)
    assert all(line["run_id"] == run_id for line in lines)
    steps = {line.get("step") for line in lines}
    assert {"start", "read", "validate", "network", "match", "write", "done"} <= steps
    assert all("duration_s" in line for line in lines
               if line.get("step") in ("read", "network", "match", "write"))
    write = next(line for line in lines if line.get("step") == "write")
    assert write["counts"] == {"results": 60, "unmatched": run["n_unmatched"],
                               "deleted_runs": 0, "periods_opened": 0}
    text = backend.log_file.read_text()
    for table in ("children", "homes", "contacts"):
        frame = pd.read_csv(backend.sample_dir / f"{table}.csv", dtype=str)
        for value in pd.concat([frame["lon"], frame["lat"]]).dropna():
            assert value not in text
    assert '"lon"' not in text and '"lat"' not in text
    if backend.kind == "geopackage":
        layers = set(pyogrio.list_layers(backend.gpkg)[:, 0])
        assert {"match_runs", "match_results", "match_unmatched"} <= layers
        assert oct(backend.gpkg.stat().st_mode & 0o777) == "0o600"


def test_unchanged_inputs_skip_force_reruns_and_retention(backend: Backend) -> None:
    backend.load()
    cfg = backend.config(retention=3)
    first = run_ok(cfg)
    second = run_ok(cfg)
    assert second["status"] == "skipped" and "unchanged, skipped" in second["note"]
    assert second["previous_run_id"] == first["run_id"]
    with backend.store() as store:
        assert len(store.results()) == 60  # no duplicated results
        assert store.runs()["status"].tolist() == ["success", "skipped"]
    forced = run_ok(cfg, "--force")
    assert forced["status"] == "success" and forced["note"] == "forced re-run"
    fourth = run_ok(cfg)
    assert fourth["status"] == "skipped" and fourth["deleted_runs"] == 1
    with backend.store() as store:
        runs = store.runs()
        assert runs["run_id"].tolist() == [second["run_id"], forced["run_id"], fourth["run_id"]]
        assert set(store.results()["run_id"]) == {forced["run_id"]}  # run 1 left with its rows
        assert set(store.unmatched()["run_id"]) == {forced["run_id"]}

    backend.sql("DELETE FROM vetoes WHERE child_id = (SELECT min(child_id) FROM vetoes)")
    changed = run_ok(cfg)
    assert changed["status"] == "success" and changed["input_fingerprint"] != \
        first["input_fingerprint"]

    # Retention keeps the newest runs and always the latest successful one.
    last = run_ok(backend.config(retention=1))
    assert last["status"] == "skipped"
    with backend.store() as store:
        assert store.runs()["run_id"].tolist() == [changed["run_id"], last["run_id"]]
        assert set(store.results()["run_id"]) == {changed["run_id"]}
        assert len(store.latest_results()) == 60


def test_kill_mid_write_leaves_previous_results(backend: Backend) -> None:
    backend.load()
    cfg = backend.config()
    first = run_ok(cfg)
    with backend.store() as store:
        before = store.results()
        before_unmatched = store.unmatched()
    job = subprocess_run(cfg, "kill:mid-write", "--force")
    _, err = job.communicate(timeout=180)
    assert job.returncode == -signal.SIGKILL, err.decode()
    backend.wait_idle()
    with backend.store() as store:
        pd.testing.assert_frame_equal(store.results(), before)
        pd.testing.assert_frame_equal(store.unmatched(), before_unmatched)
        runs = store.runs()
    assert runs["status"].tolist() == ["success", "running"]
    killed = runs["run_id"].iloc[1]

    after = run_ok(cfg)
    assert after["status"] == "skipped" and after["interrupted_runs"] == 1
    assert after["previous_run_id"] == first["run_id"]
    with backend.store() as store:
        runs = store.runs().set_index("run_id")
        pd.testing.assert_frame_equal(store.results(), before)
    assert runs.loc[killed, "status"] == "failed"
    assert str(runs.loc[killed, "error"]).startswith("interrupted")


def test_sigterm_records_the_failed_run(backend: Backend) -> None:
    backend.load()
    cfg = backend.config()
    job = subprocess_run(cfg, "sleep:running:60")

    def running() -> bool:
        with backend.store() as store:
            return "running" in store.runs()["status"].tolist()

    try:
        wait_for(lambda: job.poll() is None and running())
        job.send_signal(signal.SIGTERM)
    finally:
        _, err = job.communicate(timeout=120)
    assert job.returncode == 128 + signal.SIGTERM, err.decode()
    with backend.store() as store:
        runs = store.runs()
        assert store.results().empty
    assert runs["status"].tolist() == ["failed"]
    # the job's own process runs in the default language (nb): SIGTERM reads the same in all
    assert runs["exit_code"].iloc[0] == 143 and "SIGTERM" in runs["error"].iloc[0]


def test_store_unavailable_exits_4(backend: Backend) -> None:
    backend.load()
    cfg = backend.config()
    run_ok(cfg)
    with backend.unavailable() as phrase:
        result = nightly_cli(cfg)
    assert result.exit_code == 4, result.output
    assert phrase in result.output and "Traceback" not in result.output
    backend.wait_idle()
    with backend.store() as store:
        assert store.runs()["status"].tolist() == ["success"]


def test_concurrent_runs_second_exits_5(backend: Backend) -> None:
    backend.load()
    cfg = backend.config()
    first = subprocess_run(cfg, "sleep:running:3")

    def running() -> bool:
        with backend.store() as store:
            return "running" in store.runs()["status"].tolist()

    try:
        wait_for(lambda: first.poll() is None and running())
        second = nightly_cli(cfg)
        assert second.exit_code == 5, second.output
        assert "another nightly run holds" in second.output
    finally:
        _, err = first.communicate(timeout=180)
    assert first.returncode == 0, err.decode()
    with backend.store() as store:
        runs = store.runs()
        assert runs["status"].tolist() == ["success"]  # the locked-out run recorded nothing
        assert len(store.results()) == 60


@pytest.mark.parametrize("damage", ["empty", "bad_value", "missing_table"])
def test_bad_input_table_exits_2_and_records_only_the_failure(backend: Backend,
                                                              damage: str) -> None:
    backend.load()
    cfg = backend.config()
    first = run_ok(cfg)
    with backend.store() as store:
        before = store.results()
    if damage == "empty":
        backend.sql("DELETE FROM children")
    elif damage == "bad_value":
        backend.sql("UPDATE children SET age = -3 WHERE child_id = "
                    "(SELECT min(child_id) FROM children)")
    else:
        backend.drop_table("homes")
    result = nightly_cli(cfg)
    assert result.exit_code == 2, result.output
    assert "invalid inputs" in result.output and "recorded as failed" in result.output
    assert "'-3'" not in result.output  # locations only, never input values
    with backend.store() as store:
        runs = store.runs()
        pd.testing.assert_frame_equal(store.results(), before)
        assert set(store.unmatched()["run_id"]) == {first["run_id"]}
    assert runs["status"].tolist() == ["success", "failed"]
    failed = runs.iloc[1]
    assert failed["exit_code"] == 2
    expected = {"empty": "no rows", "bad_value": "'-3'", "missing_table": "no table 'homes'"}
    assert expected[damage] in failed["error"]
    failure = [line for line in log_lines(backend) if line.get("step") == "failed"]
    assert failure and failure[-1]["exit_code"] == 2 and failure[-1]["problems"] >= 1


def test_infeasible_exits_3_and_keeps_previous_results(backend: Backend) -> None:
    backend.load()
    cfg = backend.config()
    run_ok(cfg)
    with backend.store() as store:
        before = store.results()
    backend.sql("UPDATE homes SET capacity = 0 WHERE home_id IN (SELECT home_id FROM "
                "placements)")
    result = nightly_cli(cfg)
    assert result.exit_code == 3, result.output
    with backend.store() as store:
        runs = store.runs()
        pd.testing.assert_frame_equal(store.results(), before)
    failed = runs.iloc[-1]
    assert failed["status"] == "failed" and failed["exit_code"] == 3
    assert failed["solver_status"] == "infeasible" and "capacity" in failed["error"]


def test_nightly_reads_decisions_from_the_store(backend: Backend) -> None:
    backend.load()
    cfg = backend.config()
    first = run_ok(cfg)
    with backend.store() as store:
        assert store.read_decisions() is None
        blank = store.results(str(first["run_id"])).set_index("child_id")
    placed = blank[blank["home_id"].notna() & ~blank["locked"].astype(bool)]
    (a, home_a), (b, home_b) = list(placed["home_id"].items())[:2]
    decided = [{"child_id": a, "home_id": home_a, "decision": "family_declined",
                "decided_on": str(AS_OF), "by": "bufetat", "reason": "no_room"},
               {"child_id": b, "home_id": home_b, "decision": "family_consented",
                "decided_on": str(AS_OF), "by": "bufetat", "reason": ""},
               {"child_id": b, "home_id": home_b, "decision": "approved",
                "decided_on": str(AS_OF), "by": "kommune", "reason": ""}]
    for row in decided:
        result = runner.invoke(app, ["-q", "decide", "--store", str(cfg), "--child",
                                     row["child_id"], "--home", row["home_id"], "--decision",
                                     row["decision"], "--by", row["by"], "--reason",
                                     row["reason"], "--date", row["decided_on"],
                                     "--actor", "P1"])
        assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["decide", "--store", str(cfg), "--child", "nobody", "--home",
                              home_a, "--decision", "considering", "--by", "bufetat",
                              "--actor", "P1"])
    assert bad.exit_code == 2 and "unknown child_id 'nobody'" in bad.output
    second = run_ok(cfg)  # the decisions change the fingerprint: no skip
    assert second["status"] == "success"
    with backend.store() as store:
        stored = store.read_decisions()
        after = store.results(str(second["run_id"])).set_index("child_id")
    assert stored is not None and len(stored) == 3
    assert list(stored["actor"]) == ["P1"] * 3
    assert after.at[a, "home_id"] != home_a
    assert after.at[b, "home_id"] == home_b and after.at[b, "decision"] == "approved"
    assert bool(after.at[b, "locked"])
    # The latest successful run is the previous run: its proposals are kept where possible.
    assert after.at[a, "previous_home_id"] == home_a
    day = datetime.date.fromisoformat(AS_OF)
    assert after.at[a, "change_reason"] == (f"{home_a} declined on {day.day} {day:%B %Y}: "
                                            "the family has no room after all")
    with backend.store() as store:
        raw = store.runs().iloc[-1]["summary_json"]
    summary = json.loads(raw) if isinstance(raw, str) else raw
    assert summary["changed"] >= 1 and summary["stability_tolerance"] == 0.005
    assert summary["kept"] + summary["changed"] == int(blank["home_id"].notna().sum())
    # match_history: one row per waiting child per successful run; waiting-stats reads it.
    with backend.store() as store:
        history = store.history()
    waiting_children = int((~blank["locked"].astype(bool)).sum())
    assert history.groupby("run_id").size().to_dict() == {
        first["run_id"]: waiting_children, second["run_id"]: waiting_children - 1}  # b locked
    stats = runner.invoke(app, ["-q", "waiting-stats", "--store", str(cfg), "--out",
                                str(backend.folder / "stats")])
    assert stats.exit_code == 0, stats.output
    assert len(pd.read_csv(backend.folder / "stats" / "trend.csv")) == 2
    backend.sql("INSERT INTO decisions (child_id, home_id, decision, decided_on, \"by\", "
                f"reason) VALUES ('{a}', '{home_b}', 'maybe', '{AS_OF}', "
                "'bufetat', NULL)")
    result = nightly_cli(cfg)
    # the 4th decision; store tables count rows as a spreadsheet does (the first is row 2)
    assert result.exit_code == 2 and "decisions, row 5, column 'decision'" in result.output


# --------------------------------------------------------------------------- PostGIS only


def test_postgis_geometry_in_another_srid_and_password_from_env(
        postgres: testing.TemporaryPostgres, tmp_path: Path, sample_dir: Path,
        network_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schema_name = f"t_{uuid.uuid4().hex[:12]}"
    item = Backend("postgis", tmp_path, sample_dir, network_cache, postgres, schema_name)
    item.sql(f"CREATE SCHEMA {schema_name}")
    try:
        item.load()
        item.sql("ALTER TABLE homes ALTER COLUMN geom TYPE geometry(Point, 25833) "
                 "USING ST_Transform(geom, 25833)")
        monkeypatch.setenv("FOSTERMATCH_TEST_PW", postgres.password)
        cfg = tmp_path / "env.toml"
        cfg.write_text(item.config().read_text().replace(
            'password_file = "db-password"', 'password_env = "FOSTERMATCH_TEST_PW"'))
        result = runner.invoke(app, ["--json", "nightly", "--config", str(cfg)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["counts"]["children"] == 60
        text = item.log_file.read_text() + result.output
        assert postgres.password not in text

        monkeypatch.setenv("FOSTERMATCH_TEST_PW", "wrong-password")
        wrong = runner.invoke(app, ["nightly", "--config", str(cfg)])
        assert wrong.exit_code == 4, wrong.output
        assert "password" in wrong.output and "wrong-password" not in wrong.output
    finally:
        item.sql(f"DROP SCHEMA {schema_name} CASCADE")


# --------------------------------------------------------------------------- configuration


def test_config_rejects_passwords_in_url_and_lists_every_problem(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[store]\nurl = "postgresql+psycopg://u:secret@127.0.0.1:5432/db"\n'
                   '[network]\ncache_dir = "c"\n[job]\nretention = 3\n'
                   '[scoring]\ndecay = "linear"\n')
    result = runner.invoke(app, ["nightly", "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    assert "secret" not in result.output
    with pytest.raises(InputError) as info:
        nightly.load_config(cfg)
    columns = {p.column for p in info.value.problems}
    assert {"store.url", "network.osm", "job.retention", "scoring.decay"} <= columns


def test_password_file_must_be_owner_only(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    pw.chmod(0o644)
    options = config.StoreOptions(url="postgresql+psycopg://u@127.0.0.1:5432/db",
                                   password_file=pw)
    with pytest.raises(InputError, match="chmod 600"):
        nightly.open_store(options)
    pw.chmod(0o600)
    assert nightly.open_store(options).display == "postgresql://u@127.0.0.1:5432/db"
    monkeypatch.delenv("NO_SUCH_PW", raising=False)
    with pytest.raises(InputError, match="NO_SUCH_PW"):
        nightly.open_store(config.StoreOptions(url="postgresql://u@h/db",
                                                password_env="NO_SUCH_PW"))
    with pytest.raises(InputError, match="not both"):
        stores.resolve_password(password_env="X", password_file=pw)
    with pytest.raises(InputError, match=r"\.gpkg"):
        stores.open_store("store.sqlite")


def test_result_columns_match_the_pipeline() -> None:
    assert tuple(stores.RESULT_COLUMNS) == pipeline.ASSIGNMENT_COLUMNS


def test_missing_postgres_skips_locally_and_fails_on_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        _unavailable("no initdb")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        _unavailable("no initdb")


def test_text_and_fractions_in_number_columns_are_errors(backend: Backend) -> None:
    # issue 15, case 2: 'fifteen' in a GeoPackage integer column was read as 0 (the child
    # then went unmatched, "no home approved for age 0"), and 12.7 as 12.
    backend.load()
    if backend.server is not None:  # PostgreSQL types are strict: make the columns loose
        backend.sql("ALTER TABLE children ALTER COLUMN age TYPE text")
        backend.sql("ALTER TABLE homes ALTER COLUMN capacity TYPE double precision")
        backend.sql("ALTER TABLE contacts ALTER COLUMN weight TYPE text")
    first_child = "(SELECT min(child_id) FROM children)"
    backend.sql(f"UPDATE children SET age = 'fifteen' WHERE child_id = {first_child}")
    backend.sql("UPDATE homes SET capacity = 12.7 WHERE home_id = (SELECT min(home_id) "
                "FROM homes)")
    backend.sql("UPDATE contacts SET weight = 'heavy' WHERE child_id = (SELECT min(child_id) "
                "FROM contacts)")
    with backend.store() as store:
        frames, problems = store.read_tables()
    assert problems == []
    _, found = schema.check_tables(frames, settings=config.ScoringSettings(),
                                   labels={n: n for n in frames}, unreadable=set())
    where = {(p.source, p.column) for p in found if p.row is not None}
    assert where == {("children", "age"), ("homes", "capacity"), ("contacts", "weight")}, found
    result = nightly_cli(backend.config())
    assert result.exit_code == 2, result.output


def test_current_homes_and_dated_locks_survive_the_store(backend: Backend) -> None:
    """Issue 10 parts 3 and 5 through the store: the optional columns are kept, not dropped."""
    import shutil

    folder = backend.folder / "tables"
    shutil.copytree(backend.sample_dir, folder)
    children = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
    homes = pd.read_csv(folder / "homes.csv", dtype=str, keep_default_na=False)
    emergency = homes.loc[homes["kind"] == "emergency", "home_id"].sort_values().iloc[0]
    locked = set(pd.read_csv(folder / "placements.csv", dtype=str)["child_id"])
    child = children.loc[~children["child_id"].isin(locked), "child_id"].iloc[0]
    children["current_home_id"] = np.where(children["child_id"] == child, emergency, "")
    children["placed_since"] = np.where(children["child_id"] == child, "2026-06-01", "")
    children.to_csv(folder / "children.csv", index=False)
    placements = pd.read_csv(folder / "placements.csv", dtype=str, keep_default_na=False)
    placements["decided_on"], placements["by"] = str(AS_OF), "bufetat"
    placements.to_csv(folder / "placements.csv", index=False)
    result = runner.invoke(app, ["-q", "nightly-load", "--config", str(backend.config()),
                                 "--from", str(folder)])
    assert result.exit_code == 0, result.output
    with backend.store() as store:
        tables, _problems = store.read_tables()
    assert tables["children"] is not None and tables["placements"] is not None
    stored = tables["children"].set_index("child_id")
    assert stored.at[child, "current_home_id"] == emergency
    assert str(stored.at[child, "placed_since"])[:10] == "2026-06-01"
    assert set(tables["placements"]["by"]) == {"bufetat"}
    summary = run_ok(backend.config())
    with backend.store() as store:
        results = store.results(str(summary["run_id"])).set_index("child_id")
    assert results.at[child, "home_id"] != emergency  # never proposed the home it lives in


def test_store_types_cover_every_input_column() -> None:
    """A column the schema allows but the PostGIS store has no type for would be stored as
    text instead of its type: keep the two lists in step."""
    from matcher.io.stores.base import INPUT_TYPES, POINT_TABLES
    from matcher.tables import COLUMNS

    for table, columns in COLUMNS.items():
        point = {"lon", "lat"} if table in POINT_TABLES else set()
        assert set(INPUT_TYPES[table]) == set(columns) - point, table


def test_damaged_network_cache_is_rebuilt_by_the_job(tmp_path: Path, sample_dir: Path,
                                                     network_cache: Path) -> None:
    # issue 24, case 3: a shifted CSR index in the cache crashed the job (SIGSEGV) and
    # left its run row 'running'. The job has the OSM file: it rebuilds the cache.
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("network.npz", "network.json"):
        (cache / name).write_bytes((network_cache / name).read_bytes())
    with np.load(cache / "network.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["indices"] = arrays["indices"] + 10**6
    with (cache / "network.npz").open("wb") as fh:
        np.savez(fh, **arrays)
    backend = Backend("geopackage", tmp_path, sample_dir, cache)
    backend.load()
    summary = run_ok(backend.config())
    assert summary["status"] == "success"
    with backend.store() as store:
        assert store.runs()["status"].tolist() == ["success"]
    assert network.load(cache).n_nodes > 0  # the cache is whole again


def test_placement_periods_in_the_store(backend: Backend) -> None:
    """Issue 25: nightly-load stores the sample's periods; an approval opens a period once
    (decide, or the job when decide's write is missing); placement end closes it;
    stability reads the store."""
    from matcher import periods

    backend.load()
    cfg = backend.config()
    sample = pd.read_csv(backend.sample_dir / "placement_periods.csv", dtype=str,
                         keep_default_na=False)
    with backend.store() as store:
        stored = store.read_periods()
    assert stored is not None and len(stored) == len(sample) > 0
    assert periods.validate(stored)["child_id"].tolist() == sample["child_id"].tolist()
    first = run_ok(cfg)
    with backend.store() as store:
        blank = store.results(str(first["run_id"])).set_index("child_id")
    placed = blank[blank["home_id"].notna() & ~blank["locked"].astype(bool)]
    child, home = next(iter(placed["home_id"].items()))
    for decision, by in (("family_consented", "bufetat"), ("approved", "kommune")):
        result = runner.invoke(app, ["-q", "decide", "--store", str(cfg), "--child", child,
                                     "--home", home, "--decision", decision, "--by", by,
                                     "--date", AS_OF, "--actor", "P1"])
        assert result.exit_code == 0, result.output

    def mine() -> pd.DataFrame:
        with backend.store() as store:
            table = periods.validate(store.read_periods())
        return table[(table["child_id"] == child) & (table["home_id"] == home)]

    row = mine()
    assert len(row) == 1 and row["end"].isna().all() and row.iloc[0]["actor"] == "P1"
    assert row.iloc[0]["school_minutes"] == pytest.approx(placed.at[child, "school_minutes"],
                                                          abs=0.05)
    assert run_ok(cfg)["counts"]["periods_opened"] == 0  # type: ignore[index]
    assert run_ok(cfg, "--force")["counts"]["periods_opened"] == 0  # type: ignore[index]
    assert len(mine()) == 1
    backend.sql(f"DELETE FROM placement_periods WHERE child_id = '{child}' "
                f"AND home_id = '{home}'")
    assert run_ok(cfg, "--force")["counts"]["periods_opened"] == 1  # type: ignore[index]
    assert run_ok(cfg, "--force")["counts"]["periods_opened"] == 0  # type: ignore[index]
    assert len(mine()) == 1 and mine().iloc[0]["actor"] == "P1"
    end = ["placement", "end", "--store", str(cfg), "--child", child, "--home", home,
           "--by", "foster_home", "--actor", "P2", "--reason", "unintended_move"]
    bad = runner.invoke(app, [*end, "--end", "2020-01-01"])
    assert bad.exit_code == 2 and "before start" in bad.output
    result = runner.invoke(app, [*end, "--end", AS_OF])
    assert result.exit_code == 0, result.output
    assert mine().iloc[0]["end_reason"] == "unintended_move"
    out = backend.folder / "stability"
    stats = runner.invoke(app, ["--json", "stability", "--store", str(cfg), "--out", str(out),
                                "--as-of", AS_OF])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["periods"] == len(sample) + 1
    assert (out / "stability.csv").is_file()
