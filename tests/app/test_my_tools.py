"""Settings' "My tools" through AppTest: definitions checked, stored per owner, and loaded
into state.USER_TOOLS for the chat's toolbox."""

from __future__ import annotations

import json
import re

import pytest

from components import state
from nexuschat.store import Store
from nexuschat.user_tools import UserTool
from tests.app.conftest import new_app, provider_secrets
from tests.app.test_identity import ALICE, AUTH, BOB, hosted_app

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}},
           "required": ["city"]}


def open_settings(at):
    return at.switch_page("app_pages/settings.py").run()


def fill(at, name: str, description: str, parameters: str):
    at.text_input(key="w_tool_name").input(name)
    at.text_area(key="w_tool_description").input(description)
    at.text_area(key="w_tool_parameters").input(parameters)
    return at


def assert_kept(at, name: str, description: str, parameters: str) -> None:
    """The form still holds what was typed."""
    assert at.text_input(key="w_tool_name").value == name
    assert at.text_area(key="w_tool_description").value == description
    assert at.text_area(key="w_tool_parameters").value == parameters


def save(at):
    return at.button(key="tool-save").click().run()


def shown(*texts: str) -> str:
    """Texts as the page renders them: plain_text's backslash escapes gone."""
    return re.sub(r"\\(.)", r"\1", "\n".join(texts))


def errors(at) -> str:
    return shown(*(e.value for e in at.error))


def stored(db_url: str, owner: str) -> list[UserTool]:
    with Store.open(db_url) as store:
        return store.list_tools(owner)


def test_a_valid_tool_is_stored_listed_and_offered(app, db_url):
    open_settings(app)
    assert not app.exception
    assert app.session_state[state.USER_TOOLS] == ()
    save(fill(app, "get_weather", "The weather in a city", json.dumps(WEATHER)))
    assert not app.exception and errors(app) == ""
    tool = UserTool("get_weather", "The weather in a city", WEATHER)
    assert stored(db_url, "local") == [tool]
    assert app.session_state[state.USER_TOOLS] == (tool,)
    assert app.session_state[state.USER_TOOLS][0].to_tool().source == "user"
    assert "**get_weather**" in shown(*(m.value for m in app.markdown))
    assert "Arguments: city" in "\n".join(c.value for c in app.caption)
    assert app.text_input(key="w_tool_name").value == ""  # emptied for the next one
    assert shown(*(t.value for t in app.toast)) == "Saved the tool “get_weather”."


@pytest.mark.parametrize("language, name_says, schema_says, json_says", [
    ("en", "cannot be a tool's name", "not valid JSON Schema at $.properties.city.type: "
     "'strin' is not one of", "not valid JSON at line 1, column 19"),
    ("zh", "不能作为工具名", "参数 schema 在 $.properties.city.type 处不是有效的 JSON Schema："
     "'strin' is not one of", "第 1 行第 19 列"),
])
def test_bad_definitions_are_explained_in_the_users_language_and_kept(
        fake_api, db_url, language, name_says, schema_says, json_says):
    at = new_app(provider_secrets(fake_api, db_url))
    at.session_state["w_language"] = language
    open_settings(at.run())
    bad = '{"type": "object", "properties": {"city": {"type": "strin"}}}'
    save(fill(at, "天气", "kept too 保留", bad))
    said = errors(at)
    assert name_says in said and schema_says in said
    assert_kept(at, "天气", "kept too 保留", bad)
    at.text_area(key="w_tool_parameters").input('{"type": "object",}').run()
    save(at)
    assert json_says in errors(at)
    assert_kept(at, "天气", "kept too 保留", '{"type": "object",}')
    assert stored(db_url, "local") == []


def test_a_built_in_tools_name_is_refused(app, db_url):
    open_settings(app)
    save(fill(app, "calculate", "", ""))
    assert "A tool named “calculate” exists already." in errors(app)
    assert stored(db_url, "local") == []


def test_edit_renames_and_changes_it_in_place(app, db_url):
    open_settings(app)
    save(fill(app, "get_weather", "old", json.dumps(WEATHER)))
    app.button(key="tool-edit-get_weather").click().run()
    assert app.text_input(key="w_tool_name").value == "get_weather"
    assert json.loads(app.text_area(key="w_tool_parameters").value) == WEATHER
    assert "Edit the tool “get_weather”" in shown(*(m.value for m in app.markdown))
    app.text_input(key="w_tool_name").input("forecast")
    app.text_area(key="w_tool_description").input("new")
    save(app)
    assert errors(app) == ""
    assert stored(db_url, "local") == [UserTool("forecast", "new", WEATHER)]
    assert [t.name for t in app.session_state[state.USER_TOOLS]] == ["forecast"]


def test_editing_cannot_take_another_tools_name(app, db_url):
    open_settings(app)
    save(fill(app, "one", "", ""))
    save(fill(app, "two", "", ""))
    app.button(key="tool-edit-two").click().run()
    app.text_input(key="w_tool_name").input("one")
    save(app)
    assert "A tool named “one” exists already." in errors(app)
    assert [t.name for t in stored(db_url, "local")] == ["one", "two"]
    assert app.text_input(key="w_tool_name").value == "one"  # still as typed


def test_delete(app, db_url):
    open_settings(app)
    save(fill(app, "get_weather", "", json.dumps(WEATHER)))
    save(fill(app, "clock", "", ""))
    app.button(key="tool-delete-get_weather").click().run()
    assert not app.exception
    assert [t.name for t in stored(db_url, "local")] == ["clock"]
    assert [t.name for t in app.session_state[state.USER_TOOLS]] == ["clock"]
    assert "tool-edit-get_weather" not in {b.key for b in app.button}


def test_load_example_fills_only_empty_fields(app, db_url):
    open_settings(app)
    app.text_input(key="w_tool_name").input("mine").run()
    app.button(key="tool-example").click().run()
    assert app.text_input(key="w_tool_name").value == "mine"
    example = json.loads(app.text_area(key="w_tool_parameters").value)
    assert example["required"] == ["city"]
    assert app.button(key="tool-example").disabled  # never over what was typed
    save(app)
    assert [t.name for t in stored(db_url, "local")] == ["mine"]


def test_sample_arguments_are_checked_against_the_schema(app):
    open_settings(app)
    fill(app, "get_weather", "", json.dumps(WEATHER)).run()
    app.text_area(key="w_tool_arguments").input('{"town": 1}').run()
    app.button(key="tool-try").click().run()
    assert "Arguments at $: 'city' is a required property" in errors(app)
    app.text_area(key="w_tool_arguments").input('{"city": "Paris"}').run()
    app.button(key="tool-try").click().run()
    assert [s.value for s in app.success] == ["These arguments fit the schema."]
    app.text_area(key="w_tool_parameters").input("{oops").run()
    app.button(key="tool-try").click().run()
    assert "fix them first" in "\n".join(w.value for w in app.warning)


def test_a_half_typed_tool_survives_a_page_switch(app):
    open_settings(app)
    fill(app, "draft", "not saved yet", "").run()
    app.switch_page("app_pages/chat.py").run()
    open_settings(app)
    assert app.text_input(key="w_tool_name").value == "draft"
    assert app.text_area(key="w_tool_description").value == "not saved yet"


def test_two_owners_do_not_see_each_others_tools(fake_api, db_url):
    alice = hosted_app(fake_api, db_url, user=ALICE, auth=AUTH)
    open_settings(alice)
    save(fill(alice, "alices_tool", "hers", ""))
    bob = hosted_app(fake_api, db_url, user=BOB, auth=AUTH)
    assert bob.session_state[state.USER_TOOLS] == ()
    open_settings(bob)
    assert "tool-edit-alices_tool" not in {b.key for b in bob.button}
    save(fill(bob, "alices_tool", "his, same name", ""))  # no clash across owners
    assert errors(bob) == ""
    assert [t.description for t in bob.session_state[state.USER_TOOLS]] == ["his, same name"]
    assert [t.description for t in alice.run().session_state[state.USER_TOOLS]] == ["hers"]


def test_the_router_loads_the_owners_tools_once_per_session(fake_api, db_url):
    with Store.open(db_url) as store:
        store.save_tool("local", UserTool("stored_before", "", WEATHER))
    at = new_app(provider_secrets(fake_api, db_url)).run()  # the chat page: no Settings visit
    assert at.session_state[state.USER_TOOLS] == (UserTool("stored_before", "", WEATHER),)
    with Store.open(db_url) as store:  # behind the session's back: not read again every run
        store.save_tool("local", UserTool("later", "", WEATHER))
    at.run()
    assert [t.name for t in at.session_state[state.USER_TOOLS]] == ["stored_before"]
    open_settings(at)
    save(fill(at, "mine", "", ""))  # a change re-reads the list
    assert [t.name for t in at.session_state[state.USER_TOOLS]] == ["later", "mine",
                                                                     "stored_before"]


def test_the_limit_is_said_and_the_new_tool_kept(app, db_url):
    with Store.open(db_url) as store:
        for i in range(32):
            store.save_tool("local", UserTool(f"tool_{i:02}", "", WEATHER))
    app.session_state[state.USER_TOOLS_OWNER] = None  # stored behind its back: read again
    open_settings(app)
    assert "32 tools of at most 32." in shown(*(c.value for c in app.caption))
    save(fill(app, "one_more", "typed", ""))
    assert "You can keep at most 32 tools: delete one to add another." in errors(app)
    assert_kept(app, "one_more", "typed", "")
    assert len(stored(db_url, "local")) == 32


def test_a_store_failure_is_said_and_nothing_typed_is_lost(app, db_url):
    import sqlalchemy as sa

    open_settings(app)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE user_tools"))
    engine.dispose()
    save(fill(app, "get_weather", "typed", json.dumps(WEATHER)))
    assert not app.exception
    assert "not in the shape this version of NexusChat expects" in errors(app)
    assert_kept(app, "get_weather", "typed", json.dumps(WEATHER))
