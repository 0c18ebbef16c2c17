"""Command line: ``python -m recbole_mind.retrieval {export,retrieve,explain} CHECKPOINT ...``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from recbole_mind.data.output import check_output_path, refuse_output_onto_input
from recbole_mind.serving.explain import explain, plot_routing
from recbole_mind.serving.export import export_vectors, retrieve_for_users
from recbole_mind.serving.index import INDEX_KINDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recbole_mind.retrieval",
        description="Export MIND's interest vectors, retrieve top-N items per user, explain interests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("checkpoint", help="a MIND checkpoint, e.g. saved/MIND-<time>.pth")
    common.add_argument("--data_path", default=None,
                        help="folder holding the dataset's subfolder, if not where the checkpoint was trained")
    export = commands.add_parser("export", parents=[common], help="write item and interest vectors")
    export.add_argument("--out", required=True, help="output folder (items.npz, interests.npz, meta.json)")
    export.add_argument("--users", nargs="+", default=None, help="user tokens (default: every user)")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    search = commands.add_parser("retrieve", parents=[common], help="top-N items per user")
    search.add_argument("--users", nargs="+", required=True, help="user tokens")
    search.add_argument("--n", type=int, default=10, help="items per user (default 10)")
    search.add_argument("--index", choices=INDEX_KINDS, default="flat", help="flat (exact), hnsw or ivf")
    search.add_argument("--exclude_seen", action="store_true", help="drop items the user already interacted with")
    search.add_argument("--diversity_lambda", type=float, default=0.0,
                        help="> 0: choose the N items by ComiRec's greedy, score + lambda * category "
                             "difference (docs/diversity.md); default 0, by score alone")
    search.add_argument("--category_field", default=None,
                        help="item field holding the categories (token or token_seq, e.g. class on ml-100k)")
    why = commands.add_parser("explain", parents=[common], help="routing weights and items per interest")
    why.add_argument("--user", required=True, help="user token")
    why.add_argument("--n", type=int, default=10, help="items shown per interest (default 10)")
    why.add_argument("--plot", default=None, help="write a PNG heat-map of the routing weights here")
    why.add_argument("--json", action="store_true", help="print the explanation as JSON")
    return parser


def _print_explanation(explanation: dict[str, Any]) -> None:
    print(f"user {explanation['user']}: {len(explanation['history'])} behaviours, "
          f"{len(explanation['interests'])} active interests "
          f"(routing softmax over {explanation['routing_softmax_axis']})")
    if explanation.get("note"):
        print(f"  {explanation['note']}")
    for interest in explanation["interests"]:
        print(f"interest {interest['interest']}")
        print("  formed by (routing weight):")
        for entry in interest["top_behaviours"]:
            print(f"    {entry['weight']:.3f}  {entry['item']}  {entry['title']}")
        print("  retrieves (score):")
        for entry in interest["retrieves"]:
            print(f"    {entry['score']:.3f}  {entry['item']}  {entry['title']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config_dict = {"data_path": args.data_path} if args.data_path else None
    try:
        if args.command == "export":
            paths = export_vectors(args.checkpoint, args.out, args.users, config_dict, args.overwrite)
            print("\n".join(f"wrote {path}" for path in paths.values()))
        elif args.command == "retrieve":
            found = retrieve_for_users(
                args.checkpoint, args.users, args.n, args.index, args.exclude_seen, config_dict,
                diversity_lambda=args.diversity_lambda, category_field=args.category_field,
            )
            for user, items in found.items():
                listed = ", ".join(f"{item} ({score:.3f})" for item, score in items)
                # fewer than --n items: say why on the user's line, never leave it empty
                print(f"{user}: " + " -- ".join(part for part in (listed, items.note) if part))
        else:
            if args.plot:
                check_output_path(args.plot, "--plot")  # before the checkpoint and data load
                refuse_output_onto_input(args.plot, [args.checkpoint], "--plot")
            explanation = explain(args.checkpoint, args.user, args.n, config_dict)
            if args.json:
                print(json.dumps(explanation, indent=2))
            else:
                _print_explanation(explanation)
            if args.plot:
                plot_routing(explanation, args.plot)  # makes its folder
                print(f"wrote {args.plot}")
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0

