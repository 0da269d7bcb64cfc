//! What authenticating a wallet request and signing its reply cost, per
//! contract: the native API's HMAC-SHA256, and Hub88's RSA-SHA256 (2048-bit,
//! PKCS#1 v1.5) verification of a request and signing of a reply as the
//! gateway does them (`ring`), and side by side with the `rsa` crate, which
//! the gateway used before and still uses to generate keys.
//!
//! ```text
//! cargo bench -p croupier-benches --bench signatures
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::Secret;
use protocol::rsa_signature::{self, RsaSigner};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;
use rsa::signature::{Signer, Verifier};
use rsa::{PrivateKey, PublicKey};

/// A Hub88 bet request's size, roughly.
const BODY: &[u8] = br#"{"user":"player-42","transaction_uuid":"16d2dcfe-b89e-11e7-854a-58404eea6d16","supplier_transaction_id":"41ecc3ad-b181-4235-bf9d-acf0a5ad9730","token":"55b7518e-b89e-11e7-81be-58404eea6d16","supplier_user":"cg_45141","round_closed":true,"round":"rNEMwgzJAOZ6eR3V","reward_uuid":null,"request_uuid":"583c985f-fee6-4c0e-bbf5-308aad6265af","is_free":false,"is_aggregated":false,"game_code":"clt_dragonrising","currency":"EUR","bet":"zero","amount":100500,"meta":null}"#;

fn signatures(c: &mut Criterion) {
    let mut group = c.benchmark_group("signatures");
    group.throughput(Throughput::Elements(1));
    let secret = Secret([7; 32]);
    group.bench_function("hmac_sha256_sign", |b| {
        b.iter(|| protocol::signature::sign(&secret, 1_767_225_600_000, BODY))
    });

    let private_pem = RsaSigner::generate_pem().expect("key generated");
    let signer = RsaSigner::from_pem(&private_pem).expect("key parsed");
    let public = rsa_signature::public_key_der_from_pem(signer.public_key_pem()).expect("public key");
    let signature = signer.sign(BODY).expect("signed");
    group.bench_function("rsa2048_sign_gateway", |b| b.iter(|| signer.sign(BODY).unwrap()));
    group.bench_function("rsa2048_verify_gateway", |b| {
        b.iter(|| rsa_signature::verify(&public, BODY, &signature).unwrap())
    });

    let reference = SigningKey::<Sha256>::new(PrivateKey::from_pkcs8_pem(&private_pem).expect("PKCS#8 key"));
    let reference_public = VerifyingKey::<Sha256>::new(PublicKey::from_public_key_der(public.as_bytes()).unwrap());
    let raw_signature = Signature::try_from(BASE64.decode(&signature).unwrap().as_slice()).unwrap();
    group.bench_function("rsa2048_sign_rsa_crate", |b| b.iter(|| reference.sign(BODY)));
    group.bench_function("rsa2048_verify_rsa_crate", |b| {
        b.iter(|| reference_public.verify(BODY, &raw_signature).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = croupier_benches::criterion_config(1, 3);
    targets = signatures
}
criterion_main!(benches);
