"""The catalogue covers every key the code asks for, and formatting never raises."""

import re
import string
from pathlib import Path

import pytest

from nexuschat.i18n import (
    CATALOGUE,
    LANGUAGE_CHOICES,
    current_language,
    format_bytes,
    resolve_language,
    t,
    use_language,
)
from nexuschat.images import PRESETS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*(p for p in ROOT.glob("nexuschat/*.py") if p.name != "i18n.py"),
           *ROOT.glob("components/*.py"),
           *ROOT.glob("app_pages/*.py"), ROOT / "router.py", ROOT / "streamlit_app.py"]
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_.]+)["']""")
CODE_KEY = re.compile(r"""["']((?:error|image\.error|params\.error)\.[a-z_]+)["']""")


def used_keys() -> set[str]:
    keys = set()
    for path in SOURCES:
        text = path.read_text()
        keys |= set(LITERAL_KEY.findall(text)) | set(CODE_KEY.findall(text))
    return keys


def test_every_literal_key_is_in_the_english_catalogue():
    missing = used_keys() - set(CATALOGUE["en"])
    assert not missing


def test_keys_built_at_run_time_exist():
    en = CATALOGUE["en"]
    assert all(f"settings.preset.{name}" in en for name in PRESETS)
    assert all(f"settings.sampling.{v}" in en for v in ("default", "temperature", "top_p"))
    assert all(f"meta.finish.{r}" in en for r in ("length", "content_filter", "tool_calls"))
    assert all(f"sidebar.key_source.{s}" in en for s in ("secrets", "env"))
    assert all(f"settings.language.{c}" in en for c in LANGUAGE_CHOICES)
    assert all(f"sidebar.thinking.{c}" in en for c in ("auto", "on", "off"))


def test_the_reply_shape_texts_exist_in_chinese_too(language):
    keys = ("chat.thinking_live", "chat.thought_for", "chat.thought", "chat.refusal",
            "chat.parts_skipped", "meta.reasoning_tokens", "sidebar.thinking",
            "sidebar.thinking_help", "sidebar.thinking_budget", "export.md.thinking_for")
    language("zh")
    chinese = {key: t(key) for key in keys}
    assert all(text != CATALOGUE["en"][key] for key, text in chinese.items())
    assert t("chat.thought_for", seconds="2.5", chars="1,234") == "已思考 2.5 秒 · 1,234 个字符"


def test_placeholders_are_filled_and_missing_ones_do_not_raise():
    assert t("params.error.too_many_stops", limit=4) == "At most 4 stop sequences are allowed."
    assert "{limit}" in t("params.error.too_many_stops", other=1)


@pytest.fixture
def language():
    """Set a language for one test; English again afterwards (the setting is per thread)."""
    yield use_language
    use_language("en")


def test_unknown_language_falls_back_to_english(language):
    language("xx")
    assert current_language() == "en"
    assert t("nav.chat") == "Chat"


def test_chinese_is_used_when_chosen(language):
    language("zh")
    assert current_language() == "zh"
    assert t("nav.chat") == "聊天"
    assert t("settings.title") == "设置"
    assert t("params.error.too_many_stops", limit=4) == "最多只能设置 4 个停止序列。"


def test_a_missing_chinese_text_falls_back_to_english(language, monkeypatch):
    monkeypatch.delitem(CATALOGUE["zh"], "nav.chat")
    language("zh")
    assert t("nav.chat") == "Chat"  # key by key
    assert t("nav.settings") == "设置"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_english_key_has_a_chinese_text():
    en, zh = CATALOGUE["en"], CATALOGUE["zh"]
    assert set(en) - set(zh) == set()
    assert set(zh) - set(en) == set()  # no stale keys left behind
    assert all(isinstance(v, str) and v.strip() for v in zh.values())


def test_chinese_texts_keep_the_english_placeholders():
    en, zh = CATALOGUE["en"], CATALOGUE["zh"]
    different = {k: (placeholders(en[k]), placeholders(zh.get(k, ""))) for k in en
                 if placeholders(en[k]) != placeholders(zh.get(k, ""))}
    assert different == {}


@pytest.mark.parametrize("language_code", sorted(CATALOGUE))
def test_every_text_formats_with_its_placeholders(language_code):
    for key, text in CATALOGUE[language_code].items():
        params = {name: f"<{name}>" for name in placeholders(text)}
        out = text.format(**params)  # raises on a stray brace or a positional field
        assert "{" not in out.replace("{{", "") and "}" not in out.replace("}}", ""), key
        assert all(f"<{name}>" in out for name in params), key


def test_chinese_keeps_code_and_markdown():
    en, zh = CATALOGUE["en"], CATALOGUE["zh"]
    for key, text in en.items():
        # the same code spans (word order may differ), bold marks and newlines
        assert sorted(re.findall(r"`[^`]+`", text)) == sorted(re.findall(r"`[^`]+`", zh[key])), key
        assert text.count("**") == zh[key].count("**"), key
        assert text.count("\n") == zh[key].count("\n"), key
        assert text.count("\\n") == zh[key].count("\\n"), key  # "write \n for a newline"


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


def test_format_bytes():
    assert [format_bytes(n) for n in (812, 212 * 1024, 5 * 1024 * 1024)] == [
        "812 B", "212 KB", "5.0 MB"]
