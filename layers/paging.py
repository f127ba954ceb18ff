"""Every item of an AWS list call, not only its first page (used by layers/deploy.py, site.py, front_door.py).

AWS answers list calls a page at a time: ListLayerVersions 50 versions, ListDistributions and
ListOriginAccessControls 100, ListObjectVersions 1,000 (versions and delete markers together); API
Gateway's GetRoutes, GetIntegrations and GetStages page with a NextToken too. A deploy that read only the
first page would publish a layer again after 50 deploys, make a second distribution when the state file
is lost, and leave a bucket it cannot delete. Each is read through boto3's own paginator for the
operation (every call used here has one: botocore follows the operation's Marker, NextMarker or
NextToken)."""
from __future__ import annotations

from collections.abc import Iterator


def every(client, operation: str, items: str, **params) -> Iterator[dict]:
    """The items at ``items`` (a JMESPath such as "DistributionList.Items") of every page of ``operation``,
    lazily: a caller that stops at the first match reads no further pages."""
    return client.get_paginator(operation).paginate(**params).search(f"{items}[] || `[]`")
