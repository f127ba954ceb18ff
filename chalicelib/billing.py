"""The price list, in one place: what a customer pays per frame, and the AWS cost behind it.

AWS cost of a frame, all in: Lambda's duration (rounded up to the millisecond, as Lambda bills) x memory
in GB x the GB-second price; Lambda's per-request fee; the front door's per-request fee (API Gateway
REST or HTTP API); the DynamoDB units the meter's store used; the data transfer out of the answer's
bytes; and the CloudWatch Logs ingestion of the frame's log lines. The prices come from the settings
(dated in docs/metering.md, "Prices and cost").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .settings import Settings

# 1,769 MB is where Lambda gives a function one full vCPU, so server time measured on one core here is
# close to what Lambda bills (and the stages in .chalice/config.json use it).
DEFAULT_MEMORY_MB = 1769
GB = 10 ** 9  # decimal GB: the higher of the two readings (2**30 bytes would be 7% cheaper)


@dataclass(frozen=True)
class Cost:
    """An AWS bill, line by line, in USD."""
    lambda_compute: float = 0.0
    lambda_requests: float = 0.0
    front_door: float = 0.0
    dynamodb_writes: float = 0.0
    dynamodb_reads: float = 0.0
    data_out: float = 0.0
    logs: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class PriceList:
    price_per_frame: float       # charged to the customer per charged frame, USD
    memory_mb: int               # Lambda memory the estimate assumes
    gb_second: float             # Lambda price per GB-second
    lambda_request: float        # Lambda price per request
    rest_request: float          # API Gateway REST API price per request
    http_request: float = 0.0    # API Gateway HTTP API price per request
    front_door: str = "rest"     # the front door in use ("rest" or "http")
    write_unit: float = 0.0      # DynamoDB on-demand price per write unit
    read_unit: float = 0.0       # DynamoDB on-demand price per read unit
    data_out_gb: float = 0.0     # data transfer out per GB
    log_ingest_gb: float = 0.0   # CloudWatch Logs ingestion per GB

    @classmethod
    def from_settings(cls, settings: Settings) -> "PriceList":
        return cls(price_per_frame=settings.price_per_1000_frames / 1000.0,
                   memory_mb=settings.lambda_memory_mb or DEFAULT_MEMORY_MB,
                   gb_second=settings.lambda_gb_second_usd, lambda_request=settings.lambda_request_usd,
                   rest_request=settings.apigw_request_usd, http_request=settings.http_api_request_usd,
                   front_door=settings.front_door, write_unit=settings.dynamodb_write_unit_usd,
                   read_unit=settings.dynamodb_read_unit_usd, data_out_gb=settings.data_out_gb_usd,
                   log_ingest_gb=settings.log_ingest_gb_usd)

    def charge(self, frames_charged: int) -> float:
        return frames_charged * self.price_per_frame

    def request_fee(self, front_door: str | None = None) -> float:
        """The front door's fee per request (the one in use unless named)."""
        return self.http_request if (front_door or self.front_door) == "http" else self.rest_request

    def aws_cost(self, billed_ms: int, requests: int) -> float:
        """Estimated AWS compute and request cost of ``requests`` invocations billed ``billed_ms`` in all
        (the admin report's figure: what the month record holds for a key)."""
        return (billed_ms / 1000.0) * (self.memory_mb / 1024.0) * self.gb_second \
            + requests * (self.lambda_request + self.request_fee())

    def all_in(self, requests: int, billed_ms: int, write_units: float, read_units: float, bytes_out: int,
               log_bytes: int, front_door: str | None = None) -> Cost:
        """The whole AWS bill of ``requests`` frames, line by line."""
        return Cost(lambda_compute=(billed_ms / 1000.0) * (self.memory_mb / 1024.0) * self.gb_second,
                    lambda_requests=requests * self.lambda_request,
                    front_door=requests * self.request_fee(front_door),
                    dynamodb_writes=write_units * self.write_unit, dynamodb_reads=read_units * self.read_unit,
                    data_out=bytes_out / GB * self.data_out_gb, logs=log_bytes / GB * self.log_ingest_gb)


def billed_ms(server_ms: float) -> int:
    """Lambda bills each invocation's duration rounded up to the millisecond."""
    return max(1, math.ceil(server_ms))
