"""Session state: one key per concern, set once with setdefault; readers get plain data."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

import streamlit as st

from nexuschat.config import (
    PROVIDER_API,
    PROVIDER_LOCAL,
    Deployment,
    Settings,
    key_source,
    resolve_deployment,
    resolve_settings,
)
from nexuschat.conversation import Conversation
from nexuschat.images import DEFAULT_PRESET
from nexuschat.limits import Limits, resolve_limits
from nexuschat.local import LOCAL_MODEL
from nexuschat.mcp_tools import McpServer, servers_from_config
from nexuschat.models import (
    DEPLOYER_SETTING,
    Capabilities,
    ModelCatalog,
    capabilities,
    plain_tables,
)
from nexuschat.params import GenerationParams, as_dict, from_dict, parse_stop, stop_text
from nexuschat.tool_loop import ToolSettings, resolve_tool_settings

CONVERSATION = "conversation"  # Conversation: the open chat (the store takes over later)
LIVE_TURN = "live_turn"  # LiveTurn | None: the reply being streamed, until it is folded in
PENDING = "pending_turn"  # TurnKind | None: a turn to run on this rerun
DRAFT = "draft"  # Draft | None: a message held back (vision guard, invalid settings)
HISTORY_WINDOW = "history_window"  # int: how many of the latest messages are drawn
HISTORY_STEP = 40  # drawn at first, and added per "show earlier": every message costs each rerun
OVERRIDES = "capability_overrides"  # {model: {"vision": bool, "tools": bool}}
MODELS_NONCE = "models_refresh"  # bumped by the refresh control to bypass the model cache
OFFERED_MODELS = "offered_models"  # list[str]: what the model picker offers this run
# tuple[nexuschat.user_tools.UserTool, ...]: the owner's own tools (Settings' "My tools"), as
# the store has them; the chat's toolbox offers each `.to_tool()`. Read from the store once per
# owner per session (persistence.load_user_tools, the router's step) and after every change.
USER_TOOLS = "user_tools"
USER_TOOLS_OWNER = "user_tools_owner"  # str | None: whose tools USER_TOOLS holds
# bool: the deployer's invalid NEXUSCHAT_MODELS was explained and dismissed (this session)
CATALOG_NOTICE_DISMISSED = "catalog_notice_dismissed"
LIVE_TOOLS = "live_tools"  # LiveTools | None: a reply's tool calls running, until folded in
TOOLS_ON = "w_tools"  # bool: the sidebar's tools switch (first set from NEXUSCHAT_TOOLS)

# Widget-backed settings: re-assigned every run so they survive page switches.
WIDGET_DEFAULTS: dict[str, object] = {
    "w_base_url": "",
    "w_system_prompt": "",
    "w_preset": DEFAULT_PRESET,
    "w_review_images": False,
    "w_sampling": "default",
    "w_temperature": 1.0,
    "w_top_p": 1.0,
    "w_max_tokens": None,
    "w_stop": "",
    "w_presence_penalty": None,
    "w_frequency_penalty": None,
    "w_seed": None,
    "w_user": "",
    "w_language": "auto",  # nexuschat.i18n.LANGUAGE_CHOICES; read by the router
    "w_thinking": "auto",  # THINKING_CHOICES: the model's default, or on / off
    "w_thinking_budget": None,
    "w_n": 1,  # candidates per reply (`n`); 1 sends nothing
    # Settings' tool editor (components/tool_editor.py): a half-typed tool survives a page switch
    "w_tool_name": "",
    "w_tool_description": "",
    "w_tool_parameters": "",
    "w_tool_arguments": "",

    "w_tool_choice": "auto",  # TOOL_CHOICES: auto sends nothing
    "w_tool_function": "",  # the function "function" names
}
THINKING_CHOICES = ("auto", "on", "off")  # w_thinking; "auto" sends nothing
# str: an API key the user typed. Not widget state: a widget's value is sent back to the
# browser whenever the script sets it (as WIDGET_DEFAULTS re-assignment does on every run),
# and a key must never travel in a websocket frame. The field is emptied once it is taken.
API_KEY = "typed_api_key"
API_KEY_FIELD = "w_api_key"
MODEL = "w_model"
PROVIDER = "w_provider"  # "api" or "local" (nexuschat.config.PROVIDERS); first set by the sidebar


def init_state() -> None:
    """Create every key once per session and keep widget values across pages."""
    st.session_state.setdefault(CONVERSATION, Conversation())
    st.session_state.setdefault(PENDING, None)
    st.session_state.setdefault(LIVE_TURN, None)
    st.session_state.setdefault(DRAFT, None)
    st.session_state.setdefault(OVERRIDES, {})
    st.session_state.setdefault(HISTORY_WINDOW, HISTORY_STEP)
    st.session_state.setdefault(MODELS_NONCE, 0)
    st.session_state.setdefault(CATALOG_NOTICE_DISMISSED, False)
    st.session_state.setdefault(API_KEY, "")
    st.session_state.setdefault(USER_TOOLS, ())
    st.session_state.setdefault(USER_TOOLS_OWNER, None)
    st.session_state.setdefault(LIVE_TOOLS, None)
    st.session_state.setdefault(TOOLS_ON, tool_settings().enabled)
    st.session_state[TOOLS_ON] = st.session_state[TOOLS_ON]  # a widget: kept across pages
    for key, default in WIDGET_DEFAULTS.items():
        st.session_state.setdefault(key, default)
        # Streamlit drops a widget's value when a page without it runs; re-assigning keeps it.
        st.session_state[key] = st.session_state[key]
    for key in (MODEL, PROVIDER):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def secrets() -> Mapping[str, object]:
    """st.secrets' top-level settings as a plain mapping (values, and lists of values such as
    NEXUSCHAT_ALLOWED_BASE_URLS; the NEXUSCHAT_MODELS section as tables); empty when the app
    has no secrets file."""
    try:
        values = {k: (list(v) if isinstance(v, list | tuple) else v)
                  for k, v in st.secrets.items()
                  if isinstance(v, str | int | float | bool | list | tuple)}
        # The one section read here: the deployer's model catalog (no other section's
        # values, [auth] and its client secret among them, go further than st.secrets).
        if isinstance(models := st.secrets.get(DEPLOYER_SETTING), Mapping):
            values[DEPLOYER_SETTING] = models
        return values
    except (FileNotFoundError, OSError, KeyError, ValueError):
        return {}
    except Exception:  # noqa: BLE001 - a malformed secrets.toml must not take the page down
        return {}


def setting(name: str) -> str:
    """A deployment setting: st.secrets first, then the environment."""
    value = secrets().get(name) or os.environ.get(name) or ""
    return str(value).strip()


def widget_settings() -> dict[str, object]:
    """What the user typed in the sidebar, under the names config resolution uses."""
    return {
        "NEXUSCHAT_BASE_URL": st.session_state.get("w_base_url"),
        "NEXUSCHAT_API_KEY": st.session_state.get(API_KEY),
        "NEXUSCHAT_MODEL": st.session_state.get(MODEL),
        "NEXUSCHAT_PROVIDER": st.session_state.get(PROVIDER),
    }


def server_address() -> str | None:
    """Where this Streamlit server listens (loopback only: a single-user install)."""
    return st.get_option("server.address")


def deployment() -> Deployment:
    """What the deployer configured (st.secrets > environment), never a visitor's input."""
    return resolve_deployment(secrets(), os.environ, server_address())


def catalog() -> ModelCatalog:
    """The model catalog in use: the bundled one, extended by the deployer's NEXUSCHAT_MODELS."""
    return deployment().catalog

def tool_settings() -> ToolSettings:
    """Whether tools start switched on, and the rounds a turn may take (NEXUSCHAT_TOOLS,
    NEXUSCHAT_TOOL_ROUNDS)."""
    return resolve_tool_settings(secrets(), os.environ)


def mcp_servers() -> tuple[McpServer, ...]:
    """The deploy's MCP servers (NEXUSCHAT_MCP_SERVERS: a secrets table, or JSON text in the
    environment)."""
    try:
        value = st.secrets.get("NEXUSCHAT_MCP_SERVERS")
    except Exception:  # noqa: BLE001 - no or malformed secrets: the environment's, if any
        value = None
    if value is None:
        value = os.environ.get("NEXUSCHAT_MCP_SERVERS")
    return servers_from_config(plain_tables(value))  # st.secrets' own mapping type


def limits() -> Limits:
    """What one person may use of this deploy (NEXUSCHAT_LIMIT_*; hosted defaults)."""
    return resolve_limits(secrets(), os.environ, hosted=deployment().hosted)


def resolved_settings() -> Settings:
    """Provider settings as configured (widget > st.secrets > environment, within what a
    hosted deploy lets a visitor choose); starts nothing."""
    return resolve_settings(widget_settings(), secrets(), os.environ,
                            server_address=server_address())


def default_settings(provider: str) -> Settings:
    """What `provider` uses when the user has picked nothing (the model a switch selects)."""
    return resolve_settings({"NEXUSCHAT_PROVIDER": provider}, secrets(), os.environ,
                            server_address=server_address())


def current_key_source() -> str:
    """Where the key in use comes from ("widget", "secrets", "env" or "")."""
    return key_source(widget_settings(), secrets(), os.environ)


def current_params() -> GenerationParams:
    """Generation parameters from the settings widgets; unset fields stay None."""
    s = st.session_state
    sampling = s.get("w_sampling", "default")
    user = (s.get("w_user") or "").strip()
    choice = s.get("w_tool_choice", "auto")
    return GenerationParams(
        temperature=s.get("w_temperature") if sampling == "temperature" else None,
        top_p=s.get("w_top_p") if sampling == "top_p" else None,
        max_tokens=s.get("w_max_tokens"),
        stop=parse_stop(s.get("w_stop") or ""),
        presence_penalty=s.get("w_presence_penalty"),
        frequency_penalty=s.get("w_frequency_penalty"),
        seed=s.get("w_seed"),
        user=user or None,
        thinking={"on": True, "off": False}.get(s.get("w_thinking")),
        thinking_budget=s.get("w_thinking_budget"),
        n=n if isinstance(n := s.get("w_n"), int) and n > 1 else None,
        tool_choice=None if choice == "auto" else choice,
        tool_function=(s.get("w_tool_function") or "").strip() or None
        if choice == "function" else None,
    )


def conversation() -> Conversation:
    """The open conversation with the sidebar's current system prompt (a read: the session's
    copy takes the prompt when a change made from this is stored with `set_conversation`)."""
    current: Conversation = st.session_state[CONVERSATION]
    prompt = st.session_state.get("w_system_prompt") or ""
    return current if current.system_prompt == prompt else replace(current, system_prompt=prompt)


def set_conversation(value: Conversation) -> None:
    """Replace the open conversation (another one starts with the latest messages drawn)."""
    if value.id != st.session_state[CONVERSATION].id:
        st.session_state[HISTORY_WINDOW] = HISTORY_STEP
    st.session_state[CONVERSATION] = value


def apply_conversation_settings(conversation: Conversation) -> None:
    """Show an opened conversation's model, system prompt and parameters in the widgets.

    Only before the widgets are drawn in a run (the router's start, or a callback).
    """
    s = st.session_state
    if conversation.model:
        # The bundled model belongs to the local provider; any other model to an API.
        local = conversation.model == LOCAL_MODEL
        if local or s.get(PROVIDER) == PROVIDER_LOCAL:
            s[PROVIDER] = PROVIDER_LOCAL if local else PROVIDER_API
        s[MODEL] = conversation.model
    s["w_system_prompt"] = conversation.system_prompt
    p = from_dict(conversation.params)
    s["w_sampling"] = ("temperature" if p.temperature is not None
                       else "top_p" if p.top_p is not None else "default")
    if p.temperature is not None:
        s["w_temperature"] = p.temperature
    if p.top_p is not None:
        s["w_top_p"] = p.top_p
    s["w_max_tokens"] = p.max_tokens
    s["w_stop"] = stop_text(p.stop)
    s["w_presence_penalty"] = p.presence_penalty
    s["w_frequency_penalty"] = p.frequency_penalty
    s["w_seed"] = p.seed
    s["w_user"] = p.user or ""
    s["w_thinking"] = {True: "on", False: "off"}.get(p.thinking, "auto")
    s["w_thinking_budget"] = p.thinking_budget
    s["w_n"] = p.n or 1
    s["w_tool_choice"] = p.tool_choice or "auto"
    s["w_tool_function"] = p.tool_function or ""


def with_current_settings(conversation: Conversation, model: str,
                          params: GenerationParams) -> Conversation:
    """The conversation carrying the model and parameters it is being sent with."""
    return replace(conversation, model=model, params=as_dict(params))


def model_capabilities(settings: Settings, model: str | None = None) -> Capabilities:
    """What `model` (default: the settings' model) can do: the deploy's catalog, then the
    user's own corrections (Settings page)."""
    return capabilities(model or settings.model, st.session_state.get(OVERRIDES),
                        settings.catalog)
