"""One wording for stored failures, finish notes and every notice: the page's and the files'."""

from __future__ import annotations

import pytest

from components import notices
from nexuschat import describe as d
from nexuschat.api import ChatError
from nexuschat.conversation import Conversation, Message, ReplyMeta
from nexuschat.errors import Note, Notice, Problem
from nexuschat.exports import ImportNote, ImportProblem, to_markdown_zip
from nexuschat.i18n import CATALOGUE, t, use_language
from nexuschat.images import ImageError
from nexuschat.limits import LimitHit
from nexuschat.local import LocalServerError
from nexuschat.params import GenerationParams, ParamError, validate
from nexuschat.safe_text import plain_text
from tests.unit.test_exports import zip_files

NOW = 1_700_000_000.0
# What the app stores (components/live_reply.py `_error_params`, components/quota.py
# `limit_error`): the server's status and message, and the wait the server asked for.
RATE_LIMITED = {"status": 429, "message": "Too many requests", "retry_after": 3.2,
                "retry_not_before": NOW + 3.2}
PER_MINUTE = {"limit": 30, "resets_at": NOW + 42, "retry_after": 42, "retry_not_before": NOW + 42}


@pytest.fixture
def language():
    yield use_language
    use_language("en")


def test_a_stored_429_says_what_the_server_asked():
    assert d.describe("error.rate_limited", RATE_LIMITED) == (
        "Rate limited (429). The server asks to wait 3 s before retrying.")
    without = {k: v for k, v in RATE_LIMITED.items() if not k.startswith("retry")}
    assert d.describe("error.rate_limited", without) == (
        "Rate limited (429). Wait a moment, then retry.")


def test_a_stored_limit_says_its_number_and_its_reset_as_of_now():
    text = d.describe("limit.requests_per_minute", PER_MINUTE, now=NOW)
    assert text == ("You have sent 30 requests in the last minute, the most this app takes from "
                    "one person. It resets in 42 s.")
    one = d.describe("limit.requests_per_minute", {**PER_MINUTE, "limit": 1}, now=NOW + 50)
    assert one.startswith("You have sent 1 request in the last minute") and "42" not in one
    assert d.describe("limit.requests_per_minute", PER_MINUTE, now=NOW + 60).endswith(
        "It has reset: you can send again now.")
    streams = d.describe("limit.concurrent_streams", {"limit": 2, "resets_at": 0.0}, now=NOW)
    assert streams.startswith("Replies being written for you right now: 2,")


def test_a_message_limit_counts_the_message():
    images = LimitHit("limit.images_per_message", 4, count=1)
    assert notices.notice_text(images) == (
        "This message has 1 image; this app takes at most 4 per message.")
    upload = LimitHit("limit.upload_mb", 2.5, count=3 * 1024 * 1024)
    assert notices.notice_text(upload) == (
        "The attached files add up to 3.0 MB; this app takes at most 2.5 MB per message.")
    chars = LimitHit("limit.message_chars", 20_000, count=25_000)
    assert notices.notice_text(chars).startswith(
        "This message has 25,000 characters; this app takes at most 20,000 per message.")


def test_every_text_parameter_goes_through_literal_and_numbers_are_the_languages(language):
    params = {"status": 1502, "message": "![x](https://evil.example/a.png) *bold*"}
    page = d.describe("error.server", params, literal=plain_text)
    assert page == t("error.server", status="1,502", message=plain_text(params["message"]))
    assert "![x](" not in page
    assert d.describe("error.server", params).endswith(params["message"])  # a file's, as sent


def test_what_the_stored_parameters_lack_is_left_empty_and_unknown_codes_say_so():
    assert d.describe("error.invalid", {}) == "The server rejected the request (): "
    assert d.describe("error.made_up", {"x": 1}) == (
        "Something unexpected went wrong (error.made_up).")
    assert d.describe("limit.tokens_per_day", {}) .startswith(
        "You have used today's ? tokens")  # the count is not known: the general form


@pytest.mark.parametrize("language_code", ["en", "zh"])
def test_every_code_describes_from_any_stored_subset(language, language_code):
    language(language_code)
    coded = [k for k in CATALOGUE["en"] if k.split(".")[0] in (
        "error", "limit", "policy", "image", "import", "params", "local")]
    assert len(coded) > 40
    for code in coded:
        for params in ({}, RATE_LIMITED, PER_MINUTE, {"count": 2, "name": "a.png", "index": 1}):
            text = d.describe(code, params, now=NOW)
            assert text and "{" not in text, code


def test_finish_notes():
    assert d.finish_note(ReplyMeta(status="stopped")) == (
        "Stopped by you; the partial reply is kept.")
    assert d.finish_note(ReplyMeta(finish_reason="stop")) is None
    assert d.finish_note(ReplyMeta(finish_reason="end_turn")) is None  # Anthropic's stop
    assert d.finish_note(ReplyMeta(finish_reason="max_tokens")) == (
        "Stopped at the token limit (finish_reason: length).")
    assert d.finish_note(ReplyMeta(finish_reason="weird_*reason*"), literal=plain_text) == (
        f"Ended with finish_reason: {plain_text('weird_*reason*')}.")


def test_usage_notes_count_in_the_languages_way(language):
    meta = ReplyMeta(prompt_tokens=1200, completion_tokens=1, total_tokens=1201,
                     reasoning_tokens=1)
    assert d.usage_note(meta) == "1,200 in · 1 out · 1,201 total tokens"
    assert d.reasoning_note(meta) == "1 reasoning token"
    assert d.usage_note(ReplyMeta(total_tokens=1)) == "? in · ? out · 1 total token"
    assert d.usage_note(ReplyMeta()) == "usage not reported by the server"
    language("zh")
    assert d.usage_note(meta) == "输入 1,200 · 输出 1 · 共 1,201 tokens"


@pytest.mark.parametrize(("meta", "at"), [
    (ReplyMeta(model="m", status="error", error_code="error.rate_limited",
               error_params=RATE_LIMITED), NOW),
    (ReplyMeta(model="m", status="error", error_code="limit.requests_per_minute",
               error_params=PER_MINUTE), NOW),
    (ReplyMeta(model="m", status="error", error_code="error.stream_cut",
               error_params={"detail": "RemoteProtocolError"}), NOW),
])
def test_the_page_and_the_markdown_export_say_the_same(meta, at):
    page = notices.error_text(meta.error_code, meta.error_params)
    reply = Message("assistant", "partial", meta=meta, created_at=at)
    md = zip_files(to_markdown_zip(Conversation(messages=(reply,))))["conversation.md"].decode()
    if meta.error_code.startswith("limit."):  # the page's reset is counted from its clock
        page = d.describe(meta.error_code, meta.error_params, literal=plain_text, now=at)
    assert f"Interrupted: {page}*" in md
    assert "{" not in md


def test_every_shape_of_notice_is_one_family():
    shapes = [Problem("import.error.empty"), ImportProblem("import.error.not_json"),
              ImageError("image.error.empty", name="a.png"), ChatError("error.read_timeout"),
              ParamError("top_p", "params.error.temperature_or_top_p"),
              LocalServerError("local.error.stopped"),
              Note("conversations.imported", {"title": "x"}),
              ImportNote("import.note.tool_result_unmatched", {"index": 3}),
              LimitHit("limit.images_per_message", 1, count=2)]
    assert all(isinstance(shape, Notice) for shape in shapes)
    texts = [notices.notice_text(shape) for shape in shapes]
    assert texts[-2:] == ["Message 3: a tool result that answers no call of the reply before "
                          "it was kept, but it is not sent to the model.",
                          "This message has 2 images; this app takes at most 1 per message."]
    assert all(texts) and not any("{" in text for text in texts)
    assert notices.notice_text(validate(GenerationParams(top_p=1.5))[0]) == (
        f"{plain_text('top_p')} must be above 0 and at most 1.")  # the field name made literal


def test_notices_keep_their_old_behaviour():
    with pytest.raises(ValueError, match="image.error.empty"):
        raise ImageError("image.error.empty", name="a.png")
    error = ChatError("error.server", {"status": 500}, status=500, retry_after=None)
    assert str(error) == "error.server {'status': 500}" and error.status == 500
    code, params = ImportNote("import.note.part_skipped", {"index": 2})  # unpacks as before
    assert (code, params) == ("import.note.part_skipped", {"index": 2})
