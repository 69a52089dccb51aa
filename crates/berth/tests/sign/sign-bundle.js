// Signs an in-toto statement into a sigstore bundle with sigstore-js's own bundle builder
// (@sigstore/sign), with a key and no witnesses (no Rekor, no timestamp authority): the bundle
// another tool writes, for berth to verify. Usage:
//   node sign-bundle.js STATEMENT.json KEY.pem OUT.json
const fs = require('fs');
const crypto = require('crypto');
const { DSSEBundleBuilder } = require('@sigstore/sign');
const { bundleToJSON } = require('@sigstore/bundle');

const [statementPath, keyPath, outPath] = process.argv.slice(2);
const privateKey = crypto.createPrivateKey(fs.readFileSync(keyPath));
const publicKey = crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'pem' });
const signer = {
  sign: async (data) => ({
    signature: crypto.sign('sha256', data, privateKey),
    key: { $case: 'publicKey', publicKey, hint: '' },
  }),
};
new DSSEBundleBuilder({ signer, witnesses: [] })
  .create({ data: fs.readFileSync(statementPath), type: 'application/vnd.in-toto+json' })
  .then((bundle) => fs.writeFileSync(outPath, JSON.stringify(bundleToJSON(bundle))))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
