"""Settings' "My tools": the owner's own tools listed, added, edited, deleted, and tried out.

The fields are widget state (state.WIDGET_DEFAULTS), so whatever was typed stays on the page
when Save finds a problem, and across a page switch; they are emptied only once a tool is
stored. Every change goes through the store first (persistence), which re-reads the list into
`state.USER_TOOLS`, the one place the chat's toolbox reads.
"""

from __future__ import annotations

import json

import streamlit as st

from components import persistence, state
from components.notices import notice_text, render_notice
from nexuschat.errors import Note, Problem
from nexuschat.i18n import t
from nexuschat.safe_text import plain_text
from nexuschat.store import StoreError
from nexuschat.user_tools import (
    BUILTIN_NAMES,
    MAX_TOOLS_PER_OWNER,
    UserTool,
    check_arguments,
    check_definition,
    check_schema,
    schema_text,
)

NAME_FIELD = "w_tool_name"
DESCRIPTION_FIELD = "w_tool_description"
PARAMETERS_FIELD = "w_tool_parameters"
ARGUMENTS_FIELD = "w_tool_arguments"
EDITING = "tool_editing"  # str | None: the stored tool the form changes; None: a new one
PROBLEMS = "tool_problems"  # tuple[Notice, ...]: what the last Save found wrong
DONE = "tool_done"  # Note | None: what the last save or delete did, told once
EXAMPLE_NAME = "get_weather"  # a valid name (user_tools.NAME)
ARGUMENTS_EXAMPLE = '{"city": "Paris", "unit": "celsius"}'


def render_my_tools() -> None:
    """The section: the owner's tools, the form that adds or edits one, the arguments check."""
    st.session_state.setdefault(EDITING, None)
    st.session_state.setdefault(PROBLEMS, ())
    st.subheader(t("tools.title"))
    st.caption(t("tools.intro"))
    if done := st.session_state.pop(DONE, None):
        st.toast(notice_text(done), icon=":material/check:")
    if problem := persistence.load_user_tools():  # the router's step already did, normally
        st.error(t(problem), icon=":material/database:")
    _render_list(st.session_state[state.USER_TOOLS])
    _render_form()
    _render_try()


def _render_list(tools: tuple[UserTool, ...]) -> None:
    if not tools:
        st.caption(t("tools.none"))
        return
    st.caption(t("tools.count", count=len(tools), limit=MAX_TOOLS_PER_OWNER))
    for tool in tools:
        with st.container(border=True):
            text, edit, delete = st.columns([5, 1, 1], vertical_alignment="center")
            text.markdown(f"**{plain_text(tool.name)}**")
            text.caption(plain_text(tool.description) if tool.description
                         else t("tools.no_description"))
            names = tool.argument_names()
            text.caption(t("tools.arguments_list", names=", ".join(map(plain_text, names)))
                         if names else t("tools.no_arguments"))
            edit.button(t("tools.edit"), key=f"tool-edit-{tool.name}", on_click=_edit,
                        args=(tool,))
            with delete.popover(t("tools.delete")):
                st.caption(t("tools.delete_confirm", name=plain_text(tool.name)))
                st.button(t("tools.delete_yes"), key=f"tool-delete-{tool.name}",
                          type="primary", on_click=_delete, args=(tool.name,))


def _render_form() -> None:
    s = st.session_state
    editing = s[EDITING]
    st.markdown("**" + (t("tools.edit_title", name=plain_text(editing)) if editing
                        else t("tools.add_title")) + "**")
    st.text_input(t("tools.name"), key=NAME_FIELD, placeholder=EXAMPLE_NAME,
                  help=t("tools.name_help"))
    st.text_area(t("tools.description"), key=DESCRIPTION_FIELD, height=80,
                 placeholder=t("tools.example.description"), help=t("tools.description_help"))
    st.text_area(t("tools.parameters"), key=PARAMETERS_FIELD, height=260,
                 placeholder=example_schema(), help=t("tools.parameters_help"))
    for problem in s[PROBLEMS]:
        render_notice(problem, icon=":material/error:")
    save, example, cancel = st.columns(3)
    save.button(t("tools.save"), key="tool-save", type="primary", on_click=_save)
    # Only into an empty field: the example never replaces what was typed.
    example.button(t("tools.load_example"), key="tool-example", on_click=_load_example,
                   disabled=bool(s[PARAMETERS_FIELD].strip()))
    if editing or any(s[key].strip() for key in (NAME_FIELD, DESCRIPTION_FIELD,
                                                 PARAMETERS_FIELD)):
        cancel.button(t("tools.cancel"), key="tool-cancel", on_click=_clear)


def _render_try() -> None:
    with st.expander(t("tools.try"), icon=":material/rule:"):
        st.caption(t("tools.try_help"))
        st.text_area(t("tools.try_arguments"), key=ARGUMENTS_FIELD, height=120,
                     placeholder=ARGUMENTS_EXAMPLE)
        if not st.button(t("tools.try_check"), key="tool-try"):
            return
        schema, _ = check_schema(st.session_state[PARAMETERS_FIELD])
        if schema is None:
            st.warning(t("tools.try_schema_first"), icon=":material/warning:")
            return
        problems = check_arguments(schema, st.session_state[ARGUMENTS_FIELD])
        for problem in problems:
            render_notice(problem, icon=":material/error:")
        if not problems:
            st.success(t("tools.try_fit"), icon=":material/check:")


def example_schema() -> str:
    """The example tool's parameters, described in the user's language."""
    return json.dumps({
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": t("tools.example.city")},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"],
                     "description": t("tools.example.unit")},
        },
        "required": ["city"],
        "additionalProperties": False,
    }, indent=2, ensure_ascii=False)


# --- callbacks: they run before the fields are drawn, so they may set them -------------------


def _save() -> None:
    s = st.session_state
    editing = s[EDITING]
    others = frozenset(tool.name for tool in s[state.USER_TOOLS] if tool.name != editing)
    tool, problems = check_definition(s[NAME_FIELD], s[DESCRIPTION_FIELD], s[PARAMETERS_FIELD],
                                      taken=BUILTIN_NAMES | others)
    if tool is None:
        s[PROBLEMS] = tuple(problems)
        return
    try:
        refused = persistence.save_user_tool(tool, old_name=editing)
    except StoreError as failure:  # what was typed stays in the fields
        refused = Problem(persistence.failure_key(persistence.report(failure)))
    if refused is not None:
        s[PROBLEMS] = (refused,)
        return
    _clear()
    s[DONE] = Note("tools.saved", {"name": tool.name})


def _edit(tool: UserTool) -> None:
    s = st.session_state
    s[NAME_FIELD], s[DESCRIPTION_FIELD] = tool.name, tool.description
    s[PARAMETERS_FIELD] = schema_text(tool)
    s[EDITING], s[PROBLEMS] = tool.name, ()


def _delete(name: str) -> None:
    s = st.session_state
    try:
        persistence.delete_user_tool(name)
    except StoreError as failure:
        s[PROBLEMS] = (Problem(persistence.failure_key(persistence.report(failure))),)
        return
    if s[EDITING] == name:
        s[EDITING] = None  # its fields stay: Save adds it again
    s[DONE] = Note("tools.deleted", {"name": name})


def _load_example() -> None:
    s = st.session_state
    if not s[NAME_FIELD].strip():
        s[NAME_FIELD] = EXAMPLE_NAME
    if not s[DESCRIPTION_FIELD].strip():
        s[DESCRIPTION_FIELD] = t("tools.example.description")
    s[PARAMETERS_FIELD] = example_schema()


def _clear() -> None:
    s = st.session_state
    for key in (NAME_FIELD, DESCRIPTION_FIELD, PARAMETERS_FIELD):
        s[key] = ""
    s[EDITING], s[PROBLEMS] = None, ()

