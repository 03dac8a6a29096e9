"""Routing by Alertmanager-style matchers: parsing, first match wins, the default, the config shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident_core.errors import ValidationError
from incident_core.routing import (
    MatcherError,
    MatchOp,
    RoutingRule,
    load_routing,
    parse_matcher,
    route,
    routing_labels,
)
from incident_core.signals import Signal, SignalKind, SignalSeverity, SignalStatus


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('service="checkout"', "service", MatchOp.EQUAL, "checkout"),
        ("service=checkout", "service", MatchOp.EQUAL, "checkout"),
        (' cluster != "prod" ', "cluster", MatchOp.NOT_EQUAL, "prod"),
        ('service=~"pay.*"', "service", MatchOp.REGEX, "pay.*"),
        ('host!~"db-\\d+"', "host", MatchOp.NOT_REGEX, "db-\\d+"),
        ('msg="say \\"hi\\""', "msg", MatchOp.EQUAL, 'say "hi"'),
        ('team=""', "team", MatchOp.EQUAL, ""),
        ('service.name="checkout"', "service.name", MatchOp.EQUAL, "checkout"),
        ('url="a=b"', "url", MatchOp.EQUAL, "a=b"),
    ],
)
def test_parse_matcher(text: str, name: str, op: MatchOp, value: str) -> None:
    matcher = parse_matcher(text)
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)
    assert parse_matcher(str(matcher)) == matcher


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("service", "is not of the form"),
        ("=checkout", "is not of the form"),
        ('service=~"pay(.*"', "invalid regular expression"),
        ('service="checkout', "closing double quote"),
        ('service="a"b"', "unescaped double quote"),
        ('service=a"b', "stray double quote"),
        (7, "must be a string"),
    ],
)
def test_bad_matchers(text: object, message: str) -> None:
    with pytest.raises(MatcherError, match=message) as caught:
        parse_matcher(text)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValidationError) and isinstance(caught.value, ValueError)


def test_matching_semantics() -> None:
    labels = {"service": "payments-api", "cluster": "prod"}
    assert parse_matcher('service=~"pay.*"').matches(labels)
    assert not parse_matcher('service=~"pay"').matches(labels)  # anchored: a full match is needed
    assert parse_matcher('service!~"check.*"').matches(labels)
    assert parse_matcher('team=""').matches(labels)  # a missing label reads as ""
    assert parse_matcher('team!="blue"').matches(labels)
    assert not parse_matcher('cluster!="prod"').matches(labels)


RULES = [
    RoutingRule.parse("payments", ['service=~"pay.*"', 'cluster="prod"']),
    RoutingRule.parse("payments-staging", ['service=~"pay.*"']),
    RoutingRule.parse("shop", ["namespace=shop"]),
]


@pytest.mark.parametrize(
    ("labels", "project"),
    [
        ({"service": "payments-api", "cluster": "prod"}, "payments"),
        ({"service": "payments-api", "cluster": "staging"}, "payments-staging"),
        ({"service": "checkout", "namespace": "shop", "cluster": "prod"}, "shop"),
        ({"service": "payments-api", "namespace": "shop", "cluster": "prod"}, "payments"),
        ({"service": "search"}, "platform"),
        ({}, "platform"),
    ],
)
def test_first_match_wins_else_default(labels: dict[str, str], project: str) -> None:
    assert route(labels, RULES, "platform") == project


def test_rule_without_matchers_matches_everything() -> None:
    assert route({"x": "y"}, [RoutingRule("catch-all")], "platform") == "catch-all"


def test_routing_labels_add_service_source_and_severity() -> None:
    signal = Signal(org_id="o", project_id=None, source="datadog", kind=SignalKind.ALERT,
                    status=SignalStatus.FIRING, severity=SignalSeverity.ERROR, service="payments-api", title="t", labels={"env": "prod"},
                    fingerprint="f", starts_at=datetime(2026, 1, 15, tzinfo=UTC))
    labels = routing_labels(signal)
    assert labels == {"env": "prod", "service": "payments-api", "source": "datadog", "severity": "error",
                      "kind": "alert"}
    assert route(labels, RULES, "platform") == "payments-staging"


CONFIG = {
    "default_project": "platform",
    "projects": [
        {"name": "payments", "match": ['service=~"pay.*"', 'cluster="prod"'], "grouping_window_minutes": 15,
         "min_severity": "error", "auto_channel": True},
        {"name": "shop", "match": "namespace=shop"},
        {"name": "platform", "min_severity": "critical", "auto_channel": False},
    ],
}


def test_load_routing() -> None:
    config = load_routing(CONFIG)
    assert [r.project for r in config.rules] == ["payments", "shop"]
    assert config.route({"service": "payments-api", "cluster": "prod"}) == "payments"
    assert config.route({"namespace": "shop"}) == "shop"
    assert config.route({"service": "search"}) == "platform"
    payments = config.policy_for("payments")
    assert (payments.grouping_window, payments.min_severity, payments.auto_channel) == (
        timedelta(minutes=15), SignalSeverity.ERROR, True)
    assert config.policy_for("shop").grouping_window == timedelta(minutes=30)
    assert config.policy_for("platform").auto_channel is False
    assert config.policy_for("unknown").min_severity is SignalSeverity.WARNING


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "must be a mapping"),
        ({"projects": []}, "default_project must name a project"),
        ({"default_project": "p", "projects": {}}, "projects must be a list"),
        ({"default_project": "p", "projects": [{"match": []}]}, r"projects\[0\] must be a mapping with a `name`"),
        ({"default_project": "p", "projects": [{"name": "a"}, {"name": "a"}]}, "listed twice"),
        ({"default_project": "p", "projects": [{"name": "a", "match": ["service=~\"(\""]}]},
         r"projects\[0\]\.match\[0\]: .*invalid regular expression"),
        ({"default_project": "p", "projects": [{"name": "a", "match": {"service": "x"}}]}, "match must be a list"),
        ({"default_project": "p", "projects": [{"name": "a", "grouping_window_minutes": 0}]},
         "grouping_window_minutes"),
        ({"default_project": "p", "projects": [{"name": "a", "min_severity": "urgent"}]}, r"min_severity"),
        ({"default_project": "p", "projects": [{"name": "a", "auto_channel": "yes"}]}, "auto_channel"),
    ],
)
def test_load_routing_errors(config: object, message: str) -> None:
    with pytest.raises(MatcherError, match=message):
        load_routing(config)  # type: ignore[arg-type]
