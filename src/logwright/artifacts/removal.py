"""Removing a purged run's artifact folder, locally or in S3-compatible object storage."""

from __future__ import annotations

import os
import shutil

from logwright.artifacts import is_remote

_DELETE_BATCH = 1000  # the most keys one S3 DeleteObjects request takes


def remove_tree(location: str) -> int:
    """Delete every file under a run's artifact ``location`` (a folder or an ``s3://`` prefix).

    Symbolic links inside a local folder are removed, never followed. A location that
    does not exist is nothing to do.

    Args:
        location: what ``Store.artifact_dir(experiment_id, run_id)`` returned.

    Returns:
        How many files (objects) were deleted.

    Raises:
        ValueError: ``location`` is a tracking server's (``http(s)://``).
        OSError: a local file could not be removed.
        botocore.exceptions.ClientError: the object store refused a request.
    """
    if location.startswith(("http://", "https://")):
        raise ValueError(f"cannot remove {location!r}: a tracking server's artifacts are removed on the server "
                         "(run `logwright gc` there, with --store naming the server's own store)")
    if is_remote(location):
        return _remove_prefix(location)
    from logwright.artifacts import for_uri

    root = for_uri(location).root
    if not os.path.lexists(root):
        return 0
    if os.path.islink(root) or not os.path.isdir(root):
        os.unlink(root)
        return 1
    count = sum(len(files) + sum(os.path.islink(os.path.join(d, x)) for x in dirs)
                for d, dirs, files in os.walk(root))
    shutil.rmtree(root)
    return count


def _remove_prefix(location: str) -> int:
    from logwright.artifacts.s3 import client, split_uri

    bucket, prefix = split_uri(location)
    if not prefix:
        raise ValueError(f"refusing to empty the whole bucket {location!r}: a run's artifacts have a prefix")
    s3 = client()
    count = 0
    keys: list[dict[str, str]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        keys += [{"Key": obj["Key"]} for obj in page.get("Contents", ())]
        while len(keys) >= _DELETE_BATCH:
            count += _delete(s3, bucket, keys[:_DELETE_BATCH])
            keys = keys[_DELETE_BATCH:]
    if keys:
        count += _delete(s3, bucket, keys)
    return count


def _delete(s3: object, bucket: str, keys: list[dict[str, str]]) -> int:
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})  # type: ignore[attr-defined]
    errors = answer.get("Errors") or []
    if errors:
        first = errors[0]
        raise OSError(f"could not delete s3://{bucket}/{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                      f" ({len(errors)} objects not deleted)")
    return len(keys)
