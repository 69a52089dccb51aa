"""The peers berth's signatures are checked against, and raw registry writes for hostile cases.

  peer.py referrers REGISTRY REPO DIGEST       oras's client lists the referrers (JSON lines)
  peer.py blob REGISTRY REPO DIGEST OUT        fetch a blob to OUT
  peer.py manifest REGISTRY REPO REF           a manifest's bytes, as the registry serves them
  peer.py push-blob REGISTRY REPO FILE          upload a blob; print its digest and size
  peer.py put-manifest REGISTRY REPO REF FILE   PUT an OCI manifest (or index) under REF
  peer.py dsse-verify ENVELOPE PUBKEY           securesystemslib checks a DSSE envelope
"""
import hashlib
import json
import sys
import urllib.request


def request(method, url, data=None, content_type=None):
    req = urllib.request.Request(url, data=data, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req) as response:
        return response.status, response.headers, response.read()


def referrers(registry, repo, digest):
    import oras.client

    client = oras.client.OrasClient(hostname=registry, insecure=True)
    response = client.do_request(f"http://{registry}/v2/{repo}/referrers/{digest}", "GET")
    response.raise_for_status()
    for d in response.json()["manifests"]:
        manifest = client.get_manifest(f"{registry}/{repo}@{d['digest']}")
        assert manifest["subject"]["digest"] == digest, manifest
        print(json.dumps({"digest": d["digest"], "artifactType": d.get("artifactType")}))


def push_blob(registry, repo, path):
    data = open(path, "rb").read()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, headers, _ = request("POST", f"http://{registry}/v2/{repo}/blobs/uploads/")
    location = headers["Location"]
    if location.startswith("/"):
        location = f"http://{registry}{location}"
    sep = "&" if "?" in location else "?"
    request("PUT", f"{location}{sep}digest={digest}", data, "application/octet-stream")
    print(digest, len(data))


def main():
    command, *args = sys.argv[1:]
    if command == "referrers":
        referrers(*args)
    elif command == "blob":
        registry, repo, digest, out = args
        _, _, body = request("GET", f"http://{registry}/v2/{repo}/blobs/{digest}")
        open(out, "wb").write(body)
    elif command == "manifest":
        registry, repo, ref = args
        req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{ref}")
        req.add_header("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
        with urllib.request.urlopen(req) as response:
            sys.stdout.buffer.write(response.read())
    elif command == "push-blob":
        push_blob(*args)
    elif command == "put-manifest":
        registry, repo, ref, path = args
        data = open(path, "rb").read()
        media = json.loads(data).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
        request("PUT", f"http://{registry}/v2/{repo}/manifests/{ref}", data, media)
    elif command == "dsse-verify":
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
        from securesystemslib.dsse import Envelope
        from securesystemslib.signer import SSlibKey

        envelope = json.load(open(args[0]))
        key = SSlibKey.from_crypto(
            load_pem_public_key(open(args[1], "rb").read()), scheme="ecdsa-sha2-nistp256"
        )
        # securesystemslib pairs signatures with keys by keyid, an unauthenticated label that
        # cosign (and berth) leave empty: name the key given, so its signature is the one checked.
        for signature in envelope["signatures"]:
            signature["keyid"] = key.keyid
        try:
            Envelope.from_dict(envelope).verify([key], 1)
        except Exception as e:
            print(f"refused: {e}")
            sys.exit(1)
        print("verified")
    else:
        sys.exit(f"unknown command {command}")


main()
