"""The `loupe` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from core.domain.errors import LoupeError
from core.domain.users import User, UserRole
from core.ports import Deps
from core.settings import Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.data_dir is not None:
            settings = replace(settings, data_dir=args.data_dir)
        result: int = args.run(settings, args)
        return result
    except (LoupeError, SettingsError, UsageError) as error:
        print(f"loupe: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loupe", description="Open-source data labeling.")
    parser.add_argument(
        "--data-dir", type=Path, help="where the embedded runtime keeps its data (default .data)"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run API, web UI and workers on this machine")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 7071)")
    serve.add_argument("--no-demo", action="store_true", help="do not create the demo project")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser(
        "worker",
        help="serve work queues in the foreground (what `loupe serve` runs in its own processes)",
    )
    worker.add_argument(
        "role",
        choices=("stages", "assist"),
        help="stages: ingestion, renditions, exports…; assist: ML-assist cycles (the GPU job)",
    )
    worker.set_defaults(run=_worker)

    user = commands.add_parser("user", help="manage users and their bearer tokens")
    actions = user.add_subparsers(required=True, metavar="ACTION")
    for name, handler, text in (
        ("create", _user_create, "create a user and print its first token"),
        ("token", _user_token, "print a new token for an existing user"),
        ("revoke", _user_revoke, "revoke every token of a user"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("name")
        action.set_defaults(run=handler)
    create = actions.choices["create"]
    create.add_argument(
        "--role",
        action="append",
        choices=[r.value for r in UserRole],
        help="a deployment role: creator (may create projects) or admin; repeatable (default: "
        "none, except that the first user becomes the admin)",
    )
    for name, handler, text in (
        ("grant", _user_grant, "give a user a deployment role (creator or admin)"),
        ("ungrant", _user_ungrant, "take a deployment role back"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("name")
        action.add_argument("role", choices=[r.value for r in UserRole])
        action.set_defaults(run=handler)
    actions.add_parser("list", help="list users and their roles").set_defaults(run=_user_list)

    up = commands.add_parser("upload", help="upload files and folders into a project")
    up.add_argument("project", help="the project id")
    up.add_argument("paths", nargs="+", type=Path, help="files and folders")
    _remote_flags(up)
    up.add_argument("--prefix", default="", help="a folder to put the files under")
    up.add_argument("--workers", type=int, default=8, help="parallel uploads (default 8)")
    up.set_defaults(run=_upload)

    ex = commands.add_parser("export", help="download a project's labels in a training format")
    ex.add_argument("project", help="the project id")
    ex.add_argument(
        "--format",
        default="coco",
        help="coco, azureml_jsonl, csv, voc, yolo, conll, brat, dicom_seg or loupe_jsonl "
        "(default coco)",
    )
    ex.add_argument("--out", type=Path, help="file or folder to write (default: the export's name)")
    ex.add_argument(
        "--state", action="append", help="item states to include (repeatable; default labeled)"
    )
    ex.add_argument("--label", action="append", help="only these classes (repeatable)")
    ex.add_argument("--validation", type=float, default=0.0, help="validation split fraction")
    ex.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    ex.add_argument(
        "--keep-split-of",
        metavar="EXPORT_ID",
        help="keep the split of an earlier export job (its items stay on their side; new items "
        "are split at --validation)",
    )
    ex.add_argument("--predictions", action="store_true", help="include ML-assist predictions")
    ex.add_argument("--normalized-coco", action="store_true", help="Azure ML's 0–1 COCO boxes")
    ex.add_argument("--job", action="store_true", help="run as a server job, then download")
    _remote_flags(ex)
    ex.set_defaults(run=_export)

    im = commands.add_parser(
        "import",
        help="import labels (COCO, Azure ML JSONL/MLTable zip, "
        "Loupe JSONL) matched to items by path",
    )
    im.add_argument("project", help="the project id")
    im.add_argument("file", type=Path, help="the labels file")
    im.add_argument("--format", required=True, help="coco, azureml_jsonl or loupe_jsonl")
    im.add_argument("--mode", default="prelabel", help="prelabel (default) or final")
    im.add_argument("--normalized", action="store_true", help="COCO boxes are 0–1 fractions")
    _remote_flags(im)
    im.set_defaults(run=_import)
    mg = commands.add_parser(
        "migrate-azureml",
        help="make a project of an Azure ML Data Labeling labels export (JSONL or MLTable zip)",
    )
    mg.add_argument("file", type=Path, help="the labels export")
    mg.add_argument("--name", required=True, help="the new project's name")
    mg.add_argument("--container", help="the allowed blob container holding the images")
    mg.add_argument("--path", default="", help="the images' folder in it, e.g. 'pets/**'")
    mg.add_argument("--task-type", help="default: told by the labels")
    _remote_flags(mg)
    mg.set_defaults(run=_migrate)
    return parser


def _remote_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--server", help="Loupe's URL (default $LOUPE_URL or http://127.0.0.1:7071)"
    )
    command.add_argument("--token", help="a bearer token (default $LOUPE_TOKEN)")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from core.local.runtime import serve

    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    serve(settings, demo=not args.no_demo)
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    import signal
    import threading

    from core.local.workers import queue_worker

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with _deps(settings) as deps:
        worker = queue_worker(deps, args.role)
        worker.start()
        print(f"loupe worker {args.role}: serving; Ctrl-C stops it", flush=True)
        stop.wait()
        worker.stop()
    return 0


def _user_create(settings: Settings, args: argparse.Namespace) -> int:
    from core.services.users import create_user

    roles = [UserRole(r) for r in args.role] if args.role else None
    with _deps(settings) as deps:
        user, token = create_user(deps, name=args.name, roles=roles)
    print(f"created user {user.id} ({_roles(user)}); token (shown once, keep it secret):\n{token}")
    return 0


def _roles(user: User) -> str:
    return ", ".join(user.roles) or "no deployment role"


def _user_grant(settings: Settings, args: argparse.Namespace) -> int:
    return _set_role(settings, args, granted=True)


def _user_ungrant(settings: Settings, args: argparse.Namespace) -> int:
    return _set_role(settings, args, granted=False)


def _set_role(settings: Settings, args: argparse.Namespace, *, granted: bool) -> int:
    from core.services.users import set_role

    with _deps(settings) as deps:
        user = set_role(deps, name=args.name, role=UserRole(args.role), granted=granted)
    print(f"{user.id}: {_roles(user)}")
    return 0


def _user_token(settings: Settings, args: argparse.Namespace) -> int:
    from core.services.users import issue_token

    with _deps(settings) as deps:
        print(issue_token(deps, name=args.name))
    return 0


def _user_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from core.services.users import revoke_tokens

    with _deps(settings) as deps:
        count = revoke_tokens(deps, name=args.name)
    print(f"revoked {count} token(s) of {args.name}")
    return 0


def _user_list(settings: Settings, args: argparse.Namespace) -> int:
    from core.services.users import list_users

    with _deps(settings) as deps:
        for user in list_users(deps):
            print(f"{user.id}\t{user.created_at:%Y-%m-%d %H:%M}\t{_roles(user)}")
    return 0


class UsageError(Exception):
    pass


def _remote(settings: Settings, args: argparse.Namespace) -> tuple[str, str]:
    """The server and token a client command talks to: its flags, else LOUPE_URL and
    LOUPE_TOKEN, else this machine's `loupe serve`."""
    token = args.token or os.environ.get("LOUPE_TOKEN")
    if not token:
        raise UsageError("pass --token or set LOUPE_TOKEN (a token from `loupe user create`)")
    return args.server or os.environ.get("LOUPE_URL") or settings.base_url, token


def _upload(settings: Settings, args: argparse.Namespace) -> int:
    from core.local.upload import UploadError, upload

    server, token = _remote(settings, args)
    try:
        report = upload(
            server=server,
            token=token,
            project_id=args.project,
            sources=args.paths,
            prefix=args.prefix,
            workers=args.workers,
        )
    except (UploadError, FileNotFoundError) as error:
        print(f"loupe upload: {error}", file=sys.stderr)
        return 2
    print(f"uploaded {report.uploaded} file(s): {report.items} item(s)")
    for line in report.failed_items:
        print(f"  item error  {line}")
    for name in report.skipped:
        print(f"  skipped     {name}: not a file type this project takes")
    for line in report.errors:
        print(f"  failed      {line}", file=sys.stderr)
    return 1 if report.errors else 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from core.local.transfer import export
    from core.local.upload import UploadError

    server, token = _remote(settings, args)
    params: dict[str, object] = {"format": args.format}
    params |= {"validation": args.validation, "seed": args.seed, "predictions": args.predictions}
    params |= {"normalizedCoco": args.normalized_coco}
    if args.state:
        params["state"] = args.state
    if args.label:
        params["label"] = args.label
    if args.keep_split_of:
        params["keepSplitOf"] = args.keep_split_of
    try:
        path = export(
            server=server,
            token=token,
            project_id=args.project,
            params=params,
            out=args.out,
            job=args.job,
        )
    except UploadError as error:
        print(f"loupe export: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from core.local.transfer import ImportRefused, import_file, report_lines
    from core.local.upload import UploadError

    server, token = _remote(settings, args)
    try:
        report = import_file(
            server=server,
            token=token,
            project_id=args.project,
            path=args.file,
            format=args.format,
            mode=args.mode,
            normalized=args.normalized,
        )
    except ImportRefused as refused:
        print(f"loupe import: {refused}", file=sys.stderr)
        print("\n".join(refused.lines()), file=sys.stderr)
        return 2
    except (UploadError, FileNotFoundError) as error:
        print(f"loupe import: {error}", file=sys.stderr)
        return 2
    print("\n".join(report_lines(report)))
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from core.local.transfer import ImportRefused, migrate_file, migration_lines
    from core.local.upload import UploadError

    server, token = _remote(settings, args)
    try:
        report = migrate_file(
            server=server,
            token=token,
            path=args.file,
            name=args.name,
            container=args.container,
            folder=args.path,
            task_type=args.task_type,
        )
    except ImportRefused as refused:
        print(f"loupe migrate-azureml: {refused}", file=sys.stderr)
        print("\n".join(refused.lines()), file=sys.stderr)
        return 2
    except (UploadError, FileNotFoundError) as error:
        print(f"loupe migrate-azureml: {error}", file=sys.stderr)
        return 2
    print("\n".join(migration_lines(report)))
    return 0


@contextmanager
def _deps(settings: Settings) -> Iterator[Deps]:
    """The dependency set for one CLI command, closed when it is done."""
    from core.bootstrap import build

    deps = build(settings)
    try:
        yield deps
    finally:
        deps.close()


if __name__ == "__main__":
    sys.exit(main())
