"""The hosted limits: the pure rules, and the request log they read on a real SQLite and
PostgreSQL (`database_url`), including two writers racing for the last allowed request."""

from __future__ import annotations

import threading

import pytest

from nexuschat.limits import (
    DAY_S,
    HOSTED_DEFAULTS,
    LimitHit,
    Limits,
    Usage,
    capped,
    check_message,
    check_request,
    day_start,
    resolve_limits,
)
from nexuschat.params import GenerationParams
from nexuschat.store import Store

NOW = 20_834 * 86_400.0 + 3600  # one hour into a UTC day (2027-01-17)


def test_hosted_deploys_get_safe_defaults_and_this_machine_none():
    assert resolve_limits({}, {}, hosted=True) == HOSTED_DEFAULTS
    assert resolve_limits({}, {}, hosted=False) == Limits()


def test_each_limit_has_a_setting_and_zero_or_off_lifts_it():
    limits = resolve_limits({"NEXUSCHAT_LIMIT_REQUESTS_PER_MINUTE": "3",
                             "NEXUSCHAT_LIMIT_UPLOAD_MB": "2.5",
                             "NEXUSCHAT_LIMIT_TOKENS_PER_DAY": 0},
                            {"NEXUSCHAT_LIMIT_MAX_TOKENS": "off",
                             "NEXUSCHAT_LIMIT_REQUESTS_PER_MINUTE": "99",  # secrets win
                             "NEXUSCHAT_LIMIT_MESSAGE_CHARS": "1_000"}, hosted=True)
    assert limits.requests_per_minute == 3 and limits.upload_mb == 2.5
    assert limits.tokens_per_day is None and limits.max_tokens is None
    assert limits.message_chars == 1000
    assert limits.concurrent_streams == HOSTED_DEFAULTS.concurrent_streams
    # A typo keeps the safe default instead of lifting the limit.
    typo = resolve_limits({}, {"NEXUSCHAT_LIMIT_CONCURRENT_STREAMS": "two"}, hosted=True)
    assert typo.concurrent_streams == HOSTED_DEFAULTS.concurrent_streams
    # On this machine a limit applies only where it is set.
    assert resolve_limits({}, {"NEXUSCHAT_LIMIT_IMAGES_PER_MESSAGE": "2"},
                          hosted=False) == Limits(images_per_message=2)


def test_requests_per_minute_reset_when_the_oldest_counted_request_leaves_the_minute():
    limits = Limits(requests_per_minute=3)
    usage = Usage(recent_starts=(NOW - 50, NOW - 20, NOW - 5))
    hit = check_request(usage, limits, NOW, deploy_key=True)
    assert hit == LimitHit("limit.requests_per_minute", 3, NOW + 10)
    assert hit.wait_s(NOW) == 10
    assert check_request(usage, limits, NOW + 10.5, deploy_key=True) is None
    assert check_request(Usage(recent_starts=(NOW - 20, NOW - 5)), limits, NOW,
                         deploy_key=False) is None


def test_tokens_per_day_count_only_on_the_deployers_key_and_reset_at_utc_midnight():
    limits = Limits(tokens_per_day=1000)
    spent = Usage(tokens_today=1000)
    hit = check_request(spent, limits, NOW, deploy_key=True)
    assert hit.code == "limit.tokens_per_day" and hit.resets_at == day_start(NOW) + DAY_S
    assert hit.wait_s(NOW) == DAY_S - 3600
    assert check_request(spent, limits, NOW, deploy_key=False) is None  # the visitor's key


def test_concurrent_streams_reset_when_a_reply_ends():
    hit = check_request(Usage(open_streams=2), Limits(concurrent_streams=2), NOW,
                        deploy_key=False)
    assert hit == LimitHit("limit.concurrent_streams", 2) and hit.wait_s(NOW) is None
    assert check_request(Usage(open_streams=1), Limits(concurrent_streams=2), NOW,
                         deploy_key=False) is None


def test_message_limits_name_what_the_message_has():
    limits = Limits(images_per_message=2, upload_mb=1, message_chars=10)
    assert check_message("short", 2, 1024 * 1024, limits) is None
    assert check_message("short", 3, 10, limits) == LimitHit("limit.images_per_message", 2,
                                                             count=3)
    assert check_message("x" * 11, 0, 0, limits) == LimitHit("limit.message_chars", 10, count=11)
    big = check_message("x" * 11, 3, 1024 * 1024 + 1, limits)
    assert big.code == "limit.upload_mb" and big.count == 1024 * 1024 + 1  # checked first
    assert check_message("x" * 10**6, 99, 10**9, Limits()) is None


def test_max_tokens_is_capped_while_the_deploy_pays():
    limits = Limits(max_tokens=4096)
    assert capped(GenerationParams(), limits, deploy_key=True).max_tokens == 4096
    assert capped(GenerationParams(max_tokens=100), limits, deploy_key=True).max_tokens == 100
    assert capped(GenerationParams(max_tokens=10**6), limits,
                  deploy_key=True).max_tokens == 4096
    assert capped(GenerationParams(max_tokens=10**6), limits,
                  deploy_key=False).max_tokens == 10**6
    assert capped(GenerationParams(), Limits(), deploy_key=True).max_tokens is None


# --- the request log ---------------------------------------------------------------------


@pytest.fixture
def store(database_url):
    with Store.open(database_url) as opened:
        yield opened


def admit(store: Store, owner: str, limits: Limits, now: float, deploy_key: bool = True):
    return store.admit(owner, lambda usage: check_request(usage, limits, now,
                                                          deploy_key=deploy_key),
                       model="m", deploy_key=deploy_key, now=now)


def test_the_log_counts_requests_tokens_and_open_streams_per_owner(store):
    first = admit(store, "alice", Limits(), NOW - 30)
    second = admit(store, "alice", Limits(), NOW - 10)
    admit(store, "bob", Limits(), NOW - 5)
    assert isinstance(first, int) and isinstance(second, int)
    store.finish_request("alice", first, status="complete", total_tokens=700, ttft_s=0.2,
                         now=NOW - 29)
    store.finish_request("alice", second, status="error", estimated_tokens=50, now=NOW - 9)
    usage = store.usage("alice", NOW)
    assert usage == Usage(recent_starts=(NOW - 30, NOW - 10), tokens_today=750, open_streams=0)
    assert store.usage("bob", NOW).open_streams == 1
    # Someone else's id changes nothing.
    store.finish_request("bob", first, status="stopped", total_tokens=10**9, now=NOW)
    assert store.usage("alice", NOW).tokens_today == 750


def test_yesterdays_tokens_and_stale_open_rows_do_not_count(store):
    old = admit(store, "alice", Limits(), day_start(NOW) - 10)
    store.finish_request("alice", old, status="complete", total_tokens=5000,
                         now=day_start(NOW) - 5)
    admit(store, "alice", Limits(), NOW - 2000)  # a replica died mid-reply: never finished
    usage = store.usage("alice", NOW, stale_after_s=900)
    assert usage.tokens_today == 0 and usage.open_streams == 0


def test_visitor_key_tokens_are_not_the_deploys(store):
    row = admit(store, "alice", Limits(), NOW - 10, deploy_key=False)
    store.finish_request("alice", row, status="complete", total_tokens=10**6, now=NOW - 5)
    assert store.usage("alice", NOW).tokens_today == 0


def test_a_hit_limit_logs_nothing(store):
    limits = Limits(requests_per_minute=1)
    assert isinstance(admit(store, "alice", limits, NOW - 1), int)
    hit = admit(store, "alice", limits, NOW)
    assert isinstance(hit, LimitHit) and hit.code == "limit.requests_per_minute"
    assert len(store.usage("alice", NOW).recent_starts) == 1


def test_two_writers_racing_for_the_last_request_admit_one(database_url):
    limits = Limits(concurrent_streams=1)
    stores = [Store.open(database_url) for _ in range(2)]  # two replicas, two engines
    results: list = []
    barrier = threading.Barrier(2)

    def replica(store: Store) -> None:
        barrier.wait()
        results.append(admit(store, "alice", limits, NOW))

    threads = [threading.Thread(target=replica, args=(s,)) for s in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for s in stores:
            s.close()
    assert sorted(type(r).__name__ for r in results) == ["LimitHit", "int"]


def test_max_tokens_stays_within_the_models_longest_reply():
    from nexuschat.limits import max_tokens_ceiling

    hosted, none = Limits(max_tokens=4096), Limits()
    asked = GenerationParams(max_tokens=50_000)
    assert capped(asked, none, deploy_key=False, model_max=8192).max_tokens == 8192
    assert capped(asked, hosted, deploy_key=True, model_max=8192).max_tokens == 4096
    assert capped(asked, Limits(max_tokens=100_000), deploy_key=True,
                  model_max=8192).max_tokens == 8192
    # Unset stays unset (the model's own default) unless the deploy's key pays.
    assert capped(GenerationParams(), none, deploy_key=False, model_max=8192).max_tokens is None
    assert capped(GenerationParams(), Limits(max_tokens=100_000), deploy_key=True,
                  model_max=8192).max_tokens == 8192
    assert capped(GenerationParams(max_tokens=10), hosted, deploy_key=True,
                  model_max=8192).max_tokens == 10
    assert max_tokens_ceiling(hosted, deploy_key=True, model_max=8192) == 4096
    assert max_tokens_ceiling(hosted, deploy_key=False, model_max=8192) == 8192
    assert max_tokens_ceiling(hosted, deploy_key=False) is None
    assert max_tokens_ceiling(none, deploy_key=True, model_max=None) is None
