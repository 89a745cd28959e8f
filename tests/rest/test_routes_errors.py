"""Routes (bucketing keys, encoding, secrets) and error objects."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_interactions.rest import BadRequestError, DiscordHTTPError, NotFoundError, Route
from asgi_interactions.rest.errors import error_for_status, flatten_errors


def test_major_parameters_split_buckets_but_not_routes() -> None:
    a = Route("GET", "/channels/{channel_id}/messages/{message_id}", channel_id=1, message_id=2)
    b = Route("GET", "/channels/{channel_id}/messages/{message_id}", channel_id=1, message_id=3)
    c = Route("GET", "/channels/{channel_id}/messages/{message_id}", channel_id=9, message_id=2)
    assert a.bucket_route == b.bucket_route == c.bucket_route
    assert a.major == b.major == "channel_id=1"
    assert c.major == "channel_id=9"
    assert a.path == "/channels/1/messages/2"


def test_reactions_share_one_route_key_per_channel() -> None:
    t = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
    put = Route("PUT", t, channel_id=1, message_id=2, emoji="👍")
    delete = Route("DELETE", t, channel_id=1, message_id=5, emoji="x:1")
    assert put.bucket_route == delete.bucket_route
    assert put.path == "/channels/1/messages/2/reactions/%F0%9F%91%8D/@me"


def test_webhook_token_is_major_hashed_and_masked() -> None:
    token = "aW50ZXJhY3Rpb246c2VjcmV0"
    r = Route(
        "PATCH",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        webhook_id=10,
        webhook_token=token,
    )
    # exempt only if 10 is the application's id: the client decides (tests/rest/test_traffic.py)
    assert not r.exempt_from_global and r.webhook_id == "10"
    assert token not in r.major and "webhook_id=10" in r.major
    assert token not in repr(r) and token not in r.display
    assert token in r.path
    cb = Route(
        "POST",
        "/interactions/{interaction_id}/{interaction_token}/callback",
        interaction_id=1,
        interaction_token=token,
    )
    assert cb.exempt_from_global and token not in cb.major + repr(cb)
    followup = Route(
        "POST",
        "/webhooks/{application_id}/{interaction_token}",
        application_id=10,
        interaction_token=token,
    )
    assert followup.exempt_from_global and followup.webhook_id is None
    assert token not in followup.major + repr(followup) + followup.display
    assert not Route("GET", "/channels/{channel_id}", channel_id=1).exempt_from_global
    assert not Route("GET", "/webhooks/{webhook_id}", webhook_id=1).exempt_from_global


def test_missing_parameter_is_an_error() -> None:
    with pytest.raises(TypeError, match="channel_id"):
        Route("GET", "/channels/{channel_id}")


@given(st.text(min_size=1, max_size=20))
def test_any_parameter_value_stays_in_one_segment(value: str) -> None:
    r = Route("GET", "/channels/{channel_id}/x", channel_id=value)
    segments = r.path.split("/")
    assert len(segments) == 4
    assert unquote(segments[2]) == value


def test_error_body_is_readable() -> None:
    body = {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {
            "components": {
                "0": {
                    "custom_id": {
                        "_errors": [
                            {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
                        ]
                    }
                }
            },
            "_errors": [{"code": "X", "message": "top"}],
        },
    }
    exc = error_for_status(400, body, route="POST /channels/1/messages")
    assert isinstance(exc, BadRequestError) and isinstance(exc, DiscordHTTPError)
    assert (exc.status, exc.code, exc.message) == (400, 50035, "Invalid Form Body")
    assert exc.flat_errors == {
        "components.0.custom_id": "This field is required",
        "_errors": "top",
    }
    text = str(exc)
    assert "50035" in text and "components.0.custom_id: This field is required" in text
    assert isinstance(error_for_status(404, {"code": 10008}), NotFoundError)
    assert flatten_errors(None) == {}
