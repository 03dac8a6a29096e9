"""Markdown parsing: front matter, sections and slugs, steps, commands, links."""

from __future__ import annotations

from knowledge.commands import Command, extract_commands
from knowledge.frontmatter import split_front_matter
from knowledge.markdown import parse_markdown, slugify, split_camel

RUNBOOK = """---
title: Disk filling up
service: [storage, postgres]
tags: disk, filesystem
---

# Disk filling up

Intro paragraph with a [dashboard](https://grafana.example.com/d/disk).

## Diagnosis

1. Find the full mount:

   ```bash
   $ df -h
   Filesystem      Size  Used Avail Use% Mounted on
   $ sudo du -xh --max-depth=2 /var \\
       | sort -rh | head
   ```

2. Check deleted files held open with `lsof +L1`.
   This line continues step two.

- A bulleted hint, see [docs][k8s].

```sql
-- biggest tables
SELECT relname FROM pg_class ORDER BY relpages DESC LIMIT 5;
VACUUM FULL big_table;
```

## Diagnosis

```console
# this is a comment, not a heading
$ kubectl -n data get pvc
NAME   STATUS
```

### PromQL

```promql
kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes
```

Setext heading
--------------

See <https://kubernetes.io/docs/> and https://example.com/raw-url.
Also {{< ref "other/Runbook.md" >}}.

[k8s]: https://kubernetes.io/docs/concepts/
"""


def test_front_matter_title_sections_and_slugs() -> None:
    doc = parse_markdown(RUNBOOK, default_title="fallback")
    assert doc.title == "Disk filling up"
    assert doc.front_matter["service"] == ["storage", "postgres"]
    assert [s.slug for s in doc.sections] == ["", "diagnosis", "diagnosis-1", "promql", "setext-heading"]
    assert doc.sections[0].heading_path == ("Disk filling up",)
    assert doc.sections[3].heading_path == ("Disk filling up", "Diagnosis", "PromQL")
    assert doc.sections[4].heading == "Setext heading"
    assert all("this is a comment" not in s.heading for s in doc.sections)


def test_steps_are_list_items_with_continuations() -> None:
    steps = parse_markdown(RUNBOOK).sections[1].steps
    assert steps[0] == "Find the full mount:"
    assert steps[1] == "Check deleted files held open with `lsof +L1`. This line continues step two."
    assert steps[2] == "A bulleted hint, see docs."


def test_commands_keep_language_strip_prompts_and_skip_output() -> None:
    diagnosis = parse_markdown(RUNBOOK).sections[1]
    assert Command("bash", "df -h") in diagnosis.commands
    assert Command("bash", "sudo du -xh --max-depth=2 /var | sort -rh | head") in diagnosis.commands
    assert Command("shell", "lsof +L1") in diagnosis.commands  # inline code starting with a known binary
    assert Command("sql", "SELECT relname FROM pg_class ORDER BY relpages DESC LIMIT 5;") in diagnosis.commands
    assert Command("sql", "VACUUM FULL big_table;") in diagnosis.commands
    assert not any("Filesystem" in c.command for c in diagnosis.commands)
    second = parse_markdown(RUNBOOK).sections[2]
    assert second.commands == (Command("console", "kubectl -n data get pvc"),)
    promql = parse_markdown(RUNBOOK).sections[3]
    assert promql.commands[0].language == "promql"


def test_inline_commands_from_known_binaries() -> None:
    doc = parse_markdown("# T\n\n- Check pod events via `kubectl -n $NS describe pod $POD`.\n- Use `foo bar`.\n")
    assert doc.sections[0].commands == (Command("shell", "kubectl -n $NS describe pod $POD"),)


def test_links_inline_reference_autolink_bare_and_hugo_ref() -> None:
    doc = parse_markdown(RUNBOOK)
    urls = {link.url for s in doc.sections for link in s.links}
    assert "https://grafana.example.com/d/disk" in urls
    assert "https://kubernetes.io/docs/concepts/" in urls
    assert "https://kubernetes.io/docs/" in urls
    assert "https://example.com/raw-url" in urls
    assert "other/Runbook.md" in urls


def test_unlabelled_fence_with_prompts_is_console() -> None:
    commands = extract_commands("```\n$ systemctl restart kubelet\nok\n```\n")
    assert commands == [Command("console", "systemctl restart kubelet")]


def test_yaml_and_toml_front_matter_and_broken_yaml() -> None:
    assert split_front_matter("+++\ntitle = \"X\"\ntags = [a, b]\n+++\nbody")[0] == {"title": "X", "tags": ["a", "b"]}
    meta, body = split_front_matter("---\ntitle: [unclosed\nservice: api\n---\n# H\n")
    assert meta["service"] == "api" and body.startswith("# H")
    assert split_front_matter("no front matter") == ({}, "no front matter")


def test_title_falls_back_to_default_and_multiple_h1_are_sections() -> None:
    doc = parse_markdown("# One\n\ntext\n\n# Two\n\nmore\n", default_title="file-stem")
    assert doc.title == "file-stem"
    assert [s.slug for s in doc.sections] == ["one", "two"]


def test_slugify_and_camel_split() -> None:
    assert slugify("What went wrong?") == "what-went-wrong"
    assert slugify("Timeline (UTC)") == "timeline-utc"
    assert split_camel("KubePodCrashLooping") == "Kube Pod Crash Looping"
    assert split_camel("etcdHighFsyncDurations") == "etcd High Fsync Durations"
