"""The catalogue covers every key the code asks for, and formatting never raises."""

import re
from pathlib import Path

from nexuschat.i18n import CATALOGUE, current_language, format_bytes, t, use_language
from nexuschat.images import PRESETS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*(p for p in ROOT.glob("nexuschat/*.py") if p.name != "i18n.py"),
           *ROOT.glob("components/*.py"),
           *ROOT.glob("app_pages/*.py"), ROOT / "streamlit_app.py"]
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


def test_placeholders_are_filled_and_missing_ones_do_not_raise():
    assert t("params.error.too_many_stops", limit=4) == "At most 4 stop sequences are allowed."
    assert "{limit}" in t("params.error.too_many_stops", other=1)


def test_unknown_language_falls_back_to_english():
    use_language("xx")
    assert current_language() == "en"
    use_language("zh")  # no Chinese strings yet: English stands in, key by key
    assert t("nav.chat") == "Chat"
    use_language("en")


def test_format_bytes():
    assert [format_bytes(n) for n in (812, 212 * 1024, 5 * 1024 * 1024)] == [
        "812 B", "212 KB", "5.0 MB"]
