"""The rule interface and registry: derived needles, validation at registration, typed unknown-rule errors,
per-rule columns for the allowlist and --dedup-fields, titles in every destination, context per rule."""

from __future__ import annotations

from typing import Any

import pytest

from trailhound.alerts.asff import to_asff
from trailhound.alerts.ocsf import to_ocsf
from trailhound.alerts.severity import Severity
from trailhound.engine.allowlist import parse_allowlist
from trailhound.engine.rules import (
    ALL_RULES,
    RuleError,
    UnknownRule,
    context_for,
    dedup_fields_for,
    get_rule,
    load_rules,
    registry,
)
from trailhound.engine.rules.base import Example, Rule, make_alert
from trailhound.errors import ConfigError
from trailhound.records.record import Record
from trailhound.sinks.slack import message
from trailhound.state.store import StateStore

from ..helpers import record

RULE_0237 = get_rule("0xFF-0237")


class _Toy(Rule):
    id, name = "TH-9999", "Toy"
    event_source, event_names = "iam.amazonaws.com", ["DeleteUser"]
    columns = ("Who",)

    def matches(self, rec: Record) -> bool:
        return rec.event_name == "DeleteUser"

    def row(self, rec: Record) -> dict[str, Any]:
        return {"Who": rec.identity_text("userName")}


def _toy(**attrs: Any) -> type[Rule]:
    return type("Toy", (_Toy,), attrs)


def test_needles_are_derived_from_event_source_and_names():
    assert RULE_0237.needles == [b"createloginprofile"] and RULE_0237.also_needles == [[b"iam.amazonaws.com"]]


def test_severity_is_ordered_and_parsed_case_insensitively():
    assert Severity.LOW < Severity.MEDIUM < Severity.CRITICAL and Severity.parse("hIgH") is Severity.HIGH
    assert Severity.INFORMATIONAL.lower(2) is Severity.INFORMATIONAL and Severity.HIGH.higher(3) is Severity.CRITICAL
    assert str(Severity.MEDIUM) == "Medium"
    with pytest.raises(ConfigError, match="must be one of Informational, Low, Medium, High, Critical, not 'Severe'"):
        Severity.parse("Severe")


def test_registration_refuses_a_duplicate_id_in_any_case():
    with pytest.raises(RuleError, match="id already taken"):
        registry(_Toy, _toy(id="th-9999"))


def test_registration_refuses_an_example_giving_the_wrong_verdict():
    bad = _toy(examples=[Example("wrong", record(eventName="DeleteUser"), False)])
    with pytest.raises(RuleError, match="example 'wrong': expected no match"):
        registry(bad)


def test_registration_refuses_an_example_without_the_needles():
    bad = _toy(matches=lambda self, rec: True, examples=[Example("no needle", record(), True)])
    with pytest.raises(RuleError, match="holds none of the needles deleteuser"):
        registry(bad)


def test_registration_refuses_a_row_with_undeclared_columns_or_an_unknown_expect_row_column():
    extra = _toy(row=lambda self, rec: {"Who": "", "What": ""},
                 examples=[Example("extra", record(eventName="DeleteUser"), True)])
    with pytest.raises(RuleError, match="row has columns Who, What"):
        registry(extra)
    unknown = _toy(examples=[Example("typo", record(eventName="DeleteUser"), True, {"Whom": "x"})])
    with pytest.raises(RuleError, match="expect_row names Whom"):
        registry(unknown)


def test_an_unknown_rule_id_is_a_typed_config_error_naming_the_known_ones():
    with pytest.raises(UnknownRule) as caught:
        load_rules(["0xFF-9999"])
    assert isinstance(caught.value, ConfigError)
    assert "0xFF-9999" in str(caught.value) and all(cls.id in str(caught.value) for cls in ALL_RULES)


def test_dedup_fields_accept_any_column_of_the_rule_and_name_the_rule_otherwise():
    assert dedup_fields_for([get_rule("TH-0002")], ["AccessKeyId", "Severity"]) == ("AccessKeyId", "Severity")
    with pytest.raises(ConfigError, match="AccessKeyId is not a column of rule 0xFF-0237"):
        dedup_fields_for([RULE_0237, get_rule("TH-0002")], ["AccessKeyId"])
    with pytest.raises(ConfigError, match="DedupEntity is not a column"):
        dedup_fields_for([RULE_0237], ["DedupEntity"])


def test_allowlist_conditions_are_checked_against_the_entrys_rule():
    ok = {"exclude": [{"rule": "TH-0002", "reason": "r", "AccessKeyId": "AKIA*"}]}
    assert parse_allowlist(ok).entries[0].conditions == {"AccessKeyId": ("AKIA*",)}
    bad = {"exclude": [{"rule": "0xFF-0237", "reason": "r", "AccessKeyId": "AKIA*"}]}
    with pytest.raises(ConfigError, match="unknown field 'AccessKeyId'; conditions name alert columns of rule "
                                          "0xFF-0237"):
        parse_allowlist(bad)
    anyrule = {"exclude": [{"reason": "r", "AccessKeyId": "AKIA*"}]}
    with pytest.raises(ConfigError, match="of rule\\(s\\) 0xFF-0237"):
        parse_allowlist(anyrule, rules=[RULE_0237])


def test_the_title_comes_from_the_rule_in_slack_sns_asff_and_ocsf():
    alert = make_alert(RULE_0237, Record(record(), "t"))
    title = "arn:aws:iam::111122223333:user/ci-deploy gave alice a console password without a forced reset"
    assert alert.row["Title"] == title
    assert to_ocsf(alert)["message"] == title
    assert to_asff(alert, region="us-east-1", account="1")["Title"] == title
    slack = str(message(alert)["blocks"])
    assert "`arn:aws:iam::111122223333:user/ci-deploy` gave `alice` a console password" in slack
    assert title in message(alert)["text"]


def test_context_is_applied_only_to_the_rules_that_declare_it():
    enricher = context_for([get_rule("TH-0002")], scratch=StateStore)
    assert enricher is None  # and so a run with only such rules collects nothing
    enricher = context_for([RULE_0237, get_rule("TH-0002")], scratch=StateStore)
    assert enricher is not None and set(enricher.plugins) == {"0xFF-0237"} and len(enricher.collectors) == 1
    key = make_alert(get_rule("TH-0002"), Record(get_rule("TH-0002").examples[0].record, "t"))
    password = make_alert(RULE_0237, Record(record(), "t"))
    enricher([key, password], None)
    assert "Reasons" in password.row and "Reasons" not in key.row


def test_rule_all_runs_every_rule_those_off_by_default_too():
    from trailhound.engine.rules import ALL_RULES, load_rules

    assert {r.id for r in load_rules(["all"])} == {c.id for c in ALL_RULES}
    assert {r.id for r in load_rules()} == {c.id for c in ALL_RULES if c.enabled}
    assert {r.id for r in load_rules()} < {r.id for r in load_rules(["ALL"])}  # some are off by default
