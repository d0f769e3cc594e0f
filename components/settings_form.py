"""The Settings page's forms: language, generation parameters, image quality, capabilities."""

from __future__ import annotations

import streamlit as st

from components import quota, state
from components.notices import render_notice
from nexuschat.config import Settings
from nexuschat.i18n import LANGUAGE_CHOICES, t
from nexuschat.images import PRESETS
from nexuschat.limits import candidate_ceiling
from nexuschat.models import capabilities
from nexuschat.params import (
    MAX_CHOICES,
    TOOL_CHOICES,
    GenerationParams,
    thinking_request,
    to_request,
    validate,
)
from nexuschat.safe_text import plain_text

SAFE_INT = 2**53 - 1  # the browser's number widgets hold integers up to 2^53


def render_language() -> None:
    """The interface language (auto, en, zh); the router applies it on the rerun a change makes."""
    # Labels fixed now: Streamlit may call format_func later, outside this run's language.
    labels = {choice: t(f"settings.language.{choice}") for choice in LANGUAGE_CHOICES}
    st.selectbox(t("settings.language"), LANGUAGE_CHOICES, key="w_language",
                 format_func=labels.__getitem__, help=t("settings.language_help"))


def render_generation() -> GenerationParams:
    """Sampling and the other optional request fields; empty means "not sent"."""
    st.subheader(t("settings.generation"))
    st.radio(
        t("settings.sampling"),
        ["default", "temperature", "top_p"],
        key="w_sampling",
        format_func={v: t(f"settings.sampling.{v}")
                     for v in ("default", "temperature", "top_p")}.__getitem__,
        horizontal=True,
        help=t("settings.sampling_help"),
    )
    sampling = st.session_state["w_sampling"]
    if sampling == "temperature":
        st.number_input(t("settings.temperature"), key="w_temperature", min_value=0.0,
                        max_value=2.0, step=0.1)
    elif sampling == "top_p":
        st.number_input(t("settings.top_p"), key="w_top_p", min_value=0.0, max_value=1.0,
                        step=0.05)
    left, right = st.columns(2)
    settings = state.resolved_settings()
    render_max_tokens(left, settings)
    right.number_input(t("settings.n"), key="w_n", min_value=1, max_value=MAX_CHOICES,
                       step=1, help=t("settings.n_help"))
    n = state.current_params().n
    many = state.model_capabilities(settings).multiple_choices
    if n and not many:
        right.caption(t("chat.single_choice_sent", model=plain_text(settings.model), n=n))
    if n and many and quota.pays(settings) and (cap := state.limits().max_tokens) is not None:
        # The deploy's ceiling is per request: each candidate gets its share.
        left.caption(t("settings.max_tokens_cap_candidates", n=n,
                       count=candidate_ceiling(cap, n)))
    right.number_input(t("settings.seed"), key="w_seed", min_value=-SAFE_INT,
                       max_value=SAFE_INT, step=1, help=t("settings.unset_help"))
    left.number_input(t("settings.presence_penalty"), key="w_presence_penalty",
                      step=0.1, help=t("settings.unset_help"))
    right.number_input(t("settings.frequency_penalty"), key="w_frequency_penalty",
                       step=0.1, help=t("settings.unset_help"))
    st.text_area(t("settings.stop"), key="w_stop", height=100, help=t("settings.stop_help"))
    st.text_input(t("settings.user"), key="w_user", help=t("settings.user_help"))

    params = state.current_params()
    for error in validate(params):
        render_notice(error, icon=":material/error:")
    control = state.model_capabilities(settings).thinking
    sent = [*to_request(params), *thinking_request(params, control)]  # switched in the sidebar
    st.caption(t("settings.sent_fields", fields=", ".join(sent)) if sent
               else t("settings.sent_none"))
    return params


def render_max_tokens(column, settings: Settings) -> None:
    """max_tokens, never above the model's longest reply (the catalog) nor the deploy's
    ceiling while its key pays; a value above them (set for another model) comes down."""
    ceiling = quota.max_tokens_ceiling(settings)
    asked = st.session_state.get("w_max_tokens")
    if ceiling is not None and isinstance(asked, int) and asked > ceiling:
        st.session_state["w_max_tokens"] = ceiling  # before the widget: it refuses more
    column.number_input(t("settings.max_tokens"), key="w_max_tokens", min_value=1,
                        max_value=ceiling, step=256, help=t("settings.max_tokens_help"))
    if quota.pays(settings) and (cap := state.limits().max_tokens) is not None:
        column.caption(t("settings.max_tokens_cap", count=cap))
    if (longest := quota.model_max_tokens(settings)) is not None:
        column.caption(t("settings.max_tokens_model", model=plain_text(settings.model),
                         count=longest))

def render_tool_choice(offered: tuple[str, ...]) -> None:
    """Whether the model must, may or may not call a tool, or must call one named function
    (`offered`: the names the current model is offered)."""
    st.subheader(t("settings.tools_section"))
    labels = {"auto": t("settings.tool_choice.auto"), "none": t("settings.tool_choice.none"),
              "required": t("settings.tool_choice.required"),
              "function": t("settings.tool_choice.function")}
    st.radio(t("settings.tool_choice"), TOOL_CHOICES, key="w_tool_choice",
             format_func=labels.__getitem__, horizontal=True,
             help=t("settings.tool_choice_help"))
    if st.session_state["w_tool_choice"] == "function":
        st.text_input(t("settings.tool_function"), key="w_tool_function",
                      help=t("settings.tool_function_help"))
        name = (st.session_state.get("w_tool_function") or "").strip()
        if name and name not in offered:
            st.warning(t("settings.tool_function_missing", name=plain_text(name)),
                       icon=":material/warning:")
    if offered:
        st.caption(t("settings.tools_offered", names=plain_text(", ".join(offered))))
    else:
        st.caption(t("settings.tools_none"))


def render_images() -> None:
    """The image quality preset."""
    st.subheader(t("settings.images"))
    st.radio(t("settings.preset"), list(PRESETS), key="w_preset",
             format_func={name: t(f"settings.preset.{name}") for name in PRESETS}.__getitem__)
    st.toggle(t("settings.review_images"), key="w_review_images",
              help=t("settings.review_images_help"))


def render_capabilities(models: list[str]) -> None:
    """Let the user correct the vision/tools guess for any model."""
    st.subheader(t("settings.capabilities"))
    st.caption(t("settings.capabilities_help"))
    overrides: dict = st.session_state[state.OVERRIDES]
    model = st.selectbox(t("settings.capability_model"), models, key="w_caps_model")
    if not model:
        return
    caps = capabilities(model, overrides, state.resolved_settings().catalog)
    left, right = st.columns(2)
    vision = left.toggle(t("settings.vision"), value=caps.vision, key=f"caps-vision-{model}")
    tools = right.toggle(t("settings.tools"), value=caps.tools, key=f"caps-tools-{model}")
    if (vision, tools) != (caps.vision, caps.tools):
        # A new dict, so nothing shared is mutated in place.
        st.session_state[state.OVERRIDES] = {**overrides, model: {"vision": vision,
                                                                  "tools": tools}}
        st.rerun()
