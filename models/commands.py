"""``hotich models list|show|promote|rollback``: the model registry from the command line (JSON out)."""
from __future__ import annotations

import json


def add_parsers(sub) -> None:
    models = sub.add_parser("models", help="the model registry: versions, promotion, rollback")
    msub = models.add_subparsers(dest="models_command", required=True)

    def common(p):
        p.add_argument("--registry", help="registry folder (default $HOTICH_REGISTRY or runs/registry)")

    def server(p):
        p.add_argument("--server", help="also hot-reload the serving version into this hotich server, e.g. "
                                        "http://127.0.0.1:8000 (its key: $HOTICH_API_KEY)")

    listing = msub.add_parser("list", help="every version: status, parent, CERs, and which one serves")
    common(listing)
    show = msub.add_parser("show", help="one version in full (default: the serving one)")
    show.add_argument("version", nargs="?", default="serving", help="3, v3 or serving")
    common(show)
    promote = msub.add_parser("promote", help="make a version serve")
    promote.add_argument("version", help="3 or v3")
    promote.add_argument("--force", action="store_true", help="promote a version the gate rejected")
    promote.add_argument("--reason", default="promoted by an operator")
    common(promote)
    server(promote)
    rollback = msub.add_parser("rollback", help="stop serving the current version; the previous one serves again")
    rollback.add_argument("--reason", default="rolled back by an operator")
    common(rollback)
    server(rollback)


def _row(version, serving: int | None) -> dict:
    return {"version": version.tag, "serving": version.version == serving, "name": version.name,
            "status": version.status, "parent": f"v{version.parent}" if version.parent else None,
            "created": version.created, "data_hash": version.data_hash[:12] if version.data_hash else None,
            "cer": {name: m.get("cer") for name, m in version.metrics.items()}, "path": version.path}


def _reload(args, version) -> dict | None:
    if not getattr(args, "server", None):
        return None
    from models.registry import request_reload

    return request_reload(args.server, version)["model"]


def models_command(args) -> int:
    from models.registry import Registry

    registry = Registry(args.registry)
    if args.models_command == "list":
        serving = registry.serving()
        number = serving.version if serving else None
        print(json.dumps({"registry": str(registry.path), "versions": [_row(v, number) for v in registry.versions()]},
                         ensure_ascii=False))
    elif args.models_command == "show":
        print(json.dumps(registry.get(args.version).to_json(), ensure_ascii=False))
    elif args.models_command == "promote":
        version = registry.promote(args.version, reason=args.reason, force=args.force)
        print(json.dumps({"serving": version.tag, "name": version.name, "reloaded": _reload(args, version)},
                         ensure_ascii=False))
    elif args.models_command == "rollback":
        rolled_back, now = registry.rollback(args.reason)
        print(json.dumps({"rolled_back": rolled_back.tag, "serving": now.tag, "name": now.name,
                          "reloaded": _reload(args, now)}, ensure_ascii=False))
    return 0
