"""Poland's public holidays 2026-2028, written out from the statutory list (not from the library).

Easter: 2026-04-05, 2027-03-28, 2028-04-16; Pentecost +49 days, Corpus Christi +60 days.
Christmas Eve (24 December) is a public holiday from 2025 on.
"""

from datetime import date

_BY_YEAR = {
    2026: [
        "01-01",
        "01-06",
        "04-05",
        "04-06",
        "05-01",
        "05-03",
        "05-24",
        "06-04",
        "08-15",
        "11-01",
        "11-11",
        "12-24",
        "12-25",
        "12-26",
    ],
    2027: [
        "01-01",
        "01-06",
        "03-28",
        "03-29",
        "05-01",
        "05-03",
        "05-16",
        "05-27",
        "08-15",
        "11-01",
        "11-11",
        "12-24",
        "12-25",
        "12-26",
    ],
    2028: [
        "01-01",
        "01-06",
        "04-16",
        "04-17",
        "05-01",
        "05-03",
        "06-04",
        "06-15",
        "08-15",
        "11-01",
        "11-11",
        "12-24",
        "12-25",
        "12-26",
    ],
}

POLISH_HOLIDAYS: frozenset[date] = frozenset(
    date.fromisoformat(f"{year}-{md}") for year, days in _BY_YEAR.items() for md in days
)
MON_TO_THU_HOLIDAYS: list[date] = sorted(d for d in POLISH_HOLIDAYS if d.weekday() <= 3)
