"""The catalogues cover every key the code asks for, with the placeholders it passes; plurals
and locale formats follow Babel; a text that does not fit fails loudly under tests."""

from __future__ import annotations

import ast
import fnmatch
import importlib
import logging
import os
import re
import time
import tomllib
from pathlib import Path

import pytest

from nexuschat import i18n
from nexuschat.i18n import (
    CATALOGUE,
    LANGUAGE_CHOICES,
    LANGUAGES,
    CatalogueError,
    TextError,
    compile_catalogues,
    current_language,
    format_bytes,
    format_datetime,
    format_number,
    format_wait,
    placeholders,
    read_catalogue,
    resolve_language,
    speaking,
    t,
    use_language,
)
from nexuschat.images import PRESETS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("nexuschat/*.py"), *ROOT.glob("components/*.py"),
                  *ROOT.glob("app_pages/*.py"), ROOT / "router.py", ROOT / "streamlit_app.py"])
NAMESPACES = {key.split(".")[0] for key in CATALOGUE["en"]}
KEY_SHAPE = re.compile(r"[a-z_]+(?:\.[a-z0-9_]+)+")
EN, ZH = CATALOGUE["en"], CATALOGUE["zh"]


@pytest.fixture
def language():
    """Set a language for one test; English again afterwards (the setting is per thread)."""
    yield use_language
    use_language("en")


def forms(entry: str | dict) -> list[str]:
    return list(entry.values()) if isinstance(entry, dict) else [entry]


def entry_placeholders(entry: str | dict) -> frozenset[str]:
    return frozenset().union(*(placeholders(text) for text in forms(entry)))


# ---------------------------------------------------------------- keys the code uses


class Use:
    """One t() call, or one key-shaped string, found in the sources."""

    def __init__(self, path: Path, node: ast.AST, key: str | re.Pattern,
                 keywords: set[str] | None = None, values: list[str] | None = None):
        self.where = f"{path.relative_to(ROOT)}:{node.lineno}"
        self.key, self.keywords, self.values = key, keywords, values

    def reached(self) -> list[str]:
        """The catalogue keys this use can reach: its key, the keys its variable's values make,
        else every key its pattern matches."""
        if isinstance(self.key, str):
            return [self.key]
        if self.values is not None:
            return self.values
        return [k for k in EN if self.key.fullmatch(k)]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _resolve(path: Path, expr: ast.expr) -> list[str] | None:
    """The values `expr` (a loop's or a test's collection) holds, evaluated in its module."""
    if not isinstance(expr, ast.Name | ast.Attribute | ast.Tuple | ast.List | ast.Set):
        return None
    if path.parent.name == "app_pages" or path.name in ("router.py", "streamlit_app.py"):
        return None  # scripts run on import
    module = importlib.import_module(_module_name(path))
    return [str(v) for v in eval(compile(ast.Expression(expr), str(path), "eval"), vars(module))]


def _values_of(path: Path, parents: dict, node: ast.AST, name: str) -> list[str] | None:
    """What a built key's variable can be: the loop over it, or the `in` test that guards it."""
    at = node
    while at in parents:
        at = parents[at]
        comprehension = isinstance(at, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp)
        for gen in at.generators if comprehension else ():
            if isinstance(gen.target, ast.Name) and gen.target.id == name:
                return _resolve(path, gen.iter)
        if isinstance(at, ast.For) and isinstance(at.target, ast.Name) and at.target.id == name:
            return _resolve(path, at.iter)
        if (isinstance(at, ast.If) and isinstance(at.test, ast.Compare)
                and isinstance(at.test.left, ast.Name) and at.test.left.id == name
                and isinstance(at.test.ops[0], ast.In)):
            return _resolve(path, at.test.comparators[0])
    return None


def _built_key(path: Path, parents: dict, node: ast.JoinedStr) -> tuple[re.Pattern, list | None]:
    pattern, names = "", []
    for part in node.values:
        if isinstance(part, ast.Constant):
            pattern += re.escape(part.value)
        else:
            pattern += "[a-z0-9_]+"
            value = part.value
            names.append(value.id if isinstance(value, ast.Name) else None)
    values = None
    if len(names) == 1 and names[0] is not None:
        found = _values_of(path, parents, node, names[0])
        if found is not None:
            values = [re.sub(r"\[a-z0-9_\]\+", v, pattern).replace("\\", "") for v in found]
    return re.compile(pattern), values


def uses() -> list[Use]:
    """Every t() call with a literal or built key, and every key-shaped string constant."""
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        in_calls = set()
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args and (
                    getattr(node.func, "id", None) == "t"
                    or getattr(node.func, "attr", None) == "t")):
                continue
            first = node.args[0]
            keywords = None if any(k.arg is None for k in node.keywords) else {
                k.arg for k in node.keywords}
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(Use(path, node, first.value, keywords))
                in_calls.add(first)
            elif isinstance(first, ast.JoinedStr):
                pattern, values = _built_key(path, parents, first)
                found.append(Use(path, node, pattern, keywords, values))
                in_calls.update(ast.walk(first))
        for node in ast.walk(tree):  # "conversations.id" there is a column, not a text
            if isinstance(node, ast.Call) and "ForeignKey" in (
                    getattr(node.func, "id", None), getattr(node.func, "attr", None)):
                in_calls.update(node.args)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and node not in in_calls and KEY_SHAPE.fullmatch(node.value)
                    and node.value.split(".")[0] in NAMESPACES):
                found.append(Use(path, node, node.value))
    return found


USES = uses()


def test_every_key_the_code_names_is_in_the_catalogue():
    missing = {u.where: u.key for u in USES if isinstance(u.key, str) and u.key not in EN}
    assert missing == {}


def test_every_built_key_reaches_keys_and_all_its_values_exist():
    built = [u for u in USES if not isinstance(u.key, str)]
    assert len(built) >= 8  # meta.finish.{reason}, settings.preset.{name}, ...
    assert {u.where: u.key.pattern for u in built
            if not any(u.key.fullmatch(k) for k in EN)} == {}
    # Where the variable comes from a loop or an `in` test, every value it takes has a text.
    resolved = [u for u in built if u.values is not None]
    assert len(resolved) >= 6
    assert {u.where: v for u in resolved for v in u.values if v not in EN} == {}


def test_calls_pass_exactly_the_placeholders_of_their_texts():
    wrong = {}
    for use in USES:
        if use.keywords is None:
            continue  # a string constant, or **params
        for key in use.reached():
            if key in EN and use.keywords != entry_placeholders(EN[key]):
                wrong[f"{use.where} {key}"] = (sorted(use.keywords),
                                               sorted(entry_placeholders(EN[key])))
    assert wrong == {}


def test_every_key_in_the_catalogue_is_used():
    reached = {key for use in USES for key in use.reached()}
    assert set(EN) - reached == set()


def test_the_key_scan_finds_what_it_should():
    literal = {u.key for u in USES if isinstance(u.key, str)}
    # a call, an error code given to ChatError, a limit's code, a code in a mapping
    assert {"nav.chat", "error.stream_cut", "limit.tokens_per_day", "error.auth"} <= literal
    built = {u.key.pattern for u in USES if not isinstance(u.key, str)}
    assert any(p.startswith("meta\\.finish\\.") for p in built)


# ---------------------------------------------------------------- the catalogue files


def test_both_languages_have_the_same_keys():
    assert set(EN) - set(ZH) == set()
    assert set(ZH) - set(EN) == set()  # no stale keys left behind
    assert all(text.strip() for entry in ZH.values() for text in forms(entry))


def test_chinese_texts_keep_the_english_placeholders():
    different = {k: (entry_placeholders(EN[k]), entry_placeholders(ZH[k])) for k in EN
                 if entry_placeholders(EN[k]) != entry_placeholders(ZH[k])}
    assert different == {}


@pytest.mark.parametrize("language_code", LANGUAGES)
def test_every_text_formats_with_its_placeholders(language_code):
    for key, entry in CATALOGUE[language_code].items():
        for text in forms(entry):
            params = {name: f"<{name}>" for name in placeholders(text)}
            out = text.format(**params)  # raises on a stray brace or a positional field
            assert "{" not in out and "}" not in out, key
            assert all(f"<{name}>" in out for name in params), key


def test_plural_tables_have_the_languages_cldr_forms():
    assert {k for k, v in EN.items() if isinstance(v, dict)} == {
        k for k, v in ZH.items() if isinstance(v, dict)}
    for key, entry in EN.items():
        if isinstance(entry, dict):
            assert set(entry) == {"one", "other"}, key
            assert set(ZH[key]) == {"other"}, key  # Chinese has one form


def test_count_is_only_in_plural_texts_and_no_english_text_says_s_in_brackets():
    counted_plain = [k for k, v in EN.items() if isinstance(v, str) and "count" in placeholders(v)]
    assert counted_plain == []
    workaround = re.compile(r"(?<!http)\(s\)")  # "file(s)"; an http(s) address is a word
    assert [k for k, v in EN.items() for text in forms(v) if workaround.search(text)] == []


def test_chinese_keeps_code_and_markdown():
    for key, entry in EN.items():
        zh = ZH[key]["other"] if isinstance(ZH[key], dict) else ZH[key]
        for text in forms(entry):
            # the same code spans (word order may differ), bold marks and newlines
            assert sorted(re.findall(r"`[^`]+`", text)) == sorted(re.findall(r"`[^`]+`", zh)), key
            assert text.count("**") == zh.count("**"), key
            assert text.count("\n") == zh.count("\n"), key
            assert text.count("\\n") == zh.count("\\n"), key  # "write \n for a newline"


def test_the_catalogue_files_ship_in_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["nexuschat"]
    files = [p.relative_to(ROOT / "nexuschat").as_posix()
             for p in (ROOT / "nexuschat" / "locales").glob("*")]
    assert sorted(files) == [f"locales/{language}.toml" for language in sorted(LANGUAGES)]
    assert all(any(fnmatch.fnmatch(f, p) for p in patterns) for f in files)
    assert "babel" in " ".join(project["project"]["dependencies"])


def test_the_loaded_catalogue_is_read_only():
    with pytest.raises(TypeError):
        EN["nav.chat"] = "changed"  # type: ignore[index]


@pytest.mark.parametrize(("language_code", "text", "complaint"), [
    ("en", '"a.b".other = "{count} things"', "forms"),  # English needs `one` too
    ("zh", '"a.b".one = "{count}"\n"a.b".other = "{count}"', "forms"),  # Chinese has none
    ("en", '"a.b".one = "one"\n"a.b".other = "{count} things"', "same placeholders"),
    ("en", '"a.b".one = "{n} thing"\n"a.b".other = "{n} things"', "same placeholders"),
    ("en", '"a.b" = "{0} things"', "must be names"),
    ("en", '"a.b".c.d = "x"', "as text"),
    ("en", '"a.b" = 3', "must be text"),
    ("en", '"a.b" = "unclosed', "en.toml"),
])
def test_a_malformed_catalogue_is_refused_when_loaded(language_code, text, complaint):
    with pytest.raises(CatalogueError, match=complaint):
        raw = read_catalogue(language_code, text)
        compile_catalogues({"en": raw} if language_code == "en" else {"en": {}, "zh": raw})


# ---------------------------------------------------------------- t()


def test_placeholders_are_filled(language):
    assert t("params.error.too_many_stops", count=4) == "At most 4 stop sequences are allowed."
    assert t("sidebar.capabilities", vision="yes", tools="no") == (
        "Can see images: yes · Can use tools: no")


def test_chinese_is_used_when_chosen(language):
    language("zh")
    assert current_language() == "zh"
    assert t("nav.chat") == "聊天"
    assert t("settings.title") == "设置"
    assert t("params.error.too_many_stops", count=4) == "最多只能设置 4 个停止序列。"
    assert t("chat.thought_for", seconds="2.5", count=1234) == "已思考 2.5 秒 · 1,234 个字符"


def test_unknown_language_falls_back_to_english(language):
    language("xx")
    assert current_language() == "en"
    assert t("nav.chat") == "Chat"


def test_speaking_sets_the_language_for_a_block_only(language):
    language("en")
    with speaking("zh"):
        assert t("nav.chat") == "聊天"
        with speaking("xx"):  # unknown: English
            assert t("nav.chat") == "Chat"
        assert current_language() == "zh"
    assert current_language() == "en"


def test_a_missing_chinese_text_falls_back_to_english_key_by_key():
    texts = compile_catalogues({"en": {"nav.chat": "Chat", "nav.settings": "Settings"},
                                "zh": {"nav.settings": "设置"}})
    assert texts["zh"]["nav.chat"] == "Chat" and texts["zh"]["nav.settings"] == "设置"


@pytest.mark.parametrize(("count", "english"), [
    (1, "1 file could not be used:"),
    (2, "2 files could not be used:"),
    (0, "0 files could not be used:"),
    (1234, "1,234 files could not be used:"),
    (None, "? files could not be used:"),  # not known: the general form
])
def test_plurals_follow_each_languages_rule(language, count, english):
    assert t("chat.images_dropped", count=count) == english
    language("zh")
    shown = "?" if count is None else f"{count:,}"
    assert t("chat.images_dropped", count=count) == f"{shown} 个文件无法使用："


def test_plural_forms_read_as_english(language):
    assert t("conversations.meta", updated="today", count=1) == "today · 1 message"
    assert t("meta.reasoning_tokens", count=1) == "1 reasoning token"
    assert t("identity.old_link_moved", count=1).startswith(
        "Kept 1 conversation from your old link. The link itself no longer opens it:")
    assert t("identity.old_link_moved", count=3).startswith("Kept 3 conversations")


@pytest.mark.parametrize(("call", "complaint"), [
    (lambda: t("params.error.too_many_stops"), "count"),  # a plural needs its count
    (lambda: t("params.error.too_many_stops", count="4"), "number"),
    (lambda: t("sidebar.capabilities", vision="yes"), "tools"),  # a missing placeholder
    (lambda: t("sidebar.capabilities", vision="y", tools="n", extra=1), "does not take"),
    (lambda: t("nav.chat", model="x"), "no parameters"),
    (lambda: t("chat.images_dropped", count=2, model="x"), "does not take"),
    (lambda: t("no.such.key"), "not in the catalogue"),
])
def test_a_text_that_does_not_fit_raises_under_tests(call, complaint):
    with pytest.raises(TextError, match=complaint):
        call()


def test_in_production_a_misfit_is_logged_and_shown_as_well_as_it_can_be(monkeypatch, caplog):
    monkeypatch.delenv(i18n.STRICT_ENV)
    with caplog.at_level(logging.WARNING, logger="nexuschat.i18n"):
        assert t("sidebar.capabilities", vision="yes") == "Can see images: yes · Can use tools: "
        assert t("no.such.key") == "no.such.key"
        assert t("nav.chat", model="x") == "Chat"
        assert t("chat.images_dropped") == " files could not be used:"
    assert len(caplog.records) == 4
    assert "sidebar.capabilities" in caplog.records[0].getMessage()


def test_the_strict_switch_is_on_under_tests():
    assert os.environ.get(i18n.STRICT_ENV) == "1"  # tests/conftest.py sets it


# ---------------------------------------------------------------- locale formats


def test_numbers_follow_the_language(language):
    assert [format_number(12345), format_number(4.25, 1), format_number(0.001),
            format_number(2, 2)] == ["12,345", "4.2", "0.001", "2.00"]
    language("zh")
    assert format_number(1234567.5, 1) == "1,234,567.5"


@pytest.mark.parametrize("language_code", LANGUAGES)
def test_whole_numbers_are_written_as_babel_writes_them(language, language_code):
    from babel.numbers import format_decimal
    language(language_code)
    numbers = [0, 1, -1, 999, 1000, -1000, 123_456_789, -(2**63), 10**20,
               *range(-2000, 2000, 37), *(7**k for k in range(30))]
    locale = i18n.BABEL_LOCALES[language_code]
    assert [format_number(n) for n in numbers] == [format_decimal(n, locale=locale)
                                                   for n in numbers]
    assert [format_number(n, 0) for n in numbers[:9]] == [format_decimal(n, locale=locale)
                                                          for n in numbers[:9]]


def test_format_bytes(language):
    assert [format_bytes(n) for n in (812, 212 * 1024, 5 * 1024 * 1024, 1000 * 1024)] == [
        "812 B", "212 KB", "5.0 MB", "1,000 KB"]


def test_format_wait(language):
    assert [format_wait(s) for s in (0.2, 42, 61, 3600 + 12 * 60)] == [
        "1 s", "42 s", "2 min", "1 h 12 min"]
    language("zh")
    assert format_wait(42) == "42 秒"


@pytest.fixture
def server_time_zone(monkeypatch):
    """Set the process's time zone for one test (the list shows the server's local time)."""
    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()
    yield use
    monkeypatch.undo()
    time.tzset()


def test_dates_follow_the_language_in_the_servers_time_zone(language, server_time_zone):
    moment = 1704207840.0  # 2024-01-02 15:04 UTC
    server_time_zone("UTC")
    assert format_datetime(moment) == "Jan 2, 2024, 3:04\u202fPM"
    language("zh")
    assert format_datetime(moment) == "2024年1月2日 15:04"
    server_time_zone("Asia/Shanghai")
    assert format_datetime(moment) == "2024年1月2日 23:04"


# ---------------------------------------------------------------- choosing the language


@pytest.mark.parametrize("choice", LANGUAGE_CHOICES)
def test_every_choice_on_the_settings_page_has_its_label(choice):
    assert f"settings.language.{choice}" in EN


def test_every_image_preset_has_its_label():
    assert all(f"settings.preset.{name}" in EN for name in PRESETS)


@pytest.mark.parametrize(("choice", "locale", "expected"), [
    ("en", "zh-CN", "en"),  # an explicit choice wins over the browser
    ("zh", "en-US", "zh"),
    ("zh", None, "zh"),
    ("auto", "zh-CN", "zh"),
    (None, "zh-TW", "zh"),
    (None, "zh", "zh"),
    ("auto", "zh-Hant-HK", "zh"),
    ("auto", "zh_CN", "zh"),
    ("auto", "ZH-cn", "zh"),
    ("auto", "en-US", "en"),
    (None, None, "en"),
    ("auto", None, "en"),
    ("auto", "", "en"),
    ("auto", "fr", "en"),
    ("auto", "ja-JP", "en"),
    ("xx", "fr-FR", "en"),  # an unknown choice counts as "auto"
    ("xx", "zh-CN", "zh"),
])
def test_resolve_language(choice, locale, expected):
    assert resolve_language(choice, locale) == expected
