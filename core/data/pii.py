"""PII: personal data in example texts, found and redacted to typed placeholders ([EMAIL], [PHONE], …).

Training data is copied to a provider and memorised by the model, so the lab
looks before anything is exported. Phone numbers use Google's libphonenumber
(the `phonenumbers` package); the checksums (Luhn for cards, ISO 7064 mod-97
for IBANs) are a few lines each and written here rather than adding a library.
Street addresses are matched for common US/UK, German and French forms only.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable

KINDS = ("EMAIL", "IBAN", "CARD", "SSN", "IP", "PHONE", "ADDRESS")  # also the priority when matches overlap
PHONE_REGIONS = ("US", "GB")  # national formats understood without a leading +; international ones always

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_SSN_WORDED = re.compile(r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\W{0,5}(\d{9})\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# Phone-shaped runs: an optional + or 00, then 7–15 digits in groups; validated by libphonenumber.
_PHONE_SHAPE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d{1,5}\)?(?:[ .-]?\(?\d{1,5}\)?){1,5}(?![\w])")
_STREET_TYPES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Square|Sq"
    "|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Close|Crescent|Gardens|Row"
)
# Each address form with the words a text must contain for the pattern to be worth running:
# the gates are plain substring tests, ~10x cheaper than the patterns on texts without addresses.
_ADDRESS = [
    # 221B Baker Street · 1600 Pennsylvania Ave NW · 10 Downing St.
    (None, re.compile(rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){{1,3}}(?:{_STREET_TYPES})\b\.?(?:\s+(?:NE|NW|SE|SW|N|S|E|W)\b)?")),
    # Hauptstraße 5 · Lindenweg 12a · Berliner Str. 7
    (("straße", "strasse", "str.", "Straße", "Str.", "weg", "gasse", "platz", "allee", "ring", "damm"),
     re.compile(r"\b(?:[A-ZÄÖÜ][a-zäöüß-]+\s)?[A-ZÄÖÜ][a-zäöüß-]*(?:straße|strasse|str\.|Straße|Str\.|weg|gasse|platz|allee|ring|damm)\s?\d{1,4}\s?[a-z]?\b")),
    # 12 rue de la Paix · 5, avenue Foch
    (("rue", "avenue", "av.", "boulevard", "bd", "place", "chemin", "allée", "quai", "impasse"),
     re.compile(r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|quai|impasse)\s+(?:(?:de|du|des|la|le|l'|d')\s*)*[A-ZÉ][\w'-]+", re.IGNORECASE)),
]
# Cards, IBANs, SSNs and phones all hold 7+ digits in one cluster: most texts are ruled out by this one search.
_DIGIT_CLUSTER = re.compile(r"\d(?:[ ./()-]{0,2}\d){6}")
# Necessary conditions, each one compiled search (a plain regex scan in C, no Python loop over characters):
# IPv4 holds a digit, a dot and a digit; IPv6 two colons at most four hex digits apart.
_IP_SHAPE = re.compile(r"\d\.\d|:[0-9A-Fa-f]{0,4}:")
# The English and German address forms name their street type (in the case their patterns have it);
# the French form is gated as `_addresses` gates it: one of its words in the lower-cased text.
_ADDRESS_SHAPE = re.compile(
    rf"\s(?:{_STREET_TYPES})\b|(?:straße|strasse|str\.|Straße|Str\.|weg|gasse|platz|allee|ring|damm)\s?\d")
_FRENCH_WORDS = re.compile("|".join(map(re.escape, _ADDRESS[2][0])))
# Any kind but the French address: an @ (email), a digit cluster (IBAN, card, SSN — a worded SSN has 9 digits
# in a row — and phone), an IP shape, an address shape.
_ANY_KIND = re.compile("@|" + "|".join(p.pattern for p in (_DIGIT_CLUSTER, _IP_SHAPE, _ADDRESS_SHAPE)))


def _maybe_address(text: str) -> bool:
    return _ADDRESS_SHAPE.search(text) is not None or _FRENCH_WORDS.search(text.lower()) is not None


@dataclass(frozen=True)
class PiiMatch:
    kind: str       # one of KINDS
    start: int
    end: int
    text: str


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers (A=10), mod 97 must be 1."""
    s = iban[4:] + iban[:4]
    if not s.isalnum():
        return False
    return int("".join(str(int(ch, 36)) for ch in s)) % 97 == 1


def _cards(text: str) -> Iterable[PiiMatch]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        # Issuer prefixes 2–6 (Mastercard, Amex, Visa, Discover…) plus Luhn: an order number rarely passes both.
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
            yield PiiMatch("CARD", m.start(), m.end(), m.group())


def _ibans(text: str) -> Iterable[PiiMatch]:
    for m in _IBAN.finditer(text):
        # The pattern may run into a following upper-case word: try the longest prefix that checks out.
        chars = [(i, ch) for i, ch in enumerate(m.group()) if ch != " "]
        for n in range(min(len(chars), 34), 14, -1):
            if iban_ok("".join(ch for _, ch in chars[:n])):
                end = m.start() + chars[n - 1][0] + 1
                yield PiiMatch("IBAN", m.start(), end, text[m.start():end])
                break


def _ssns(text: str) -> Iterable[PiiMatch]:
    for m in _SSN.finditer(text):
        yield PiiMatch("SSN", m.start(), m.end(), m.group())
    for m in _SSN_WORDED.finditer(text):
        yield PiiMatch("SSN", m.start(1), m.end(1), m.group(1))


def _ips(text: str) -> Iterable[PiiMatch]:
    for pattern in (_IPV4, _IPV6):
        for m in pattern.finditer(text):
            if pattern is _IPV6 and m.group().count(":") < 2:
                continue
            try:
                ipaddress.ip_address(m.group())
            except ValueError:
                continue
            yield PiiMatch("IP", m.start(), m.end(), m.group())


def _phones(text: str, regions: tuple[str, ...]) -> Iterable[PiiMatch]:
    """Phone-shaped runs that libphonenumber accepts as a valid number of some region.

    parse + is_valid_number on candidates is ~10x faster than its PhoneNumberMatcher
    scanning every text, which matters at 100,000 rows.
    """
    for m in _PHONE_SHAPE.finditer(text):
        candidate = m.group().strip(" .-")
        digits = sum(ch.isdigit() for ch in candidate)
        if not 7 <= digits <= 15 or (digits < 10 and not any(sep in candidate for sep in " .-()+")):
            continue  # a bare short number is an order or ticket id far more often than a phone
        if _valid_phone(candidate, regions):
            start = m.start() + m.group().index(candidate)
            yield PiiMatch("PHONE", start, start + len(candidate), candidate)


@functools.lru_cache(maxsize=65536)  # support data repeats the same numbers (hotlines, signatures)
def _valid_phone(candidate: str, regions: tuple[str, ...]) -> bool:
    import phonenumbers

    for region in regions:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(candidate, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def _addresses(text: str) -> Iterable[PiiMatch]:
    lower = None
    for gate, pattern in _ADDRESS:
        if gate is not None:
            lower = lower or text.lower()
            if not any(word in lower for word in gate):
                continue
        for m in pattern.finditer(text):
            yield PiiMatch("ADDRESS", m.start(), m.end(), m.group().rstrip())


def scan(text: str, regions: tuple[str, ...] = PHONE_REGIONS) -> list[PiiMatch]:
    """Non-overlapping matches in text order; on overlap the kind earlier in KINDS wins."""
    if not text or (_ANY_KIND.search(text) is None and _FRENCH_WORDS.search(text.lower()) is None):
        return []  # two compiled searches rule out most texts: every kind's pattern needs one of these shapes
    candidates: list[PiiMatch] = []
    if "@" in text:
        candidates += [PiiMatch("EMAIL", m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text)]
    if _DIGIT_CLUSTER.search(text):
        candidates += [*_ibans(text), *_cards(text), *_ssns(text), *_phones(text, regions)]
    if _IP_SHAPE.search(text):
        candidates += _ips(text)
    if _maybe_address(text):
        candidates += _addresses(text)
    if not candidates:
        return []
    rank = {k: i for i, k in enumerate(KINDS)}
    chosen: list[PiiMatch] = []
    for m in sorted(candidates, key=lambda m: (rank[m.kind], m.start, -(m.end - m.start))):
        if all(m.end <= c.start or m.start >= c.end for c in chosen):
            chosen.append(m)
    return sorted(chosen, key=lambda m: m.start)


def redact(text: str, matches: list[PiiMatch] | None = None) -> str:
    """Each match replaced by its kind in brackets: 'mail me at [EMAIL]'."""
    matches = scan(text) if matches is None else matches
    for m in sorted(matches, key=lambda m: m.start, reverse=True):
        text = text[: m.start] + f"[{m.kind}]" + text[m.end :]
    return text
