"""Text read in a photo, rewritten so that a speech engine says dates, times and phone numbers as such.

espeak-ng reads "0161 496 0123" as "one hundred and sixty-one, four hundred and ninety-six, one hundred
and twenty-three", "14/03/2027" as "fourteen slash three slash ...", and "1,250" as "one, two hundred
and fifty" (issue 28: a letter's date, time and phone number were never heard as such). Here:

- dates become "14 March 2027" (d/m/y, the day first, unless the second number cannot be a month; ISO
  y-m-d as written),
- times become "10 30", "10 o'clock", "9 oh 5", with "a m" / "p m",
- phone numbers (seven digits or more, written with a leading 0 or +, or in groups) are said digit by
  digit, a pause between groups: "0 1 6 1, 4 9 6, 0 1 2 3",
- numbers with thousands separators lose them: "1,250" -> "1250".
"""

from __future__ import annotations

import re

__all__ = ["speakable"]

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DMY = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b")
_TIME = re.compile(r"\b([01]?\d|2[0-3])[:.]([0-5]\d)(?:\s?([ap])\.?m\.?)?(?![\d/.-]*\d)", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w/.,:])(\+?\(?\d[\d ()-]{5,}\d)(?![\w/.,:]*\d)")
_THOUSANDS = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")


def _date(day: int, month: int, year: str) -> str | None:
    if not 1 <= month <= 12 and 1 <= day <= 12 and month <= 31:
        day, month = month, day  # 03/14/2027: the month came first
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{day} {MONTHS[month - 1]} {year}"


def _dmy(m: re.Match) -> str:
    return _date(int(m[1]), int(m[2]), m[3]) or m[0]


def _iso(m: re.Match) -> str:
    return _date(int(m[3]), int(m[2]), m[1]) or m[0]


def _time(m: re.Match) -> str:
    hour, minute = int(m[1]), int(m[2])
    said = f"{hour} o'clock" if minute == 0 and not m[3] else f"{hour}" if minute == 0 else \
        f"{hour} oh {minute}" if minute < 10 else f"{hour} {minute}"
    return f"{said} {m[3].lower()} m" if m[3] else said


def _phone(m: re.Match) -> str:
    number = m[1]
    groups = [g for g in re.split(r"[ ()-]+", number) if g]
    digits = sum(len(g.lstrip("+")) for g in groups)
    if digits < 7 or not (number.startswith(("0", "+", "(")) or len(groups) > 1):
        return number  # a plain number: the engine says it as one
    said = ", ".join(" ".join(g.lstrip("+")) for g in groups)
    return f"plus {said}" if number.startswith("+") else said


def speakable(text: str) -> str:
    """text with its dates, times, phone numbers and grouped numbers written as they should be said."""
    text = _ISO.sub(_iso, text)
    text = _DMY.sub(_dmy, text)
    text = _TIME.sub(_time, text)
    text = _PHONE.sub(_phone, text)
    return _THOUSANDS.sub(lambda m: m[0].replace(",", ""), text)
