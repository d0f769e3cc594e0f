"""The tool loop on the chat page: built-ins, MCP servers, the user's own tools, tool_choice,
the round limit, and what is stored (AppTest against the fake API and a real MCP server)."""

from __future__ import annotations

import pytest

from components import state
from nexuschat.store import Store
from nexuschat.tool_loop import STOPPED_RESULT
from nexuschat.user_tools import UserTool
from tests.app.conftest import new_app, provider_secrets, send
from tests.mcp_server import McpTestServer

DOWN = "http://127.0.0.1:9/mcp"  # nothing listens on the discard port


def labels(at) -> list[str]:
    return [e.label for e in at.expander]


def stored(db_url: str):
    with Store.open(db_url) as store:
        (summary,) = store.list("local")
        return store.load("local", summary.id)


def test_a_calculation_is_answered_through_the_calculator(app, fake_api, db_url):
    send(app, "Please calculate 6*7")
    first, second = fake_api.chat_requests()
    assert [t["function"]["name"] for t in first["tools"]] == [
        "calculate", "current_time", "convert_units"]
    assert "tool_choice" not in first
    call = second["messages"][-2]["tool_calls"][0]
    assert second["messages"][-2]["content"] is None
    assert call["function"] == {"name": "calculate", "arguments": '{"expression": "6*7"}'}
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": call["id"],
                                      "content": "42"}
    assert "Called calculate · built-in" in labels(app)
    assert any("The tools answered: 42." in m.value for m in app.markdown)
    assert not app.exception
    # Stored with the conversation: the call, its result, and the answer.
    conv = stored(db_url)
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool", "assistant"]
    assert conv.messages[1].tool_calls[0].source == "builtin"
    assert conv.messages[2].tool_result.call_id == call["id"]


def test_parallel_calls_are_answered_in_order_and_a_failure_is_told_to_the_model(app, fake_api):
    send(app, "calculate 2+3 and calculate 1/0")
    _, second = fake_api.chat_requests()
    calls = second["messages"][-3]["tool_calls"]
    results = second["messages"][-2:]
    assert [r["tool_call_id"] for r in results] == [c["id"] for c in calls]
    assert [r["content"] for r in results] == ["5", "Error: division by zero"]
    assert "Called calculate · built-in · failed" in labels(app)
    assert any("The tools answered: 5; Error: division by zero." in m.value
               for m in app.markdown)


def test_the_loop_stops_at_the_round_limit_and_keeps_everything(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_TOOL_ROUNDS="2")).run()
    again = {"kind": "reply", "tool_calls": [{"name": "calculate",
                                              "arguments": '{"expression": "1+1"}'}]}
    fake_api.script(again, again)
    send(at, "keep going")
    assert len(fake_api.chat_requests()) == 2
    assert any("stopped after 2 requests" in w.value for w in at.warning)
    conv = stored(db_url)
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool", "assistant"]
    assert conv.last.meta.tool_limit == 2 and conv.last.tool_calls
    send(at, "and now?")  # the unanswered calls are sent as not run; the chat goes on
    last = fake_api.chat_requests()[-1]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "tool", "assistant", "tool",
                                         "user"]


def test_tool_choice_is_sent_on_the_first_request_only(app, fake_api):
    app.session_state["w_tool_choice"] = "function"
    app.session_state["w_tool_function"] = "current_time"
    send(app, "hello")
    first, second = fake_api.chat_requests()
    assert first["tool_choice"] == {"type": "function", "function": {"name": "current_time"}}
    assert "tool_choice" not in second
    assert second["messages"][-1]["role"] == "tool"
    assert '"timezone"' in second["messages"][-1]["content"]


def test_tool_choice_none_and_the_switch(app, fake_api):
    app.session_state["w_tool_choice"] = "none"
    send(app, "calculate 1+1")
    (body,) = fake_api.chat_requests()
    assert body["tool_choice"] == "none" and body["tools"]
    app.toggle(key=state.TOOLS_ON).set_value(False).run()
    send(app, "calculate 1+1")
    assert "tools" not in fake_api.chat_requests()[-1]


def test_the_settings_page_offers_tool_choice(app):
    app.switch_page("app_pages/settings.py").run()
    app.radio(key="w_tool_choice").set_value("function").run()
    app.text_input(key="w_tool_function").set_value("nope").run()
    assert any("No tool named nope" in w.value for w in app.warning)
    # Shown literally (plain_text escapes Markdown: current\_time).
    assert any("calculate, current\\_time, convert\\_units" in c.value for c in app.caption)
    assert not app.exception


def test_the_deployer_can_start_with_tools_off(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url, NEXUSCHAT_TOOLS="off")).run()
    assert at.toggle(key=state.TOOLS_ON).value is False
    send(at, "calculate 1+1")
    assert "tools" not in fake_api.chat_requests()[0]


@pytest.mark.parametrize("language, text", [
    ("en", "The MCP server down cannot be reached"), ("zh", "无法连接 MCP 服务器 down")])
def test_an_mcp_server_that_is_down_is_said_once_and_the_chat_works(fake_api, db_url,
                                                                    language, text):
    secrets = provider_secrets(fake_api, db_url)
    at = new_app({**secrets, "NEXUSCHAT_MCP_SERVERS": {"down": DOWN}})
    at.session_state["w_language"] = language
    at.run()
    assert [w.value for w in at.sidebar.warning if text in w.value] != []
    send(at, "hello there")
    assert len([w for w in at.sidebar.warning if "down" in w.value]) == 1
    assert [t["function"]["name"] for t in fake_api.chat_requests()[0]["tools"]] == [
        "calculate", "current_time", "convert_units"]
    assert any("Echo: hello there" in m.value for m in at.markdown)
    assert not at.exception


def test_a_tool_from_a_real_mcp_server(fake_api, db_url):
    with McpTestServer() as server:
        secrets = provider_secrets(fake_api, db_url)
        at = new_app({**secrets, "NEXUSCHAT_MCP_SERVERS": {"atlas": {"url": server.url}}})
        send(at.run(), "What is the capital of Japan?")
    _, second = fake_api.chat_requests()
    assert second["messages"][-1]["content"] == "Tokyo"
    assert "Called atlas\\_\\_capital · MCP server atlas" in labels(at)  # shown literally
    assert any("The tools answered: Tokyo." in m.value for m in at.markdown)
    assert not at.sidebar.warning


def test_the_users_own_tool_is_answered_by_hand(app, fake_api, db_url):
    app.session_state[state.USER_TOOLS] = [UserTool(
        "lookup", "Look a word up", {"type": "object", "properties": {"q": {"type": "string"}}})]
    send(app, 'call lookup with {"q": "nexus"}')
    (first,) = fake_api.chat_requests()
    assert "lookup" in [t["function"]["name"] for t in first["tools"]]
    assert "lookup · your tool · waiting for your answer" in labels(app)
    (field,) = [a for a in app.text_area if a.key.startswith("tool-answer-")]
    field.set_value('{"meaning": "a link"}')
    next(b for b in app.button if b.key.startswith("tool-send-")).click().run()
    _, second = fake_api.chat_requests()
    assert second["messages"][-1]["role"] == "tool"
    assert second["messages"][-1]["content"] == '{"meaning": "a link"}'
    assert any('The tools answered: {"meaning": "a link"}.' in m.value for m in app.markdown)
    assert "Called lookup · your tool" in labels(app)
    assert [m.role for m in stored(db_url).messages] == ["user", "assistant", "tool",
                                                          "assistant"]
    assert STOPPED_RESULT not in str(second)


@pytest.mark.parametrize(("language", "says"), [
    ("en", "The model's arguments for lookup do not fit its parameters schema"),
    ("zh", "模型为 lookup 提供的参数不符合它的参数 schema")])
def test_arguments_that_do_not_fit_the_users_schema_are_pointed_out_before_answering(
        app, fake_api, language, says):
    app.session_state["w_language"] = language
    app.session_state[state.USER_TOOLS] = [UserTool(
        "lookup", "Look a word up", {"type": "object", "properties": {"q": {"type": "string"}},
                                     "required": ["q"]})]
    send(app, 'call lookup with {"q": 5}')
    (warning,) = [w.value for w in app.warning if says in w.value]
    assert "$.q" in warning  # where, as the playground says it
    assert [a for a in app.text_area if a.key.startswith("tool-answer-")]  # still answerable


def test_fitting_arguments_raise_no_warning(app, fake_api):
    app.session_state[state.USER_TOOLS] = [UserTool(
        "lookup", "Look a word up", {"type": "object", "properties": {"q": {"type": "string"}}})]
    send(app, 'call lookup with {"q": "nexus"}')
    assert not [w for w in app.warning if "do not fit" in w.value]
