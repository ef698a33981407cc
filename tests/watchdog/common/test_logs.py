"""logfmt lines: values quoted and escaped so that no value can end a line or start one."""

from __future__ import annotations

import pytest

from watchdog.common.logs import MAX_VALUE, SCRUBBER, escape, exception_lines, format_event, format_value, is_one_line

FORGED = "event=restart_failed check=web incident=inc-forged"

LINE_BREAKERS = {
    "LF": ("\n", "\\n"),
    "CR": ("\r", "\\r"),
    "CRLF": ("\r\n", "\\r\\n"),
    "NEL": ("\x85", "\\x85"),
    "LINE SEPARATOR": ("\u2028", "\\u2028"),
    "PARAGRAPH SEPARATOR": ("\u2029", "\\u2029"),
    "NUL": ("\x00", "\\x00"),
    "VT": ("\x0b", "\\x0b"),
    "FF": ("\x0c", "\\x0c"),
    "FS": ("\x1c", "\\x1c"),
    "TAB": ("\t", "\\t"),
    "DEL": ("\x7f", "\\x7f"),
    "ANSI clear screen": ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
    "C1 CSI": ("\x9b31m", "\\x9b31m"),
    "RIGHT-TO-LEFT OVERRIDE": ("\u202e", "\\u202e"),
    "ZERO WIDTH SPACE": ("\u200b", "\\u200b"),
    "lone surrogate": ("\udcff", "\\udcff"),
}


@pytest.mark.parametrize(("raw", "shown"), LINE_BREAKERS.values(), ids=LINE_BREAKERS.keys())
def test_no_value_can_break_or_rewrite_the_line(raw: str, shown: str) -> None:
    line = format_event("silence_set", {"check": "web", "reason": f"upgrade{raw}{FORGED}"})

    assert line == f'event=silence_set check=web reason="upgrade{shown}{FORGED}"'
    assert line.isprintable()
    assert len(line.splitlines()) == 1


def test_quotes_and_backslashes_cannot_close_the_value() -> None:
    assert format_value('a" check=forged x="\\') == '"a\\" check=forged x=\\"\\\\"'
    assert format_value("\\n") == '"\\\\n"', "a literal backslash-n stays distinguishable from a newline"


def test_plain_values_stay_bare_and_empty_ones_quoted() -> None:
    assert format_event("x", {"unit": "nginx.service", "rc": 1, "gone": None, "empty": ""}) == (
        'event=x unit=nginx.service rc=1 empty=""'
    )


def test_keys_and_event_names_cannot_carry_a_line_either() -> None:
    assert format_event("a\nb", {"c d\n": 1}) == "event=a_b c_d_=1"


def test_a_secret_is_scrubbed_even_where_escaping_would_hide_it() -> None:
    SCRUBBER.add('pa"ss\nword')
    assert format_value('login pa"ss\nword failed') == '"login *** failed"'


def test_an_overlong_value_is_cut_with_a_count() -> None:
    value = format_value("a" * (MAX_VALUE + 10) + "\nforged")
    assert value.endswith('…[17 more characters]"')
    assert "forged" not in value


def test_escape_leaves_printable_text_alone() -> None:
    text = "zażółć gęślą jaźń — 50% ✓ \\n"
    assert escape(text) == text


def test_a_traceback_breaks_lines_only_where_python_does() -> None:
    def fail() -> None:
        try:
            raise KeyError(f"key\n{FORGED}")
        except KeyError as exc:
            raise ValueError(f"remote said:\r\n{FORGED}\u2028{FORGED}") from exc

    try:
        fail()
    except ValueError as exc:
        exc.add_note(f"note\n{FORGED}")
        lines = exception_lines(exc)

    assert not any(line.startswith("event=") for line in lines)
    assert "KeyError: 'key\\nevent=restart_failed check=web incident=inc-forged'" in lines
    assert "The above exception was the direct cause of the following exception:" in lines
    assert lines[-2] == f"ValueError: remote said:\\r\\n{FORGED}\\u2028{FORGED}"
    assert lines[-1] == f"note\\n{FORGED}"
    assert lines[0] == "Traceback (most recent call last):"
    assert all(line.isprintable() for line in lines)


@pytest.mark.parametrize(
    "text", ["a\nb", "a\rb", "tab\there", "\x1b[31mred", "bidi\u202eflip", "zero\u200bwidth", "\u2028"]
)
def test_text_escape_would_change_is_not_one_line(text: str) -> None:
    assert not is_one_line(text)
    assert is_one_line("release 4711 by Zoë: fix for ünïcode, €5 [hotfix]")
