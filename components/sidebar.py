"""The shared sidebar: new chat, model picker, provider and system prompt."""

from __future__ import annotations

import streamlit as st

from components import account, local_provider, persistence, state, thinking, tool_box
from components.client import client_for, key_digest
from components.notices import notice_text, render_notice
from nexuschat.api import ChatError, list_models
from nexuschat.config import (
    ANY_PUBLIC_HTTPS,
    DEFAULT_BASE_URL,
    KEY_DEPLOY,
    PROVIDER_API,
    PROVIDERS,
    Deployment,
    Settings,
)
from nexuschat.errors import Note
from nexuschat.i18n import t
from nexuschat.local import LOCAL_MODEL
from nexuschat.models import DEPLOYER_SETTING, Capabilities, ModelCatalog, merge_model_lists
from nexuschat.safe_text import plain_text

MODELS_TTL_S = 300


@st.cache_data(ttl=MODELS_TTL_S, show_spinner=False, max_entries=256)
def _cached_models(base_url: str, digest: str, nonce: int,
                   _settings: Settings) -> tuple[list[str], Note | None]:
    # Keyed by URL and a hash of the key, never the key itself; failures are cached too, so a
    # down server costs one timeout per TTL instead of one per rerun.
    try:
        return list_models(client_for(_settings)), None
    except ChatError as exc:
        return [], Note(exc.code, dict(exc.params))


def available_models(settings: Settings) -> tuple[list[str], str | None]:
    """The model ids to offer, and a note when the built-in list stands in for the server's."""
    curated = list(settings.catalog.curated)
    if settings.needs_key:
        return curated, t("sidebar.models_no_key")
    if settings.url_problem:  # nothing is sent to an address the deploy refuses
        return curated, None
    nonce = st.session_state[state.MODELS_NONCE]
    listed, failure = _cached_models(settings.base_url, key_digest(settings), nonce, settings)
    if failure or not listed:
        reason = notice_text(failure) if failure else "—"
        return curated, t("sidebar.models_fallback", reason=reason)
    return listed, None


def _refresh_models() -> None:
    st.session_state[state.MODELS_NONCE] += 1


def render_sidebar() -> list[str]:
    """Draw the sidebar; returns the model ids on offer (for the vision guard's choices)."""
    with st.sidebar:
        st.button(t("sidebar.new_chat"), on_click=persistence.start_new, icon=":material/add:",
                  width="stretch", key="new-chat")
        render_catalog_problem(state.deployment().catalog)
        models = render_model_picker()
        render_provider()
        st.text_area(t("sidebar.system_prompt"), key="w_system_prompt",
                     help=t("sidebar.system_prompt_help"), height=100)
        account.render_account()
    return models


def render_model_picker() -> list[str]:
    """A model select box filled from GET /models (cached), with a refresh control."""
    # The defaults come from secrets/environment; the widgets then own the choice.
    if state.PROVIDER not in st.session_state:
        st.session_state[state.PROVIDER] = state.default_settings("").provider
    if state.MODEL not in st.session_state:
        st.session_state[state.MODEL] = state.default_settings("").model
    settings = state.resolved_settings()  # listing models must not start the local server
    if settings.is_local:
        st.session_state[state.MODEL] = LOCAL_MODEL  # its only model, whatever was picked before
        models, note = [LOCAL_MODEL], None
    else:
        listed, note = available_models(settings)
        models = merge_model_lists(listed, st.session_state[state.MODEL])
    pick, refresh = st.columns([5, 1], vertical_alignment="bottom")
    pick.selectbox(t("sidebar.model"), models, key=state.MODEL)
    refresh.button("", icon=":material/refresh:", help=t("sidebar.refresh_models"),
                   on_click=_refresh_models, key="refresh-models")
    if note:
        st.caption(note)
    if settings.is_local:
        local_provider.render_picker_note()
    caps = state.model_capabilities(settings, st.session_state[state.MODEL])
    st.caption(capability_line(caps))
    if not caps.multiple_choices:
        st.caption(t("sidebar.single_choice"))
    thinking.render_thinking(caps.thinking)
    if caps.tools:
        render_tools(st.session_state[state.MODEL])
    return models


def capability_line(caps: Capabilities) -> str:
    """"Can see images: yes · Can use tools: no", and the limits the catalog knows."""
    parts = [t("sidebar.capabilities", vision=t("common.yes" if caps.vision else "common.no"),
               tools=t("common.yes" if caps.tools else "common.no"))]
    if caps.context_window is not None:
        parts.append(t("sidebar.context_window", count=caps.context_window))
    if caps.max_output_tokens is not None:
        parts.append(t("sidebar.max_output", count=caps.max_output_tokens))
    return " · ".join(parts)


def _dismiss_catalog_problem() -> None:
    st.session_state[state.CATALOG_NOTICE_DISMISSED] = True


def render_catalog_problem(catalog: ModelCatalog) -> None:
    """Why the deployer's NEXUSCHAT_MODELS was not used (the bundled catalog is), until
    dismissed: once per session, in the user's language."""
    if not catalog.problems or st.session_state.get(state.CATALOG_NOTICE_DISMISSED):
        return
    lines = "\n".join(f"- {notice_text(problem)}" for problem in catalog.problems)
    st.warning(t("catalog.invalid", setting=DEPLOYER_SETTING) + "\n\n" + lines,
               icon=":material/data_alert:")
    st.button(t("catalog.dismiss"), key="dismiss-catalog-problem", type="tertiary",
              on_click=_dismiss_catalog_problem)

def render_tools(model: str) -> None:
    """The one switch for tools (built-ins, the deploy's MCP servers', the user's own), and
    each MCP server that is down, said once here (its tools are left out meanwhile)."""
    st.toggle(t("sidebar.tools"), key=state.TOOLS_ON, help=t("sidebar.tools_help"))
    for name in tool_box.down_servers(model, st.session_state[state.OVERRIDES]):
        st.warning(t("sidebar.mcp_down", server=plain_text(name)), icon=":material/cloud_off:")


def _provider_changed() -> None:
    # Each provider offers its own models: select the new one's default.
    st.session_state[state.MODEL] = state.default_settings(st.session_state[state.PROVIDER]).model


def _use_api(key: str) -> None:
    # Typing an API key or URL means using that API, not the local model.
    if str(st.session_state.get(key) or "").strip() and \
            st.session_state.get(state.PROVIDER) != PROVIDER_API:
        st.session_state[state.PROVIDER] = PROVIDER_API
        _provider_changed()


def render_provider() -> None:
    """The provider (an API or the local model), base URL and API key (kept in memory only).

    On a hosted deploy the fields offer only what the deploy lets a visitor choose; what they
    hold is judged again in `resolve_settings`, whatever a browser sends.
    """
    settings = state.resolved_settings()
    deployment = state.deployment()
    with st.expander(t("sidebar.provider"),
                     expanded=settings.needs_key or bool(settings.url_problem)):
        labels = {p: t(f"sidebar.provider.{p}") for p in PROVIDERS}  # fixed in this language
        st.radio(t("sidebar.provider_choice"), PROVIDERS, key=state.PROVIDER,
                 format_func=labels.__getitem__, on_change=_provider_changed,
                 label_visibility="collapsed")
        if deployment.hosted:
            _render_hosted_fields(settings, deployment)
            return
        st.text_input(t("sidebar.base_url"), key="w_base_url", placeholder=DEFAULT_BASE_URL,
                      help=t("sidebar.base_url_help", default=DEFAULT_BASE_URL),
                      on_change=_use_api, args=("w_base_url",))
        _render_key_field()
        source = state.current_key_source()
        if source in ("secrets", "env"):
            st.caption(t("sidebar.key_from", source=t(f"sidebar.key_source.{source}")))


def _take_key() -> None:
    # The key moves out of widget state at once, so it is never sent back to the browser.
    typed = str(st.session_state.get(state.API_KEY_FIELD) or "").strip()
    st.session_state[state.API_KEY_FIELD] = ""
    if typed:
        st.session_state[state.API_KEY] = typed
        _use_api(state.API_KEY)


def _forget_key() -> None:
    st.session_state[state.API_KEY] = ""


def _render_key_field() -> None:
    held = bool(st.session_state.get(state.API_KEY))
    st.text_input(t("sidebar.api_key"), key=state.API_KEY_FIELD, type="password",
                  help=t("sidebar.api_key_help"), autocomplete="off", on_change=_take_key,
                  placeholder=t("sidebar.api_key_replace") if held else None)
    if held:
        st.caption(t("sidebar.api_key_held"))
        st.button(t("sidebar.api_key_forget"), key="forget-key", on_click=_forget_key,
                  type="tertiary", icon=":material/key_off:")


def _render_hosted_fields(settings: Settings, deployment: Deployment) -> None:
    """A hosted deploy's base URL (read-only unless a visitor's own key may go elsewhere)
    and key field (only where the deploy takes visitors' keys)."""
    editable = (deployment.takes_visitor_keys and deployment.visitor_urls
                and settings.key_owner != KEY_DEPLOY)
    if editable:
        st.text_input(t("sidebar.base_url"), key="w_base_url", placeholder=deployment.base_url,
                      on_change=_use_api, args=("w_base_url",))
        if notice := settings.url_notice:
            render_notice(notice, icon=":material/block:")
        listed = [url for url in deployment.allowed_base_urls if url != ANY_PUBLIC_HTTPS]
        st.caption(t("sidebar.base_url_any") if ANY_PUBLIC_HTTPS in deployment.allowed_base_urls
                   else t("sidebar.base_url_allowed", urls=plain_text(", ".join(listed))))
    else:
        st.text_input(t("sidebar.base_url"), value=deployment.base_url, disabled=True,
                      key="base-url-fixed")
        st.caption(t("sidebar.base_url_fixed" if settings.key_owner == KEY_DEPLOY
                     else "sidebar.base_url_single"))
    if deployment.takes_visitor_keys:
        if deployment.api_key:
            st.caption(t("sidebar.own_key_optional"))
        _render_key_field()
