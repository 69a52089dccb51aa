// Verifies sigstore bundles offline with @sigstore/verify, the verifier of sigstore-js: the
// independent oracle berth-trust's keyless verification is compared with.
//
// usage: node sigstore-verify.js < CASES.json, where CASES is a list of
// {"root": PATH, "bundle": PATH, "identity": SAN, "issuer": ISSUER}; prints one line per case,
// "accept" or "reject CODE MESSAGE". NODE_PATH names @sigstore/cli's node_modules.
'use strict';
const fs = require('fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const read = (path) => JSON.parse(fs.readFileSync(path, 'utf8'));
// @sigstore/verify takes the identity as a regular expression it does not anchor; escaped
// and anchored, it asks for the exact identity, as berth's test policy does.
const exactly = (text) => `^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;

for (const c of read(0)) {
  try {
    const root = TrustedRoot.fromJSON(read(c.root));
    // cosign's defaults: one transparency-log entry and one SCT, no timestamp authority.
    const verifier = new Verifier(toTrustMaterial(root), {
      tlogThreshold: 1,
      ctlogThreshold: 1,
      tsaThreshold: 0,
    });
    verifier.verify(toSignedEntity(bundleFromJSON(read(c.bundle))), {
      subjectAlternativeName: exactly(c.identity),
      extensions: { issuer: c.issuer },
    });
    console.log('accept');
  } catch (e) {
    console.log(`reject ${e.code || ''} ${e.message}`.replace(/\n/g, ' '));
  }
}
