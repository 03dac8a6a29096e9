"""The deterministic risk policy: a table of commands → levels, chaining, undo, raise-only."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incident_core.risk import RiskLevel, assess, raise_only, split_command

R, L, M, H = RiskLevel.READ_ONLY, RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH

TABLE = [
    # read-only
    ("kubectl get pods -n shop", R),
    ("kubectl -n shop describe deploy/checkout", R),
    ("kubectl logs deploy/checkout --since=15m", R),
    ("kubectl top pods -n shop", R),
    ("kubectl explain deployment.spec", R),
    ("kubectl rollout status deploy/checkout", R),
    ("kubectl rollout history deploy/checkout", R),
    ("helm list -A", R),
    ("helm status checkout", R),
    ("systemctl status nginx", R),
    ("journalctl -u nginx --since '10 min ago'", R),
    ("SELECT count(*) FROM orders WHERE created_at > now() - interval '5 min'", R),
    ("psql -c 'SELECT * FROM pg_stat_activity'", R),
    ("show tables", R),
    ("explain analyze select 1", R),
    ("promtool check rules /etc/prometheus/rules.yml", R),
    ("promtool query instant http://prometheus:9090 'up == 0'", R),
    ("curl -s https://checkout.internal/healthz", R),
    ("redis-cli info memory", R),
    ("aws ec2 describe-instances --instance-ids i-123", R),
    ("gcloud compute instances list", R),
    ("kubectl get pods | grep CrashLoop", R),
    # low
    ("kubectl rollout restart deployment/checkout -n shop", L),
    ("kubectl scale deploy/checkout --replicas=8", L),
    ("systemctl restart nginx", L),
    ("docker restart web-1", L),
    ("kubectl uncordon node-7", L),
    ("ldcli flags toggle new-checkout off", L),
    # medium
    ("kubectl cordon node-7", M),
    ("kubectl scale deploy/checkout --replicas=2 --current-replicas=6", M),
    ("redis-cli FLUSHALL", M),
    ("kubectl apply -f deploy.yaml", M),
    ("curl -X POST https://checkout.internal/admin/cache/purge", M),
    ("kill 4242", M),
    ("kubectl get pods > /tmp/pods.txt", M),
    # high
    ("kubectl rollout undo deployment/checkout", H),
    ("helm rollback checkout 41", H),
    ("kubectl drain node-7 --ignore-daemonsets", H),
    ("kubectl delete pod checkout-0", H),
    ("kubectl scale deploy/checkout --replicas=0", H),
    ("aws rds failover-db-cluster --db-cluster-identifier orders", H),
    ("patronictl failover --candidate db-2", H),
    ("psql -c \"DELETE FROM sessions WHERE expires_at < now()\"", H),
    ("INSERT INTO flags VALUES ('x', true)", H),
    ("UPDATE users SET active = false WHERE id = 7", H),
    ("DROP TABLE audit_log", H),
    ("TRUNCATE events", H),
    ("ALTER TABLE orders ADD COLUMN note text", H),
    ("rm -rf /var/lib/app/cache", H),
    ("kill -9 4242", H),
    ("git push --force origin main", H),
    ("kubectl delete pod checkout-0 --grace-period=0 --force", H),
    ("sudo systemctl stop postgresql", H),
    ("terraform destroy -auto-approve", H),
    ("kubectl get pods; rm -rf /", H),
    ("kubectl get pods -o name | xargs kubectl delete", H),
    ("echo `kubectl delete ns shop`", H),
    ("echo $(kubectl delete ns shop)", H),
    ("kubectl get pods && kubectl drain node-1", H),
    ("bash -c 'kubectl delete ns shop'", H),
    # deny by default: what the policy does not know is high
    ("status", H),
    ("list", H),
    ("frobnicate --now", H),
    ("kubectl exec -it checkout-0 -- sh", H),
]


@pytest.mark.parametrize(("command", "level"), TABLE, ids=[c for c, _ in TABLE])
def test_command_table(command: str, level: RiskLevel) -> None:
    result = assess("run", command)
    assert result.level is level, result.reason
    assert result.reason


def test_table_is_big_enough() -> None:
    assert len(TABLE) >= 30
    assert {level for _, level in TABLE} == set(RiskLevel)


def test_reasons_read_as_sentences() -> None:
    assert assess("delete", "kubectl delete pod x").reason == (
        "kubectl delete removes resources: high risk, needs a commander's approval"
    )
    assert assess("", "frobnicate").reason == (
        "unknown command 'frobnicate': the policy does not know what it does; high risk, needs a commander's approval")
    assert assess("", "kubectl get pods").reason == "kubectl get only reads: read-only, safe to run"


@pytest.mark.parametrize(
    ("command", "reversible", "undo"),
    [
        ("kubectl rollout restart deploy/checkout", True, None),
        ("kubectl scale deploy/checkout --replicas=8 --current-replicas=4", True,
         "kubectl scale deploy/checkout --replicas=4"),
        ("kubectl scale deploy/checkout --replicas=8", True, "kubectl scale deploy/checkout --replicas=<previous count>"),
        ("kubectl cordon node-7", True, "kubectl uncordon node-7"),
        ("kubectl drain node-7", True, "kubectl uncordon node-7"),
        ("redis-cli FLUSHALL", False, None),
        ("kubectl delete pod x", False, None),
        ("systemctl stop nginx", True, "systemctl start nginx"),
    ],
)
def test_reversibility_and_undo(command: str, reversible: bool, undo: str | None) -> None:
    result = assess("", command)
    assert (result.reversible, result.undo) == (reversible, undo)


def test_chained_command_takes_the_riskiest_part() -> None:
    result = assess("", "kubectl cordon node-1 && kubectl delete pod x")
    assert result.level is H
    assert result.reason.startswith("the command chains 2 parts and takes the risk of the riskiest: kubectl delete")
    assert result.reversible is False and result.undo is None


def test_split_command() -> None:
    assert split_command("a | b && c; d || e & f") == ["a", "b", "c", "d", "e", "f"]
    assert split_command("kubectl logs x 2>&1 | tail") == ["kubectl logs x", "tail"]
    assert split_command("echo $(date) `id`") == ["echo", "date", "id"]
    assert split_command("grep 'a|b' app.log; echo \"x && y\"") == ["grep 'a|b' app.log", 'echo "x && y"']


@pytest.mark.parametrize(
    ("action", "level"),
    [("restart", L), ("scale_up", L), ("scale down", M), ("scale-to-zero", H), ("flush_cache", M),
     ("toggle_feature_flag", L), ("cordon", M), ("rollback", H), ("drain_node", H), ("delete", H),
     ("failover", H), ("investigate", R), ("query_metrics", R), ("dance", H)],
)
def test_action_without_command(action: str, level: RiskLevel) -> None:
    assert assess(action, None).level is level
    assert assess(action, "   ").level is level


def test_action_can_raise_but_never_lower_the_command() -> None:
    raised = assess("rollback", "kubectl get pods")
    assert raised.level is H and "the action's own risk" in raised.reason
    assert assess("investigate", "kubectl delete pod x").level is H
    assert assess("restart", "kubectl rollout restart deploy/x").level is L


def test_levels_are_ordered() -> None:
    assert R < L < M < H
    assert H > M >= M > L
    assert sorted([H, R, M, L]) == [R, L, M, H]
    assert max([L, H, M], key=lambda level: level.rank) is H
    assert [level.rank for level in RiskLevel] == [0, 1, 2, 3]
    assert (M.needs_confirmation, M.needs_approval, H.needs_approval, L.needs_confirmation) == (True, False, True, False)


@pytest.mark.parametrize(
    ("policy", "proposed", "expected"),
    [(L, H, H), (H, L, H), (M, R, M), (R, R, R), (L, "high", H), (M, "read-only", M), (M, None, M),
     (L, "catastrophic", L)],
)
def test_raise_only(policy: RiskLevel, proposed: RiskLevel | str | None, expected: RiskLevel) -> None:
    assert raise_only(policy, proposed) is expected


def test_untrusted_text_cannot_break_the_policy() -> None:
    huge = "x" * 100_000
    assert assess(huge, huge).level is H
    assert len(assess(huge, huge).reason) < 300
    assert assess("", "'unterminated quote").level is H
    assert assess("", ";;;").level is H


@settings(max_examples=200, deadline=None)
@given(action=st.text(max_size=40), command=st.none() | st.text(max_size=120))
def test_any_text_gets_a_level_and_a_reason(action: str, command: str | None) -> None:
    result = assess(action, command)
    assert result.level in set(RiskLevel)
    assert result.reason
    assert result.undo is None or result.reversible
