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
    assert capabilities("SmolLM2-135M-Instruct") == Capabilities(False, False, False, None,
                                                                 context_window=8192)
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
])
def test_a_bad_catalog_fails_to_load_with_the_reason(text, problem):
    with pytest.raises(CatalogError, match=problem):
        load_catalog(text)


def test_a_catalog_of_exact_ids_alone_is_valid():
    # A deployer's NEXUSCHAT_MODELS often only corrects or adds a few ids.
    assert load_catalog('[[model]]\nid = "m"\n').family == ()


def test_catalog_ids_are_unique_and_the_curated_list_comes_from_it():
    from nexuschat.models import bundled, bundled_catalog

    ids = [m.id for m in bundled_catalog().model]
    assert len(ids) == len(set(ids)) and bundled().curated == CURATED_MODELS


# --- limits per model, and the deployer's catalog (NEXUSCHAT_MODELS) --------------------------

from nexuschat.local import CONTEXT_TOKENS  # noqa: E402
from nexuschat.models import (  # noqa: E402
    ModelCatalog,
    bundled,
    deployer_catalog,
    extended,
    request_notes,
)


@pytest.mark.parametrize("model, window, longest", [
    ("claude-sonnet-4-6", 1_000_000, 128_000), ("claude-opus-4-6", 1_000_000, 128_000),
    ("claude-haiku-4-5", 200_000, 64_000), ("claude-sonnet-4-5-20250929", 200_000, 64_000),
    ("claude-opus-4-1", 200_000, 32_000), ("claude-sonnet-4-20250514", 200_000, 64_000),
    ("qwen3.5-plus", 1_000_000, 64_000), ("qwen3-max", 262_144, 65_536),
    ("qwen3-vl-plus", 262_144, None), ("qwen-plus", None, None),
    ("deepseek-chat", 131_072, 8192), ("deepseek-reasoner", 131_072, 65_536),
    ("glm-4.6", 200_000, 128_000), ("glm-4.5-air", 128_000, 96_000), ("glm-4.5v", None, None),
    ("kimi-k2.5", 262_144, None), ("kimi-k2-0905-preview", 262_144, None),
    ("kimi-k2-0711-preview", 131_072, None), ("unknown-model", None, None),
])
def test_published_limits_per_model(model, window, longest):
    caps = capabilities(model)
    assert (caps.context_window, caps.max_output_tokens) == (window, longest)


def test_the_local_models_window_is_the_servers():
    assert capabilities("SmolLM2-135M-Instruct").context_window == CONTEXT_TOKENS


@pytest.mark.parametrize("model, vision, tools", [
    ("glm-4.6", False, True), ("glm-4.5v", True, True), ("kimi-k2.5", True, True),
    ("kimi-k2-0905-preview", False, True),
])
def test_glm_and_kimi_flags(model, vision, tools):
    caps = capabilities(model)
    assert (caps.vision, caps.tools) == (vision, tools)


DEPLOYER = {
    "family": [{"name": "Ours", "match": "^ours-", "vision": True, "max_output_tokens": 2048}],
    "model": [
        {"id": "claude-sonnet-4-6", "max_output_tokens": 16000},  # the gateway's own ceiling
        {"id": "ours-big", "context_window": 32768, "curated": True},
        {"id": "claude-haiku-4-5", "curated": False},
    ],
}


def test_a_deployer_adds_families_and_corrects_bundled_ids_field_by_field():
    catalog = deployer_catalog(DEPLOYER)
    assert catalog.problems == ()
    sonnet = capabilities("claude-sonnet-4-6", catalog=catalog)
    assert (sonnet.max_output_tokens, sonnet.context_window, sonnet.vision) == (16000, 1_000_000,
                                                                                 True)
    big = capabilities("ours-big", catalog=catalog)
    assert (big.vision, big.max_output_tokens, big.context_window) == (True, 2048, 32768)
    assert "ours-big" in catalog.curated and "claude-haiku-4-5" not in catalog.curated
    assert "claude-sonnet-4-6" in catalog.curated  # what the deployer did not touch stands
    assert capabilities("qwen3.5-plus", catalog=catalog) == capabilities("qwen3.5-plus")


def test_the_deployers_families_come_first():
    catalog = deployer_catalog({"family": [{"name": "All Claude", "match": "claude",
                                            "vision": False}]})
    assert capabilities("claude-opus-4-6", catalog=catalog).vision is False


def test_the_setting_may_be_toml_text_as_an_environment_variable_holds_it():
    text = '[[model]]\nid = "deepseek-chat"\nmax_output_tokens = 4096\n'
    catalog = deployer_catalog(text)
    assert capabilities("deepseek-chat", catalog=catalog).max_output_tokens == 4096


@pytest.mark.parametrize("setting", [None, "", "   "])
def test_no_setting_is_the_bundled_catalog(setting):
    assert deployer_catalog(setting) is bundled()


@pytest.mark.parametrize("setting, code, params", [
    ({"model": [{"id": "m", "vison": True}]}, "catalog.problem.unknown_field",
     {"where": "model[0].vison"}),
    ({"model": [{"vision": True}]}, "catalog.problem.missing", {"where": "model[0].id"}),
    ({"model": [{"id": "m", "vision": "yes"}]}, "catalog.problem.bool",
     {"where": "model[0].vision"}),
    ({"model": [{"id": "m", "context_window": "1M"}]}, "catalog.problem.tokens",
     {"where": "model[0].context_window"}),
    ({"model": [{"id": "m", "max_output_tokens": 0}]}, "catalog.problem.tokens",
     {"where": "model[0].max_output_tokens"}),
    ({"model": [{"id": 3}]}, "catalog.problem.text", {"where": "model[0].id"}),
    ({"model": [{"id": "m", "thinking": "always"}]}, "catalog.problem.choice",
     {"where": "model[0].thinking", "choices": "'switch', 'budget' or 'none'"}),
    ({"model": 3}, "catalog.problem.tables", {"where": "model"}),
    ({"family": [{"name": "x", "match": "("}]}, "catalog.problem.other",
     {"where": "family[0].match",
      "detail": "not a regular expression: missing ), unterminated subpattern at position 0"}),
    ("[[model]\n", "catalog.problem.toml", None),
])
def test_an_invalid_setting_keeps_the_bundled_catalog_and_says_why(setting, code, params):
    catalog = deployer_catalog(setting)
    assert catalog.catalog == bundled().catalog
    assert catalog.problems[0].code == code
    if params is not None:
        assert catalog.problems[0].params == params


def test_many_problems_are_named_up_to_a_few_and_counted():
    catalog = deployer_catalog({"model": [{"id": "m", "x1": 1, "x2": 2, "x3": 3, "x4": 4,
                                           "x5": 5}]})
    assert [p.code for p in catalog.problems][-1] == "catalog.problem.more"
    assert catalog.problems[-1].params == {"count": 2}


def test_a_setting_is_parsed_once_however_often_it_is_read():
    assert deployer_catalog(DEPLOYER) is deployer_catalog(dict(DEPLOYER))


def test_extended_merges_without_touching_either_catalog():
    base = load_catalog(CUSTOM)
    extra = load_catalog('[[model]]\nid = "alpha-2"\nvision = true\n')
    merged = extended(base, extra)
    assert capabilities("alpha-2", catalog=merged).vision is True
    assert capabilities("alpha-2", catalog=merged).thinking is None  # kept from the base
    assert capabilities("alpha-2", catalog=base).vision is False
    assert [m.id for m in merged.model if m.curated] == ["alpha-2"]


def test_a_compiled_catalog_is_compared_by_identity():
    assert ModelCatalog(bundled().catalog) != bundled() and bundled() == bundled()


def test_request_notes_explain_what_the_model_will_not_do():
    caps = capabilities("deepseek-chat")  # no vision, no tools, 8192 at most
    notes = request_notes("deepseek-chat", caps, images=True, tools=True, max_tokens=10_000)
    assert [n.code for n in notes] == ["chat.images_not_sent", "capability.no_tools",
                                       "capability.max_tokens_capped"]
    assert notes[2].params == {"model": "deepseek-chat", "asked": 10_000, "count": 8192}
    local = capabilities("SmolLM2-135M-Instruct")
    assert [n.code for n in request_notes("smollm2", local, choices=3)] == [
        "capability.single_choice"]
    sonnet = capabilities("claude-sonnet-4-6")
    assert request_notes("claude-sonnet-4-6", sonnet, images=True, tools=True, choices=2,
                         max_tokens=4096) == ()
