"""Import: any file a user has (CSV, TSV, Excel, JSONL chat / text-label / preference pairs, pasted text)
into rows that remember their source line, plus a Finding for every line that could not be used.

Never raises on bad input: a file that cannot be read at all comes back with
`error` set to one clear sentence and no rows.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from core.data.validation import Finding, check_messages, content_text

TEXT_NAMES = ("text", "input", "prompt", "message", "ticket", "body", "content", "question", "utterance", "sentence", "query", "description", "subject")
LABEL_NAMES = ("label", "category", "class", "intent", "target", "y", "output", "answer", "completion", "topic", "queue", "tag")
SPLIT_NAMES = ("split", "set", "fold", "partition")
ID_NAMES = ("id", "example_id", "ticket_id", "row_id", "uid", "key")
SPLIT_VALUES = {"train": "train", "training": "train", "dev": "dev", "val": "dev", "valid": "dev",
                "validation": "dev", "test": "test", "testing": "test", "holdout": "test", "eval": "test"}

# File signatures of things people drop by mistake; XLSX is a ZIP too and is tried first.
MAGIC = {
    b"%PDF": "a PDF document", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive", b"PK\x03\x04": "a ZIP archive", b"\xd0\xcf\x11\xe0": "a legacy Office file (.xls/.doc)",
    b"SQLite format 3": "an SQLite database", b"\x7fELF": "an executable", b"7z\xbc\xaf": "a 7-Zip archive",
}


@dataclass
class Row:
    """One usable example of the file, with where it came from."""

    line: int                               # 1-based line in the file (row number for spreadsheets)
    text: str
    label: str | None                       # None: unlabelled
    messages: list[dict] | None = None      # the chat example as given (chat / preference files)
    rejected: str | None = None             # preference pairs: the non-preferred answer
    split: str | None = None                # from a split column, if any
    id: str | None = None                   # from an id column, if any


@dataclass(frozen=True)
class ColumnMapping:
    """Which column (or JSON key) holds what. None: not present / guess it."""

    text: str | None = None
    label: str | None = None
    split: str | None = None
    id: str | None = None


@dataclass
class ImportResult:
    name: str
    format: str = "unknown"                  # csv | tsv | xlsx | chat-jsonl | jsonl | preference-jsonl | lines
    rows: list[Row] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    records: int = 0                         # data lines/rows the file holds (blank lines not counted)
    columns: list[str] = field(default_factory=list)
    mapping: ColumnMapping = ColumnMapping()
    encoding: str = "utf-8"
    error: str | None = None                 # set when nothing could be read: one line, for the user

    @property
    def ok(self) -> bool:
        return self.error is None


# --- entry points ----------------------------------------------------------------


def read_file(path: str | Path, mapping: ColumnMapping | None = None) -> ImportResult:
    """A file from disk. JSON lines are streamed: a 500 MB file is never held in memory twice."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
            if _is_jsonl(head, path.name):
                f.seek(0)
                return _guarded(lambda: _read_jsonl(f, path.name, mapping or ColumnMapping()), path.name)
            data = head + f.read()
    except OSError as exc:
        return ImportResult(name=path.name, error=f"cannot open {path}: {exc.strerror or exc}")
    return read_bytes(data, path.name, mapping)


def read_text(text: str, mapping: ColumnMapping | None = None, name: str = "pasted text") -> ImportResult:
    """Pasted text: JSONL, CSV/TSV with a header, `text<TAB>label` lines, or one text per line."""
    return read_bytes(text.encode("utf-8"), name, mapping)


def read_bytes(data: bytes, name: str, mapping: ColumnMapping | None = None) -> ImportResult:
    return _guarded(lambda: _read(data, name, mapping or ColumnMapping()), name)


def _guarded(read, name: str) -> ImportResult:
    try:
        return read()
    except Exception as exc:  # the promise is "never raises": a bug here must still give the user a reason
        return ImportResult(name=name, error=f"could not read {name}: {type(exc).__name__}: {exc}")


def _is_jsonl(head: bytes, name: str) -> bool:
    """JSON by extension or by its first character, unless the bytes are empty, binary or a spreadsheet."""
    if not head or head.isspace() or _binary_kind(head) or head.startswith(b"PK\x03\x04"):
        return False
    return Path(name).suffix.lower() in (".jsonl", ".json", ".ndjson") or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"["))


def _read(data: bytes, name: str, mapping: ColumnMapping) -> ImportResult:
    suffix = Path(name).suffix.lower()
    if not data or data.isspace():
        return ImportResult(name=name, error=f"{name} is empty")
    if suffix in (".xlsx", ".xlsm") or data.startswith(b"PK\x03\x04"):
        result = _read_xlsx(data, name, mapping)
        if result.ok or suffix in (".xlsx", ".xlsm"):
            return result
    binary = _binary_kind(data)
    if binary:
        return ImportResult(name=name, error=f"{name} is {binary}, not a CSV, TSV, Excel or JSONL file")
    if _is_jsonl(data[:65536], name):
        return _read_jsonl(io.BytesIO(data), name, mapping)
    return _read_delimited(data, name, mapping, suffix)


def _binary_kind(data: bytes) -> str | None:
    for magic, kind in MAGIC.items():
        if data.startswith(magic):
            return kind
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text has NULs but is text
        return None
    if b"\x00" in head:
        return "a binary file"
    return None


# --- JSONL -------------------------------------------------------------------------


def _decode_line(raw: bytes, line: int, findings: list[Finding]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1]
        text = raw.decode("cp1252", errors="replace")
        findings.append(Finding(
            line, "not_utf8",
            f"byte 0x{bad.hex()} at column {exc.start + 1} is not UTF-8 (looks like Latin-1/Windows-1252, "
            f"read as {bad.decode('cp1252', errors='replace')!r}); re-save the file as UTF-8 — the lab's export is UTF-8",
        ))
        return text


def _json_error(exc: json.JSONDecodeError, text: str) -> str:
    at_end = exc.pos >= len(text.rstrip()) - 1
    hint = " — the line ends early (truncated?)" if at_end or exc.msg.startswith("Unterminated") else ""
    return f"invalid JSON at column {exc.colno}: {exc.msg.removesuffix(' at').lower()}{hint}"


def _read_jsonl(stream: BinaryIO, name: str, mapping: ColumnMapping) -> ImportResult:
    result = ImportResult(name=name, format="jsonl")
    findings = result.findings
    head = stream.read(65536)
    stream.seek(0)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):  # maybe one JSON array rather than lines
        array = _read_json_array(stream.read(), name, mapping)
        if array is not None:
            return array
        stream.seek(0)
    if head.startswith(b"\xef\xbb\xbf"):
        findings.append(Finding(1, "bom", "the file starts with a UTF-8 byte-order mark (removed; some uploaders reject it)"))
    intern = _Interner()
    parsed: list[tuple[int, Any]] = []
    for n, raw in enumerate(stream, 1):
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            findings.append(Finding(n, "empty_line", "empty line (skipped)"))
            continue
        result.records += 1
        text = _decode_line(raw, n, findings)
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            findings.append(Finding(n, "invalid_json", _json_error(exc, text)))
            continue
        except RecursionError:
            findings.append(Finding(n, "invalid_json", "invalid JSON: nested too deeply"))
            continue
        if not isinstance(obj, dict):
            findings.append(Finding(n, "not_object", f"the line is a JSON {_json_type(obj)}, expected an object"))
            continue
        parsed.append((n, intern.messages(obj)))
    if result.records == 0 and not findings:
        return replace(result, error=f"{name} is empty")
    return _rows_from_objects(result, parsed, mapping)


class _Interner:
    """Shares identical messages between lines: the same system prompt on 100,000 lines is stored once."""

    def __init__(self) -> None:
        self.seen: dict[tuple, dict] = {}

    def messages(self, obj: dict) -> dict:
        messages = obj.get("messages")
        if isinstance(messages, list):
            obj["messages"] = [self._one(m) for m in messages]
        return obj

    def _one(self, msg: Any) -> Any:
        if not isinstance(msg, dict) or msg.get("role") == "user":  # user texts are rarely repeated
            return msg
        try:
            return self.seen.setdefault(tuple(msg.items()), msg)
        except TypeError:  # unhashable content parts
            return msg


def _read_json_array(data: bytes, name: str, mapping: ColumnMapping) -> ImportResult | None:
    """A .json file holding one array of objects (positions stand in for line numbers); None: not one array."""
    result = ImportResult(name=name, format="jsonl")
    try:
        items = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None  # read it line by line instead, where every bad line gets its own finding
    if not isinstance(items, list):
        return None
    parsed = []
    for n, obj in enumerate(items, 1):
        result.records += 1
        if isinstance(obj, dict):
            parsed.append((n, obj))
        else:
            result.findings.append(Finding(n, "not_object", f"item {n} is a JSON {_json_type(obj)}, expected an object"))
    return _rows_from_objects(result, parsed, mapping)


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}.get(type(value), "value")


def _is_preference(obj: dict) -> bool:
    return ("preferred_output" in obj or "non_preferred_output" in obj) or ("chosen" in obj and "rejected" in obj)


def _rows_from_objects(result: ImportResult, parsed: list[tuple[int, dict]], mapping: ColumnMapping) -> ImportResult:
    """Decide the file's kind from its objects, then read each one the same way."""
    sample = [obj for _, obj in parsed[:1000]]
    n_chat = sum("messages" in o for o in sample)
    n_pref = sum(_is_preference(o) for o in sample)
    keys = list(dict.fromkeys(k for o in sample for k in o))
    if n_pref and n_pref >= n_chat:
        result.format = "preference-jsonl"
        read = _preference_row
    elif n_chat and n_chat * 2 >= len(sample):
        result.format = "chat-jsonl"
        read = _chat_row
    else:
        result.format = "jsonl"
        result.columns = keys
        result.mapping = guess_mapping(keys, [{k: o.get(k) for k in keys} for o in sample], mapping)
        if result.mapping.text is None:
            result.error = f"no text field found among the keys {', '.join(keys[:10]) or '(none)'}; map the text column"
            return result
        m = result.mapping

        def read(line: int, obj: dict) -> tuple[Row | None, list[Finding]]:
            return _record_row(line, {k: _scalar(v) for k, v in obj.items()}, m)

    for line, obj in parsed:
        row, found = read(line, obj)
        if row is None:  # the row is left out: its warnings no longer matter
            found = [f for f in found if f.severity == "error"]
        result.findings.extend(found)
        if row is not None:
            result.rows.append(row)
    result.findings.sort(key=lambda f: f.line or 0)
    return result


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _last(messages: list, role: str) -> str | None:
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == role:
            text = content_text(msg.get("content"))
            if text:
                return text
    return None


def _chat_row(line: int, obj: dict) -> tuple[Row | None, list[Finding]]:
    messages = obj.get("messages")
    found = check_messages(messages, line)
    extra = [k for k in obj if k not in ("messages", "tools", "parallel_tool_calls", "functions", "metadata", "id", "split")]
    if extra:
        found.append(Finding(line, "unknown_key", f"the line has unknown key(s) {', '.join(map(repr, extra))}"))
    if any(f.severity == "error" for f in found):
        return None, found
    text = _last(messages, "user")
    if text is None:  # e.g. only system + assistant: learnable, but a classifier needs an input text
        text = _last(messages, "system") or ""
    return Row(line=line, text=text, label=_last(messages, "assistant"), messages=messages,
               split=_split_value(obj.get("split")), id=_scalar(obj.get("id"))), found


def _preference_row(line: int, obj: dict) -> tuple[Row | None, list[Finding]]:
    """OpenAI DPO lines ({input: {messages}, preferred_output, non_preferred_output}) or TRL's {prompt, chosen, rejected}."""
    if "input" in obj or "preferred_output" in obj:
        inp = obj.get("input")
        messages = inp.get("messages") if isinstance(inp, dict) else None
        chosen, rejected = obj.get("preferred_output"), obj.get("non_preferred_output")
    else:
        prompt = obj.get("prompt")
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        chosen, rejected = obj.get("chosen"), obj.get("rejected")
    found = []
    if not isinstance(messages, list) or not messages:
        found.append(Finding(line, "invalid_preference", "the preference pair has no input messages"))
    else:
        found += [f for f in check_messages(messages + [{"role": "assistant", "content": "-"}], line)
                  if f.code not in ("no_assistant",)]
    answers = []
    for what, value in (("preferred", chosen), ("non-preferred", rejected)):
        text = value if isinstance(value, str) else _last(value, "assistant") if isinstance(value, list) else None
        if not text or not text.strip():
            found.append(Finding(line, "invalid_preference", f"the {what} answer is missing or empty"))
        answers.append(text)
    if any(f.severity == "error" for f in found):
        return None, found
    text = _last(messages, "user") or ""
    return Row(line=line, text=text, label=answers[0], rejected=answers[1],
               messages=messages + [{"role": "assistant", "content": answers[0]}]), found


# --- tables: CSV / TSV / pasted / Excel ---------------------------------------------


def _decode_table(data: bytes, name: str, findings: list[Finding]) -> tuple[str, str]:
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace"), enc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    enc = best.encoding if best is not None else "cp1252"
    try:
        text = data.decode(enc)
    except (UnicodeDecodeError, LookupError):
        enc, text = "cp1252", data.decode("cp1252", errors="replace")
    if enc != "cp1252":  # the detector often names a sibling code page that reads the same letters
        try:
            if data.decode("cp1252") == text:
                enc = "cp1252"
        except UnicodeDecodeError:
            pass
    findings.append(Finding(None, "encoding", f"{name} is not UTF-8; read it as {enc} (check accented letters in the preview)"))
    return text, enc


def _sniff_dialect(text: str, suffix: str) -> type[csv.Dialect] | csv.Dialect | None:
    """The delimiter by extension, else csv.Sniffer on a sample; None: one text per line."""
    if suffix == ".tsv" or suffix == ".tab":
        return csv.excel_tab
    if suffix == ".csv":
        try:
            return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
        except csv.Error:
            return csv.excel
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel_tab if "\t" in sample else None


def _read_delimited(data: bytes, name: str, mapping: ColumnMapping, suffix: str) -> ImportResult:
    result = ImportResult(name=name)
    text, result.encoding = _decode_table(data, name, result.findings)
    dialect = _sniff_dialect(text, suffix)
    if dialect is None:
        return _read_lines(result, text)
    result.format = "tsv" if getattr(dialect, "delimiter", ",") == "\t" else "csv"
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # the default 128 KB limit refuses long texts
    records = []
    # strict: a broken quote is an error on its line instead of silently swallowing the rest of the file
    reader = csv.reader(io.StringIO(text, newline=""), dialect, strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end = max(reader.line_num, start)
            why = (f"the quote opened on line {start} is never closed, so lines {start}–{end} cannot be read"
                   if "unexpected end of data" in str(exc) else f"unreadable row: {exc}")
            result.findings.append(Finding(start, "malformed_row", why))
            continue
        end = reader.line_num
        if any(c.strip() for c in cells):
            records.append((start, cells))
    if not records:
        return replace(result, error=f"{name} has no rows")
    header_line, header = records[0]
    if len(header) < 2:
        return _read_lines(result, text)
    if not _looks_like_header(header, records[1:50]):
        header = [f"column {i + 1}" for i in range(len(header))]
    else:
        records = records[1:]
    return _table_rows(result, header, records, mapping)


def _looks_like_header(first: list[str], rest: list[tuple[int, list[str]]]) -> bool:
    names = {c.strip().lower() for c in first}
    if names & set(TEXT_NAMES + LABEL_NAMES + SPLIT_NAMES + ID_NAMES):
        return True
    try:
        return csv.Sniffer().has_header("\n".join(",".join(f'"{c}"' for c in cells) for cells in [first] + [r for _, r in rest]))
    except csv.Error:
        return False


def _read_lines(result: ImportResult, text: str) -> ImportResult:
    """No delimiter: every non-empty line is one unlabelled text (a header named like a text column is skipped)."""
    result.format = "lines"
    result.columns = ["text"]
    result.mapping = ColumnMapping(text="text")
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or (n == 1 and line.lower() in TEXT_NAMES):
            continue
        result.records += 1
        result.rows.append(Row(line=n, text=line, label=None))
    return result


def _read_xlsx(data: bytes, name: str, mapping: ColumnMapping) -> ImportResult:
    result = ImportResult(name=name, format="xlsx", encoding="xlsx")
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or non-Excel ZIP
        return replace(result, error=f"{name} is not a readable Excel workbook ({type(exc).__name__}: {exc})")
    try:
        ws = wb.worksheets[0]
        records = []
        for n, values in enumerate(ws.iter_rows(values_only=True), 1):
            cells = ["" if v is None else _scalar(v) for v in values]
            if any(c.strip() for c in cells):
                records.append((n, cells))
    finally:
        wb.close()
    if not records:
        return replace(result, error=f"the first sheet of {name} is empty")
    header_line, header = records[0]
    if _looks_like_header(header, records[1:50]):
        records = records[1:]
    else:
        header = [f"column {i + 1}" for i in range(len(header))]
    return _table_rows(result, header, records, mapping)


def _table_rows(result: ImportResult, header: list[str], records: list[tuple[int, list[str]]], mapping: ColumnMapping) -> ImportResult:
    header = _unique_names(header)
    result.columns = header
    sample = [dict(zip(header, cells)) for _, cells in records[:1000]]
    result.mapping = m = guess_mapping(header, sample, mapping)
    if m.text is None:
        result.error = f"no text column found among {', '.join(header[:10])}; map the text column"
        return result
    for line, cells in records:
        result.records += 1
        if len(cells) != len(header):
            result.findings.append(Finding(line, "field_count", f"the row has {len(cells)} fields, the header {len(header)}"))
        row, found = _record_row(line, dict(zip(header, cells)), m)
        result.findings.extend(found)
        if row is not None:
            result.rows.append(row)
    return result


def _unique_names(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(header):
        h = (h or "").strip() or f"column {i + 1}"
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    return out


def _record_row(line: int, record: dict[str, Any], m: ColumnMapping) -> tuple[Row | None, list[Finding]]:
    text = record.get(m.text)
    if not isinstance(text, str) or not text.strip():
        return None, [Finding(line, "missing_text", f"the text ({m.text!r}) is missing or empty")]
    label = record.get(m.label) if m.label else None
    label = label if isinstance(label, str) and label.strip() else None
    return Row(line=line, text=text, label=label,
               split=_split_value(record.get(m.split)) if m.split else None,
               id=(record.get(m.id) or None) if m.id else None), []


def _split_value(value: Any) -> str | None:
    return SPLIT_VALUES.get(str(value).strip().lower()) if value not in (None, "") else None


# --- column mapping -----------------------------------------------------------------


def guess_mapping(columns: list[str], sample: list[dict[str, Any]], given: ColumnMapping | None = None) -> ColumnMapping:
    """Fill what the user did not map: by column name first, then by content.

    The text column is the one with the longest values; the label column the one
    with few distinct short values.
    """
    given = given or ColumnMapping()
    lower = {c: c.strip().lower() for c in columns}

    def by_name(names: Iterable[str], exclude: set[str]) -> str | None:
        for name in names:
            for c in columns:
                if lower[c] == name and c not in exclude:
                    return c
        return None

    def values(c: str) -> list[str]:
        return [v for v in (r.get(c) for r in sample) if isinstance(v, str) and v.strip()]

    def mean_len(c: str) -> float:
        vs = values(c)
        return sum(map(len, vs)) / len(vs) if vs else 0.0

    used = {c for c in (given.label, given.split, given.id) if c}
    text = given.text if given.text in columns else by_name(TEXT_NAMES, used)
    if text is None:
        candidates = [c for c in columns if c not in used and values(c)]
        text = max(candidates, key=mean_len, default=None)
    used.add(text)
    split = given.split if given.split in columns else by_name(SPLIT_NAMES, used)
    used.add(split)
    ident = given.id if given.id in columns else by_name(ID_NAMES, used)
    used.add(ident)
    label = given.label if given.label in columns else by_name(LABEL_NAMES, used)
    if label is None:
        def distinctness(c: str) -> float:
            vs = values(c)
            return len(set(vs)) / len(vs) if vs else 1.0

        candidates = [c for c in columns if c not in used and values(c) and mean_len(c) < 40 and distinctness(c) < 0.5]
        label = min(candidates, key=distinctness, default=None)
    return ColumnMapping(text=text, label=label, split=split, id=ident)
