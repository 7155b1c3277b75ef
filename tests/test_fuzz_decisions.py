"""Fuzz the decisions log (issue 24): reading it, and appending to it.

Reading a fuzzed log either succeeds or raises :class:`~matcher.errors.InputError`
(exit code 2) naming the file, a row within it and a column. Appending to a
fuzzed log either keeps every old byte (the header may gain ``actor``) and adds
one line, or raises InputError and leaves the file as it was. Never another
exception, never a file left behind. :data:`EXAMPLES` is the number of
examples per target (deterministic runs).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz import FUZZ, check_outcome, mutated, table_text

from matcher.errors import InputError
from matcher.io import decision_log

EXAMPLES = {"log_read": 120, "log_append": 80}
AS_OF = datetime.date(2026, 11, 1)
DECISION = {"child_id": "c1", "home_id": "h1", "decision": "considering",
            "decided_on": "2026-10-01", "by": "kommune", "reason": "", "actor": "p1",
            "_note": "x"}
NEW = {"child_id": "c7", "home_id": "h7", "decision": "proposed", "decided_on": "2026-10-30",
       "by": "bufetat", "reason": "", "actor": "p9"}


@settings(max_examples=EXAMPLES["log_read"], **FUZZ)
@given(table=table_text(DECISION, "child_id"))
def test_fuzz_reading_a_decisions_log(tmp_path: Path, table: tuple[str, int, set[str]]) -> None:
    text, n, _leaks = table
    path = tmp_path / "log.csv"
    path.write_text(text, encoding="utf-8")
    before = {p.name for p in tmp_path.iterdir()}
    check_outcome(lambda: decision_log.read_decisions(path, as_of=AS_OF),
                  files={"log.csv": n}, leaks=set(), folder=tmp_path, before=before)


@settings(max_examples=EXAMPLES["log_append"], **FUZZ)
@given(table=table_text(DECISION, "child_id"), data=st.data())
def test_fuzz_appending_to_a_decisions_log(tmp_path: Path, table: tuple[str, int, set[str]],
                                           data: st.DataObject) -> None:
    text, _n, _leaks = table
    raw = data.draw(mutated(text.encode("utf-8")))
    path = tmp_path / "log.csv"
    path.write_bytes(raw)
    before_files = {p.name for p in tmp_path.iterdir()}
    try:
        decision_log.append_decision(path, NEW, today=AS_OF)
    except InputError as exc:
        assert exc.exit_code == 2 and "Traceback" not in str(exc)
        assert path.read_bytes() == raw, "a refused append changed the log"
    else:
        after = path.read_bytes()
        old_body = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
        assert old_body in after, "an old row was changed"
        last = decision_log.read_decisions(path, as_of=AS_OF).table.iloc[-1]
        assert [last[c] for c in ("child_id", "home_id", "decision", "by", "actor")] == [
            "c7", "h7", "proposed", "bufetat", "p9"]
    assert {p.name for p in tmp_path.iterdir()} == before_files, "a file was left behind"
