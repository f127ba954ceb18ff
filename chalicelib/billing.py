"""The price list, in one place: what a customer pays per frame, and the estimated AWS cost behind it.

AWS cost per frame = Lambda duration (rounded up to the millisecond, as Lambda bills) x memory in GB x
the GB-second price + Lambda's per-request fee + API Gateway REST's per-request fee. The duration used
is the server time measured by the app (the part of the invocation that does the work).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .settings import Settings

# 1,769 MB is where Lambda gives a function one full vCPU, so server time measured on one core here is
# close to what Lambda bills (and the stages in .chalice/config.json use it).
DEFAULT_MEMORY_MB = 1769


@dataclass(frozen=True)
class PriceList:
    price_per_frame: float       # charged to the customer per charged frame, USD
    memory_mb: int               # Lambda memory the estimate assumes
    gb_second: float             # Lambda price per GB-second
    lambda_request: float        # Lambda price per request
    apigw_request: float         # API Gateway REST price per request

    @classmethod
    def from_settings(cls, settings: Settings) -> "PriceList":
        return cls(price_per_frame=settings.price_per_1000_frames / 1000.0,
                   memory_mb=settings.lambda_memory_mb or DEFAULT_MEMORY_MB,
                   gb_second=settings.lambda_gb_second_usd,
                   lambda_request=settings.lambda_request_usd,
                   apigw_request=settings.apigw_request_usd)

    def charge(self, frames_charged: int) -> float:
        return frames_charged * self.price_per_frame

    def aws_cost(self, billed_ms: int, requests: int) -> float:
        """Estimated AWS cost of ``requests`` invocations billed ``billed_ms`` milliseconds in all."""
        return (billed_ms / 1000.0) * (self.memory_mb / 1024.0) * self.gb_second \
            + requests * (self.lambda_request + self.apigw_request)


def billed_ms(server_ms: float) -> int:
    """Lambda bills each invocation's duration rounded up to the millisecond."""
    return max(1, math.ceil(server_ms))
