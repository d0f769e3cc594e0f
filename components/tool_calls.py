"""A reply's tool calls inside its bubble: each collapsed, with its arguments and result.

Arguments and results are shown as code (pretty-printed JSON when they are JSON): inert text,
whatever a model or a server put in them. Labels pass through `plain_text`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import streamlit as st

from components import state
from components.notices import notice_text
from nexuschat import describe
from nexuschat.conversation import Message, ToolCall
from nexuschat.i18n import t
from nexuschat.safe_text import plain_text, strip_invisible
from nexuschat.tool_loop import answered_by_user, pretty_json
from nexuschat.user_tools import check_arguments

_ICONS = {"ok": ":material/check_circle:", "error": ":material/error:",
          "stopped": ":material/stop_circle:", "none": ":material/build:",
          "waiting": ":material/edit_note:"}
# Sends what the user typed (in the field `answer_key(reply id, call)`) as the call's result.
Answer = Callable[[str, ToolCall], None]


def render_calls(message: Message, results: Mapping[str, Message], *,
                 running: Collection[str] = (), answerable: Collection[str] = (),
                 on_answer: Answer | None = None) -> None:
    """Every call of the reply with its result (`results` by call id); a call in `running`
    shows a spinner, one in `answerable` (the user's own tool, waiting) a field for its
    result."""
    for call in message.tool_calls:
        result = results.get(call.id)
        if result is not None:
            _render_call(call, result=result)
        elif call.id in running:
            _render_call(call, state="running")
        elif call.id in answerable and on_answer is not None and answered_by_user(call):
            _render_call(call, state="waiting", on_answer=on_answer, key=message.id)
        else:
            _render_call(call, state="none")


def render_live_calls(calls: tuple[ToolCall, ...]) -> None:
    """The calls of a reply still streaming, their arguments as far as they came."""
    for call in calls:
        _render_call(call, state="streaming")


def _label(call: ToolCall, state: str) -> str:
    name = plain_text(call.name or "…")
    source = describe.tool_source(call.source, literal=plain_text)
    if state in ("ok", "error", "stopped", "running", "waiting", "streaming"):
        return t(f"tools.call.{state}", name=name, source=source)
    return t("tools.call.not_run", name=name, source=source)


def _render_call(call: ToolCall, *, result: Message | None = None, state: str = "none",
                 on_answer: Answer | None = None, key: str = "") -> None:
    outcome = result.tool_result.status if result is not None and result.tool_result else state
    icon = "spinner" if outcome in ("running", "streaming") else _ICONS.get(outcome, _ICONS["none"])
    with st.expander(_label(call, outcome), expanded=outcome == "waiting", icon=icon,
                     type="compact"):
        st.caption(t("tools.arguments"))
        _code(call.arguments or "{}")
        if result is not None and result.tool_result is not None:
            st.caption(describe.tool_result_note(result.tool_result, literal=plain_text))
            _code(result.content)
        elif outcome == "waiting" and on_answer is not None:
            _render_answer(call, on_answer, key)
        elif outcome == "none":
            st.caption(t("tools.no_result"))


def _code(text: str) -> None:
    # A code block shows its text as it is; only what would reorder or hide text is taken out.
    shown = strip_invisible(pretty_json(text))
    st.code(shown, language="json" if shown.lstrip().startswith(("{", "[")) else None,
            wrap_lines=True)


def answer_key(message_id: str, call: ToolCall) -> str:
    """The widget key of the field where the user types a call's result."""
    return f"tool-answer-{message_id}-{call.id}"


def _render_answer(call: ToolCall, on_answer: Answer, message_id: str) -> None:
    mine = next((tool for tool in st.session_state.get(state.USER_TOOLS) or ()
                 if tool.name == call.name), None)
    if mine is not None and (problems := check_arguments(mine.parameters, call.arguments)):
        # The model's arguments do not fit the schema the user wrote: said before they answer.
        st.warning(t("tools.args_mismatch", name=plain_text(call.name)) + "\n\n"
                   + "\n".join(f"- {notice_text(p)}" for p in problems),
                   icon=":material/rule:")
    st.text_area(t("tools.answer_label", name=plain_text(call.name)),
                 key=answer_key(message_id, call), help=t("tools.answer_help"), height=100)
    st.button(t("tools.answer_send"), key=f"tool-send-{message_id}-{call.id}",
              on_click=on_answer, args=(message_id, call), icon=":material/send:")
