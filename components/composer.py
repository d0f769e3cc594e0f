"""The chat input, and the panel for a message held back (vision guard, bad files, settings)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import streamlit as st

from components import candidates, persistence, quota, state
from components.messages import render_images
from components.notices import notice_text
from nexuschat.conversation import Conversation, Message
from nexuschat.errors import Note
from nexuschat.i18n import t
from nexuschat.images import ACCEPTED_EXTENSIONS, ImageError, prepare_images
from nexuschat.models import vision_models
from nexuschat.params import GenerationParams, validate
from nexuschat.rich_text import page_markdown
from nexuschat.safe_text import plain_text
from nexuschat.store import StoreError
from nexuschat.turns import Draft, blockers

MAX_SWITCH_CHOICES = 3
STORE_FAILURE = "store_failure"  # str | None: why the last send could not be saved (a reason)


def read_chat_input(*, disabled: bool, preset: str) -> Draft | None:
    """The submitted message as a Draft (images prepared once, here), or None.

    The deploy's per-message limits are applied before any file is decoded: files over the
    upload limit are not read at all, and past the image limit only the first ones are.
    """
    limits = state.limits()
    submission = st.chat_input(
        t("chat.placeholder"),
        key="composer",
        accept_file="multiple",
        file_type=list(ACCEPTED_EXTENSIONS),
        disabled=disabled,
        # Not max_chars: the browser would cut a pasted text short without a word; a message
        # over the limit is held whole instead, with the reason (`send`).
        max_upload_size=quota.upload_cap_mb(limits),
    )
    if submission is None:
        return None
    files = list(submission.files or [])
    text = (submission.text or "").strip()
    hit = quota.message_limit(text, len(files), sum(f.size for f in files))
    if hit is not None and hit.code == "limit.upload_mb":
        read = []
    elif hit is not None and hit.code == "limit.images_per_message":
        read = files[:int(hit.limit)]
    else:
        read = files
    results = prepare_images([(f.getvalue(), f.name) for f in read], preset) if read else []
    return Draft(
        text=text,
        images=tuple(r for r in results if not isinstance(r, ImageError)),
        image_errors=tuple(r for r in results if isinstance(r, ImageError)),
        limit=hit,
        unread=tuple(f.name for f in files[len(read):]),
    )


def submit(draft: Draft, model: str, params: GenerationParams, overrides: dict) -> None:
    """Send the draft if nothing blocks it; otherwise hold it, with the reasons shown."""
    if draft.empty and not draft.image_errors and draft.limit is None:
        return
    if blockers(draft, model, params, overrides, review_images=_review(),
                catalog=state.catalog()) or draft.empty:
        st.session_state[state.DRAFT] = draft
        return
    send(draft)


def send(draft: Draft) -> None:
    """Commit the user's message (to the store, before any request) and ask for a reply;
    a limit of the deploy holds it instead (the text and images stay, with the reason)."""
    hit = (quota.message_limit(draft.text, len(draft.images), 0)
           or quota.request_limit(state.resolved_settings()))
    if hit is not None:
        st.session_state[state.DRAFT] = replace(draft, limit=hit, unread=())
        return
    try:
        commit_user_message(state.conversation(),
                            Message("user", draft.text, images=draft.images))
    except StoreError as exc:
        st.session_state[state.DRAFT] = draft  # kept, with a Send button to try again
        st.session_state[STORE_FAILURE] = persistence.report(exc)
        return
    st.session_state[state.DRAFT] = None


def commit_user_message(base: Conversation, message: Message) -> None:
    """Add `message` after `base`'s last turn (a new branch if that is not the leaf) and reply."""
    conversation = state.with_current_settings(base, state.resolved_settings().model,
                                               state.current_params()).append(message)
    persistence.add_message(conversation, conversation.last, with_settings=True)
    state.set_conversation(conversation)
    candidates.clear()  # a new message continues from the reply shown: the group is done
    st.session_state[state.PENDING] = "reply"


def _send_with(draft: Draft, model: str | None = None, *, drop_images: bool = False) -> None:
    if model:
        st.session_state[state.MODEL] = model
    # Files that could not be read were shown; sending goes on without them (or any image).
    # Limits are judged again as it is sent.
    send(Draft(draft.text, () if drop_images else draft.images))


def _resubmit(draft: Draft) -> None:
    # Past a limit, the message meets every other check again (the vision guard, settings).
    submit(Draft(draft.text, draft.images), state.resolved_settings().model,
           state.current_params(), st.session_state[state.OVERRIDES])


def _review() -> bool:
    return bool(st.session_state.get("w_review_images"))


def _discard() -> None:
    st.session_state[state.DRAFT] = None


def render_draft(draft: Draft, *, model: str, models: list[str], params: GenerationParams,
                 overrides: dict) -> None:
    """Explain why the message was held and offer every way forward; nothing is lost."""
    catalog = state.catalog()
    reasons = blockers(draft, model, params, overrides, review_images=_review(), catalog=catalog)
    with st.container(border=True, key="held-draft"):
        if draft.text:
            # The label, then the text as its own block (Markdown, as in its bubble)
            st.markdown(t("chat.draft_kept_label") + "\n\n" + page_markdown(draft.text))
        render_images(draft.images, model)
        if "limit" in reasons:
            _render_limit(draft)
            return
        if "images" in reasons:
            st.warning(t("chat.images_dropped", count=len(draft.image_errors)) + "\n\n"
                       + "\n".join(f"- {notice_text(e)}" for e in draft.image_errors))
        if reason := st.session_state.pop(STORE_FAILURE, None):
            st.error(t(persistence.failure_key(reason)), icon=":material/database:")
        if "review" in reasons:
            st.info(t("chat.review_images"), icon=":material/image_search:")
        if "params" in reasons:
            st.error(t("chat.params_invalid") + "\n\n" + "\n".join(
                f"- {notice_text(e)}" for e in validate(params)))
        columns = st.columns(2)
        if "vision" in reasons:
            choices = vision_models(models, overrides, catalog)[:MAX_SWITCH_CHOICES]
            st.warning(t("vision.unsupported", model=plain_text(model),
                         count=len(draft.images)))
            if not choices:
                st.info(t("vision.none_available"))
            for choice in choices:
                st.button(t("vision.switch", model=plain_text(choice)), key=f"switch-{choice}",
                          on_click=_send_with, args=(draft, choice),
                          disabled="params" in reasons, icon=":material/visibility:")
            if draft.text:
                columns[0].button(t("vision.text_only"), key="send-text-only",
                                  on_click=_send_with, args=(draft,),
                                  kwargs={"drop_images": True}, disabled="params" in reasons)
        elif not draft.empty:
            columns[0].button(t("chat.send_anyway"), key="send-draft", on_click=_send_with,
                              args=(draft,), disabled="params" in reasons, type="primary")
        columns[1].button(t("vision.discard"), key="discard-draft", on_click=_discard)


def render_request_notes(notes: Iterable[Note]) -> None:
    """What the next request will meet in this model (images it cannot see, a max_tokens
    above its longest reply...), under the conversation, before anything is sent."""
    for note in notes:
        st.caption(notice_text(note))


def _render_limit(draft: Draft) -> None:
    """Which limit holds the message, and what can be sent now (nothing is dropped unsaid)."""
    hit = draft.limit
    assert hit is not None
    text = notice_text(hit)
    if draft.unread:
        text += "\n\n" + t("limit.unread", files=", ".join(plain_text(f) for f in draft.unread))
    st.warning(text, icon=":material/speed:")
    left, right = st.columns(2)
    if hit.code == "limit.images_per_message":
        left.button(t("limit.send_first", count=len(draft.images)), key="send-draft",
                    on_click=_resubmit, args=(draft,), type="primary")
    elif hit.code == "limit.upload_mb":
        if draft.text:
            left.button(t("vision.text_only"), key="send-text-only", on_click=_resubmit,
                        args=(Draft(draft.text),))
    elif hit.code != "limit.message_chars":  # a request limit: try again when it resets
        left.button(t("chat.send_anyway"), key="send-draft", on_click=_resubmit,
                    args=(draft,), type="primary")
    right.button(t("vision.discard"), key="discard-draft", on_click=_discard)
