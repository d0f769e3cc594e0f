"""The deploy's limits in the page: what holds a message back, and the log every turn is
admitted through (nexuschat.limits decides; the store counts)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable

from components import persistence, state
from nexuschat.api import ChatError
from nexuschat.config import KEY_DEPLOY, Settings
from nexuschat.conversation import ReplyMeta
from nexuschat.cost import price_from_dict, request_cost
from nexuschat.limits import (
    LimitHit,
    Limits,
    capped,
    check_message,
    check_request,
    estimate_tokens,
)
from nexuschat.limits import max_tokens_ceiling as ceiling_of
from nexuschat.models import capabilities
from nexuschat.params import GenerationParams
from nexuschat.store import StoreBusy

# A reply still open after this long belongs to a server that died mid-reply: it no longer
# counts as a stream being written (well past any read timeout a deploy would set).
STALE_STREAM_S = 600.0
SHORT_WAIT_S = 60.0  # a Retry waits out a limit this short; a longer one says when it resets


def pays(settings: Settings) -> bool:
    """Whether the deployer's key pays for requests with these settings."""
    return settings.key_owner == KEY_DEPLOY and not settings.is_local


def message_limit(text: str, image_count: int, upload_bytes: int) -> LimitHit | None:
    """The first per-message limit a message breaks."""
    return check_message(text, image_count, upload_bytes, state.limits())


def request_limit(settings: Settings) -> LimitHit | None:
    """The per-request limit another request would break now (read from the request log)."""
    limits = state.limits()
    if _no_request_limits(limits):
        return None
    usage = persistence.store().usage(persistence.owner(), stale_after_s=STALE_STREAM_S)
    return check_request(usage, limits, time.time(), deploy_key=pays(settings))


def sent_params(settings: Settings, params: GenerationParams) -> GenerationParams:
    """The parameters a request carries: max_tokens within the model's longest reply and the
    deploy's ceiling."""
    return capped(params, state.limits(), deploy_key=pays(settings),
                  model_max=model_max_tokens(settings))


def max_tokens_ceiling(settings: Settings) -> int | None:
    """The most the max_tokens setting may be for these settings' model (None: no limit)."""
    return ceiling_of(state.limits(), deploy_key=pays(settings),
                      model_max=model_max_tokens(settings))


def model_max_tokens(settings: Settings) -> int | None:
    """The longest reply the catalog gives the settings' model (None: unknown)."""
    return capabilities(settings.model, catalog=settings.catalog).max_output_tokens


def limit_error(hit: LimitHit) -> ChatError:
    """A limit that stopped a turn, as the failure its reply shows (with Retry)."""
    wait = hit.wait_s(time.time())
    params = {"limit": hit.limit, "resets_at": hit.resets_at or 0.0}
    return ChatError(hit.code, params,
                     retry_after=wait if wait is not None and wait <= SHORT_WAIT_S else None)


def admit(settings: Settings,
          conversation_id: str | None = None) -> tuple[int | None, LimitHit | None]:
    """Log a turn's request as started (for `conversation_id`, whose total it adds to), or
    the limit that holds it back (checked and logged in one transaction, so replicas agree);
    (request id, None) or (None, limit)."""
    limits = state.limits()
    deploy_key = pays(settings)
    now = time.time()

    def check(usage) -> LimitHit | None:
        return check_request(usage, limits, now, deploy_key=deploy_key)

    admitted = persistence.store().admit(persistence.owner(), check, model=settings.model,
                                         deploy_key=deploy_key, now=now,
                                         stale_after_s=STALE_STREAM_S,
                                         conversation_id=conversation_id)
    return (None, admitted) if isinstance(admitted, LimitHit) else (admitted, None)


def finisher(request_id: int | None, sent_chars: int) -> Callable[[ReplyMeta, int], None]:
    """A function that records how the request ended; it makes no Streamlit call, so the
    streaming run's `finally` may call it even after a Stop."""
    store, owner = persistence.store(), persistence.owner()

    def finish(meta: ReplyMeta, reply_chars: int) -> None:
        if request_id is None:
            return
        estimated = None if meta.total_tokens is not None else estimate_tokens(
            sent_chars + reply_chars)
        # This request's own usage at the price the reply stores (a Continue is its own row).
        price = price_from_dict(meta.price)
        cost = None if price is None else request_cost(
            price, meta.prompt_tokens, meta.completion_tokens, meta.cached_tokens)
        # Busy: the row stays open, and stops counting as a stream after STALE_STREAM_S.
        with contextlib.suppress(StoreBusy):
            store.finish_request(owner, request_id, status=meta.status,
                                 error_code=meta.error_code, prompt_tokens=meta.prompt_tokens,
                                 completion_tokens=meta.completion_tokens,
                                 total_tokens=meta.total_tokens, estimated_tokens=estimated,
                                 ttft_s=meta.ttft_s, cached_tokens=meta.cached_tokens,
                                 cost=None if cost is None else cost.amount,
                                 currency=None if cost is None else cost.currency,
                                 duration_s=meta.duration_s)

    return finish


def _no_request_limits(limits: Limits) -> bool:
    return (limits.requests_per_minute is None and limits.tokens_per_day is None
            and limits.concurrent_streams is None)


def upload_cap_mb(limits: Limits) -> int | None:
    """The per-file size the chat input itself refuses above (whole megabytes)."""
    return None if limits.upload_mb is None else max(1, math.ceil(limits.upload_mb))
