"""Export a conversation (lossless JSON, Markdown in a zip) and import one back: bytes in, out."""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
import time
import unicodedata
import zipfile
from dataclasses import asdict, replace
from urllib.parse import unquote_to_bytes

from PIL import Image

from nexuschat.conversation import (
    Conversation,
    ConversationTree,
    Message,
    ReplyMeta,
    ToolCall,
    ToolResult,
    first_user_title,
    new_id,
)
from nexuschat.cost import reply_cost
from nexuschat.describe import (
    cost_note,
    error_note,
    finish_note,
    reasoning_note,
    tool_limit_note,
    tool_result_note,
    tool_source,
    usage_note,
)
from nexuschat.errors import Note, Problem
from nexuschat.gateway import normalize_finish_reason, read_delta
from nexuschat.i18n import format_number, t
from nexuschat.images import ImageError, PreparedImage, Preset, content_address, prepare_image
from nexuschat.params import MAX_CHOICES
from nexuschat.tool_loop import pretty_json
from nexuschat.tree import branch

FORMAT = "nexuschat.conversation"
VERSION = 1
ROLES = ("system", "user", "assistant", "tool")
_STATUSES = ("complete", "stopped", "error")
_TOOL_STATUSES = ("ok", "error", "stopped")
_IMAGE_FIELDS = ("mime", "width", "height", "name", "source_bytes", "source_width", "source_height")
# Only these may be referenced; the header check uses the matching Pillow decoder alone.
_PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
# Zip entries get this date and Unix attributes whatever the platform: same input, same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SLUG_CHARS = 48
_URL_CHARS = 80
# Content parts of an imported assistant message that hold its reasoning, not its answer.
_REASONING_PART_TYPES = ("thinking", "reasoning", "redacted_thinking")


class ImportProblem(Problem):
    """A file that cannot be imported."""


class ImportNote(Note):
    """Something an import left out or changed; `code` is an i18n key, `params` fill it."""


# ---------------------------------------------------------------- lossless JSON


def to_json(tree: ConversationTree) -> bytes:
    """Every message of every branch, images once (by sha256), as deterministic UTF-8 JSON."""
    conv = tree.conversation
    images: dict[str, str] = {}
    messages = []
    for m in tree.messages:
        refs = []
        for img in m.images:
            sha = img.sha256
            if sha not in images:
                images[sha] = base64.b64encode(img.data).decode("ascii")
            refs.append({"sha256": sha, **{k: getattr(img, k) for k in _IMAGE_FIELDS}})
        meta = None
        if m.meta is not None:
            meta = asdict(m.meta)
            meta["error_params"] = _without_secrets(meta["error_params"])
        messages.append({
            "id": m.id,
            "parent_id": m.parent_id,
            "role": m.role,
            "content": m.content,
            "reasoning": m.reasoning,
            "created_at": m.created_at,
            "meta": meta,
            "earlier_attempts": list(m.earlier_attempts),
            "images": refs,
            "tool_calls": [asdict(call) for call in m.tool_calls],
            "tool_result": None if m.tool_result is None else asdict(m.tool_result),
        })
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "conversation": {
            "id": conv.id,
            "title": conv.title,
            "system_prompt": conv.system_prompt,
            "model": conv.model,
            "params": _without_secrets(conv.params),
            "created_at": conv.created_at,
            "updated_at": conv.updated_at,
        },
        "leaf_id": tree.leaf_id,
        "messages": messages,
        "images": images,
    }
    return (json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


def from_json(data: bytes | str, *, now: float | None = None) -> ConversationTree:
    """A NexusChat export as a new conversation (new ids, header times `now`); ImportProblem."""
    return _tree_from_document(_parse(data), time.time() if now is None else now)


def read_any(
    data: bytes | str, *, now: float | None = None, preset: str | Preset = "original"
) -> tuple[ConversationTree, tuple[ImportNote, ...]]:
    """Either kind of file a user may upload: a NexusChat export or an OpenAI messages array."""
    doc = _parse(data)
    now = time.time() if now is None else now
    if isinstance(doc, dict) and "format" in doc:
        return _tree_from_document(doc, now), ()
    return _tree_from_openai(doc, now, preset)


def _tree_from_document(doc: object, now: float) -> ConversationTree:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ImportProblem("import.error.unknown_format")
    if "version" not in doc:
        raise _invalid("version is missing")
    version = doc["version"]
    if version != VERSION or not _is_int(version):
        raise ImportProblem("import.error.unsupported_version", version=version,
                            supported=VERSION)
    header = _get(doc, "conversation", "", _is_dict, "an object")
    title = _get(header, "title", "conversation", _is_str, "text")
    system_prompt = _get(header, "system_prompt", "conversation", _is_str, "text")
    model = _get(header, "model", "conversation", _is_str, "text")
    params = _get(header, "params", "conversation", _is_dict, "an object")
    _get(header, "id", "conversation", _is_str, "text")
    _get(header, "created_at", "conversation", _is_time, "a time stamp")
    _get(header, "updated_at", "conversation", _is_time, "a time stamp")
    blobs = _decode_images(_get(doc, "images", "", _is_dict, "an object"))
    raw_messages = _get(doc, "messages", "", _is_list, "a list")
    leaf = _get(doc, "leaf_id", "", _is_opt_str, "text or null")

    new_ids: dict[str, str] = {}
    messages: list[Message] = []
    for i, raw in enumerate(raw_messages):
        where = f"messages[{i}]"
        if not isinstance(raw, dict):
            raise _invalid(f"{where} must be an object")
        old_id = _get(raw, "id", where, _is_str, "text")
        parent = _get(raw, "parent_id", where, _is_opt_str, "text or null")
        if old_id in new_ids:
            raise _invalid(f"{where}.id {old_id!r} is used twice")
        if parent is not None and parent not in new_ids:
            raise _invalid(f"{where}.parent_id {parent!r} is not an earlier message")
        role = _get(raw, "role", where, lambda v: v in ROLES, "one of " + ", ".join(ROLES))
        attempts = _get(raw, "earlier_attempts", where,
                        lambda v: _is_list(v) and all(map(_is_str, v)), "a list of texts")
        # Older files have no reasoning, tool calls or results.
        reasoning = _get(raw, "reasoning", where, _is_str, "text") if "reasoning" in raw else ""
        calls = _read_calls(_get(raw, "tool_calls", where, _is_list, "a list"), where) \
            if "tool_calls" in raw else ()
        result = _read_result(_get(raw, "tool_result", where, _is_opt_dict,
                                   "an object or null"), where) if "tool_result" in raw else None
        new_ids[old_id] = new_id()
        messages.append(Message(
            role=role,
            content=_get(raw, "content", where, _is_str, "text"),
            images=_read_images(_get(raw, "images", where, _is_list, "a list"), blobs, where),
            meta=_read_meta(_get(raw, "meta", where, _is_opt_dict, "an object or null"), where),
            earlier_attempts=tuple(attempts),
            id=new_ids[old_id],
            parent_id=None if parent is None else new_ids[parent],
            created_at=_get(raw, "created_at", where, _is_time, "a time stamp"),
            reasoning=reasoning,
            tool_calls=calls,
            tool_result=result,
        ))
    if leaf is not None and leaf not in new_ids:
        raise _invalid(f"leaf_id {leaf!r} is not a message of the file")
    conversation = Conversation(
        system_prompt=system_prompt, title=title, model=model,
        params=_without_secrets(params), created_at=now, updated_at=now,
    )
    return _tree(conversation, messages, None if leaf is None else new_ids[leaf])


def _decode_images(raw: dict) -> dict[str, bytes]:
    blobs = {}
    for sha, text in raw.items():
        if not isinstance(text, str):
            raise _invalid(f"images[{sha!r}] must be base64 text")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ImportProblem("import.error.damaged",
                                detail=f"image {sha[:12]} is not valid base64") from None
        if content_address(data) != sha:
            raise ImportProblem("import.error.damaged",
                                detail=f"image {sha[:12]} does not match its sha256")
        blobs[sha] = data
    return blobs


def _read_images(raw: list, blobs: dict[str, bytes], where: str) -> tuple[PreparedImage, ...]:
    out = []
    for j, ref in enumerate(raw):
        at = f"{where}.images[{j}]"
        if not isinstance(ref, dict):
            raise _invalid(f"{at} must be an object")
        sha = _get(ref, "sha256", at, _is_str, "text")
        if sha not in blobs:
            raise _invalid(f"{at}.sha256 names no image of the file")
        mime = _get(ref, "mime", at, lambda v: isinstance(v, str) and v in _PIL_FORMATS,
                    "one of " + ", ".join(_PIL_FORMATS))
        values = {k: _get(ref, k, at, _is_count, "a whole number >= 0")
                  for k in _IMAGE_FIELDS if k not in ("mime", "name")}
        name = _get(ref, "name", at, _is_str, "text")
        _check_pixels(blobs[sha], mime, values["width"], values["height"], at)
        out.append(PreparedImage(data=blobs[sha], mime=mime, name=name, **values))
    return tuple(out)


def _check_pixels(data: bytes, mime: str, width: int, height: int, at: str) -> None:
    """The bytes are an image of the declared type and size (header only: nothing decoded)."""
    try:
        with Image.open(io.BytesIO(data), formats=(_PIL_FORMATS[mime],)) as img:
            size = img.size
    except Exception:  # anything Pillow cannot open is damaged data, whatever the reason
        raise ImportProblem("import.error.damaged",
                            detail=f"{at} is not a readable {mime} image") from None
    if size != (width, height):
        raise _invalid(f"{at} is {size[0]}x{size[1]}, not {width}x{height}")


def _read_calls(raw: list, where: str) -> tuple[ToolCall, ...]:
    out = []
    for j, call in enumerate(raw):
        at = f"{where}.tool_calls[{j}]"
        if not isinstance(call, dict):
            raise _invalid(f"{at} must be an object")
        out.append(ToolCall(*(_get(call, k, at, _is_str, "text")
                              for k in ("id", "name", "arguments", "source"))))
    return tuple(out)


def _read_result(raw: dict | None, where: str) -> ToolResult | None:
    if raw is None:
        return None
    at = f"{where}.tool_result"
    return ToolResult(
        call_id=_get(raw, "call_id", at, _is_str, "text"),
        name=_get(raw, "name", at, _is_str, "text"),
        status=_get(raw, "status", at, lambda v: v in _TOOL_STATUSES,
                    "one of " + ", ".join(_TOOL_STATUSES)),
        duration_s=_get(raw, "duration_s", at, _is_opt_num, "a number or null"),
    )


def _read_meta(raw: dict | None, where: str) -> ReplyMeta | None:
    """Missing fields take their defaults (older files); unknown ones are ignored (newer)."""
    if raw is None:
        return None
    at = f"{where}.meta"
    values = {k: _get(raw, k, at, *_META_CHECKS[k]) for k in _META_CHECKS if k in raw}
    if "error_params" in values:
        values["error_params"] = _without_secrets(values["error_params"])
    if "skipped_parts" in values:
        values["skipped_parts"] = tuple(values["skipped_parts"])
    if "raw_finish_reason" not in values and values.get("finish_reason"):
        # An older file has only the server's word for why a reply ended.
        values["raw_finish_reason"] = values["finish_reason"]
        values["finish_reason"] = normalize_finish_reason(values["finish_reason"])
    return ReplyMeta(**values)


# ---------------------------------------------------------------- OpenAI messages arrays


def from_openai_messages(
    data: bytes | str | list | dict, *, now: float | None = None,
    preset: str | Preset = "original",
) -> tuple[ConversationTree, tuple[ImportNote, ...]]:
    """A plain `messages` array (or a request body holding one) as a new linear conversation.

    Returns the tree and notes on what was left out: web image URLs (never fetched), images
    that could not be read, unsupported parts, and tool results that answer no call. Tool
    calls and results become real ones (the older `function_call` / `function` form too).
    """
    doc = _parse(data) if isinstance(data, bytes | str) else data
    return _tree_from_openai(doc, time.time() if now is None else now, preset)


def _tree_from_openai(
    doc: object, now: float, preset: str | Preset
) -> tuple[ConversationTree, tuple[ImportNote, ...]]:
    model = ""
    if isinstance(doc, dict) and isinstance(doc.get("messages"), list):
        model = doc["model"] if isinstance(doc.get("model"), str) else ""
        doc = doc["messages"]
    if not isinstance(doc, list):
        raise ImportProblem("import.error.unknown_format")
    if not doc:
        raise ImportProblem("import.error.empty")
    notes: list[ImportNote] = []
    system: list[str] = []
    turns: list[Message] = []
    open_calls: list[ToolCall] = []  # the last reply's calls that no result has answered yet
    for i, item in enumerate(doc):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise _invalid(f"{where} must be an object")
        role = _get(item, "role", where, _is_str, "text")
        text, images = _openai_content(item, i + 1, where, preset, notes)
        if role in ("system", "developer"):
            if images:
                notes.append(ImportNote("import.note.part_skipped", {"index": i + 1,
                                                                      "type": "image_url"}))
            if text.strip():
                system.append(text)
            continue
        if role not in ("user", "assistant", "tool", "function"):
            raise _invalid(f"{where}.role must be system, developer, user, assistant or tool")
        reasoning, calls, result = "", (), None
        if role in ("tool", "function"):
            answered = _answered_call(item, role, open_calls)
            if answered is None:
                notes.append(ImportNote("import.note.tool_result_unmatched", {"index": i + 1}))
                name = item.get("name") if isinstance(item.get("name"), str) else ""
                call_id = item.get("tool_call_id") if isinstance(item.get("tool_call_id"),
                                                                  str) else ""
                result = ToolResult(call_id, name)
            else:
                open_calls.remove(answered)
                result = ToolResult(answered.id, answered.name)
        elif role == "assistant":
            calls = _tool_calls(item, where, i)
            _, reasoning, refusal, _ = read_delta(item)  # reasoning_content, thinking parts...
            if not isinstance(item.get("content"), list):  # (a refusal part is read above)
                text = _join(text, refusal)
        if role not in ("tool", "function"):
            open_calls = list(calls)
        turns.append(Message(
            "tool" if result is not None else role, text, images=images,
            parent_id=turns[-1].id if turns else None,
            created_at=now + len(turns) * 0.001,  # distinct, in order
            reasoning=reasoning, tool_calls=calls, tool_result=result,
        ))
    conversation = Conversation(
        system_prompt="\n\n".join(system), title=first_user_title(turns), model=model,
        created_at=now, updated_at=now,
    )
    return _tree(conversation, turns, turns[-1].id if turns else None), tuple(notes)


def _openai_content(item: dict, index: int, where: str, preset: str | Preset,
                    notes: list[ImportNote]) -> tuple[str, tuple[PreparedImage, ...]]:
    content = item.get("content")
    if content is None:
        return "", ()
    if isinstance(content, str):
        return content, ()
    if not isinstance(content, list):
        raise _invalid(f"{where}.content must be text, a list of parts or null")
    texts: list[str] = []
    images: list[PreparedImage] = []
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise _invalid(f"{at} must be an object with a type")
        kind = part["type"]
        if kind in ("text", "refusal"):
            texts.append(_get(part, kind, at, _is_str, "text"))
        elif kind == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if not isinstance(url, str):
                raise _invalid(f"{at}.image_url.url must be text")
            img = _data_url_image(url, f"image-{index}-{len(images) + 1}", index, preset, notes)
            if img is not None:
                images.append(img)
        elif kind in _REASONING_PART_TYPES and item.get("role") == "assistant":
            continue  # kept as the message's reasoning
        else:
            notes.append(ImportNote("import.note.part_skipped", {"index": index, "type": kind}))
    return _join(*texts), tuple(images)


_DATA_URL = re.compile(r"data:([^,]*?)(;base64)?,(.*)", re.DOTALL | re.IGNORECASE)


def _data_url_image(url: str, name: str, index: int, preset: str | Preset,
                    notes: list[ImportNote]) -> PreparedImage | None:
    """A data-URL image, re-prepared (metadata stripped); web URLs are reported, not fetched."""
    found = _DATA_URL.fullmatch(url.strip())
    if found is None:
        shown = url if len(url) <= _URL_CHARS else url[: _URL_CHARS - 1] + "…"
        notes.append(ImportNote("import.note.remote_image", {"index": index, "url": shown}))
        return None
    payload = found[3]
    try:
        if found[2]:
            raw = base64.b64decode(re.sub(r"\s+", "", payload), validate=True)
        else:
            raw = unquote_to_bytes(payload)
        return prepare_image(raw, name, preset)
    except (binascii.Error, ImageError) as e:
        error = e if isinstance(e, ImageError) else ImageError("image.error.unreadable", name=name)
        notes.append(ImportNote(error.code, dict(error.params)))
        return None


def _tool_calls(item: dict, where: str, index: int) -> tuple[ToolCall, ...]:
    calls = item.get("tool_calls") or []
    if item.get("function_call"):  # the older single-call form: its result names no id
        calls = [*calls, {"id": f"call_{index + 1}", "function": item["function_call"]}]
    if not isinstance(calls, list):
        raise _invalid(f"{where}.tool_calls must be a list")
    out = []
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            raise _invalid(f"{where}.tool_calls[{j}] must be an object with a function")
        arguments = fn.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
        call_id = call.get("id") if isinstance(call.get("id"), str) and call["id"] \
            else f"call_{index + 1}_{j + 1}"
        out.append(ToolCall(call_id, str(fn.get("name") or ""), arguments))
    return tuple(out)


def _answered_call(item: dict, role: str, open_calls: list[ToolCall]) -> ToolCall | None:
    """The open call a result answers: by `tool_call_id`, or (the older `function` role,
    and servers that leave the id out) the first open call of its name."""
    call_id, name = item.get("tool_call_id"), item.get("name")
    if isinstance(call_id, str) and call_id:
        return next((c for c in open_calls if c.id == call_id), None)
    if isinstance(name, str) and name:
        return next((c for c in open_calls if c.name == name), None)
    return open_calls[0] if role == "tool" and len(open_calls) == 1 else None


# ---------------------------------------------------------------- Markdown in a zip


def to_markdown_zip(conversation: Conversation) -> bytes:
    """`conversation.md` (the path shown) and its images under `images/`; same input, same bytes."""
    paths: dict[str, str] = {}  # sha256 -> path in the zip: an image used twice is stored once
    files: list[tuple[str, bytes]] = []
    out = [f"# {_one_line(conversation.title) or t('export.md.untitled')}", ""]
    if conversation.system_prompt.strip():
        out += [f"### {t('export.md.system_prompt')}", "", conversation.system_prompt.strip(), ""]
    for m in conversation.messages:
        out += [f"### {t(f'export.md.role.{m.role}')}", ""]
        if m.reasoning.strip():
            out += _reasoning_quote(m.reasoning, m.meta)
        if m.content.strip() and m.tool_result is None:
            out += [m.content.strip("\n"), ""]
        for call in m.tool_calls:
            out += _md_tool_call(call)
        if m.tool_result is not None:
            out += _md_tool_result(m.tool_result, m.content)
        for img in m.images:
            sha = img.sha256
            if sha not in paths:
                stem = _ascii_slug(re.split(r"[\\/]", img.name)[-1].rsplit(".", 1)[0], "image")
                paths[sha] = f"images/{len(files) + 1}-{stem}.{_EXTENSIONS.get(img.mime, 'img')}"
                files.append((paths[sha], img.data))
            out += [f"![{_md_escape(img.name)}]({paths[sha]})", ""]
        footer = _footer(m.meta, m.created_at)
        if footer:
            out += [f"*{_md_escape(footer)}*", ""]
    markdown = ("\n".join(out).rstrip("\n") + "\n").encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _zip_write(zf, "conversation.md", markdown, zipfile.ZIP_DEFLATED)
        for path, data in files:  # already compressed: stored as they are
            _zip_write(zf, path, data, zipfile.ZIP_STORED)
    return buf.getvalue()


def _md_tool_call(call: ToolCall) -> list[str]:
    """A tool call as a line naming the function and who answers it, and its arguments."""
    head = t("export.md.tool_call", name=call.name or "?", source=tool_source(call.source))
    return [f"*{_md_escape(head)}*", "", *_fenced(pretty_json(call.arguments), "json"), ""]


def _md_tool_result(result: ToolResult, text: str) -> list[str]:
    """A tool message: which call it answers, how it went, and the result as it was sent."""
    head = tool_result_note(result)
    return [f"*{_md_escape(head)}*", "", *_fenced(pretty_json(text), ""), ""]


def _fenced(text: str, language: str) -> list[str]:
    """A fenced code block that no run of backticks inside can close."""
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    return [fence + language, *text.split("\n"), fence]


def _reasoning_quote(reasoning: str, meta: ReplyMeta | None) -> list[str]:
    """The model's reasoning as a block quote above its answer, under a "Thinking" line."""
    seconds = meta.reasoning_s if meta is not None else None
    head = (t("export.md.thinking_for", seconds=format_number(seconds, 1)) if seconds is not None
            else t("export.md.thinking"))
    lines = [f"> *{_md_escape(head)}*", ">"]
    lines += [f"> {line}" if line else ">" for line in reasoning.strip("\n").split("\n")]
    return [*lines, ""]


def _footer(meta: ReplyMeta | None, at: float) -> str:
    """The reply's facts in the page's words. A limit's reset is told as of the reply (`at`):
    what the page said then, and the same bytes whenever the file is made."""
    if meta is None:
        return ""
    parts = [_one_line(meta.model)] if meta.model else []
    if note := finish_note(meta):
        parts.append(note)
    elif meta.finish_reason:
        parts.append(t("export.md.finish", reason=meta.finish_reason))
    if meta.refusal:
        parts.append(t("export.md.refusal"))
    if meta.has_usage:
        parts.append(usage_note(meta))
        if meta.price and (cost := cost_note(meta, reply_cost(meta))):
            parts.append(cost)  # at the price stored with the reply, as the page shows it
    if reasoning := reasoning_note(meta):
        parts.append(reasoning)
    if limit := tool_limit_note(meta):
        parts.append(limit)
    if failure := error_note(meta, now=at):
        parts.append(t("meta.interrupted", message=_one_line(failure)))
    return " · ".join(parts)


def _zip_write(zf: zipfile.ZipFile, name: str, data: bytes, method: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = method
    info.create_system = 3  # Unix, on every platform
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def suggested_filename(conversation: Conversation, ext: str) -> str:
    """`nexuschat-<title slug>-<yyyymmdd of the last change, UTC>.<ext>`, safe on every OS."""
    return safe_filename(conversation.title, ext, conversation.updated_at)


def safe_filename(title: str, ext: str, when: float | None = None) -> str:
    """`nexuschat-<title slug>[-<yyyymmdd of `when`, UTC>].<ext>`, safe on every OS."""
    ext = re.sub(r"[^a-z0-9]", "", ext.lower()) or "bin"
    text = unicodedata.normalize("NFKC", title).lower()
    # Letters and digits of any script stay (a Chinese title is a Chinese name); reserved
    # characters, controls, spaces and invisible marks become hyphens.
    slug = re.sub(r"-{2,}", "-", "".join(c if c.isalnum() else "-" for c in text))
    slug = slug.strip("-")[:_SLUG_CHARS].strip("-") or "conversation"
    if when is None:
        return f"nexuschat-{slug}.{ext}"
    try:
        day = time.strftime("%Y%m%d", time.gmtime(when))
    except (OverflowError, OSError, ValueError):
        return f"nexuschat-{slug}.{ext}"
    return f"nexuschat-{slug}-{day}.{ext}"


# ---------------------------------------------------------------- helpers


def _tree(conversation: Conversation, messages: list[Message],
          leaf_id: str | None) -> ConversationTree:
    """The tree, with the conversation showing the path to `leaf_id` and its sibling groups."""
    by_id = {m.id: m for m in messages}
    shown = branch([(m.id, m.parent_id) for m in messages], leaf_id)
    conversation = replace(conversation, messages=tuple(by_id[mid] for mid in shown.path),
                           siblings=shown.siblings)
    return ConversationTree(conversation, tuple(messages), leaf_id)


def _parse(data: bytes | str) -> object:
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        return json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ImportProblem("import.error.not_json") from None


_SECRET_NAMES = {"key", "apikey", "authorization", "auth", "secret", "password", "token",
                 "accesstoken", "bearer"}


def _is_secret_name(name: object) -> bool:
    norm = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return norm in _SECRET_NAMES or norm.endswith(("apikey", "secretkey"))


def _without_secrets(value):
    """A copy without any entry named like a credential, at any depth (defence in depth)."""
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if not _is_secret_name(k)}
    if isinstance(value, list | tuple):
        return [_without_secrets(v) for v in value]
    return value


def _invalid(detail: str) -> ImportProblem:
    return ImportProblem("import.error.invalid", detail=detail)


def _get(obj: dict, key: str, where: str, check, what: str):
    at = f"{where}.{key}" if where else key
    if key not in obj:
        raise _invalid(f"{at} is missing")
    value = obj[key]
    if not check(value):
        raise _invalid(f"{at} must be {what}")
    return value


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_opt_str(v: object) -> bool:
    return v is None or isinstance(v, str)


def _is_dict(v: object) -> bool:
    return isinstance(v, dict)


def _is_opt_dict(v: object) -> bool:
    return v is None or isinstance(v, dict)


def _is_list(v: object) -> bool:
    return isinstance(v, list)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_opt_int(v: object) -> bool:
    return v is None or _is_int(v)


def _is_count(v: object) -> bool:
    return _is_int(v) and v >= 0


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_opt_num(v: object) -> bool:
    return v is None or _is_num(v)


def _is_time(v: object) -> bool:
    return _is_num(v) and math.isfinite(v)


def _join(*texts: str) -> str:
    return "\n\n".join(s for s in texts if s)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", _one_line(text))


def _ascii_slug(text: str, fallback: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")
    return slug[:_SLUG_CHARS].strip("-") or fallback


# What each ReplyMeta field may hold in a file (a test keeps this in step with the dataclass).
_META_CHECKS = {
    "model": (_is_str, "text"),
    "finish_reason": (_is_opt_str, "text or null"),
    "prompt_tokens": (_is_opt_int, "a whole number or null"),
    "completion_tokens": (_is_opt_int, "a whole number or null"),
    "total_tokens": (_is_opt_int, "a whole number or null"),
    "ttft_s": (_is_opt_num, "a number or null"),
    "duration_s": (_is_opt_num, "a number or null"),
    "status": (lambda v: v in _STATUSES, "one of " + ", ".join(_STATUSES)),
    "error_code": (_is_opt_str, "text or null"),
    "error_params": (_is_dict, "an object"),
    "raw_finish_reason": (_is_opt_str, "text or null"),
    "reasoning_tokens": (_is_opt_int, "a whole number or null"),
    "reasoning_s": (_is_opt_num, "a number or null"),
    "refusal": (lambda v: isinstance(v, bool), "true or false"),
    "skipped_parts": (lambda v: _is_list(v) and all(map(_is_str, v)), "a list of texts"),
    "candidate": (lambda v: _is_int(v) and 0 <= v < MAX_CHOICES,
                  f"a whole number from 0 to {MAX_CHOICES - 1}"),
    "candidates": (lambda v: _is_int(v) and 1 <= v <= MAX_CHOICES,
                   f"a whole number from 1 to {MAX_CHOICES}"),
    "request": (_is_dict, "an object"),  # nexuschat.snippets.request_record
    "cached_tokens": (_is_opt_int, "a whole number or null"),
    # A file's price is read again when the reply is costed (cost.price_from_dict): one that
    # is not a price is no price there, never a wrong one.
    "price": (_is_dict, "an object"),
    "balance": (_is_dict, "an object"),

    "tool_limit": (_is_opt_int, "a whole number or null"),
}
