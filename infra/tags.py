"""The tags every taggable Azure resource of a stack carries."""

from __future__ import annotations


def standard_tags(project: str, stack: str, git_commit: str | None) -> dict[str, str]:
    """project, stack, managed-by, and the git commit when it is known."""
    tags = {"project": project, "stack": stack, "managed-by": "pulumi"}
    if git_commit:
        tags["git-commit"] = git_commit
    return tags
