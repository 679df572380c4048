"""The state journal: a record is all there or dropped whole; compaction keeps every value."""

from __future__ import annotations

import logging

import pytest

from local_aws.state.journal import Journal, JournalError


def test_records_fold_and_survive_reopening(tmp_path):
    journal = Journal(tmp_path, header={"format": 1})
    journal.append({"a": b"1", "b": b"2"})
    journal.append({"a": b"3", "b": None})
    journal.close()
    reopened = Journal(tmp_path, header={"format": 1})
    assert reopened.entries == {"a": b"3"}


def test_a_torn_last_record_is_dropped_and_cut_off(tmp_path, caplog):
    journal = Journal(tmp_path, header={"format": 1})
    journal.append({"kept": b"yes"})
    journal.append({"torn": b"x" * 1000})
    journal.close()
    path = tmp_path / "journal.log"
    data = path.read_bytes()
    path.write_bytes(data[:-10])  # the process died while writing the last record
    with caplog.at_level(logging.WARNING):
        reopened = Journal(tmp_path, header={"format": 1})
    assert reopened.entries == {"kept": b"yes"}
    assert "torn record" in caplog.text
    reopened.append({"after": b"1"})  # appends go after the last good record
    reopened.close()
    assert Journal(tmp_path, header={"format": 1}).entries == {"kept": b"yes", "after": b"1"}


def test_a_corrupt_record_ends_the_journal_there(tmp_path):
    journal = Journal(tmp_path, header={"format": 1})
    journal.append({"first": b"1"})
    end_of_first = journal.size()
    journal.append({"second": b"2"})
    journal.close()
    path = tmp_path / "journal.log"
    data = bytearray(path.read_bytes())
    data[end_of_first + 12] ^= 0xFF  # a flipped byte inside the second record's payload: its CRC fails
    path.write_bytes(bytes(data))
    assert Journal(tmp_path, header={"format": 1}).entries == {"first": b"1"}


def test_compaction_keeps_values_and_empties_the_journal(tmp_path):
    journal = Journal(tmp_path, header={"format": 1})
    for i in range(50):
        journal.append({f"k{i % 7}": str(i).encode()})
    before = dict(journal.entries)
    journal.compact()
    assert journal.size() == 0
    journal.append({"k0": b"new"})
    journal.close()
    assert Journal(tmp_path, header={"format": 1}).entries == {**before, "k0": b"new"}


def test_state_written_by_another_version_is_refused_with_what_to_do(tmp_path):
    Journal(tmp_path, header={"moto": "5.2.5"}).append({"a": b"1"})
    with pytest.raises(JournalError, match=r"written with moto '5.2.5'.*has '6.0.0'.*empty --state-dir"):
        Journal(tmp_path, header={"moto": "6.0.0"})
