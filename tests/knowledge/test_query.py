"""The query builder: free text, log excerpts and alert payloads of the common webhook shapes."""

from __future__ import annotations

import json

from knowledge.query import build_search_text, looks_like_log

ALERTMANAGER = {
    "version": "4",
    "status": "firing",
    "receiver": "revenant",
    "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}",
    "commonLabels": {"alertname": "KubePodCrashLooping", "severity": "critical", "namespace": "shop"},
    "commonAnnotations": {"summary": "Pod is crash looping.", "description": "Pod {{ $labels.pod }} restarts"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "KubePodCrashLooping", "pod": "cart-5c6d7e8f9-abcde", "container": "cart"},
            "annotations": {"summary": "Pod is crash looping."},
            "startsAt": "2024-11-27T10:00:00Z",
            "generatorURL": "http://prometheus/graph?g0.expr=x",
            "fingerprint": "c3a1f09b2d4e5f67",
        }
    ],
}


def test_free_text_is_kept_as_is() -> None:
    assert build_search_text("  database   refuses connections ") == "database refuses connections"
    assert not looks_like_log("the checkout page is slow since noon")


def test_alertmanager_payload_uses_names_summaries_and_meaningful_labels() -> None:
    text = build_search_text(ALERTMANAGER)
    assert "KubePodCrashLooping" in text and "Kube Pod Crash Looping" in text
    assert "Pod is crash looping" in text and "shop" in text and "cart" in text
    for noise in ("critical", "firing", "c3a1f09b2d4e5f67", "http", "{{", "2024-11-27"):
        assert noise not in text
    assert text.count("Pod is crash looping") == 1


def test_json_text_is_parsed_like_a_dict() -> None:
    assert build_search_text(json.dumps(ALERTMANAGER)) == build_search_text(ALERTMANAGER)


def test_grafana_datadog_pagerduty_and_generic_shapes() -> None:
    grafana = {"title": "[FIRING:1] HighLatency", "message": "p99 above 2s", "orgId": 1, "state": "alerting",
               "alerts": [{"labels": {"alertname": "HighLatency", "service": "api"}, "values": {"B": 2.3}}]}
    text = build_search_text(grafana)
    assert "HighLatency" in text and "p99 above 2s" in text and "api" in text and "alerting" not in text
    datadog = {"id": "7281947563829", "title": "[Triggered] Redis memory high", "alert_metric": "redis.mem.used",
               "tags": "service:redis,env:prod,host:abc", "link": "https://app.datadoghq.com/monitors/1"}
    text = build_search_text(datadog)
    assert "Redis memory high" in text and "redis.mem.used" in text and "7281947563829" not in text
    pagerduty = {"event": {"event_type": "incident.triggered", "occurred_at": "2024-11-27T10:20:00Z",
                           "data": {"id": "Q1W2E3", "title": "Billing export job failed", "service": {"summary": "batch"}}}}
    text = build_search_text(pagerduty)
    assert "Billing export job failed" in text and "Q1W2E3" not in text and "incident.triggered" not in text
    generic = {"title": "Login failures", "service": "auth", "severity": "high", "description": "401 invalid signature"}
    assert sorted(build_search_text(generic).split()) == sorted("Login failures auth 401 invalid signature".split())


def test_log_excerpt_strips_timestamps_ids_and_repeats() -> None:
    log = (
        "2024-11-27T10:01:12.123Z ERROR checkout-7d9f8b6c5d-x2x4z request_id=5f1e2d3c db: FATAL: too many clients "
        "trace 0x7f3a9b2c1d4e5f60 from 10.0.3.17:5432\n"
        "2024-11-27T10:01:13.456Z ERROR checkout-7d9f8b6c5d-x2x4z request_id=9a8b7c6d db: FATAL: too many clients "
        "trace 0x7f3a9b2c1d4e5f61 from 10.0.3.17:5432\n"
        "Nov 27 10:01:14 host kubelet[1234]: 3f2504e0-4f89-11d3-9a0c-0305e82c3301 sync failed"
    )
    assert looks_like_log(log)
    text = build_search_text(log)
    assert "too many clients" in text and "checkout" in text and "sync failed" in text
    for noise in ("2024", "10:01", "x2x4z", "7d9f8b6c5d", "request_id", "0x7f3a", "10.0.3.17", "3f2504e0", "ERROR", "1234"):
        assert noise not in text
    assert text.count("too many clients") == 1


def test_log_cleaning_keeps_ordinary_hyphenated_words() -> None:
    text = build_search_text("2024-11-27T10:00:00Z WARN kube-proxy sync failed on node-7 read-only\n"
                             "2024-11-27T10:00:01Z WARN kube-proxy sync failed on node-7 read-only")
    assert text == "kube-proxy sync failed on node-7 read-only"


def test_structured_klog_nginx_and_postgres_log_lines_keep_their_message_only() -> None:
    etcd = '{"level":"warn","ts":"2024-05-03T10:02:11.000Z","caller":"wal/wal.go:805","msg":"slow fdatasync","took":"1.61s"}'
    assert build_search_text(etcd) == "slow fdatasync took 1.61s"
    kubelet = ('E0503 09:12:33.123456    1042 pod_workers.go:1298] "Error syncing pod, skipping" '
               'err="failed to StartContainer with CrashLoopBackOff"')
    text = build_search_text(kubelet)
    assert text.startswith("Error syncing pod") and "pod_workers" not in text and "1042" not in text
    nginx = ("2024/05/03 06:41:22 [error] 2211#2211: *88123 upstream timed out (110: Connection timed out) "
             "while reading response header from upstream, client: 10.2.3.4")
    assert build_search_text(nginx).startswith("error upstream timed out")
    postgres = "2024-05-03 02:14:07.123 UTC [2231] FATAL:  sorry, too many clients already"
    assert build_search_text(postgres) == "sorry, too many clients already"
    java = 'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)'
    assert "Arrays.copyOf" not in build_search_text(java) and "OutOfMemoryError" in build_search_text(java)
