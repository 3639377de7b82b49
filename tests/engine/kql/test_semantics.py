"""Kusto's documented semantics, one behaviour per test, over small tables."""

from __future__ import annotations

from datetime import UTC, datetime

from trailhound.engine.kql.evaluate import Context, Table, run_script
from trailhound.engine.kql.plan import parse_query

NOW = datetime(2024, 8, 1, 14, 0, tzinfo=UTC)


def run(query: str, **tables: Table) -> Table:
    return run_script(parse_query(query), Context(tables.get, NOW))


def T(**columns: list) -> Table:
    names = list(columns)
    return Table(names, [dict(zip(names, values)) for values in zip(*columns.values())])


def col(table: Table, name: str) -> list:
    return [row.get(name) for row in table.rows]


def test_has_matches_whole_terms_case_insensitively() -> None:
    t = T(s=["0xFF-0237 Password", "x02371", "ASI Scheduled Alerts", "iam.amazonaws.com"])
    assert col(run('t | where s has "0237"', t=t), "s") == ["0xFF-0237 Password"]
    assert col(run('t | where s has "asi"', t=t), "s") == ["ASI Scheduled Alerts"]
    assert col(run('t | where s !has "0237"', t=t), "s") == ["x02371", "ASI Scheduled Alerts", "iam.amazonaws.com"]
    assert col(run('t | where s has "amazonaws.com"', t=t), "s") == ["iam.amazonaws.com"]


def test_string_operators_follow_kusto_case_rules() -> None:
    t = T(s=["CreateLoginProfile"])
    assert run('t | where s == "createloginprofile"', t=t).rows == []
    assert len(run('t | where s =~ "createloginprofile"', t=t).rows) == 1
    assert len(run('t | where s contains "LOGIN"', t=t).rows) == 1
    assert run('t | where s contains_cs "LOGIN"', t=t).rows == []
    assert len(run('t | where s startswith "create" and s endswith "PROFILE"', t=t).rows) == 1
    assert run('t | where s in ("createloginprofile")', t=t).rows == []
    assert len(run('t | where s in~ ("createloginprofile")', t=t).rows) == 1
    assert len(run('t | where s has_any ("nothing", "CreateLoginProfile")', t=t).rows) == 1


def test_tostring_of_dynamic_is_compact_json_in_key_order() -> None:
    t = T(j=['{"b": 1, "a": [true, "x"]}'])
    out = run("t | extend s = tostring(parse_json(j)), f = tostring(parse_json(j).a[0])", t=t)
    assert col(out, "s") == ['{"b":1,"a":[true,"x"]}']
    assert col(out, "f") == ["true"]


def test_default_join_is_innerunique_and_right_columns_get_suffix() -> None:
    left = T(k=["a", "a", "b"], v=[1, 2, 3])
    right = T(k=["a", "a"], w=[10, 20])
    out = run("l | join r on k", l=left, r=right)
    assert out.columns == ["k", "v", "k1", "w"]
    assert sorted((r["v"], r["w"]) for r in out.rows) == [(1, 10), (1, 20)]  # one left row per key
    inner = run("l | join kind=inner r on k", l=left, r=right)
    assert len(inner.rows) == 4


def test_join_kinds_anti_semi_and_leftouter() -> None:
    left, right = T(k=["a", "b"]), T(k=["a", "c"], w=[1, 2])
    assert col(run("l | join kind=leftanti r on k", l=left, r=right), "k") == ["b"]
    assert col(run("l | join kind=leftsemi r on k", l=left, r=right), "k") == ["a"]
    assert col(run("l | join kind=rightanti r on k", l=left, r=right), "k") == ["c"]
    outer = run("l | join kind=leftouter r on $left.k == $right.k", l=left, r=right)
    assert sorted(col(outer, "w"), key=str) == [1, None]


def test_summarize_names_its_columns_as_kusto_does() -> None:
    t = T(u=["x", "x", "y"], e=["A", "B", "A"], n=[1, 5, 3])
    out = run("t | summarize count(), dcount(e), make_set(e), make_list(e), min(n), max(n) by u", t=t)
    assert out.columns == ["u", "count_", "dcount_e", "set_e", "list_e", "min_n", "max_n"]
    assert out.rows[0] == {"u": "x", "count_": 2, "dcount_e": 2, "set_e": ["A", "B"], "list_e": ["A", "B"],
                           "min_n": 1, "max_n": 5}


def test_arg_max_star_keeps_the_row_with_the_maximum() -> None:
    t = T(u=["x", "x"], n=[1, 5], other=["low", "high"])
    out = run("t | summarize arg_max(n, *) by u", t=t)
    assert out.columns == ["u", "n", "other"]
    assert out.rows == [{"u": "x", "n": 5, "other": "high"}]


def test_mv_expand_drops_empty_arrays_and_keeps_null() -> None:
    t = T(id=[1, 2, 3], a=[[1, 2], [], None])
    assert col(run("t | mv-expand a", t=t), "id") == [1, 1, 3]


def test_mv_expand_path_names_the_column_with_underscores() -> None:
    t = T(j=[{"r": {"items": [{"c": "0.0.0.0/0"}]}}])
    out = run("t | mv-expand j.r.items | parse j_r_items.c with prefix:string '/' bits:int", t=t)
    assert col(out, "prefix") == ["0.0.0.0"] and col(out, "bits") == [0]


def test_ago_and_timespan_arithmetic_use_the_runs_clock() -> None:
    t = T(t=[datetime(2024, 8, 1, 13, 0, tzinfo=UTC), datetime(2024, 8, 1, 11, 0, tzinfo=UTC)])
    assert len(run("let tf = 2*1h; t | where t >= ago(tf)", t=t).rows) == 1
    out = run("t | extend s = tostring(t), b = bin(t, 1d), d = tostring(now() - t)", t=t)
    assert col(out, "s")[0] == "2024-08-01T13:00:00Z"
    assert col(out, "d")[0] == "01:00:00"


def test_mv_apply_pack_all_and_strcat_array_build_falconforce_dedup_entity() -> None:
    t = T(TimeGenerated=[datetime(2024, 8, 1, 13, 0, tzinfo=UTC)], x=["y"])
    out = run('''let DedupFields = dynamic(["TimeGenerated"]);
t | extend DedupFieldValues=pack_all()
| mv-apply e=DedupFields to typeof(string) on (
    extend DedupValue=DedupFieldValues[tostring(e)] | order by e | summarize DedupValues=make_list(DedupValue))
| extend DedupEntity=strcat_array(DedupValues, "|") | project-away DedupFieldValues, DedupValues''', t=t)
    assert out.columns == ["TimeGenerated", "x", "DedupEntity"]
    assert col(out, "DedupEntity") == ["2024-08-01T13:00:00Z"]


def test_project_reorder_puts_named_columns_first() -> None:
    out = run("t | project-reorder c, a", t=T(a=[1], b=[2], c=[3]))
    assert out.columns == ["c", "a", "b"]


def test_isempty_split_and_case() -> None:
    out = run('t | extend n = tostring(split(a, "/")[-1]), e = isempty(b), c = case(a == "x", 1, 2)',
              t=T(a=["arn:aws:iam::1:user/bob"], b=[""]))
    assert out.rows[0]["n"] == "bob" and out.rows[0]["e"] is True and out.rows[0]["c"] == 2


def test_between_a_datetime_and_a_timespan_is_the_span_after_it() -> None:
    start = datetime(2024, 8, 1, 13, 0, tzinfo=UTC)
    t = T(s=[start, datetime(2024, 8, 1, 13, 59, tzinfo=UTC), datetime(2024, 8, 1, 14, 1, tzinfo=UTC)])
    assert len(run("t | where s between (datetime(2024-08-01T13:00:00Z) .. 1h)", t=t).rows) == 2
    assert len(run("t | extend b = datetime(2024-08-01T13:30:00Z) | where s !between (b .. 1h)", t=t).rows) == 1
