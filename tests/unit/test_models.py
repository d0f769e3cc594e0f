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
