"""Which Pulumi state blobs an identity may write, as an Azure ABAC condition on the blob path.

Pulumi's DIY backend keeps a project-scoped stack's files under fixed paths in the container
(pulumi/pulumi pkg/backend/diy: store.go `StackBasePath`, `HistoryDir`, `BackupDir`; lock.go
`lockPath`; stack_tags.go `stackTagsPath`; meta.go `pulumiMetaPath`):

    .pulumi/meta.yaml                                    written once, by the first `pulumi login`
    .pulumi/stacks/<project>/<stack>.json[.gz|.zst]      the checkpoint (+ .bak, + .json.<time>)
    .pulumi/stacks/<project>/<stack>.pulumi-tags         stack tags
    .pulumi/locks/<project>/<stack>/<lock id>.json       taken by update/refresh/destroy/stack rm
    .pulumi/history/<project>/<stack>/<stack>-<time>.{history,checkpoint}.json
    .pulumi/backups/<project>/<stack>/<stack>.<time>.json

A preview takes no lock and writes nothing (diy `Preview` has no `Lock`; `apply` creates the
snapshot manager, history and backup only when not a dry run), so reading is all a preview
needs.

The condition follows Microsoft's "Write blobs in named containers with a path" example
(learn.microsoft.com "Example Azure role assignment conditions for Blob Storage"): the listed
write actions are allowed only where the blob path matches; actions not listed (reads, lists)
are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

META_BLOB: Final = ".pulumi/meta.yaml"
BLOB_PATH_ATTRIBUTE: Final = (
    "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]"
)
_BLOBS: Final = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
# The data actions that change a blob (write, create/append, delete, and rename on accounts
# with a hierarchical namespace); the state role grants no others but read.
WRITE_DATA_ACTIONS: Final = (
    f"{_BLOBS}/write",
    f"{_BLOBS}/add/action",
    f"{_BLOBS}/delete",
    f"{_BLOBS}/move/action",
)
STATE_DATA_ACTIONS: Final = (f"{_BLOBS}/read", *WRITE_DATA_ACTIONS)


def stack_blob_patterns(project: str, stack: str) -> tuple[str, ...]:
    """StringLike patterns for every blob the DIY backend writes for `stack` (may hold `*`)."""
    return (
        f".pulumi/stacks/{project}/{stack}.json*",
        f".pulumi/stacks/{project}/{stack}.pulumi-tags",
        f".pulumi/locks/{project}/{stack}/*",
        f".pulumi/history/{project}/{stack}/*",
        f".pulumi/backups/{project}/{stack}/*",
    )


def write_patterns(
    project: str, stacks: Iterable[str], *, initialises_backend: bool
) -> tuple[str, ...]:
    """Every pattern an identity may write: its stacks' blobs, and meta.yaml if it logs in first."""
    patterns = [p for stack in stacks for p in stack_blob_patterns(project, stack)]
    if initialises_backend:
        patterns.insert(0, META_BLOB)
    return tuple(patterns)


def write_condition(patterns: Iterable[str]) -> str:
    """ABAC condition (version 2.0): the write actions only on blobs matching one pattern."""
    quoted = [p.replace("'", "") for p in patterns]
    actions = " AND ".join(f"!(ActionMatches{{'{action}'}})" for action in WRITE_DATA_ACTIONS)
    paths = " OR ".join(f"{BLOB_PATH_ATTRIBUTE} StringLike '{p}'" for p in quoted)
    return f"(({actions}) OR ({paths}))"
