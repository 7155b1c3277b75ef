"""The decisions log: who may decide what, consent before approval, and the user's file kept."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher import config, decisions, pipeline, schema
from matcher.cli import app
from matcher.errors import InputError
from matcher.io import decision_log
from matcher.timetable import TimeTable

AS_OF = datetime.date(2026, 11, 1)
runner = CliRunner()

# Who may record what, written out by hand from Norwegian practice (not from the code):
# Bufetat proposes and records the family's answer; barneverntjenesten (kommune) approves
# or rejects; either may record that a pair is being considered; the old decisions
# 'accepted' and 'declined' are read in old logs but never written anew.
ALLOWED = {
    ("bufetat", "proposed"): True, ("kommune", "proposed"): False,
    ("bufetat", "considering"): True, ("kommune", "considering"): True,
    ("bufetat", "family_consented"): True, ("kommune", "family_consented"): False,
    ("bufetat", "family_declined"): True, ("kommune", "family_declined"): False,
    ("bufetat", "approved"): False, ("kommune", "approved"): True,
    ("bufetat", "rejected"): False, ("kommune", "rejected"): True,
    ("bufetat", "accepted"): False, ("kommune", "accepted"): False,
    ("bufetat", "declined"): False, ("kommune", "declined"): False,
}
REASON = {"family_declined": "no_room", "rejected": "not_suitable", "declined": "other"}


def _inputs() -> schema.Inputs:
    children = pd.DataFrame({"child_id": ["C1", "C2"], "lon": [10.75, 10.76],
                             "lat": [59.91, 59.92], "school_lon": [10.75, 10.76],
                             "school_lat": [59.91, 59.92], "municipality": ["0301"] * 2,
                             "age": [9, 12], "urgency": ["planned"] * 2})
    homes = pd.DataFrame({"home_id": ["H1", "H2"], "lon": [10.8, 10.7], "lat": [59.9, 59.9],
                          "municipality": ["0301"] * 2, "capacity": [1, 1], "min_age": [0] * 2,
                          "max_age": [18] * 2, "kind": ["general"] * 2})
    return schema.validate(children, homes, settings=config.ScoringSettings())


def _times() -> TimeTable:
    rows = [{"home_id": h, "anchor_id": f"{c}:school", "minutes": m}
            for c, mins in {"C1": {"H1": 10.0, "H2": 20.0}, "C2": {"H1": 12.0, "H2": 8.0}}.items()
            for h, m in mins.items()]
    return TimeTable.from_long(pd.DataFrame(rows), origin_col="home_id",
                               destination_col="anchor_id")


def _row(decision: str, by: str, *, day: str = "2026-10-01", home: str = "H1",
         child: str = "C1", actor: str = "P7") -> dict[str, str]:
    return {"child_id": child, "home_id": home, "decision": decision, "decided_on": day,
            "by": by, "reason": REASON.get(decision, ""), "actor": actor}


@pytest.mark.parametrize(("by", "decision"), sorted(ALLOWED))
def test_each_role_records_only_its_own_decisions(tmp_path: Path, by: str,
                                                  decision: str) -> None:
    log = tmp_path / "log.csv"
    if decision == "approved":  # the family's consent comes first (tested below)
        decision_log.append_decision(log, _row("family_consented", "bufetat"), today=AS_OF)
    before = log.read_bytes() if log.exists() else None
    if ALLOWED[(by, decision)]:
        got = decision_log.append_decision(log, _row(decision, by, day="2026-10-02"),
                                           today=AS_OF)
        assert list(got.table["decision"])[-1] == decision
    else:
        with pytest.raises(InputError) as info:
            decision_log.append_decision(log, _row(decision, by, day="2026-10-02"),
                                         today=AS_OF)
        assert {p.column for p in info.value.problems} <= {"by", "decision"}
        assert (log.read_bytes() if log.exists() else None) == before


def test_only_an_approval_after_consent_locks(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    decision_log.append_decision(log, _row("proposed", "bufetat"), today=AS_OF)
    with pytest.raises(InputError, match="only after Bufetat has recorded family_consented"):
        decision_log.append_decision(log, _row("approved", "kommune", day="2026-10-02"),
                                     today=AS_OF)
    decision_log.append_decision(log, _row("family_consented", "bufetat", day="2026-10-02"),
                                 today=AS_OF)
    held = pipeline.run(_inputs(), config.Settings(), times=_times(), as_of=AS_OF,
                        decisions=decision_log.read_decisions(log, as_of=AS_OF))
    row = held.assignments.set_index("child_id").loc["C1"]
    assert (row["home_id"], row["decision"], bool(row["locked"])) == ("H1", "considering",
                                                                       False)
    decision_log.append_decision(log, _row("approved", "kommune", day="2026-10-03"),
                                 today=AS_OF)
    run = pipeline.run(_inputs(), config.Settings(), times=_times(), as_of=AS_OF,
                       decisions=decision_log.read_decisions(log, as_of=AS_OF))
    row = run.assignments.set_index("child_id").loc["C1"]
    assert (row["home_id"], row["decision"], bool(row["locked"])) == ("H1", "approved", True)
    assert run.summary.decisions is not None
    assert [(r.by, r.actor, r.decision) for r in run.summary.decisions.since_previous_run] == [
        ("bufetat", "P7", "proposed"), ("bufetat", "P7", "family_consented"),
        ("kommune", "P7", "approved")]


def test_a_family_that_withdraws_its_consent_cannot_be_approved(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    decision_log.append_decision(log, _row("family_consented", "bufetat"), today=AS_OF)
    decision_log.append_decision(log, _row("family_declined", "bufetat", day="2026-10-02"),
                                 today=AS_OF)
    with pytest.raises(InputError, match="family_consented"):
        decision_log.append_decision(log, _row("approved", "kommune", day="2026-10-03"),
                                     today=AS_OF)


def test_a_new_row_needs_an_actor_and_a_reason_of_its_decision(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    with pytest.raises(InputError, match="empty actor"):
        decision_log.append_decision(log, _row("proposed", "bufetat", actor=""), today=AS_OF)
    with pytest.raises(InputError, match="no_room, not_right_match, timing, other"):
        decision_log.append_decision(log, {**_row("family_declined", "bufetat"),
                                           "reason": "not_suitable"}, today=AS_OF)
    assert not log.exists()


OLD_LOG = ("\ufeffchild_id;home_id;decision;decided_on;by;reason;_note\r\n"
           "C1;H2;considering;2026-09-01T09:30:00+02:00;bufetat;;talk in week 36\r\n"
           "C1;H2;accepted;2026-09-05;bufetat;;\r\n"
           "C2;H1;declined;2026-10-01;kommune;child_declined;\"says no, firmly\"\r\n")


def test_an_old_log_is_read_as_before_and_kept_byte_for_byte(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_bytes(OLD_LOG.encode("utf-8"))
    log.chmod(0o664)  # shared with a colleague in the group
    read = decision_log.read_decisions(log, as_of=AS_OF)
    plan = decisions.apply(read, _inputs(), as_of=AS_OF, settings=config.Settings())
    assert list(zip(plan.accepted["child_id"], plan.accepted["home_id"], strict=True)) == [
        ("C1", "H2")]  # old 'accepted' locks as before, without a consent row
    assert list(plan.declined["child_id"]) == ["C2"] and plan.legacy == 2
    decision_log.append_decision(log, _row("considering", "kommune", child="C2", home="H2",
                                           day="2026-10-20"), today=AS_OF)
    after = log.read_bytes().decode("utf-8")
    head, rest = OLD_LOG.split("\r\n", 1)
    # the header gains 'actor'; every old byte (BOM, ';', CRLF, notes, the timestamp) stays
    assert after == (head + ";actor\r\n" + rest
                     + "C2;H2;considering;2026-10-20;kommune;;;P7\r\n")
    assert stat.S_IMODE(log.stat().st_mode) == 0o664
    again = decision_log.read_decisions(log, as_of=AS_OF)
    assert list(again.table["actor"]) == ["", "", "", "P7"]


def test_a_read_only_log_is_refused_and_left_alone(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    decision_log.append_decision(log, _row("proposed", "bufetat"), today=AS_OF)
    log.chmod(0o444)
    before = log.read_bytes()
    with pytest.raises(InputError, match="read-only"):
        decision_log.append_decision(log, _row("considering", "kommune"), today=AS_OF)
    assert log.read_bytes() == before and stat.S_IMODE(log.stat().st_mode) == 0o444


@pytest.mark.parametrize("day", ["2026", "01.10.2026", "2026-10"])
def test_dates_are_never_guessed(tmp_path: Path, day: str) -> None:
    log = tmp_path / "log.csv"
    result = runner.invoke(app, ["decide", "--file", str(log), "--child", "C1", "--home", "H1",
                                 "--decision", "proposed", "--by", "bufetat", "--actor", "P7",
                                 "--date", day])
    assert result.exit_code == 2 and not log.exists()


def test_a_zoned_timestamp_mixes_with_plain_dates(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    for day in ("2026-10-01", "2026-10-02T23:30:00+00:00"):
        result = runner.invoke(app, ["-q", "decide", "--file", str(log), "--child", "C1",
                                     "--home", "H1", "--decision", "considering", "--by",
                                     "kommune", "--actor", "K2", "--date", day])
        assert result.exit_code == 0, result.output
    read = decision_log.read_decisions(log, as_of=AS_OF)
    # 23:30 UTC on 2 October is 01:30 on 3 October in Oslo
    assert [d.isoformat() for d in read.table["decided_on"]] == ["2026-10-01", "2026-10-03"]
    assert "2026-10-02T23:30:00+00:00" in log.read_text()  # the text as written


def test_the_cli_refuses_another_roles_decision_naming_the_rule(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    result = runner.invoke(app, ["--lang", "en", "decide", "--file", str(log), "--child", "C1",
                                 "--home", "H1", "--decision", "approved", "--by", "bufetat",
                                 "--actor", "B3"])
    assert result.exit_code == 2
    assert "bufetat may not record 'approved'" in " ".join(result.output.split())
    assert not log.exists()


def test_a_store_made_before_actor_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    from matcher.io.stores import open_store

    path = tmp_path / "store.gpkg"
    store = open_store(str(path))
    store.connect(create=True)
    store.ensure_schema()
    store.close()
    with sqlite3.connect(path) as db:  # the decisions table as an older version made it
        db.execute('CREATE TABLE decisions (fid INTEGER PRIMARY KEY AUTOINCREMENT, '
                   'child_id TEXT NOT NULL, home_id TEXT NOT NULL, decision TEXT NOT NULL, '
                   'decided_on DATE NOT NULL, "by" TEXT NOT NULL, reason TEXT)')
        db.execute("INSERT INTO decisions (child_id, home_id, decision, decided_on, \"by\") "
                   "VALUES ('C1', 'H1', 'accepted', '2026-09-01', 'kommune')")
    with open_store(str(path)) as store:
        old = store.read_decisions()
        assert old is not None and "actor" not in old.columns
        store.append_decision(_row("proposed", "bufetat", child="C2", home="H2"))
        both = store.read_decisions()
    assert both is not None
    assert list(both["decision"]) == ["accepted", "proposed"]
    assert [a if isinstance(a, str) else "" for a in both["actor"]] == ["", "P7"]
    read = decisions.validate(both, as_of=AS_OF)
    assert list(read.table["actor"]) == ["", "P7"]
