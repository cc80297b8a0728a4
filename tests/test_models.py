"""The models parse every real payload, across API versions; errors map to the error tree."""

import httpx
import pytest

from intercom_enrichment import errors
from intercom_enrichment.errors import classify
from intercom_enrichment.objects.common import SearchPage
from intercom_enrichment.objects.contacts import Contact
from intercom_enrichment.objects.conversations import Conversation


def test_every_200_body_parses(examples: dict[str, dict]) -> None:
    page = SearchPage.of(examples["conversation_search_response.v2.16.json"], "conversations")
    convs = [Conversation.model_validate(c) for c in page.items]
    assert [c.id for c in convs] == ["515"]
    assert convs[0].contact_ids == ["6762f14a1bb69f9f2193bbb3"]
    assert convs[0].admin_assignee_id == "991267715"  # int in, string out
    listing = SearchPage.of(examples["conversation_list_response.v2.16.json"], "conversations")
    assert all(Conversation.model_validate(c).id for c in listing.items)
    contact = Contact.model_validate(examples["contact.v2.16.json"])
    assert (contact.id, contact.email, contact.role) == (
        "6762f0d01bb69f9f2193bb7d",
        "joe@bloggs.com",
        "user",
    )
    empty = SearchPage.of(examples["contacts_search_response.v2.16.json"], "data")
    assert empty.items == [] and empty.next_cursor is None


@pytest.mark.parametrize(
    "name", ["conversation_with_parts.v2.15.json", "conversation_with_parts.v2.16.json"]
)
def test_parts_parse_in_both_versions(examples: dict[str, dict], name: str) -> None:
    conv = Conversation.model_validate(examples[name])
    parts = conv.conversation_parts
    assert parts is not None and parts.total_count == len(parts.conversation_parts) == 4
    assert [p.id for p in parts.conversation_parts] == ["1", "2", "3", "4"]  # ints in the example
    assert conv.tags.tags[0].name == "Test tag"


def test_version_differences_are_tolerated(examples: dict[str, dict]) -> None:
    v215 = Conversation.model_validate(examples["conversation_with_parts.v2.15.json"])
    v216 = Conversation.model_validate(examples["conversation_with_parts.v2.16.json"])
    assert {v215.priority, v216.priority} <= {"not_priority", "none", "priority"}
    unassigned_null = Conversation.model_validate(
        {**examples["conversation_with_parts.v2.15.json"], "admin_assignee_id": None}
    )
    unassigned_zero = Conversation.model_validate(
        {**examples["conversation_with_parts.v2.16.json"], "admin_assignee_id": 0}
    )
    assert unassigned_null.admin_assignee_id is None and unassigned_zero.admin_assignee_id is None
    owner_int = Contact.model_validate({**examples["contact.v2.16.json"], "owner_id": 42})
    owner_str = Contact.model_validate({**examples["contact.v2.16.json"], "owner_id": "42"})
    assert owner_int.owner_id == owner_str.owner_id == "42"


def test_a_conversation_without_updated_at_is_invalid(examples: dict[str, dict]) -> None:
    item = dict(examples["conversation_search_response.v2.16.json"]["conversations"][0])
    del item["updated_at"]
    with pytest.raises(ValueError):
        Conversation.model_validate(item)


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("GET", "https://api.intercom.io/contacts/abc")
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("name", "status", "expected"),
    [
        ("error_400_invalid_sort_order.v2.16.json", 400, errors.BadRequest),
        ("error_401_unauthorized.v2.16.json", 401, errors.Unauthorized),
        ("error_403_api_plan_restricted.v2.16.json", 403, errors.Forbidden),
        ("error_404_contact_user_not_found.v2.16.json", 404, errors.NotFound),
        ("error_404_conversation_not_found.v2.16.json", 404, errors.NotFound),
        ("error_410_contact_merged.v2.16.json", 410, errors.ContactMerged),
        ("error_429_rate_limit_exceeded.v2.16.json", 429, errors.RateLimited),
    ],
)
def test_every_error_body_maps_to_a_clear_error(
    examples: dict[str, dict], name: str, status: int, expected: type
) -> None:
    body = examples[name]
    err = classify(_response(status, body), now=0.0)
    assert type(err) is expected
    assert err.request_id == body["request_id"]
    assert body["errors"][0]["message"] in str(err)
    assert isinstance(err, errors.RetryableError) == (status == 429)


def test_merged_contact_names_its_canonical_id(examples: dict[str, dict]) -> None:
    link = '</contacts/6762f0d01bb69f9f2193bb7d>; rel="canonical"'
    err = classify(
        _response(410, examples["error_410_contact_merged.v2.16.json"], {"Link": link}), now=0
    )
    assert isinstance(err, errors.ContactMerged) and err.canonical_id == "6762f0d01bb69f9f2193bb7d"


def test_rate_limited_prefers_retry_after_then_reset() -> None:
    body = {"type": "error.list", "errors": [{"code": "rate_limit_exceeded", "message": "x"}]}
    with_after = classify(
        _response(429, body, {"Retry-After": "3", "X-RateLimit-Reset": "50"}), now=100.0
    )
    only_reset = classify(_response(429, body, {"X-RateLimit-Reset": "105"}), now=100.0)
    assert isinstance(with_after, errors.RateLimited) and with_after.retry_at == 103.0
    assert isinstance(only_reset, errors.RateLimited) and only_reset.retry_at == 105.0


def test_html_is_not_intercom() -> None:
    request = httpx.Request("POST", "https://example.com/conversations/search")
    page = httpx.Response(
        200, text="<html>hi</html>", headers={"content-type": "text/html"}, request=request
    )
    assert isinstance(classify(page, now=0), errors.NotIntercom)
    gateway = httpx.Response(
        404, text="<html>nope</html>", headers={"content-type": "text/html"}, request=request
    )
    assert isinstance(classify(gateway, now=0), errors.NotIntercom)


def test_nulls_and_integers_where_objects_and_strings_are_usual(examples: dict[str, dict]) -> None:
    item = dict(examples["conversation_search_response.v2.16.json"]["conversations"][0])
    item.update(contacts=None, tags=None, custom_attributes=None)
    item_ref = dict(item, contacts={"contacts": [{"type": "contact", "id": 5, "external_id": 70}]})
    assert Conversation.model_validate(item).contact_ids == []
    assert Conversation.model_validate(item_ref).contact_ids == ["5"]
    contact = Contact.model_validate(
        {**examples["contact.v2.16.json"], "external_id": 70, "custom_attributes": None}
    )
    assert contact.external_id == "70" and contact.custom_attributes == {}


def test_contact_tags_and_companies_are_references_with_has_more(examples: dict[str, dict]) -> None:
    plain = Contact.model_validate(examples["contact.v2.16.json"])
    assert plain.tags.data == [] and not plain.tags.cut and not plain.companies.cut
    refs = [{"type": "tag", "id": str(k), "url": f"/tags/{k}"} for k in range(10)]
    cut = Contact.model_validate(
        {
            **examples["contact.v2.16.json"],
            "tags": {"type": "list", "data": refs, "has_more": True, "total_count": 14},
            "companies": None,
        }
    )
    assert cut.tags.ids == [str(k) for k in range(10)] and cut.tags.cut
    assert all(t.name is None for t in cut.tags.data) and cut.companies.ids == []


@pytest.mark.parametrize(
    ("code", "message", "cursor"),
    [
        ("client_error", "Invalid starting_after param", True),  # the documented one
        ("invalid_cursor", "bad", True),
        ("parameter_invalid", "Invalid per_page", False),
    ],
)
def test_a_cursor_error_is_told_by_its_message_or_code(
    code: str, message: str, cursor: bool
) -> None:
    body = {"type": "error.list", "errors": [{"code": code, "message": message}]}
    err = classify(_response(400, body), now=0)
    assert isinstance(err, errors.BadRequest)
    assert isinstance(err, errors.InvalidCursor) == cursor


@pytest.mark.parametrize("status", [408, 409])
def test_408_and_409_are_transient(status: int) -> None:
    body = {"type": "error.list", "errors": [{"code": "x", "message": "y"}]}
    assert isinstance(classify(_response(status, body), now=0), errors.RetryableError)
