"""A reply's request as code to run elsewhere: a Python snippet with the `openai` client, and a
cURL command (pure).

The request is rebuilt from what the reply stored (`ReplyMeta.request`: base URL, the body's
fields, the system prompt and image handling it was sent with) and the conversation before
it, through the same functions a turn sends with (`turns.request_messages`, `api.build_body`
folds nothing further in), so the snippet is the request that was sent. No key is ever in it:
both read the NEXUSCHAT_API_KEY environment variable. On screen, image data URLs are cut short
(`shortened`); the download keeps them whole.
"""

from __future__ import annotations

import json
import pprint
import re
import shlex
from dataclasses import dataclass, replace

from nexuschat.conversation import Conversation, Message
from nexuschat.i18n import format_bytes
from nexuschat.turns import request_messages

KEY_VARIABLE = "NEXUSCHAT_API_KEY"
HEREDOC = "NEXUSCHAT_BODY"  # never a line of the JSON below it (every JSON line is indented
# or a bracket), so the body ends where it should whatever the user wrote
DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+);base64,([A-Za-z0-9+/=]+)$")
SHOWN_BASE64 = 8  # characters of an image's base64 kept on screen


@dataclass(frozen=True)
class Request:
    """A request as it was sent: where to (the base URL) and the body, extra fields included."""

    base_url: str
    body: dict


def request_record(base_url: str, body: dict, *, system_prompt: str, vision: bool,
                   kind: str, continued_chars: int = 0) -> dict:
    """What a reply keeps to rebuild its request (`ReplyMeta.request`): everything but the
    messages, which its conversation holds (images once, not again as base64)."""
    return {"base_url": base_url, "fields": {k: v for k, v in body.items() if k != "messages"},
            "system_prompt": system_prompt, "vision": vision, "kind": kind,
            "continued_chars": continued_chars}


def rebuild(before: tuple[Message, ...], reply: Message) -> Request | None:
    """The request that produced `reply`, whose conversation path above it is `before`; None
    when the reply kept no record (stored before replies kept one, or imported)."""
    record = reply.meta.request if reply.meta else None
    if not isinstance(record, dict) or not isinstance(record.get("fields"), dict):
        return None
    history = before
    kind = "continue" if record.get("kind") == "continue" else "reply"
    if kind == "continue":
        # The request carried the reply as it stood before it was continued.
        partial = reply.content[:int(record.get("continued_chars") or 0)]
        history = (*before, replace(reply, content=partial, meta=None, reasoning=""))
    conversation = Conversation(messages=history,
                                system_prompt=str(record.get("system_prompt") or ""))
    messages = request_messages(conversation, kind, vision=bool(record.get("vision", True)))
    fields = {k: v for k, v in record["fields"].items() if k != "messages"}  # a file's, too
    body = {"model": fields.pop("model", reply.meta.model), "messages": messages, **fields}
    return Request(str(record.get("base_url") or ""), body)


def wire_body(body: dict) -> dict:
    """The JSON the server receives: the SDK's `extra_body` fields at the top level."""
    out = {k: v for k, v in body.items() if k != "extra_body"}
    out.update(body.get("extra_body") or {})
    return out


def shortened(value: object) -> object:
    """`value` with every image data URL cut to its head and size, for the screen."""
    if isinstance(value, dict):
        return {k: shortened(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shortened(v) for v in value]
    if isinstance(value, str) and (match := DATA_URL.match(value)):
        data = match.group(2)
        size = len(data) * 3 // 4 - data.count("=")
        return f"data:{match.group(1)};base64,{data[:SHOWN_BASE64]}…({format_bytes(size)})"
    return value


def python_snippet(request: Request, *, short: bool = False) -> str:
    """A Python script that sends the request with the `openai` client and prints the reply."""
    body = shortened(request.body) if short else request.body
    literal = pprint.pformat(body, indent=1, width=96, sort_dicts=False)
    streams = bool(request.body.get("stream"))
    lines = [
        "import os",
        "",
        "from openai import OpenAI",
        "",
        f"client = OpenAI(base_url={request.base_url!r},",
        f"                api_key=os.environ[{KEY_VARIABLE!r}])",
        f"request = {literal}",
        "",
    ]
    if streams:
        lines += [
            "for chunk in client.chat.completions.create(**request):",
            "    for choice in chunk.choices:",
            "        print(choice.delta.content or \"\", end=\"\", flush=True)",
            "print()",
        ]
    else:
        lines += [
            "completion = client.chat.completions.create(**request)",
            "print(completion.choices[0].message.content)",
        ]
    return "\n".join(lines) + "\n"


def curl_command(request: Request, *, short: bool = False) -> str:
    """A cURL command for bash: the URL quoted by shlex, the key from the environment, the
    JSON body on standard input through a quoted heredoc (nothing in it is expanded)."""
    body = wire_body(shortened(request.body) if short else request.body)
    url = request.base_url.rstrip("/") + "/chat/completions"
    lines = [
        f"curl {shlex.quote(url)} \\",
        f"  -H \"Authorization: Bearer ${KEY_VARIABLE}\" \\",
        "  -H 'Content-Type: application/json' \\",
        *(["  --no-buffer \\"] if body.get("stream") else []),
        f"  --data-binary @- <<'{HEREDOC}'",
        json.dumps(body, indent=2, ensure_ascii=False),
        HEREDOC,
    ]
    return "\n".join(lines) + "\n"



def has_images(value: object) -> bool:
    """Whether a body carries any image data URL (shortened on screen)."""
    if isinstance(value, dict):
        return any(has_images(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_images(v) for v in value)
    return isinstance(value, str) and bool(DATA_URL.match(value))
