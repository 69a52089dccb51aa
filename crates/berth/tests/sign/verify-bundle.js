// Verifies a key-signed sigstore bundle with sigstore-js's own verifier (@sigstore/verify),
// offline: no transparency log, no timestamps, the key given. Usage:
//   node verify-bundle.js BUNDLE.json KEY.pub
// Prints "verified" and exits 0, or prints the verifier's error and exits 1.
const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const [bundlePath, keyPath] = process.argv.slice(2);
const emptyTrustedRoot = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};
try {
  const publicKey = crypto.createPublicKey(fs.readFileSync(keyPath));
  const trust = toTrustMaterial(emptyTrustedRoot, () => ({ publicKey, validFor: () => true }));
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 });
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  verifier.verify(toSignedEntity(bundle));
  console.log('verified');
} catch (e) {
  console.log(`refused: ${e.code || ''} ${e.message}`);
  process.exit(1);
}
