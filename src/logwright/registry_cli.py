"""``logwright models``: the model registry on the command line.

``models list`` (registered models), ``models show NAME`` (a model and its versions),
``models register MODEL_URI NAME`` (a new version from ``runs:/<run id or prefix>/<name>``),
``models alias NAME ALIAS VERSION`` (set or move; ``--delete`` removes it) and
``models delete NAME --version N`` (or the whole model with ``--yes``).
"""

from __future__ import annotations

import argparse
from typing import Any

from logwright.cli_options import UsageError, print_json, resolve_run_id


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``logwright models list/show/register/alias/delete`` to the command line."""
    models = subparsers.add_parser("models", help="the model registry: named models, versions, aliases")
    sub = models.add_subparsers(dest="sub", metavar="SUB")
    p = sub.add_parser("list", help="registered models with their latest version and aliases")
    p.add_argument("-f", "--filter", default=None,
                   help="e.g. \"name LIKE 'churn%%' AND tags.team = 'growth'\"")
    p.add_argument("-n", "--max-results", type=int, default=50, metavar="N", help="at most this many (default 50)")
    p.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="one registered model and its versions")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("register", help="register a logged model as a new version")
    p.add_argument("model_uri", metavar="MODEL_URI", help="runs:/<run id or unique prefix>/<model name>")
    p.add_argument("name", metavar="NAME", help="the registered model's name (created if missing)")
    p.add_argument("--description", default=None)
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="a tag of the version (repeatable)")
    p.add_argument("--alias", default=None, help="also point this alias at the new version")
    p.set_defaults(func=cmd_register)
    p = sub.add_parser("alias", help="point an alias at a version (moving it), or --delete it")
    p.add_argument("name", metavar="NAME")
    p.add_argument("alias", metavar="ALIAS")
    p.add_argument("version", metavar="VERSION", nargs="?", help="the version number (not with --delete)")
    p.add_argument("--delete", action="store_true", help="remove the alias")
    p.set_defaults(func=cmd_alias)
    p = sub.add_parser("delete", help="delete a version (--version) or a whole registered model (--yes)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--version", default=None, help="delete only this version")
    p.add_argument("--yes", action="store_true", help="confirm deleting the whole model with every version")
    p.set_defaults(func=cmd_delete)


def _client(args: argparse.Namespace) -> Any:
    from logwright.client import Client

    return Client(args.store)


def _when(ms: int | None) -> str:
    from logwright.cli import fmt_time

    return fmt_time(ms)


def _version_dict(v: Any) -> dict[str, Any]:
    return {"name": v.name, "version": v.version, "aliases": list(v.aliases), "source": v.source,
            "run_id": v.run_id, "artifact_path": v.artifact_path, "flavour": v.flavour, "signature": v.signature,
            "status": v.status, "description": v.description, "tags": v.tags,
            "creation_time": v.creation_time, "last_update_time": v.last_update_time}


def _model_dict(m: Any) -> dict[str, Any]:
    return {"name": m.name, "latest_version": m.latest_version, "aliases": m.aliases, "tags": m.tags,
            "description": m.description, "creation_time": m.creation_time, "last_update_time": m.last_update_time}


def cmd_list(args: argparse.Namespace) -> int:
    """Print the registered models matching ``--filter``."""
    from logwright.cli import table

    models = _client(args).search_registered_models(args.filter, max(1, args.max_results))
    if args.json:
        print_json([_model_dict(m) for m in models])
        return 0
    print(table(["NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"],
                [(m.name, m.latest_version or "", " ".join(f"@{a}={v}" for a, v in m.aliases.items()),
                  _when(m.last_update_time), m.description or "") for m in models]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print a registered model and its versions, newest first."""
    from logwright.cli import table

    client = _client(args)
    model = client.get_registered_model(args.name)
    versions = client.search_model_versions(f"name = '{args.name.replace(chr(39), chr(39) * 2)}'", 1_000_000)
    if args.json:
        print_json([{**_model_dict(model), "versions": [_version_dict(v) for v in versions]}])
        return 0
    print(f"{model.name}  (latest version {model.latest_version or '-'})")
    if model.description:
        print(f"  {model.description}")
    for key, value in model.tags.items():
        print(f"  tag {key} = {value}")
    print(table(["VERSION", "ALIASES", "FLAVOUR", "SOURCE", "CREATED", "DESCRIPTION"],
                [(v.version, " ".join(f"@{a}" for a in v.aliases), v.flavour or "", v.source,
                  _when(v.creation_time), v.description or "") for v in versions], max_width=64))
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    """Register MODEL_URI as a new version of NAME; prints its ``models:/`` URI."""
    client = _client(args)
    uri = args.model_uri
    if uri.startswith("runs:/"):
        run_ref, _, path = uri[len("runs:/"):].strip("/").partition("/")
        uri = f"runs:/{resolve_run_id(client.store, run_ref)}/{path or 'model'}"
    tags = {}
    for item in args.tag:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UsageError(f"--tag takes KEY=VALUE, got {item!r}")
        tags[key] = value
    version = client.register_model(uri, args.name, tags=tags, description=args.description)
    if args.alias:
        client.set_registered_model_alias(args.name, args.alias, version.version)
    extra = f", alias @{args.alias}" if args.alias else ""
    print(f"registered {version.name} version {version.version} ({version.model_uri}{extra}) from {version.source}")
    return 0


def cmd_alias(args: argparse.Namespace) -> int:
    """Set, move or (``--delete``) remove an alias."""
    client = _client(args)
    if args.delete:
        if args.version is not None:
            raise UsageError("--delete takes no VERSION")
        client.delete_registered_model_alias(args.name, args.alias)
        print(f"deleted alias @{args.alias} of {args.name}")
        return 0
    if args.version is None:
        raise UsageError("give the VERSION the alias should point at (or --delete)")
    client.set_registered_model_alias(args.name, args.alias, args.version)
    print(f"{args.name}@{args.alias} -> version {int(args.version)}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete one version, or (with ``--yes``) a whole registered model; the runs' files stay."""
    client = _client(args)
    if args.version is not None:
        client.delete_model_version(args.name, args.version)
        print(f"deleted {args.name} version {int(args.version)} (the run's model files are kept)")
        return 0
    model = client.get_registered_model(args.name)
    if not args.yes:
        raise UsageError(f"this deletes {args.name} with every version (latest {model.latest_version}); "
                         "add --yes to confirm, or --version N for one version")
    client.delete_registered_model(args.name)
    print(f"deleted registered model {args.name} (the runs' model files are kept)")
    return 0
