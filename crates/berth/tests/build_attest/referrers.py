"""oras's client lists an image's referrers, one JSON line each.

  referrers.py REGISTRY REPO DIGEST

The registry's referrers API where it has one, else the index under the referrers tag schema's
tag (sha256-<hex>). Each referrer's manifest must name DIGEST as its subject; a bare in-toto
statement layer (application/vnd.in-toto+json) is fetched and printed with its predicate type.
"""
import json
import sys

import oras.client


def main():
    registry, repo, digest = sys.argv[1:]
    client = oras.client.OrasClient(hostname=registry, insecure=True)
    response = client.do_request(f"http://{registry}/v2/{repo}/referrers/{digest}", "GET")
    if response.status_code == 404:
        index = client.get_manifest(f"{registry}/{repo}:{digest.replace(':', '-')}")
    else:
        response.raise_for_status()
        index = response.json()
    for d in index["manifests"]:
        manifest = client.get_manifest(f"{registry}/{repo}@{d['digest']}")
        assert manifest["subject"]["digest"] == digest, manifest
        assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json", manifest
        (layer,) = manifest["layers"]
        line = {
            "digest": d["digest"],
            "artifactType": manifest.get("artifactType"),
            "created": manifest.get("annotations", {}).get("org.opencontainers.image.created"),
            "layer": layer["digest"].split(":", 1)[1],
        }
        if layer["mediaType"] == "application/vnd.in-toto+json":
            blob = client.get_blob(f"{registry}/{repo}", layer["digest"])
            blob.raise_for_status()
            line["statement"] = json.loads(blob.content)
            line["predicateType"] = layer["annotations"]["in-toto.io/predicate-type"]
        print(json.dumps(line))


if __name__ == "__main__":
    main()
