"""Admin command for API keys and usage: ``python -m chalicelib.admin --help``.

    create --customer NAME --quota N   create a key (printed once; stored only hashed). With a usage plan
                                       configured (TINTCAM_USAGE_PLAN_ID or --usage-plan-id) it also creates
                                       the API Gateway key and attaches it to that plan.
    list [--month YYYY-MM]             keys with their usage this month (or that month)
    revoke KEY_ID                      revoke a key (and disable its API Gateway key)
    report [--month YYYY-MM] [--csv]   usage, charge and estimated AWS cost per key for a month
           [--daily]                   ... or requests and charged frames per key and day
    dev-key --config FILE --api-url U  make sure the local camera page has a working development key

The store is the one the settings name (TINTCAM_METER_STORE, TINTCAM_DB, TINTCAM_METER_TABLE).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys

from . import settings as settings_module
from .errors import TintcamError
from .metering import Meter, get_meter, hash_key
from .store import utcnow

REPORT_COLUMNS = ("key_id", "customer", "revoked", "quota", "frames_charged", "frames_not_charged", "requests",
                  "faces", "server_seconds", "bytes_in", "bytes_out", "charge_usd", "aws_cost_usd")
DAILY_COLUMNS = ("key_id", "customer", "day", "requests", "frames_charged")


def _apigateway():
    import boto3
    return boto3.client("apigateway")


def create(meter: Meter, customer: str, quota: int, usage_plan_id: str) -> tuple[str, dict]:
    key = None
    apigw_key_id = ""
    if usage_plan_id:
        from .metering import new_key
        key = new_key()
        client = _apigateway()
        created = client.create_api_key(name=f"tintcam {customer}", value=key, enabled=True,
                                        description=f"tintcam key for {customer}")
        apigw_key_id = created["id"]
        client.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=apigw_key_id, keyType="API_KEY")
    key, record = meter.create_key(customer, quota, apigw_key_id=apigw_key_id, key=key)
    return key, {"key_id": record.key_id, "customer": record.customer, "quota": record.quota,
                 "apigw_key_id": apigw_key_id}


def revoke(meter: Meter, key_id: str) -> dict:
    record = meter.revoke(key_id)
    if record.apigw_key_id:
        _apigateway().update_api_key(apiKey=record.apigw_key_id,
                                     patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}])
    return {"key_id": record.key_id, "customer": record.customer, "revoked": True}


def table(rows: list[dict], columns: tuple[str, ...]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def to_csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def dev_key(meter: Meter, config_path: str, api_url: str) -> str:
    """Keep the local page's key if it still works, else create one; write the page's config file."""
    config = {}
    if os.path.exists(config_path):
        try:
            with open(config_path, encoding="utf-8") as fh:
                config = json.load(fh)
        except (OSError, ValueError):
            config = {}
    key = config.get("apiKey")
    record = meter.store.find_key(hash_key(key)) if key else None
    outcome = "kept"
    if record is None or record.revoked:
        key, _ = meter.create_key("local development", 1_000_000)
        outcome = "created"
    config.update({"apiUrl": api_url, "apiKey": key})
    tmp = config_path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        json.dump(config, fh)
        fh.write("\n")
    os.replace(tmp, config_path)
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin", description="tintcam API keys and usage")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create", help="create a key for a customer (the key is printed once)")
    p.add_argument("--customer", required=True)
    p.add_argument("--quota", type=int, required=True, help="charged frames per calendar month")
    p.add_argument("--usage-plan-id", default=None, help="API Gateway usage plan (default TINTCAM_USAGE_PLAN_ID)")
    p = sub.add_parser("list", help="list keys with their usage")
    p.add_argument("--month", default=None, help="YYYY-MM (default: this month, UTC)")
    p = sub.add_parser("revoke", help="revoke a key")
    p.add_argument("key_id")
    p = sub.add_parser("report", help="usage report for a month")
    p.add_argument("--month", default=None, help="YYYY-MM (default: this month, UTC)")
    p.add_argument("--csv", action="store_true", help="CSV instead of a table")
    p.add_argument("--daily", action="store_true", help="requests and charged frames per key and day")
    p = sub.add_parser("dev-key", help="write a working key for the local camera page")
    p.add_argument("--config", required=True)
    p.add_argument("--api-url", required=True)
    args = parser.parse_args(argv)

    try:
        settings = settings_module.get()
        meter = get_meter(settings)
        month = getattr(args, "month", None) or utcnow().strftime("%Y-%m")
        if args.command == "create":
            plan = args.usage_plan_id if args.usage_plan_id is not None else settings.usage_plan_id
            key, info = create(meter, args.customer, args.quota, plan)
            print(f"created {info['key_id']} for {info['customer']} (quota {info['quota']} frames a month)"
                  + (f", API Gateway key {info['apigw_key_id']} in usage plan {plan}" if plan else ""))
            print(f"API key (shown only now, store it safely): {key}")
        elif args.command == "list":
            rows = meter.report(month)
            print(table(rows, ("key_id", "customer", "revoked", "quota", "frames_charged", "frames_not_charged",
                               "quota_remaining")))
        elif args.command == "revoke":
            info = revoke(meter, args.key_id)
            print(f"revoked {info['key_id']} ({info['customer']})")
        elif args.command == "report":
            rows, columns = (meter.daily(month), DAILY_COLUMNS) if args.daily else (meter.report(month),
                                                                                   REPORT_COLUMNS)
            print(to_csv(rows, columns) if args.csv else f"usage for {month}\n" + table(rows, columns),
                  end="" if args.csv else "\n")
        elif args.command == "dev-key":
            outcome = dev_key(meter, args.config, args.api_url)
            print(f"development key {outcome}; written to {args.config}")
    except KeyError as exc:
        print(f"error: no key with id {exc.args[0]}", file=sys.stderr)
        return 1
    except (TintcamError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
