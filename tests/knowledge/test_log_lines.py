"""Log-line shapes normalize to the words a runbook would use (knowledge/log_lines.py through the query builder)."""

from __future__ import annotations

from knowledge.log_lines import logfmt_fields, normalize_line
from knowledge.query import build_search_text, looks_like_log


def test_logfmt_line_keeps_message_and_error_first_and_drops_its_bookkeeping() -> None:
    line = ('ts=2024-05-03T11:30:00.000Z caller=manager.go:651 level=warn component="rule manager" '
            'group=app.rules msg="Evaluating rule failed" err="many-to-many matching not allowed"')
    text = build_search_text(line)
    assert text.startswith("Evaluating rule failed many-to-many matching not allowed rule manager")
    for noise in ("ts", "caller", "manager.go", "level", "warn", "msg", "err", "=", '"'):
        assert noise not in text.split(), noise
    assert "group app.rules" in text


def test_a_sentence_with_one_equals_sign_is_not_read_as_logfmt() -> None:
    assert logfmt_fields("retries=3 after the upstream closed the connection while reading") is None
    assert logfmt_fields('a=1 b="two words" c=3') == [("a", "1"), ("b", "two words"), ("c", "3")]


def test_syslog_and_dmesg_prefixes_leave_the_program_and_the_message() -> None:
    text = build_search_text("May  3 12:30:00 node-2 kernel: [99812.4] eth0: Link is Down\n"
                             "May  3 12:30:04 node-2 kernel: [99816.1] eth0: Link is Up - 10Gbps/Full")
    assert "node-2" not in text and "99812" not in text and ".4" not in text.split()
    assert "kernel: eth0 network interface: Link is Down" in text
    assert "Link is Up" in text


def test_kernel_device_names_say_what_they_are() -> None:
    assert normalize_line("md/raid1:md0: Disk failure on sdb1, disabling device.") == (
        "md/raid1:md0: Disk failure on sdb1 disk, disabling device.")
    assert normalize_line("nvme0n1p2: I/O error") == "nvme0n1p2 disk: I/O error"
    assert "network interface" not in normalize_line("the ethernet cable and the eth-0 label")


def test_identifiers_are_spelled_and_java_packages_dropped() -> None:
    line = "Caused by: java.net.SocketTimeoutException: Read timed out"
    assert normalize_line(line) == "Caused by: SocketTimeoutException (socket timeout exception): Read timed out"
    klog = ('E0503 09:12:33.123456 1042 pod_workers.go:1298] "Error syncing pod, skipping" '
            'err="failed to \\"StartContainer\\" for \\"checkout\\" with CrashLoopBackOff"')
    text = build_search_text(klog)
    assert "\\" not in text and "crash loop back off" in text and "start container" in text


def test_postgres_field_labels_are_dropped() -> None:
    text = build_search_text("2024-05-03 03:01:44.812 UTC [981] LOG:  process 981 still waiting for ShareLock\n"
                             "2024-05-03 03:01:44.812 UTC [981] DETAIL:  Process holding the lock: 977.")
    assert "LOG" not in text.split() and "DETAIL" not in text.split()
    assert "still waiting for ShareLock share lock" in text and "Process holding the lock" in text


def test_kubectl_describe_events_are_read_as_log_lines() -> None:
    event = "Warning  FailedScheduling  3m (x4 over 10m)  default-scheduler  0/3 nodes are available: Insufficient cpu"
    assert looks_like_log(event)
    assert "failed scheduling" in build_search_text(event)
    assert not looks_like_log("Warning: the checkout page is slow today")
