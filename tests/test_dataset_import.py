"""The malformed-file suite: every bad line gets a specific finding with its line number, every valid row is kept,
nothing raises. Files are generated in tmp_path (no committed fixtures)."""

import io
import json

import openpyxl
import pytest

from core.data import report as datareport, importer
from core.data.task import Task

TASK = Task.from_labels(["billing", "login", "shipping"], name="t")


def chat(text, label, system=True):
    msgs = ([{"role": "system", "content": "Classify the ticket."}] if system else []) + [
        {"role": "user", "content": text}, {"role": "assistant", "content": label}]
    return json.dumps({"messages": msgs}, ensure_ascii=False)


def good_lines(n=12):
    labels = TASK.label_names
    return [chat(f"ticket number {i} about {labels[i % 3]} things", labels[i % 3]) for i in range(n)]


def findings_by_line(result):
    out = {}
    for f in result.findings:
        out.setdefault(f.line, []).append(f.code)
    return out


def test_malformed_chat_jsonl_one_finding_per_bad_line(tmp_path):
    good = good_lines(12)
    bad = {
        3: good[0][:-25],                                                        # truncated JSON
        5: "[1, 2, 3]",                                                          # not an object
        7: json.dumps({"messages": [{"role": "bot", "content": "hi"}, {"role": "assistant", "content": "login"}]}),
        9: json.dumps({"messages": [{"role": "user", "content": "no answer here"}]}),   # missing assistant
        11: chat("a ticket with a label outside the set", "refunds"),
        13: json.dumps({"messages": []}),
        15: json.dumps({"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "login"}]}),
        17: json.dumps({"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "login"}]}),
        19: json.dumps({"prompt": "no messages key"}),
        21: "",                                                                  # empty line
        23: json.dumps({"messages": [{"role": "user", "content": "x", "mood": "angry"}, {"role": "assistant", "content": "login"}]}),
    }
    lines, kept = [], iter(good)
    for n in range(1, 12 + len(bad) + 1):
        lines.append(bad[n] if n in bad else next(kept))
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = datareport.build(importer.read_file(path), task=TASK, embeddings=False)
    codes = {}
    for f in report.findings:
        codes.setdefault(f.line, set()).add(f.code)
    expected = {3: "invalid_json", 5: "not_object", 7: "unknown_role", 9: "no_assistant", 11: "label_not_in_set",
                13: "empty_messages", 15: "empty_content", 17: "content_not_string", 19: "missing_messages",
                21: "empty_line", 23: "unknown_key"}
    for line, code in expected.items():
        assert code in codes.get(line, set()), (line, code, codes.get(line))
    # every valid row kept, with its own line number
    assert sorted(r.line for r in report.rows) == [n for n in range(1, len(lines) + 1) if n not in bad]
    assert report.exit_code == 1
    truncated = next(f for f in report.findings if f.line == 3)
    assert "column" in truncated.message and "truncated" in truncated.message
    outside = next(f for f in report.findings if f.line == 11)
    assert "'refunds'" in outside.message


def test_bom_crlf_and_latin1_bytes(tmp_path):
    good = good_lines(12)
    latin = chat("caf\u00e9 order never arrived", "shipping").encode("utf-8").replace("\u00e9".encode(), b"\xe9")
    data = b"\xef\xbb\xbf" + b"\r\n".join(line.encode() for line in good[:6]) + b"\r\n" + latin + b"\r\n" + \
        b"\r\n".join(line.encode() for line in good[6:]) + b"\r\n"
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(data)
    result = importer.read_file(path)
    by_line = findings_by_line(result)
    assert by_line[1] == ["bom"]
    assert by_line[7] == ["not_utf8"]
    assert "0xe9" in next(f.message for f in result.findings if f.line == 7)
    assert len(result.rows) == 13  # the BOM line, every CRLF line and the repaired Latin-1 line
    assert not any(r.text.endswith("\r") or r.label.endswith("\r") for r in result.rows)
    assert next(r for r in result.rows if r.line == 7).text.startswith("café")


def test_latin1_csv_is_decoded_and_says_so(tmp_path):
    path = tmp_path / "tickets.csv"
    rows = ["text;label"] + [f"Caf\u00e9 r\u00e9sum\u00e9 {i};{TASK.label_names[i % 3]}" for i in range(12)]
    path.write_bytes("\r\n".join(rows).encode("cp1252"))
    result = importer.read_file(path)
    assert result.format == "csv" and result.encoding == "cp1252"
    assert [f.code for f in result.findings] == ["encoding"]
    assert result.rows[0].text == "Café résumé 0" and result.rows[0].line == 2
    assert len(result.rows) == 12


def test_five_megabyte_single_line_is_one_finding_not_a_crash(tmp_path):
    huge = chat("word " * 1_000_000, "login")  # ~5 MB on one line
    path = tmp_path / "huge.jsonl"
    path.write_text("\n".join(good_lines(12) + [huge]) + "\n", encoding="utf-8")
    assert path.stat().st_size > 5_000_000
    report = datareport.build(importer.read_file(path), task=TASK, embeddings=False)
    over = [f for f in report.findings if f.code == "too_many_tokens"]
    assert [f.line for f in over] == [13]
    assert "65,536" in over[0].message and len(over[0].message) < 200
    assert len(report.rows) == 12


def test_duplicates_and_conflicts_name_their_lines(tmp_path):
    lines = good_lines(12) + [good_lines(12)[0], chat("ticket number 1 about login things", "billing")]
    path = tmp_path / "dupes.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = datareport.build(importer.read_file(path), task=TASK, embeddings=False).to_json()
    assert {"lines": [1, 13], "kind": "exact", "similarity": 1.0} in data["duplicates"]
    conflict = next(c for c in data["conflicts"] if 14 in c["lines"])
    assert conflict["lines"] == [2, 14] and set(conflict["labels"]) == {"login", "billing"}


@pytest.mark.parametrize("content, reason", [
    (b"", "is empty"),
    (b"\n\n  \n", "is empty"),
    (b"\x00\x01\x02\x03binary\x00junk" * 50, "binary file"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
])
@pytest.mark.parametrize("name", ["data.jsonl", "data.csv"])
def test_unreadable_files_give_one_clear_reason(tmp_path, content, reason, name):
    path = tmp_path / name
    path.write_bytes(content)
    result = importer.read_file(path)
    assert result.error and reason in result.error and not result.rows
    assert "\n" not in result.error
    assert datareport.build(result).exit_code == 2


def test_xlsx_with_mapping_and_unlabelled_rows(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Ticket id", "Body", "Queue"])
    ws.append(["A1", "Printer on fire", "hardware"])
    ws.append([None, None, None])
    ws.append(["A2", "Cannot log in", None])
    ws.append(["A3", None, "hardware"])
    buf = io.BytesIO()
    wb.save(buf)
    result = importer.read_bytes(buf.getvalue(), "tickets.xlsx",
                                 importer.ColumnMapping(text="Body", label="Queue", id="Ticket id"))
    assert result.format == "xlsx"
    assert [(r.line, r.id, r.text, r.label) for r in result.rows] == [(2, "A1", "Printer on fire", "hardware"),
                                                                       (4, "A2", "Cannot log in", None)]
    assert [(f.line, f.code) for f in result.findings] == [(5, "missing_text")]


def test_column_guessing_and_pasted_text():
    tsv = "Subject\tCategory\tsplit\n" + "\n".join(f"text {i} is long enough\t{'ab'[i % 2]}\t{'train' if i else 'test'}" for i in range(6))
    result = importer.read_text(tsv)
    assert result.format == "tsv"
    assert result.mapping == importer.ColumnMapping(text="Subject", label="Category", split="split")
    assert result.rows[0].split == "test" and result.rows[1].split == "train"
    plain = importer.read_text("first ticket\n\nsecond ticket\n")
    assert plain.format == "lines" and [(r.line, r.text, r.label) for r in plain.rows] == [(1, "first ticket", None), (3, "second ticket", None)]


def test_preference_pairs_both_layouts(tmp_path):
    openai_dpo = json.dumps({"input": {"messages": [{"role": "user", "content": "refund please"}]},
                             "preferred_output": [{"role": "assistant", "content": "billing"}],
                             "non_preferred_output": [{"role": "assistant", "content": "login"}]})
    trl = json.dumps({"prompt": "where is my parcel", "chosen": "shipping", "rejected": "billing"})
    broken = json.dumps({"prompt": "x", "chosen": "login", "rejected": ""})
    result = importer.read_bytes("\n".join([openai_dpo, trl, broken]).encode(), "prefs.jsonl")
    assert result.format == "preference-jsonl"
    assert [(r.text, r.label, r.rejected) for r in result.rows] == [("refund please", "billing", "login"),
                                                                    ("where is my parcel", "shipping", "billing")]
    assert [(f.line, f.code) for f in result.findings if f.severity == "error"] == [(3, "invalid_preference")]


def test_text_label_jsonl_and_dataset_rules():
    def report(n, n_b):
        lines = [json.dumps({"text": f"text number {i}", "label": "b" if i < n_b else "a"}) for i in range(n)]
        return datareport.build(importer.read_bytes("\n".join(lines).encode(), "x.jsonl"), embeddings=False)

    tiny = report(9, 4)
    assert [f.code for f in tiny.findings if f.line is None] == ["too_few_examples"]
    assert tiny.exit_code == 1  # fewer than 10 examples: OpenAI refuses the file
    skewed = report(30, 2)
    codes = [f.code for f in skewed.findings if f.line is None]
    assert codes == ["few_examples", "small_class", "class_imbalance"]
    assert skewed.exit_code == 0  # warnings only


def test_csv_with_an_unclosed_quote_names_its_line():
    text = "text,label\nmy parcel is late,shipping\nrefund for the broken bulb,billing\n\"unterminated quote,billing\nnext,login\n"
    result = importer.read_text(text)
    assert [(r.line, r.text) for r in result.rows] == [(2, "my parcel is late"), (3, "refund for the broken bulb")]
    [finding] = result.findings
    assert (finding.line, finding.code) == (4, "malformed_row") and "never closed" in finding.message
