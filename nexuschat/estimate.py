"""How many input tokens the next request will carry, estimated before it is sent (pure).

No tokenizer is installed (and each provider has its own), so text is counted by characters:
a CJK character is about 0.6 tokens (DeepSeek's and Alibaba Cloud's published rules of thumb:
"1 Chinese character ≈ 0.6 token", "1 token ≈ 1.5-1.8 Chinese characters"), any other
character a quarter of a token (OpenAI's "about 4 characters per token" for English text;
`limits.CHARS_PER_TOKEN`). Each message adds a few tokens of framing (OpenAI's cookbook
counts 3 per message and 3 for the reply). Images go by `images.estimate_tokens` (Qwen's
28-pixel patches, else Anthropic's width x height / 750), and as the short text note a model
that cannot see is sent instead. An estimate, marked as one wherever it is shown.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from nexuschat.conversation import IMAGE_NOTE, Conversation, sent_messages
from nexuschat.cost import Cost, Price, request_cost
from nexuschat.images import estimate_tokens as image_tokens
from nexuschat.limits import CHARS_PER_TOKEN

TOKENS_PER_CJK_CHAR = 0.6
MESSAGE_TOKENS = 3  # framing per message
REPLY_TOKENS = 3  # the reply's own start
# CJK ideographs (and their extensions and compatibility forms), kana, hangul, full-width forms
_CJK = re.compile("[\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
                  "\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f]")


def text_tokens(text: str) -> int:
    """About how many tokens a text is (CJK characters and others counted apart)."""
    if not text:
        return 0
    cjk = len(text) - len(_CJK.sub("", text)) if not text.isascii() else 0
    return math.ceil(cjk * TOKENS_PER_CJK_CHAR + (len(text) - cjk) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class RequestEstimate:
    """The next request's input as estimated: text, images and messages."""

    text_tokens: int = 0
    image_tokens: int = 0
    messages: int = 0
    images: int = 0

    @property
    def tokens(self) -> int:
        """Everything the request's prompt is estimated at."""
        framing = self.messages * MESSAGE_TOKENS + (REPLY_TOKENS if self.messages else 0)
        return self.text_tokens + self.image_tokens + framing

    def exceeds(self, context_window: int | None) -> bool:
        """Whether it would not fit the model's context window (unknown: it fits)."""
        return context_window is not None and self.tokens > context_window


def estimate_request(conversation: Conversation, model: str, *,
                     vision: bool = True) -> RequestEstimate:
    """The input of the request the conversation's next turn sends (before the message being
    typed): its system prompt and every turn `to_openai` would send."""
    texts, pictures, count, images = 0, 0, 0, 0
    if conversation.system_prompt.strip():
        texts, count = text_tokens(conversation.system_prompt), 1
    for message in sent_messages(conversation.messages):
        count += 1
        texts += text_tokens(message.content)
        for image in message.images:
            images += 1
            if vision:
                pictures += image_tokens(image.width, image.height, model)
            else:
                texts += text_tokens(IMAGE_NOTE.format(name=image.name or "image"))
    return RequestEstimate(texts, pictures, count, images)


def estimate_cost(estimate: RequestEstimate, price: Price | None) -> Cost | None:
    """What that input would cost at `price`, none of it cached (None: no price)."""
    if price is None or not estimate.tokens:
        return None
    return request_cost(price, estimate.tokens, 0)
