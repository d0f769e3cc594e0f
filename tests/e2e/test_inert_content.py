"""Rendered content is inert, in a real browser: a corpus of hostile payloads goes in through
the fake API (replies, model ids, finish reasons, error messages), the Conversations page's
import (a NexusChat export and an OpenAI messages array), rename, search, and an uploaded file's
name; nothing runs, loads from another host, links out unsafely, or reorders text.

Every request for a host other than loopback is counted and aborted by the browser context's
route; payload hosts are `evil.example`, so a request there is seen. One page, many payloads
per reply and per file.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from nexuschat import exports
from nexuschat.conversation import Conversation, ConversationTree, Message, ReplyMeta
from testbed.fake_api import DEFAULT_MODELS
from tests.e2e.test_browser_chat import messages, open_chat, send

pytestmark = pytest.mark.e2e

EVIL = "https://evil.example"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

# Each payload sets window.__pwned or calls alert() if it ever runs, or loads from EVIL.
PAYLOADS = [
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "<svg onload=alert('svg')><circle r=1 /></svg>",
    f"<iframe src=\"{EVIL}/frame\"></iframe>",
    f"<object data=\"{EVIL}/object\"></object><embed src=\"{EVIL}/embed\">",
    "<a href=\"javascript:alert('html-a')\">html link</a>",
    f"<form action=\"{EVIL}/form\"><button formaction=\"javascript:alert('f')\">go</button></form>",
    f"<link rel=stylesheet href={EVIL}/s.css><style>@import '{EVIL}/i.css';</style>",
    f"<video src={EVIL}/v.mp4 autoplay></video><audio src={EVIL}/a.mp3 autoplay></audio>",
    "[plain js](javascript:alert('js'))",
    "[mixed case](JaVaScRiPt:alert('case'))",
    "[entity](&#106;avascript:alert('entity'))",
    "[hex entity](&#x6A;&#x61;vascript:alert('hex'))",
    "[tab inside](java&#9;script:alert('tab'))",
    "[colon entity](javascript&colon;alert('colon'))",
    "[data html](data:text/html,<script>alert('data')</script>)",
    "[data b64](DATA:text/html;base64,PHNjcmlwdD5hbGVydCgnYjY0Jyk8L3NjcmlwdD4=)",
    "[vbscript](vbscript:msgbox('vb')) [file](file:///etc/passwd)",
    "[reference][r1]\n\n[r1]: javascript:alert('ref')",
    "<javascript:alert('autolink')> <data:text/html,alert('auto-data')>",
    f"![remote image]({EVIL}/img-inline.png)",
    f"![reference image][r2]\n\n[r2]: {EVIL}/img-ref.png",
    f"![shortcut]\n\n[shortcut]: {EVIL}/img-shortcut.png",
    f"[![image in link]({EVIL}/img-in-link.png)](https://ok.example/)",
    f"![titled]({EVIL}/img-titled.png \"t\") ![pointy](<{EVIL}/img-pointy.png>)",
    "&lt;script&gt;alert('entities')&lt;/script&gt; &#60;img src=x onerror=alert('e')&#62;",
    ":red[coloured] :material/home: :help[tip] $\\href{javascript:alert('tex')}{x}$",
    f"$$\n\\includegraphics{{{EVIL}/img-tex.png}}\n$$",
    f":abc[d]{{e=\"`\"}} ![directive swallows]({EVIL}/img-directive.png) `z`",
    f"{EVIL}/a`b ![literal swallows]({EVIL}/img-literal.png) `c`",
    f"| a |\n| - |\n| `x | ![table cell]({EVIL}/img-cell.png) | ` |",
    f":::box\n![container]({EVIL}/img-container.png)\n:::",
    f"<div>\n![html block]({EVIL}/img-html-block.png)\n</div>",
    "right\u202eto left\u202c and \u2066isolate\u2069",
]

MODEL_PAYLOAD = f"text-model <img src=x onerror=alert('model')> ![m]({EVIL}/img-model.png)"
VISION_PAYLOAD = f"claude <svg onload=alert('vision')> ![v]({EVIL}/img-vision.png)"
TITLE_PAYLOAD = f"IMPORTED \u202egnp.exe <script>alert('title')</script> ![t]({EVIL}/img-t.png)"
RENAME_PAYLOAD = "RENAMED \u202e<img src=x onerror=alert('rename')> [r](javascript:alert(1))"
REMOTE_URL = f"{EVIL}/remote.png?<img src=x onerror=alert(4)>![n]({EVIL}/img-note.png)"
REASON_PAYLOAD = f"<img src=x onerror=alert(6)> ![r]({EVIL}/img-reason.png)"
ERROR_PAYLOAD = f"<img src=x onerror=alert(7)> ![e]({EVIL}/img-error.png) [x](javascript:alert(8))"
FILE_PAYLOAD = "<img src=x onerror=alert('file')>[f](javascript:alert(2))\u202egnp.png"

# Run in the page: what content put into the DOM that must not be there.
DOM_CHECK = r"""
() => {
  const bad = [];
  const roots = [document.getElementById('root')];  // everything Streamlit draws
  if (!roots[0] || !roots[0].querySelector('[data-testid="stChatMessage"], h1'))
    return ['nothing drawn'];
  for (const root of roots) {
    const tags = 'script, iframe, object, embed, frame, form, style, link, video, audio';
    for (const el of root.querySelectorAll(tags))
      // The app's own constant stylesheet (components/page_style.py) is the one allowed.
      if (!(el.tagName === 'STYLE' && el.closest('.st-key-page-style')))
        bad.push('element ' + el.tagName);
    for (const el of root.querySelectorAll('*'))
      for (const attr of el.attributes)
        if (attr.name.toLowerCase().startsWith('on')) bad.push('attribute ' + attr.name);
    for (const a of root.querySelectorAll('a[href]')) {
      const raw = a.getAttribute('href');
      const url = new URL(a.href, location.href);
      const ok = raw.startsWith('#') || ['http:', 'https:', 'mailto:'].includes(url.protocol);
      if (!ok) bad.push('href ' + raw);
    }
    for (const img of root.querySelectorAll('img')) {
      const url = new URL(img.src, location.href);
      if (!['data:', 'blob:'].includes(url.protocol) && url.host !== location.host)
        bad.push('img ' + img.src);
    }
  }
  if (window.__pwned !== undefined) bad.push('script ran: ' + window.__pwned);
  return bad;
}
"""


@pytest.fixture
def guarded(page: Page):
    """The page, with every non-loopback request counted and aborted, and dialogs recorded."""
    left: list[str] = []
    dialogs: list[str] = []

    def route(request_route):
        host = urllib.parse.urlsplit(request_route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1"):
            request_route.continue_()
        else:
            left.append(request_route.request.url)
            request_route.abort()

    page.context.route("**/*", route)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page, left, dialogs
    page.context.unroute("**/*")


def assert_inert(page: Page, left: list[str], dialogs: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    assert page.evaluate(DOM_CHECK) == []
    assert dialogs == []
    assert left == []  # no request for any host but loopback
    shown = page.locator("#root").inner_text()
    assert shown and not any(c in shown for c in BIDI)


def replies(*payloads: str) -> str:
    return "\n\n".join(payloads)


def nexuschat_export() -> bytes:
    """A NexusChat JSON export with payloads in the title, system prompt, messages and meta."""
    question = Message("user", replies(*PAYLOADS[:12]) + "\n\nneedle-word")
    answer = Message(
        "assistant", replies(*PAYLOADS[12:]) + "\n\nIMPORTED-END",
        meta=ReplyMeta(model=MODEL_PAYLOAD, finish_reason=f"<b>odd</b> ![f]({EVIL}/img-fr.png)"),
        earlier_attempts=(f"![attempt]({EVIL}/img-attempt.png) <img src=x onerror=alert(3)>",),
        parent_id=question.id,
    )
    conversation = Conversation(title=TITLE_PAYLOAD, model=MODEL_PAYLOAD,
                                system_prompt=replies(*PAYLOADS[:5]),
                                messages=(question, answer))
    return exports.to_json(ConversationTree(conversation, (question, answer), answer.id))


def openai_array() -> bytes:
    """A plain OpenAI messages array: payload text, a remote image URL, an odd part type."""
    return json.dumps([
        {"role": "system", "content": PAYLOADS[0]},
        {"role": "user", "content": [
            {"type": "text", "text": "OPENAI-IMPORT " + PAYLOADS[20]},
            {"type": "image_url", "image_url": {"url": REMOTE_URL}},
            {"type": f"<svg onload=alert(5)>![p]({EVIL}/img-part.png)"},
        ]},
        {"role": "assistant", "content": replies(*PAYLOADS[5:10])},
    ]).encode()


def import_file(page: Page, path: Path) -> None:
    expander = page.get_by_test_id("stExpander").filter(has_text="Import")
    if not expander.locator(".st-key-import-file").is_visible():
        expander.locator("summary").click()
    expander.locator("input[type=file]").set_input_files(str(path))


def test_hostile_content_renders_inert_everywhere(guarded, fake_api, tmp_path):
    page, left, dialogs = guarded
    fake_api.set_models([*DEFAULT_MODELS, MODEL_PAYLOAD, VISION_PAYLOAD])
    fake_api.script(
        {"kind": "reply", "text": replies(*PAYLOADS[:17], "END-ONE"), "chunk_tokens": 40,
         "model": MODEL_PAYLOAD, "finish_reason": REASON_PAYLOAD},
        {"kind": "reply", "text": replies(*PAYLOADS[17:], "END-TWO"), "chunk_tokens": 40},
        {"kind": "error", "status": 400, "message": ERROR_PAYLOAD},
    )
    open_chat(page)
    page.locator(".st-key-refresh-models").get_by_role("button").click()  # the payload ids

    send(page, "inert-first")
    expect(messages(page).nth(1)).to_contain_text("END-ONE")
    expect(messages(page).nth(1)).to_contain_text("text-model <img src=x")  # the model id, as text
    send(page, "inert-second")
    expect(messages(page).nth(3)).to_contain_text("END-TWO")
    send(page, "inert-third")
    expect(page.get_by_test_id("stAlert").last).to_contain_text("onerror=alert(7)")
    assert_inert(page, left, dialogs)

    # The Conversations page: two imports, a rename, a search, a delete dialog.
    page.get_by_test_id("stSidebar").get_by_role("link", name="Conversations").click()
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    export, array = tmp_path / "export.json", tmp_path / "messages.json"
    export.write_bytes(nexuschat_export())
    array.write_bytes(openai_array())
    import_file(page, export)
    expect(page.get_by_test_id("stAlert")).to_contain_text("Imported IMPORTED gnp.exe")
    import_file(page, array)
    expect(page.get_by_test_id("stAlert")).to_contain_text("<img src=x onerror=alert(4)>")
    expect(page.get_by_test_id("stAlert")).to_contain_text("<svg onload=alert(5)>")

    chat = page.locator("[class*='st-key-conversation-']").filter(has_text="inert-first")
    chat.get_by_test_id("stPopoverButton").first.click()
    box = page.locator("[class*='st-key-rename-text-'] input").last
    box.fill(RENAME_PAYLOAD)
    page.locator("[class*='st-key-rename-']").get_by_role("button", name="Save").last.click()
    renamed = page.locator("[class*='st-key-conversation-']").filter(has_text="RENAMED")
    expect(renamed).to_be_visible()
    renamed.locator("[class*='st-key-delete-']").get_by_role("button").click()
    expect(page.get_by_role("dialog")).to_contain_text("Delete RENAMED <img src=x")
    assert_inert(page, left, dialogs)
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    imported = page.locator("[class*='st-key-conversation-']").filter(has_text="IMPORTED")
    title = imported.locator("[class*='st-key-open-']")
    expect(title).to_contain_text("IMPORTED gnp.exe <script>")  # shown as typed, minus U+202E
    assert "\u202e" not in title.inner_text()
    page.get_by_test_id("stTextInput").filter(has_text="Search").locator("input").fill(
        "needle-word")
    page.keyboard.press("Enter")
    expect(imported).to_contain_text("needle-word")  # the snippet
    assert_inert(page, left, dialogs)

    # The imported conversation on the Chat page: its payload model is not a vision model, so
    # an image is held, with the broken file's name and the vision choices from the server.
    imported.locator("[class*='st-key-open-']").get_by_role("button").click()
    expect(messages(page).nth(1)).to_contain_text("IMPORTED-END")
    messages(page).nth(1).get_by_test_id("stExpander").locator("summary").click()
    broken = tmp_path / FILE_PAYLOAD
    broken.write_bytes(b"not an image")
    good = tmp_path / "ok.png"
    Image.new("RGB", (8, 8), (200, 30, 30)).save(good, "PNG")
    chat_input = page.get_by_test_id("stChatInput")
    chat_input.locator("input[type=file]").set_input_files([str(broken), str(good)])
    expect(chat_input.get_by_test_id("stChatInputSubmitButton")).to_be_enabled()
    chat_input.get_by_test_id("stChatInputTextArea").fill("with images")
    chat_input.get_by_test_id("stChatInputTextArea").press("Enter")
    held = page.locator(".st-key-held-draft")
    expect(held).to_contain_text("onerror=alert('file')")
    expect(held).to_contain_text("cannot read images")
    expect(held.get_by_role("button", name=re.compile("claude <svg"))).to_be_visible()
    assert_inert(page, left, dialogs)
