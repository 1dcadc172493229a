// mTLS material generated at test time (a CA, a server certificate for 127.0.0.1/localhost, and
// client certificates whose identity is a SPIFFE URI SAN): the same code the demo ships.
export { generateMtls, type CertAndKey, type MtlsMaterial } from "../../xds-server/src/demo/pki.js";
