import pytest

from nexuschat.models import CURATED_MODELS, capabilities, merge_model_lists, vision_models


@pytest.mark.parametrize("model, vision, tools", [
    ("claude-sonnet-4-6", True, True),
    ("Claude-3-5-Haiku", True, True),
    ("qwen-vl-max", True, True),
    ("qwen3-vl-plus", True, True),
    ("qwen2.5-vl-72b-instruct", True, True),
    ("qwen3.5-plus", False, True),
    ("deepseek-chat", False, False),
])
def test_capabilities_from_name_patterns(model, vision, tools):
    caps = capabilities(model)
    assert (caps.vision, caps.tools) == (vision, tools)


def test_user_overrides_win_per_flag():
    overrides = {"deepseek-chat": {"vision": True}, "claude-sonnet-4-6": {"tools": False}}
    assert capabilities("deepseek-chat", overrides).vision is True
    assert capabilities("deepseek-chat", overrides).tools is False
    assert capabilities("claude-sonnet-4-6", overrides).vision is True
    assert capabilities("claude-sonnet-4-6", overrides).tools is False


def test_curated_list_has_a_vision_model_of_each_family():
    vision = vision_models(CURATED_MODELS)
    assert any("claude" in m for m in vision) and any("vl" in m for m in vision)
    assert "qwen3.5-plus" in CURATED_MODELS and "qwen3.5-plus" not in vision


def test_merge_keeps_order_and_adds_the_configured_model():
    assert merge_model_lists(["a", "b"], "b", "c", "") == ["a", "b", "c"]


# --- the catalog (nexuschat/models.toml) -------------------------------------------------------

from nexuschat.models import Capabilities, CatalogError, load_catalog  # noqa: E402


@pytest.mark.parametrize("model, thinking", [
    ("qwen3.5-plus", "budget"), ("qwen-plus", "budget"), ("qwen3-vl-plus", "budget"),
    ("qwen3-235b-a22b", "budget"), ("qwen-vl-max", None), ("qwq-plus", None),
    ("qwen3-235b-a22b-instruct-2507", None), ("qwen3-30b-a3b-thinking-2507", None),
    ("deepseek-v3.2", "switch"), ("deepseek-chat", "switch"), ("deepseek-r1", None),
    ("deepseek-reasoner", None), ("claude-sonnet-4-6", None), ("smollm2-135m", None),
])
def test_thinking_control_from_the_catalog(model, thinking):
    assert capabilities(model).thinking == thinking


def test_the_bundled_catalog_keeps_the_old_flags():
    assert capabilities("SmolLM2-135M-Instruct") == Capabilities(False, False, False, None)
    assert capabilities("unknown-model") == Capabilities()


CUSTOM = """
[[family]]
name = "A"
match = "^alpha"
vision = true
thinking = "switch"

[[family]]
name = "Any"
match = "."
tools = true

[[model]]
id = "alpha-2"
vision = false
thinking = "none"
curated = true
"""


def test_an_exact_id_overrides_only_what_it_says_and_first_family_wins():
    catalog = load_catalog(CUSTOM)
    assert capabilities("alpha-1", catalog=catalog) == Capabilities(vision=True, tools=False,
                                                                    thinking="switch")
    assert capabilities("alpha-2", catalog=catalog) == Capabilities(vision=False, thinking=None)
    assert capabilities("beta", catalog=catalog) == Capabilities(tools=True)
    assert [m.id for m in catalog.model if m.curated] == ["alpha-2"]


def test_user_overrides_sit_on_top_of_the_catalog():
    catalog = load_catalog(CUSTOM)
    caps = capabilities("alpha-1", {"alpha-1": {"vision": False, "tools": True}}, catalog)
    assert (caps.vision, caps.tools, caps.thinking) == (False, True, "switch")


@pytest.mark.parametrize("text, problem", [
    ('[[family]]\nname = "x"\nmatch = "("\n', "regular expression"),
    ('[[family]]\nname = "x"\nmatch = "x"\nvision = "yes"\n', "vision"),
    ('[[family]]\nname = "x"\nmatch = "x"\nvison = true\n', "vison"),  # a typo is refused
    ('[[family]]\nname = "x"\nmatch = "x"\nthinking = "always"\n', "thinking"),
    ('[[family]]\nmatch = "x"\n', "name"),
    ('family = 3\n', "family"),
    ("[[family]\n", "models.toml"),
    ('[[model]]\nid = "m"\n', "family"),
])
def test_a_bad_catalog_fails_to_load_with_the_reason(text, problem):
    with pytest.raises(CatalogError, match=problem):
        load_catalog(text)


def test_catalog_ids_are_unique_and_the_curated_list_comes_from_it():
    from nexuschat.models import _bundled

    rules = _bundled()
    ids = list(rules.by_id)
    assert len(ids) == len(set(ids)) and rules.curated == CURATED_MODELS
