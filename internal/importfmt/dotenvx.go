package importfmt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// dotenvx (https://dotenvx.com/encryption) encrypts each value of a .env
// file to the file's secp256k1 public key with ECIES as eciesjs does it by
// default: the value becomes "encrypted:" + base64 of
//
//	ephemeral public key (65 bytes, uncompressed) | nonce (16) | tag (16) | ciphertext
//
// under AES-256-GCM with the key HKDF-SHA256(ephemeral public key ‖ shared
// point, both uncompressed; no salt, no info). The file names its public
// key (DOTENV_PUBLIC_KEY, or DOTENV_PUBLIC_KEY_PRODUCTION for
// .env.production), and .env.keys holds the private one under the
// matching DOTENV_PRIVATE_KEY… name: 32 bytes in hex, several separated by
// commas after a rotation.
const (
	dotenvxPrefix     = "encrypted:"
	dotenvxPublicName = "DOTENV_PUBLIC_KEY"
	eciesPubLen       = 65
	eciesNonceLen     = 16
	eciesTagLen       = 16
)

// Dotenvx decrypts a dotenvx-encrypted .env file (env) with the private
// key of its .env.keys file (keys). Values that are not encrypted are
// taken as they are (dotenvx leaves *_PLAIN names and values added by
// hand in plaintext); the DOTENV_PUBLIC_KEY… line is dropped. A value is
// literal where dotenvx would not expand it: single-quoted in the file.
// Any value that does not decrypt refuses the whole file.
func Dotenvx(env, keys []byte) ([]Entry, error) {
	doc, err := envfile.Parse(env)
	if err != nil {
		return nil, bad("the .env file: %w", err)
	}
	var pubName, pubHex string
	for _, e := range doc.Entries() {
		if strings.HasPrefix(e.Name, dotenvxPublicName) {
			if pubName != "" {
				return nil, bad("the .env file names two public keys (%s, %s): one file at a time", pubName, e.Name)
			}
			pubName, pubHex = e.Name, e.Value
		}
	}
	if pubName == "" {
		return nil, bad("the .env file has no DOTENV_PUBLIC_KEY line: is it encrypted by dotenvx (`dotenvx encrypt`)?")
	}
	privName := "DOTENV_PRIVATE_KEY" + strings.TrimPrefix(pubName, dotenvxPublicName)
	kdoc, err := envfile.Parse(keys)
	if err != nil {
		return nil, bad("the keys file: %w", err)
	}
	ke, ok := kdoc.Get(privName)
	if !ok {
		return nil, bad("the keys file has no %s (the key of %s)", privName, pubName)
	}
	privs, err := dotenvxKeys(ke.Value, pubHex)
	if err != nil {
		return nil, bad("%s: %w", privName, err)
	}
	var out []Entry
	for _, e := range doc.Entries() {
		if e.Name == pubName {
			continue
		}
		v := e.Value
		if strings.HasPrefix(v, dotenvxPrefix) {
			if v, err = dotenvxOpen(privs, strings.TrimPrefix(v, dotenvxPrefix)); err != nil {
				return nil, bad("line %d: %s: %w", e.Line, e.Name, err)
			}
		}
		out = append(out, Entry{Name: e.Name, Value: v, Literal: e.Literal})
	}
	return out, nil
}

// dotenvxKeys parses the private keys (hex, separated by commas) and
// requires one of them to be the file's public key: a keys file of
// another project is named as such rather than failing value by value.
func dotenvxKeys(text, pubHex string) ([]*secp256k1.PrivateKey, error) {
	var privs []*secp256k1.PrivateKey
	match := false
	for i, h := range strings.Split(text, ",") {
		raw, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("key %d is not 64 hex digits", i+1)
		}
		var s secp256k1.ModNScalar
		if overflow := s.SetByteSlice(raw); overflow || s.IsZero() {
			return nil, fmt.Errorf("key %d is not a secp256k1 private key", i+1)
		}
		priv := secp256k1.NewPrivateKey(&s)
		if strings.EqualFold(hex.EncodeToString(priv.PubKey().SerializeCompressed()), pubHex) {
			match = true
		}
		privs = append(privs, priv)
	}
	if !match {
		return nil, errors.New("no key here is the private key of the file's public key (the keys file of another .env?)")
	}
	return privs, nil
}

// errDotenvxDecrypt is a value no key opens (tampered, or another file's).
var errDotenvxDecrypt = errors.New("the encrypted value does not decrypt with the keys given (tampered, or copied from another file)")

// dotenvxOpen decrypts one value (the base64 after "encrypted:") with the
// first key that opens it, as dotenvx tries each key of a rotation.
func dotenvxOpen(privs []*secp256k1.PrivateKey, b64 string) (string, error) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", errors.New("the encrypted value is not base64")
	}
	if len(data) < eciesPubLen+eciesNonceLen+eciesTagLen {
		return "", errors.New("the encrypted value is too short")
	}
	eph, err := secp256k1.ParsePubKey(data[:eciesPubLen])
	if err != nil || data[0] != 0x04 {
		return "", errors.New("the encrypted value does not start with an uncompressed secp256k1 point")
	}
	nonce := data[eciesPubLen : eciesPubLen+eciesNonceLen]
	tag := data[eciesPubLen+eciesNonceLen : eciesPubLen+eciesNonceLen+eciesTagLen]
	ct := data[eciesPubLen+eciesNonceLen+eciesTagLen:]
	sealed := make([]byte, 0, len(ct)+len(tag))
	sealed = append(append(sealed, ct...), tag...) // Go's GCM wants the tag last
	for _, priv := range privs {
		if plain, err := eciesOpen(priv, eph, data[:eciesPubLen], nonce, sealed); err == nil {
			return string(plain), nil
		}
	}
	return "", errDotenvxDecrypt
}

// eciesOpen is eciesjs's decrypt with one key.
func eciesOpen(priv *secp256k1.PrivateKey, eph *secp256k1.PublicKey, ephRaw, nonce, sealed []byte) ([]byte, error) {
	var point, shared secp256k1.JacobianPoint
	eph.AsJacobian(&point)
	secp256k1.ScalarMultNonConst(&priv.Key, &point, &shared)
	shared.ToAffine()
	sharedRaw := secp256k1.NewPublicKey(&shared.X, &shared.Y).SerializeUncompressed()
	ikm := make([]byte, 0, len(ephRaw)+len(sharedRaw))
	ikm = append(append(ikm, ephRaw...), sharedRaw...)
	key, err := hkdf.Key(sha256.New, ikm, nil, "", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, eciesNonceLen)
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, nonce, sealed, nil)
}
