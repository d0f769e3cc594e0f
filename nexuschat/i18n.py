"""Every visible string: t("key", **params) in the user's language, from one file per language.

The texts are `nexuschat/locales/<language>.toml`, read once per process: `"key" = "text"`
with `{placeholders}` filled by `str.format`, and a text chosen by a number as one line per
CLDR plural category (`"key".one`, `"key".other`; Chinese has `other` only), picked by the
`count` parameter with Babel's plural rules for the language. Numbers, money, byte sizes and
times are written the language's way through Babel (`format_number`, `format_money`,
`format_bytes`, `format_datetime`). A key or placeholder that does not fit raises `TextError` when
NEXUSCHAT_STRICT_I18N is set (the tests set it); otherwise it is logged and the text shown
as well as it can be.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import math
import os
import string
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from importlib.resources import files
from types import MappingProxyType

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import NumberPattern, get_group_symbol, get_minus_sign_symbol, parse_pattern
from babel.plural import PluralRule

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "zh")  # the files in nexuschat/locales; Settings offers them in this order
AUTO = "auto"  # follow the browser's language
LANGUAGE_CHOICES = (AUTO, *LANGUAGES)  # what the Settings page offers
BABEL_LOCALES = {"en": "en", "zh": "zh_Hans_CN"}  # whose number, date and plural rules apply
PLURAL_PARAM = "count"  # the parameter that picks a plural form
STRICT_ENV = "NEXUSCHAT_STRICT_I18N"  # set (not "" or "0"): a text that does not fit raises

_log = logging.getLogger(__name__)
# Per script run (Streamlit runs each session in its own thread), never shared between users.
_language: ContextVar[str] = ContextVar("nexuschat_language", default=DEFAULT_LANGUAGE)


class TextError(LookupError):
    """A key that is in no catalogue, or parameters that do not fit its text."""


class CatalogueError(ValueError):
    """A catalogue file that breaks the rules its header states."""


# Babel's data for each language, read once: its plural rule and its decimal pattern.
_LOCALES = {language: Locale.parse(BABEL_LOCALES[language]) for language in LANGUAGES}
_DECIMALS = {language: parse_pattern(locale.decimal_formats[None])
             for language, locale in _LOCALES.items()}


def _fixed(pattern: NumberPattern, places: int) -> NumberPattern:
    fixed = copy.copy(pattern)
    fixed.frac_prec = (places, places)
    return fixed


_FIXED = {language: tuple(_fixed(pattern, places) for places in range(4))
          for language, pattern in _DECIMALS.items()}
# Money: the language's currency pattern ("$1.23", "US$1.23", "¥1.23") with 2, 4 or 6 decimals.
_MONEY_PLACES = (2, 4, 6)
_MONEY = {language: {places: _fixed(parse_pattern(locale.currency_formats["standard"]), places)
                     for places in _MONEY_PLACES}
          for language, locale in _LOCALES.items()}


def _whole_numbers(language: str) -> Callable[[int], str] | None:
    """Whole numbers as Babel writes them for `language`, without running its pattern (a few
    microseconds a call): Python's grouping with the language's symbols, used only where it
    gives Babel's text (checked here on samples, and by the tests)."""
    locale, pattern = _LOCALES[language], _DECIMALS[language]
    group, minus = get_group_symbol(locale), get_minus_sign_symbol(locale)

    def write(number: int) -> str:
        text = f"{number:,}"
        if group != ",":
            text = text.replace(",", group)
        return text.replace("-", minus, 1) if number < 0 and minus != "-" else text

    samples = (-1_234_567, -1, 0, 7, 999, 1000, 12_345, 10**12)
    return write if all(write(n) == pattern.apply(n, locale) for n in samples) else None


_WHOLE = {language: _whole_numbers(language) for language in LANGUAGES}


def _write_number(language: str, value: float, places: int | None) -> str:
    whole = _WHOLE[language]
    if whole is not None and places in (None, 0) and value.__class__ is int:
        return whole(value)
    pattern = _DECIMALS[language] if places is None else _FIXED[language][places]
    return pattern.apply(value, _LOCALES[language])


class _Template(str):
    """A text with placeholders; `size` is how many different ones."""

    size: int


class _Plural:
    """A text per plural category, picked by the count with the language's rule."""

    __slots__ = ("forms", "size", "rule", "language")

    def __init__(self, forms: Mapping[str, str], size: int, language: str) -> None:
        self.forms, self.size, self.language = forms, size, language
        self.rule: PluralRule = _LOCALES[language].plural_form  # compiled on its first call


def placeholders(text: str) -> frozenset[str]:
    """The `{names}` a text fills in (a literal brace is written twice)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def _compile(language: str, key: str, value: object) -> str | _Template | _Plural:
    if isinstance(value, str):
        names = placeholders(value)
        bad = [n for n in names if not n.isidentifier()]
        if bad:
            raise CatalogueError(f"{language}.toml: {key}: placeholders must be names: {bad}")
        if not names:
            return value.format()  # "{{" in the file is one brace on screen
        template = _Template(value)
        template.size = len(names)
        return template
    if not isinstance(value, dict) or not value:
        raise CatalogueError(f"{language}.toml: {key} must be text or a table of plural forms")
    locale = _LOCALES[language]
    wanted = locale.plural_form.tags | {"other"}
    if set(value) != wanted or not all(isinstance(v, str) for v in value.values()):
        raise CatalogueError(f"{language}.toml: {key} must have the forms {sorted(wanted)} "
                             f"(CLDR, {locale}), as text; it has {sorted(value)}")
    names = {frozenset(placeholders(v)) for v in value.values()}
    if len(names) != 1 or PLURAL_PARAM not in next(iter(names)):
        raise CatalogueError(f"{language}.toml: {key}: every form fills the same placeholders, "
                             f"{{{PLURAL_PARAM}}} among them")
    return _Plural(MappingProxyType(dict(value)), len(next(iter(names))), language)


def read_catalogue(language: str, text: str | None = None) -> dict[str, str | dict[str, str]]:
    """One language's texts as in its file (`text` instead of the file, for tests)."""
    if text is None:
        text = files("nexuschat").joinpath("locales", f"{language}.toml").read_text("utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{language}.toml: {exc}") from None


def compile_catalogues(
    raw: Mapping[str, Mapping[str, object]],
) -> dict[str, dict[str, str | _Template | _Plural]]:
    """Texts ready for t(): each language's own, English where it has none (key by key)."""
    compiled: dict[str, dict[str, str | _Template | _Plural]] = {}
    for language, texts in raw.items():
        compiled[language] = {key: _compile(language, key, value) for key, value in texts.items()}
    default = compiled[DEFAULT_LANGUAGE]
    # Plain dicts (a proxy's lookup costs a third more); private, and never changed.
    return {language: {**default, **texts} for language, texts in compiled.items()}


# Read once per process, never changed (a hosted deploy shares them between its users).
CATALOGUE: Mapping[str, Mapping[str, str | dict[str, str]]] = MappingProxyType(
    {language: MappingProxyType(read_catalogue(language)) for language in LANGUAGES})
_TEXTS = compile_catalogues(CATALOGUE)


def resolve_language(choice: str | None, browser_locale: str | None) -> str:
    """The language to show: the user's explicit choice, else the browser's, else English.

    `choice` is "en", "zh", "auto" or None; `browser_locale` is a BCP 47 tag such as
    "zh-CN" or "en-US" (navigator.language), or None when the browser did not say.
    Any Chinese locale (zh, zh-CN, zh-TW, zh-Hant-HK, ...) gets the Simplified Chinese catalogue.
    """
    if isinstance(choice, str) and choice in CATALOGUE:
        return choice
    if isinstance(browser_locale, str):
        primary = browser_locale.strip().replace("_", "-").split("-")[0].lower()
        if primary == "zh":
            return "zh"
    return DEFAULT_LANGUAGE


def use_language(language: str) -> None:
    """Set the language for the rest of this script run (falls back to English)."""
    _language.set(language if language in CATALOGUE else DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language of this script run."""
    return _language.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """The texts in `language` inside the block, as before after it: for work that runs
    outside the session's script run (a download's data callable runs on a server thread)."""
    token = _language.set(language if language in CATALOGUE else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _language.reset(token)


def has_text(key: str) -> bool:
    """Whether `key` is in the catalogue."""
    return key in _TEXTS[DEFAULT_LANGUAGE]


def text_placeholders(key: str) -> frozenset[str]:
    """The parameters t(key) takes (`count` too for a plural); empty for an unknown key."""
    entry = CATALOGUE[DEFAULT_LANGUAGE].get(key)
    if isinstance(entry, dict):
        return placeholders(entry["other"])
    return placeholders(entry) if isinstance(entry, str) else frozenset()


def t(key: str, /, **params: object) -> str:
    """The text for `key` in the current language, with `{placeholders}` filled.

    A plural text is picked by `count` (a number, shown the language's way; None: not known,
    the general form with "?"); every other parameter is shown as str() shows it (numbers for
    people go through `format_number` first).
    """
    entry = _TEXTS[_language.get()].get(key)
    if entry.__class__ is str:  # no placeholders: the common case, a lookup
        return entry if not params else _misfit(key, entry, params, "takes no parameters")
    if entry.__class__ is _Template:
        return _fill(key, entry, params, params, entry.size)
    if entry is None:
        return _misfit(key, None, params, "is not in the catalogue")
    return _plural(key, entry, params)


def _plural(key: str, entry: _Plural, params: dict[str, object]) -> str:
    count = params.get(PLURAL_PARAM, _MISSING)
    if count is None:  # not known: the general form
        form, shown = entry.forms["other"], {**params, PLURAL_PARAM: "?"}
    elif isinstance(count, int | float) and not isinstance(count, bool):
        form = entry.forms[entry.rule(abs(count))]
        shown = {**params, PLURAL_PARAM: _write_number(entry.language, count, None)}
    else:
        return _misfit(key, entry.forms["other"], params, f"needs a number `{PLURAL_PARAM}`")
    return _fill(key, form, shown, params, entry.size)


def _fill(key: str, text: str, values: dict[str, object], params: dict[str, object],
          size: int) -> str:
    """`text` with `values` in it, if `params` are exactly its `size` placeholders."""
    try:
        filled = text.format_map(values)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        return _misfit(key, text, params, f"needs {exc}")
    if len(params) != size:
        return _misfit(key, text, params, "was given parameters it does not take")
    return filled


_MISSING = object()


class _Blank(dict):
    def __missing__(self, name: str) -> str:
        return ""


def _misfit(key: str, text: str | None, params: Mapping[str, object], problem: str) -> str:
    """Raise under tests; in production log it and show what can be shown."""
    message = f"t({key!r}, {', '.join(sorted(params))}): the text {problem}"
    if os.environ.get(STRICT_ENV, "") not in ("", "0"):
        raise TextError(message)
    _log.warning(message)
    if text is None:
        return key
    try:
        return text.format_map(_Blank(params))  # a missing placeholder shows as nothing
    except (IndexError, ValueError, AttributeError, TypeError):
        return text


def format_number(value: float, places: int | None = None) -> str:
    """A number the way this language writes it: 12,345 · 4.8; `places` fixes the decimals
    (0 to 3), None shows up to three."""
    return _write_number(_language.get(), value, places)


def format_money(amount: float, currency: str) -> str:
    """An amount of money the language's way, with its currency's symbol: "$0.0123", "¥1.50",
    "US$0.000420". Cents for a unit or more; smaller amounts keep 4 decimals (6 below a
    tenth of a cent), so a request's fraction of a cent still shows."""
    size = abs(amount)
    places = 2 if size >= 1 or size == 0 else 4 if size >= 0.001 else 6
    language = _language.get()
    return _MONEY[language][places].apply(amount, _LOCALES[language], currency=currency,
                                          currency_digits=False)


def format_bytes(size: int) -> str:
    """A byte count for people: 812 B, 212 KB, 4.8 MB (the units are the same in every
    language; the number is written the language's way)."""
    if size < 1024:
        return f"{format_number(size, 0)} B"
    if size < 1024 * 1024:
        return f"{format_number(size / 1024, 0)} KB"
    return f"{format_number(size / (1024 * 1024), 1)} MB"


def format_wait(seconds: float) -> str:
    """A wait for people, rounded up: 42 s, 3 min, 5 h 12 min (in the current language)."""
    whole = max(1, math.ceil(seconds))
    if whole < 60:
        return t("time.seconds", seconds=whole)
    minutes = math.ceil(whole / 60)
    if minutes < 60:
        return t("time.minutes", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    return t("time.hours_minutes", hours=hours, minutes=minutes)


def format_day(day: dt.date) -> str:
    """A date the language's way: "Dec 2, 2026", "2026年12月2日"."""
    return format_date(day, "medium", locale=_LOCALES[_language.get()])


def format_datetime(timestamp: float) -> str:
    """A moment in the server's time zone, the language's way: "Jan 2, 2024, 3:04 PM",
    "2024年1月2日 15:04" (the date in full, the time to the minute)."""
    moment = dt.datetime.fromtimestamp(timestamp)
    locale = _LOCALES[_language.get()]
    return (locale.datetime_formats["medium"].replace("'", "")
            .replace("{1}", format_date(moment, "medium", locale=locale))
            .replace("{0}", format_time(moment, "short", locale=locale)))
