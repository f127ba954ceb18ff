"""The hosted camera site: a private S3 bucket served over HTTPS by CloudFront (used by layers/deploy.py).

Browsers give the camera (getUserMedia) only to secure contexts, and S3 website endpoints speak HTTP
only, so the site is served by a CloudFront distribution:

- the bucket is private: all four Block Public Access settings on, ACLs disabled (bucket owner
  enforced), no website configuration, and a bucket policy that lets only this distribution read
  (`cloudfront.amazonaws.com` with `AWS:SourceArn` = the distribution's ARN);
- CloudFront reaches the bucket's REST endpoint (`<bucket>.s3.<region>.amazonaws.com`; the website
  endpoint cannot use an Origin Access Control) through an OAC that signs every request (sigv4, always);
- viewers are redirected to HTTPS; the default `*.cloudfront.net` certificate, or a custom domain with
  an ACM certificate (which CloudFront requires in us-east-1); `/` serves index.html;
- caching: the managed CachingOptimized policy (it honours the objects' Cache-Control) with the managed
  SecurityHeadersPolicy (HSTS, nosniff, ...). HTML and config.json are `no-cache` (CloudFront keeps them
  at most its 1 s minimum TTL and browsers revalidate every load); scripts and styles are cached a day at
  the edge (`s-maxage`) but revalidated by browsers, and a redeploy invalidates `/*` and waits for it,
  so nothing is stale once the deploy command returns.
"""
from __future__ import annotations

import json
import mimetypes
import pathlib
import time

from layers.paging import every

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"     # AWS managed cache policy
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"      # AWS managed response headers policy
ORIGIN_ID = "site-bucket"
FRESH = "no-cache"                                              # HTML and config.json
EDGE_CACHED = "public, max-age=0, s-maxage=86400"               # scripts, styles: a day at the edge


def cache_control(name: str) -> str:
    return FRESH if name == "config.json" or name.endswith(".html") else EDGE_CACHED


def content_type(name: str) -> str:
    if name.endswith(".js"):
        return "text/javascript"  # ES modules need a JavaScript type; mimetypes may say application/javascript
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def check_domain(domain: str | None, certificate_arn: str | None) -> None:
    """A custom domain needs an ACM certificate in us-east-1 (where CloudFront reads certificates)."""
    if bool(domain) != bool(certificate_arn):
        raise SystemExit("give --domain and --certificate-arn together (or neither, for the *.cloudfront.net "
                         "address)")
    if certificate_arn and not certificate_arn.startswith("arn:aws:acm:us-east-1:"):
        raise SystemExit(f"CloudFront needs an ACM certificate in us-east-1; {certificate_arn!r} is not one")


def private_bucket(s3, bucket: str, region: str) -> None:
    """The site bucket, private: Block Public Access all on, ACLs disabled, no website configuration."""
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kwargs)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.delete_bucket_website(Bucket=bucket)  # a bucket from an earlier, S3-website deploy: no longer a website


def ensure_oac(cloudfront, name: str, state: dict) -> str:
    """The Origin Access Control through which CloudFront signs its requests to the bucket."""
    config = {"Name": name, "Description": "tintcam camera site: CloudFront reads the private bucket",
              "SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"}
    oac_id = state.get("oac_id")
    if not oac_id:  # found by name when the state file is gone (names are unique in an account)
        oac_id = find_oac(cloudfront, name)
    if oac_id:
        try:
            etag = cloudfront.get_origin_access_control(Id=oac_id)["ETag"]
            cloudfront.update_origin_access_control(Id=oac_id, IfMatch=etag, OriginAccessControlConfig=config)
            return oac_id
        except cloudfront.exceptions.NoSuchOriginAccessControl:
            pass
    return cloudfront.create_origin_access_control(OriginAccessControlConfig=config)["OriginAccessControl"]["Id"]


def find_oac(cloudfront, name: str) -> str | None:
    """The id of the Origin Access Control called ``name``, on whichever page of the account's OACs (100 a
    page) it is listed."""
    oacs = every(cloudfront, "list_origin_access_controls", "OriginAccessControlList.Items")
    return next((oac["Id"] for oac in oacs if oac["Name"] == name), None)


def find_distribution(cloudfront, comment: str) -> str | None:
    """The id of the distribution whose comment is ``comment``, on whichever page of the account's
    distributions (100 a page) it is listed."""
    distributions = every(cloudfront, "list_distributions", "DistributionList.Items")
    return next((dist["Id"] for dist in distributions if dist.get("Comment") == comment), None)


def distribution_config(comment: str, bucket: str, region: str, oac_id: str, caller_reference: str,
                        domain: str | None, certificate_arn: str | None) -> dict:
    if domain:
        aliases = {"Quantity": 1, "Items": [domain]}
        certificate = {"ACMCertificateArn": certificate_arn, "SSLSupportMethod": "sni-only",
                       "MinimumProtocolVersion": "TLSv1.2_2021"}
    else:
        aliases = {"Quantity": 0}
        certificate = {"CloudFrontDefaultCertificate": True}
    return {
        "CallerReference": caller_reference, "Comment": comment, "Enabled": True,
        "DefaultRootObject": "index.html", "Aliases": aliases, "ViewerCertificate": certificate,
        "HttpVersion": "http2and3", "IsIPV6Enabled": True, "PriceClass": "PriceClass_All",
        "Origins": {"Quantity": 1, "Items": [{
            "Id": ORIGIN_ID, "DomainName": f"{bucket}.s3.{region}.amazonaws.com",  # the REST endpoint
            "OriginPath": "", "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac_id,
            "CustomHeaders": {"Quantity": 0}}]},
        "DefaultCacheBehavior": {
            "TargetOriginId": ORIGIN_ID, "ViewerProtocolPolicy": "redirect-to-https", "Compress": True,
            "CachePolicyId": CACHING_OPTIMIZED, "ResponseHeadersPolicyId": SECURITY_HEADERS,
            "AllowedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"],
                               "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}},
    }


def ensure_distribution(cloudfront, comment: str, bucket: str, region: str, oac_id: str, state: dict,
                        domain: str | None, certificate_arn: str | None) -> dict:
    """Create the distribution, or update it in place; returns {"id", "arn", "domain", "existed"}."""
    dist_id = state.get("distribution_id")
    if not dist_id:  # found by its comment when the state file is gone
        dist_id = find_distribution(cloudfront, comment)
    if dist_id:
        try:
            current = cloudfront.get_distribution_config(Id=dist_id)
        except cloudfront.exceptions.NoSuchDistribution:
            dist_id = None
    if dist_id:
        config = distribution_config(comment, bucket, region, oac_id,
                                     current["DistributionConfig"]["CallerReference"], domain, certificate_arn)
        dist = cloudfront.update_distribution(Id=dist_id, IfMatch=current["ETag"],
                                              DistributionConfig=config)["Distribution"]
        existed = True
    else:
        config = distribution_config(comment, bucket, region, oac_id, f"{comment} {time.time_ns()}", domain,
                                     certificate_arn)
        dist = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]
        existed = False
    return {"id": dist["Id"], "arn": dist["ARN"], "domain": dist["DomainName"], "existed": existed}


def allow_only_distribution(s3, bucket: str, distribution_arn: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyTheCameraSiteDistributionReads", "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}}]}))


def upload(s3, bucket: str, frontend: pathlib.Path, api_url: str) -> list[str]:
    """The page's files, each with its type and Cache-Control, and config.json with the API address
    (no key: each person enters theirs). Returns the keys written."""
    keys = []
    for path in sorted(frontend.iterdir()):
        if path.is_file() and path.name != "config.json":
            s3.put_object(Bucket=bucket, Key=path.name, Body=path.read_bytes(), ContentType=content_type(path.name),
                          CacheControl=cache_control(path.name))
            keys.append(path.name)
    s3.put_object(Bucket=bucket, Key="config.json", Body=json.dumps({"apiUrl": api_url}).encode(),
                  ContentType="application/json", CacheControl=cache_control("config.json"))
    return keys + ["config.json"]


def invalidate(cloudfront, dist_id: str) -> str:
    """Drop every cached copy at the edge and wait until that is done (a redeploy)."""
    batch = {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"tintcam deploy {time.time_ns()}"}
    inv_id = cloudfront.create_invalidation(DistributionId=dist_id, InvalidationBatch=batch)["Invalidation"]["Id"]
    cloudfront.get_waiter("invalidation_completed").wait(DistributionId=dist_id, Id=inv_id)
    return inv_id


def delete(cloudfront, dist_id: str | None, oac_id: str | None, log=print) -> None:
    """Disable the distribution, wait until that is deployed, delete it, then the OAC."""
    if dist_id:
        try:
            current = cloudfront.get_distribution_config(Id=dist_id)
        except cloudfront.exceptions.NoSuchDistribution:
            current = None
        if current is not None:
            etag = current["ETag"]
            if current["DistributionConfig"]["Enabled"]:
                log("disabling the CloudFront distribution (CloudFront takes a few minutes) ...")
                config = {**current["DistributionConfig"], "Enabled": False}
                etag = cloudfront.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig=config)["ETag"]
            cloudfront.get_waiter("distribution_deployed").wait(Id=dist_id)
            cloudfront.delete_distribution(Id=dist_id, IfMatch=etag)
    if oac_id:
        try:
            etag = cloudfront.get_origin_access_control(Id=oac_id)["ETag"]
            cloudfront.delete_origin_access_control(Id=oac_id, IfMatch=etag)
        except cloudfront.exceptions.NoSuchOriginAccessControl:
            pass
