"""Provisioning errors that clear by themselves: retried, a bounded number of times, with backoff.

A cloud refuses a change while another operation on the same resource is still
running, or asks its callers to slow down. Each entry is a pattern of what
Terraform then prints, what it means, and where the text comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Seconds before each retry: at most three retries, 3.5 minutes of waiting in all.
RETRY_DELAYS = (30.0, 60.0, 120.0)


@dataclass(frozen=True)
class Transient:
    pattern: re.Pattern
    meaning: str
    source: str


TRANSIENT = (
    Transient(
        re.compile(r"Another operation is in progress", re.I),
        "Azure: another operation on the cluster is in progress (409)",
        "Azure/telescope PR #1279 (RESPONSE 409, EtagMismatch)",
    ),
    Transient(
        re.compile(r"OperationNotAllowed\)? Operation is not allowed because there's an\s+in-progress"),
        "Azure: an operation on the cluster (an add-on, a node pool) is still running",
        "Azure/telescope PR #1279 (OperationNotAllowed)",
    ),
    Transient(
        re.compile(r"StatusCode=429|Code=\"RetryableError\""),
        "Azure: throttled, or a resource still updating (429 RetryableError)",
        "hashicorp/terraform#7986",
    ),
    Transient(
        re.compile(
            r"\b(Throttling|ThrottlingException|RequestLimitExceeded|RequestThrottled|RequestThrottledException"
            r"|TooManyRequestsException|PriorRequestNotComplete)\b"
        ),
        "AWS: API throttling",
        "aws-sdk-go aws/request/retryer.go, throttleCodes",
    ),
    Transient(
        re.compile(r"ResourceInUseException"),
        "AWS EKS: the cluster or node group is still being created or updated",
        "Amazon EKS API reference, ResourceInUseException",
    ),
    Transient(
        re.compile(r"Error 429|rateLimitExceeded"),
        "GCP: API rate limit (429)",
        "Google API errors, rateLimitExceeded",
    ),
    Transient(
        re.compile(r"Cluster is running incompatible operation"),
        "GKE: a cluster or node pool operation is still running",
        "GKE API, FAILED_PRECONDITION while an operation runs",
    ),
)


def transient_cause(output: str) -> str | None:
    """What made a failed Terraform command fail for a while only; None when it is not transient."""
    for transient in TRANSIENT:
        if transient.pattern.search(output):
            return transient.meaning
    return None
