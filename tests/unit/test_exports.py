"""Export and import: lossless JSON round trip, validation, OpenAI arrays, Markdown zips."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import posixpath
import re
import zipfile
from dataclasses import fields, replace

import pytest
from PIL import Image, PngImagePlugin

from nexuschat import exports
from nexuschat.conversation import (
    Conversation,
    ConversationTree,
    Message,
    ReplyMeta,
    ToolResult,
    make_title,
    to_openai,
)
from nexuschat.exports import (
    ImportNote,
    ImportProblem,
    from_json,
    from_openai_messages,
    read_any,
    suggested_filename,
    to_json,
    to_markdown_zip,
)
from nexuschat.i18n import CATALOGUE, t
from nexuschat.images import PreparedImage

KEY = "sk-test-DO-NOT-LEAK-4f9a1c"
T0 = 1_700_000_000.25


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def prepared(data: bytes, mime: str, name: str) -> PreparedImage:
    w, h = Image.open(io.BytesIO(data)).size
    return PreparedImage(data, mime, w, h, name, len(data) * 3, w * 2, h * 2)


PNG = encode(Image.new("RGB", (4, 3), (220, 20, 30)), "PNG")
JPEG = encode(Image.radial_gradient("L").convert("RGB").resize((5, 4)), "JPEG", quality=80)


def sample_tree() -> ConversationTree:
    """Two branches under the first question, a shared image, Chinese text, every meta kind."""
    shot = prepared(PNG, "image/png", "截图.png")
    u1 = Message("user", "你好，请描述这张图片。", images=(shot,), id="u1", created_at=T0 + 1)
    a1 = Message("assistant", "一张红色的图片。", id="a1", parent_id="u1", created_at=T0 + 2.5,
                 meta=ReplyMeta(model="qwen-vl", finish_reason="stop", prompt_tokens=812,
                                completion_tokens=9, total_tokens=821, ttft_s=0.41,
                                duration_s=1.0625, raw_finish_reason="end_turn",
                                reasoning_tokens=5, reasoning_s=0.25,
                                skipped_parts=("image_url",)),
                 reasoning="用户想知道颜色。\n\n```\nred = (220, 20, 30)\n```")
    a2 = Message("assistant", "A red pic", id="a2", parent_id="u1", created_at=T0 + 3,
                 meta=ReplyMeta(model="qwen-vl", status="stopped", ttft_s=0.2, duration_s=0.5))
    u2 = Message("user", "And these two?\nSecond line.", id="u2", parent_id="a1",
                 images=(replace(shot, name="again.png"), prepared(JPEG, "image/jpeg",
                                                                   "../../etc/photo.jpg")),
                 created_at=T0 + 4)
    a3 = Message("assistant", "", id="a3", parent_id="u2", created_at=T0 + 5,
                 earlier_attempts=("first try", "第二次"),
                 # What the app stores for a 429 (components/live_reply.py `_error_params`).
                 meta=ReplyMeta(model="qwen-vl", status="error", error_code="error.rate_limited",
                                error_params={"status": 429, "message": "Slow down *now*",
                                              "retry_after": 3, "retry_not_before": T0 + 8.5}))
    messages = (u1, a1, a2, u2, a3)
    conv = Conversation(
        messages=(u1, a1, u2, a3), system_prompt="Answer briefly.\n\n简短回答。", id="c1",
        title="Red pictures / 红色*图片*", model="qwen-vl",
        params={"temperature": 0.7, "stop": ["END"], "max_tokens": None},
        created_at=T0, updated_at=T0 + 5, siblings={"a1": ("a1", "a2")},
    )
    return ConversationTree(conv, messages, "a3")


def normalize(data: bytes) -> bytes:
    """Ids become their first-appearance index, header times a marker; all else byte for byte."""
    doc = json.loads(data)
    order: list[str] = []
    for ident in [doc["conversation"]["id"], doc["leaf_id"],
                  *(i for m in doc["messages"] for i in (m["id"], m["parent_id"]))]:
        if ident is not None and ident not in order:
            order.append(ident)
    text = data.decode("utf-8")
    for n, ident in enumerate(order):
        text = text.replace(json.dumps(ident), f'"<id {n}>"')
    # Keys are sorted, so the first of each is the conversation header's.
    text = re.sub(r'"created_at": [-0-9.e+]+', '"created_at": "<t>"', text, count=1)
    text = re.sub(r'"updated_at": [-0-9.e+]+', '"updated_at": "<t>"', text, count=1)
    return text.encode("utf-8")


def problem(data: bytes | str) -> ImportProblem:
    with pytest.raises(ImportProblem) as caught:
        from_json(data)
    return caught.value


def mutated(change) -> bytes:
    doc = json.loads(to_json(sample_tree()))
    change(doc)
    return json.dumps(doc).encode()


def zip_files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# ---------------------------------------------------------------- JSON export and import


def test_export_import_export_is_byte_identical_apart_from_ids_and_header_times():
    first = to_json(sample_tree())
    again = to_json(from_json(first, now=T0 + 999))
    assert again != first  # new ids and times...
    assert normalize(again) == normalize(first)  # ...and nothing else


def test_normalization_does_not_hide_real_differences():
    tree = sample_tree()
    changed = replace(tree, messages=(*tree.messages[:-1],
                                      replace(tree.messages[-1], created_at=T0 + 6)))
    assert normalize(to_json(changed)) != normalize(to_json(tree))


def test_json_shape_is_deterministic_utf8_with_each_image_once():
    data = to_json(sample_tree())
    assert data == to_json(sample_tree())
    assert data.endswith(b"}\n") and "你好".encode() in data
    doc = json.loads(data)
    assert (doc["format"], doc["version"], doc["leaf_id"]) == ("nexuschat.conversation", 1, "a3")
    assert [m["id"] for m in doc["messages"]] == ["u1", "a1", "a2", "u2", "a3"]
    shas = {hashlib.sha256(PNG).hexdigest(), hashlib.sha256(JPEG).hexdigest()}
    assert set(doc["images"]) == shas  # three references, two images
    ref = doc["messages"][3]["images"][0]
    assert ref == {"sha256": hashlib.sha256(PNG).hexdigest(), "mime": "image/png", "width": 4,
                   "height": 3, "name": "again.png", "source_bytes": len(PNG) * 3,
                   "source_width": 8, "source_height": 6}
    assert doc["messages"][0]["meta"] is None
    assert doc["messages"][4]["meta"]["error_params"]["retry_after"] == 3
    assert doc["messages"][4]["earlier_attempts"] == ["first try", "第二次"]


def test_import_gives_new_ids_the_same_tree_and_the_shown_path():
    tree = sample_tree()
    got = from_json(to_json(tree), now=T0 + 100)
    old_ids = {m.id for m in tree.messages}
    ids = [m.id for m in got.messages]
    assert len(set(ids)) == 5 and not set(ids) & old_ids and got.conversation.id != "c1"
    index = {m.id: i for i, m in enumerate(got.messages)}
    parents = [None if m.parent_id is None else index[m.parent_id] for m in got.messages]
    assert parents == [None, 0, 0, 1, 3]
    assert got.leaf_id == ids[4]
    conv = got.conversation
    assert [m.id for m in conv.messages] == [ids[0], ids[1], ids[3], ids[4]]
    assert conv.siblings == {ids[1]: (ids[1], ids[2])}
    assert (conv.created_at, conv.updated_at) == (T0 + 100, T0 + 100)
    assert (conv.title, conv.system_prompt, conv.model) == (
        tree.conversation.title, tree.conversation.system_prompt, "qwen-vl")
    for before, after in zip(tree.messages, got.messages, strict=True):
        assert (after.role, after.content, after.created_at, after.meta, after.earlier_attempts,
                after.images) == (before.role, before.content, before.created_at, before.meta,
                                  before.earlier_attempts, before.images)
    # The shared image is one bytes object in memory, as it is one entry in the file.
    assert got.messages[0].images[0].data is got.messages[3].images[0].data


def test_importing_the_same_file_twice_gives_two_independent_conversations():
    data = to_json(sample_tree())
    one, two = from_json(data), from_json(data)
    assert one.conversation.id != two.conversation.id
    assert not {m.id for m in one.messages} & {m.id for m in two.messages}


def test_empty_conversation_round_trips():
    tree = ConversationTree(Conversation(title="empty", created_at=T0, updated_at=T0), (), None)
    got = from_json(to_json(tree))
    assert got.messages == () and got.leaf_id is None and got.conversation.messages == ()
    assert normalize(to_json(got)) == normalize(to_json(tree))


def test_meta_fields_missing_take_defaults_and_unknown_ones_are_ignored():
    def change(doc):
        doc["messages"][1]["meta"] = {"model": "m", "price_usd": 5}
        doc["messages"][1]["future_field"] = True
        doc["future_top_level"] = {}

    got = from_json(mutated(change))
    assert got.messages[1].meta == ReplyMeta(model="m")


def test_reasoning_and_every_new_meta_field_round_trip():
    got = from_json(to_json(sample_tree()))
    a1 = got.messages[1]
    assert a1.reasoning == sample_tree().messages[1].reasoning
    assert a1.meta == sample_tree().messages[1].meta


def test_an_older_file_without_reasoning_or_raw_finish_reasons_imports():
    def change(doc):
        for m in doc["messages"]:
            m.pop("reasoning")
            if m["meta"]:
                for key in ("raw_finish_reason", "reasoning_tokens", "reasoning_s", "refusal",
                            "skipped_parts"):
                    m["meta"].pop(key)
        doc["messages"][1]["meta"]["finish_reason"] = "max_tokens"

    got = from_json(mutated(change))
    assert [m.reasoning for m in got.messages] == [""] * 5
    meta = got.messages[1].meta
    assert (meta.finish_reason, meta.raw_finish_reason, meta.reasoning_tokens) == (
        "length", "max_tokens", None)


@pytest.mark.parametrize("change, detail", [
    (lambda doc: doc["messages"][1].update(reasoning=5), "messages[1].reasoning must be text"),
    (lambda doc: doc["messages"][1]["meta"].update(refusal="yes"), "refusal must be true"),
    (lambda doc: doc["messages"][1]["meta"].update(skipped_parts=[1]), "skipped_parts"),
])
def test_new_fields_are_checked(change, detail):
    error = problem(mutated(change))
    assert error.code == "import.error.invalid" and detail in error.params["detail"]


def test_an_openai_array_keeps_an_assistant_turns_reasoning_apart():
    tree, notes = from_openai_messages([
        {"role": "user", "content": "17 * 23?"},
        {"role": "assistant", "content": "391", "reasoning_content": "17 * 20 + 17 * 3"},
        {"role": "user", "content": "and 2 + 2?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": "easy"}]},
            {"type": "text", "text": "4"}]},
    ], now=T0)
    replies = [m for m in tree.messages if m.role == "assistant"]
    assert [(m.content, m.reasoning) for m in replies] == [("391", "17 * 20 + 17 * 3"),
                                                           ("4", "easy")]
    assert notes == ()


def test_an_openai_array_keeps_a_refusal_as_the_reply_text():
    tree, _ = from_openai_messages([
        {"role": "user", "content": "something"},
        {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        {"role": "user", "content": "another"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "Nor that."}]},
    ], now=T0)
    assert [m.content for m in tree.messages if m.role == "assistant"] == [
        "I can't help with that.", "Nor that."]


def test_meta_checks_cover_every_reply_meta_field():
    assert set(exports._META_CHECKS) == {f.name for f in fields(ReplyMeta)}


def test_a_byte_order_mark_is_accepted():
    assert len(from_json(b"\xef\xbb\xbf" + to_json(sample_tree())).messages) == 5


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("data", [b"", b"not json", b"{\"format\": ", b"\xff\xfe\x00garbage",
                                  b"[" * 100_000])
def test_not_json(data):
    assert problem(data).code == "import.error.not_json"


@pytest.mark.parametrize("data", [b"[]", b"42", b'"text"', b'{"format": "other", "version": 1}',
                                  b'{"messages": []}'])
def test_not_a_nexuschat_export(data):
    assert problem(data).code == "import.error.unknown_format"


@pytest.mark.parametrize("version", [2, 0, "1", 1.0, True, None])
def test_wrong_version(version):
    p = problem(mutated(lambda d: d.update(version=version)))
    assert p.code == "import.error.unsupported_version"
    assert p.params == {"version": version, "supported": 1}


MISSING = [
    (lambda d: d.pop("version"), "version is missing"),
    (lambda d: d.pop("conversation"), "conversation is missing"),
    (lambda d: d.pop("messages"), "messages is missing"),
    (lambda d: d.pop("images"), "images is missing"),
    (lambda d: d.pop("leaf_id"), "leaf_id is missing"),
    (lambda d: d["conversation"].pop("title"), "conversation.title is missing"),
    (lambda d: d["conversation"].pop("params"), "conversation.params is missing"),
    (lambda d: d["messages"][2].pop("role"), "messages[2].role is missing"),
    (lambda d: d["messages"][0].pop("parent_id"), "messages[0].parent_id is missing"),
    (lambda d: d["messages"][1].pop("created_at"), "messages[1].created_at is missing"),
    (lambda d: d["messages"][3]["images"][1].pop("width"),
     "messages[3].images[1].width is missing"),
]


@pytest.mark.parametrize(("change", "detail"), MISSING)
def test_missing_fields(change, detail):
    p = problem(mutated(change))
    assert (p.code, p.params) == ("import.error.invalid", {"detail": detail})


WRONG = [
    (lambda d: d.update(messages={}), "messages must be a list"),
    (lambda d: d["messages"].append("text"), "messages[5] must be an object"),
    (lambda d: d["conversation"].update(params=[]), "conversation.params must be an object"),
    (lambda d: d["conversation"].update(created_at="today"), "conversation.created_at must be"),
    (lambda d: d["messages"][0].update(created_at=float("nan")), "created_at must be"),
    (lambda d: d["messages"][1].update(role="robot"), "messages[1].role must be one of"),
    (lambda d: d["messages"][1].update(content=None), "messages[1].content must be text"),
    (lambda d: d["messages"][1]["meta"].update(status="done"), "meta.status must be one of"),
    (lambda d: d["messages"][1]["meta"].update(total_tokens="821"), "meta.total_tokens must be"),
    (lambda d: d["messages"][1]["meta"].update(prompt_tokens=True), "meta.prompt_tokens must"),
    (lambda d: d["messages"][4].update(earlier_attempts=[1]), "earlier_attempts must be"),
    (lambda d: d["messages"][3]["images"][0].update(mime=["image/png"]), "mime must be one of"),
    (lambda d: d["messages"][3]["images"][0].update(mime="image/svg+xml"), "mime must be one of"),
    (lambda d: d["messages"][3]["images"][0].update(width=-4), "width must be a whole number"),
    (lambda d: d["messages"][3]["images"][0].update(width=40), "is 4x3, not 40x3"),
    (lambda d: d["messages"][3]["images"][0].update(sha256="0" * 64), "names no image"),
    (lambda d: d["messages"][2].update(parent_id="nope"), "'nope' is not an earlier message"),
    (lambda d: d["messages"][1].update(parent_id="u2"), "'u2' is not an earlier message"),
    (lambda d: d["messages"][1].update(parent_id="a1"), "'a1' is not an earlier message"),
    (lambda d: d["messages"][2].update(id="a1"), "messages[2].id 'a1' is used twice"),
    (lambda d: d.update(leaf_id="gone"), "leaf_id 'gone' is not a message"),
    (lambda d: d["images"].update({"ab": 12}), "must be base64 text"),
]


@pytest.mark.parametrize(("change", "detail"), WRONG)
def test_wrong_types_and_broken_links(change, detail):
    p = problem(mutated(change))
    assert p.code == "import.error.invalid"
    assert detail in p.params["detail"]


def test_bad_base64_is_damage():
    sha = hashlib.sha256(PNG).hexdigest()
    p = problem(mutated(lambda d: d["images"].update({sha: "not*base64!"})))
    assert p.code == "import.error.damaged" and "base64" in p.params["detail"]


def test_sha256_mismatch_is_damage():
    sha = hashlib.sha256(PNG).hexdigest()
    other = base64.b64encode(PNG[:-1] + b"\x00").decode()
    p = problem(mutated(lambda d: d["images"].update({sha: other})))
    assert p.code == "import.error.damaged" and "sha256" in p.params["detail"]


def test_bytes_that_are_not_the_declared_image_are_damage():
    junk = b"<svg onload=alert(1)>"
    sha = hashlib.sha256(junk).hexdigest()

    def change(doc):
        doc["images"][sha] = base64.b64encode(junk).decode()
        doc["messages"][0]["images"][0]["sha256"] = sha

    p = problem(mutated(change))
    assert p.code == "import.error.damaged" and "not a readable image/png" in p.params["detail"]


def test_every_problem_renders_in_the_catalogue():
    problems = [problem(b"x"), problem(b"[]"), problem(mutated(lambda d: d.update(version=9))),
                problem(mutated(lambda d: d.pop("messages"))),
                problem(mutated(lambda d: d["images"].update(
                    {hashlib.sha256(PNG).hexdigest(): "!"})))]
    with pytest.raises(ImportProblem) as caught:
        from_openai_messages([])
    problems.append(caught.value)
    for p in problems:
        assert p.code in CATALOGUE["en"]
        assert "{" not in t(p.code, **p.params)


# ---------------------------------------------------------------- the API key


def test_the_api_key_is_in_no_export():
    tree = sample_tree()
    assert KEY not in repr(tree)  # the dataclasses hold no key...
    data = to_json(tree)
    files = zip_files(to_markdown_zip(tree.conversation))
    assert KEY.encode() not in data  # ...so neither export can carry it
    assert all(KEY.encode() not in content for content in files.values())


def test_credential_like_params_are_dropped_on_export_and_import():
    tree = sample_tree()
    leaky = {**tree.conversation.params, "api_key": KEY, "Authorization": f"Bearer {KEY}",
             "key": KEY, "extra_headers": {"X-Api-Key": KEY, "keep": 1}}
    data = to_json(replace(tree, conversation=replace(tree.conversation, params=leaky)))
    assert KEY.encode() not in data
    params = json.loads(data)["conversation"]["params"]
    assert params == {**tree.conversation.params, "extra_headers": {"keep": 1}}

    doc = json.loads(to_json(tree))
    doc["conversation"]["params"]["openai_api_key"] = KEY
    doc["messages"][4]["meta"]["error_params"]["authorization"] = KEY
    got = from_json(json.dumps(doc).encode())
    assert KEY not in repr(got.conversation.params) and KEY not in repr(got.messages)


# ---------------------------------------------------------------- OpenAI messages arrays


def test_openai_array_with_system_image_and_reply():
    tagged = PngImagePlugin.PngInfo()
    tagged.add_text("Comment", "GPS 48.85N 2.35E")
    upload = encode(Image.new("RGB", (6, 4), (10, 200, 30)), "PNG", pnginfo=tagged)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "  What is this?\nPlease answer."},
            {"type": "image_url", "image_url": {"url": data_url(upload, "image/png"),
                                                "detail": "high"}},
            {"type": "text", "text": "Thanks."},
        ]},
        {"role": "assistant", "content": "Un carré vert.", "refusal": None},
        {"role": "user", "content": None},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "Non."}]},
    ]
    tree, notes = from_openai_messages(json.dumps(messages).encode(), now=T0)
    conv = tree.conversation
    assert notes == ()
    assert conv.system_prompt == "Be brief.\n\nUse French."
    assert conv.title == "What is this?"
    assert [(m.role, m.content) for m in tree.messages] == [
        ("user", "  What is this?\nPlease answer.\n\nThanks."), ("assistant", "Un carré vert."),
        ("user", ""), ("assistant", "Non.")]
    assert [m.parent_id for m in tree.messages] == [None, *(m.id for m in tree.messages[:-1])]
    assert conv.messages == tree.messages and tree.leaf_id == tree.messages[-1].id
    assert sorted(m.created_at for m in tree.messages) == [m.created_at for m in tree.messages]
    (img,) = tree.messages[0].images
    assert (img.mime, img.width, img.height, img.name) == ("image/png", 6, 4, "image-3-1")
    reopened = Image.open(io.BytesIO(img.data))
    assert "Comment" not in reopened.info  # prepared: metadata stripped
    # What the import gives is itself exportable and re-importable.
    assert normalize(to_json(from_json(to_json(tree)))) == normalize(to_json(tree))


def test_openai_web_images_are_reported_not_fetched_and_broken_ones_noted():
    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/" + "a" * 200 + ".png"}},
        {"type": "image_url", "image_url": "http://example.com/b.png"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}},
        {"type": "image_url", "image_url": {"url": data_url(b"not an image", "image/png")}},
        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
        {"type": "text", "text": "hi"},
    ]}]
    tree, notes = from_openai_messages(messages)
    assert tree.messages[0].images == () and tree.messages[0].content == "hi"
    codes = [n.code for n in notes]
    assert codes == ["import.note.remote_image", "import.note.remote_image",
                     "image.error.unreadable", "image.error.unreadable",
                     "import.note.part_skipped"]
    assert notes[0].params["index"] == 1 and len(notes[0].params["url"]) == 80
    assert notes[1].params["url"] == "http://example.com/b.png"
    assert notes[2].params["name"] == "image-1-1"
    assert notes[4] == ImportNote("import.note.part_skipped", {"index": 1, "type": "input_audio"})
    for note in notes:
        assert "{" not in t(note.code, **note.params)


def test_openai_tool_calls_and_results_become_real_tool_messages():
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"id": "call_2", "type": "function",
             "function": {"name": "weather", "arguments": {"city": "Rome"}}}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "{\"temp\": 25}"},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"},
        {"role": "assistant", "content": "21 °C and 25 °C."},
        {"role": "user", "content": "Thanks"},
        {"role": "tool", "tool_call_id": "call_9", "content": "orphan"},
    ]
    tree, notes = from_openai_messages(messages)
    roles = [m.role for m in tree.messages]
    assert roles == ["user", "assistant", "tool", "tool", "assistant", "user", "tool"]
    reply = tree.messages[1]
    assert reply.content == "" and [c.id for c in reply.tool_calls] == ["call_1", "call_2"]
    assert reply.tool_calls[1].arguments == '{"city": "Rome"}'
    assert [m.tool_result.call_id for m in tree.messages[2:4]] == ["call_2", "call_1"]
    assert tree.messages[2].tool_result.name == "weather"
    assert tree.messages[2].content == '{"temp": 25}'
    assert notes == (ImportNote("import.note.tool_result_unmatched", {"index": 7}),)
    # Sent again as it came, the orphan left out (the API refuses it).
    sent = to_openai(tree.conversation)
    assert sent[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function",
         "function": {"name": "weather", "arguments": '{"city": "Rome"}'}}]}
    assert [m.get("tool_call_id") for m in sent[2:4]] == ["call_2", "call_1"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool", "assistant", "user"]


def test_openai_function_call_form_and_results_without_ids_are_matched():
    messages = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "Let me check.",
         "function_call": {"name": "calculate", "arguments": "{\"expression\": \"2+2\"}"}},
        {"role": "function", "name": "calculate", "content": "4"},
        {"role": "assistant", "content": "4."},
    ]
    tree, notes = from_openai_messages(messages)
    assert notes == ()
    call = tree.messages[1].tool_calls[0]
    assert (call.name, tree.messages[1].content) == ("calculate", "Let me check.")
    assert tree.messages[2].tool_result.call_id == call.id


def test_tool_calls_and_results_survive_the_json_export():
    tree, _ = from_openai_messages([
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "calculate", "arguments": "{\"expression\": \"2+2\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "4"},
        {"role": "assistant", "content": "4."}])
    reply = replace(tree.messages[1], tool_calls=(replace(tree.messages[1].tool_calls[0],
                                                          source="builtin"),))
    result = replace(tree.messages[2], tool_result=ToolResult("c1", "calculate", "error", 0.25))
    messages = (tree.messages[0], reply, result, tree.messages[3])
    tree = replace(tree, messages=messages, conversation=replace(tree.conversation,
                                                                  messages=messages))
    back = from_json(to_json(tree))
    assert [m.tool_calls for m in back.messages] == [m.tool_calls for m in messages]
    assert [m.tool_result for m in back.messages] == [m.tool_result for m in messages]
    md = zip_files(to_markdown_zip(back.conversation))["conversation.md"].decode()
    assert "*Tool call calculate (built-in)*" in md
    assert '```json\n{\n  "expression": "2+2"\n}\n```' in md
    assert "calculate failed" in md


def test_openai_request_body_gives_the_model_and_long_titles_are_cut_as_chats_are():
    question = "Compare these two approaches to caching " + "supercalifragilistic" * 3
    body = {"model": "qwen-vl-max", "messages": [{"role": "user", "content": question}]}
    tree, _ = from_openai_messages(body)
    assert tree.conversation.model == "qwen-vl-max"
    # The rule a new chat's title follows (at a word), not one of its own.
    assert tree.conversation.title == make_title(question)
    assert tree.conversation.title == "Compare these two approaches to caching…"


@pytest.mark.parametrize(("data", "code"), [
    (b"{nope", "import.error.not_json"),
    ({"role": "user"}, "import.error.unknown_format"),
    ("{\"messages\": 3}", "import.error.unknown_format"),
    ([], "import.error.empty"),
    (["hello"], "import.error.invalid"),
    ([{"content": "no role"}], "import.error.invalid"),
    ([{"role": "wizard", "content": "x"}], "import.error.invalid"),
    ([{"role": "user", "content": 42}], "import.error.invalid"),
    ([{"role": "user", "content": [{"text": "no type"}]}], "import.error.invalid"),
    ([{"role": "user", "content": [{"type": "text", "text": None}]}], "import.error.invalid"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
     "import.error.invalid"),
    ([{"role": "assistant", "content": "", "tool_calls": "weather"}], "import.error.invalid"),
    ([{"role": "assistant", "content": "", "tool_calls": [{"id": "x"}]}],
     "import.error.invalid"),
])
def test_openai_invalid_shapes(data, code):
    with pytest.raises(ImportProblem) as caught:
        from_openai_messages(data)
    assert caught.value.code == code
    assert "{" not in t(caught.value.code, **caught.value.params)


def test_read_any_takes_either_kind_of_file():
    tree, notes = read_any(to_json(sample_tree()))
    assert len(tree.messages) == 5 and notes == ()
    tree, notes = read_any(b'[{"role": "user", "content": "hi"}]')
    assert [m.content for m in tree.messages] == ["hi"] and notes == ()
    with pytest.raises(ImportProblem) as caught:
        read_any(b'{"format": "nexuschat.conversation", "version": 7}')
    assert caught.value.code == "import.error.unsupported_version"


# ---------------------------------------------------------------- Markdown zip


def test_markdown_zip_holds_the_shown_path_and_its_images():
    conv = sample_tree().conversation
    data = to_markdown_zip(conv)
    files = zip_files(data)
    assert list(files) == ["conversation.md", "images/1-image.png", "images/2-photo.jpg"]
    assert files["images/1-image.png"] == PNG and files["images/2-photo.jpg"] == JPEG
    md = files["conversation.md"].decode("utf-8")
    assert md.startswith("# Red pictures / 红色*图片*\n\n### System prompt\n\nAnswer briefly.")
    assert [h for h in md.splitlines() if h.startswith("### ")] == [
        "### System prompt", "### User", "### Assistant", "### User", "### Assistant"]
    assert "你好，请描述这张图片。" in md and "A red pic" not in md  # the sibling is not shown
    links = re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", md)
    assert links == [("截图.png", "images/1-image.png"), ("again.png", "images/1-image.png"),
                     ("../../etc/photo.jpg", "images/2-photo.jpg")]
    for _, target in links:
        assert posixpath.normpath(target) == target and target in files
    assert ("*qwen-vl · finish\\_reason: stop · 812 in · 9 out · 821 total tokens · "
            "5 reasoning tokens*") in md
    # The reasoning, quoted above its answer (code kept), which follows it unquoted.
    assert ("> *Thinking (0.2 s)*\n>\n> 用户想知道颜色。\n>\n> ```\n> red = (220, 20, 30)\n"
            "> ```\n\n一张红色的图片。") in md
    assert ("*qwen-vl · Interrupted: Rate limited (429). The server asks to wait 3 s before "
            "retrying.*") in md
    assert md.endswith("retrying.*\n")


def test_markdown_zip_is_deterministic_and_portable():
    conv = sample_tree().conversation
    data = to_markdown_zip(conv)
    assert data == to_markdown_zip(replace(conv))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
    assert {(i.date_time, i.create_system) for i in infos} == {((1980, 1, 1, 0, 0, 0), 3)}
    assert [i.compress_type for i in infos] == [zipfile.ZIP_DEFLATED, *[zipfile.ZIP_STORED] * 2]


def test_markdown_zip_names_are_safe_and_unique():
    second = encode(Image.new("RGB", (2, 2), (0, 0, 255)), "PNG")
    images = (prepared(PNG, "image/png", "C:\\Users\\me\\Desktop\\cat.png"),
              prepared(second, "image/png", "cat.png"),
              prepared(JPEG, "image/jpeg", "../../.."),
              prepared(second, "image/png", "Ærøskøbing café [1].png"))
    stopped = ReplyMeta(model="m_1", status="stopped")
    conv = Conversation(messages=(Message("user", "look", images=images),
                                  Message("assistant", "ok *fine*", meta=stopped)), title="")
    files = zip_files(to_markdown_zip(conv))
    assert list(files) == ["conversation.md", "images/1-cat.png", "images/2-cat.png",
                           "images/3-image.jpg"]
    md = files["conversation.md"].decode()
    assert md.startswith("# Untitled conversation\n\n### User\n\nlook\n")
    assert "![Ærøskøbing café \\[1\\].png](images/2-cat.png)" in md
    assert "ok *fine*\n\n*m\\_1 · Stopped by you; the partial reply is kept.*" in md


# ---------------------------------------------------------------- file names


@pytest.mark.parametrize(("title", "ext", "expected"), [
    ("Red pictures", "json", "nexuschat-red-pictures-20231114.json"),
    ("红色的图片：第二版", "zip", "nexuschat-红色的图片-第二版-20231114.zip"),
    ("a/b\\c:d*e?f\"g<h>i|j\x00k", ".JSON", "nexuschat-a-b-c-d-e-f-g-h-i-j-k-20231114.json"),
    ("", "md.zip", "nexuschat-conversation-20231114.mdzip"),
    ("  ..  ", "json", "nexuschat-conversation-20231114.json"),
    ("Café ＡＢＣ\u200b", "json", "nexuschat-café-abc-20231114.json"),
    ("x" * 300, "json", f"nexuschat-{'x' * 48}-20231114.json"),
])
def test_suggested_filename(title, ext, expected):
    conv = Conversation(title=title, updated_at=T0)
    assert suggested_filename(conv, ext) == expected


def test_suggested_filename_fits_every_file_system():
    conv = Conversation(title="图" * 500, updated_at=T0)
    name = suggested_filename(conv, "json")
    assert len(name.encode("utf-8")) < 255 and "/" not in name and name.isprintable()
    assert suggested_filename(replace(conv, updated_at=1e300), "json") == (
        f"nexuschat-{'图' * 48}.json")


def test_safe_filename_from_a_title_alone():
    assert exports.safe_filename("Red: pictures?", "json") == "nexuschat-red-pictures.json"
    assert exports.safe_filename("", "zip", T0) == "nexuschat-conversation-20231114.zip"


def test_notes_unpack_as_code_and_params():
    _, notes = from_openai_messages([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}]}])
    [(code, params)] = notes
    assert code == "import.note.remote_image" and params["url"] == "https://example.com/x.png"


def test_inputs_are_not_modified():
    tree = sample_tree()
    before = copy.deepcopy(tree.conversation.params)
    to_json(tree)
    to_markdown_zip(tree.conversation)
    assert tree.conversation.params == before and tree == sample_tree()


def test_a_markdown_reply_footer_carries_its_cost_at_the_stored_price():
    priced = ReplyMeta(model="claude-sonnet-4-6", prompt_tokens=1_000_000,
                       completion_tokens=100_000, total_tokens=1_100_000,
                       price={"currency": "USD", "input": 3, "output": 15})
    unpriced = replace(priced, price={})
    conv = Conversation(title="t").append(Message("user", "q")).append(
        Message("assistant", "a", meta=priced)).append(Message("user", "again")).append(
        Message("assistant", "b", meta=unpriced))
    md = zip_files(to_markdown_zip(conv))["conversation.md"].decode("utf-8")
    footers = [line for line in md.splitlines() if "total tokens" in line]
    assert len(footers) == 2
    assert "$4.50" in footers[0]  # 1M in at $3 + 0.1M out at $15
    assert "$" not in footers[1]  # no price stored: no made-up cost
