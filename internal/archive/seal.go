package archive

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Seal is manifest.json's own checksum and, when a key was configured,
// its signature. Both cover the manifest's body: the file as written, up to
// the seal itself. The body lists every other file's SHA-256, so a valid
// signature vouches for every byte of the backup.
type Seal struct {
	// SHA256 of the body: finds bit rot in manifest.json, not forgery
	// (whoever edits the file can compute it again).
	SHA256 string `json:"sha256"`
	// HMACSHA256 is HMAC-SHA256 of the body under the project's backup
	// key, hex; empty for an unsigned backup.
	HMACSHA256 string `json:"hmac_sha256,omitempty"`
	// KeyID names the key that signed (KeyID of Key), so that a backup
	// signed with another key says so.
	KeyID string `json:"key_id,omitempty"`
}

// sealMark is what separates the body from the seal in manifest.json.
var sealMark = []byte(",\n  \"seal\": ")

// MinKeyLen is the shortest backup key accepted, in bytes.
const MinKeyLen = 32

// Key is the secret that signs manifests (HMAC-SHA256).
type Key struct {
	secret []byte
	// ID names the key without revealing it: the start of an HMAC of a
	// fixed text under the key.
	ID string
	// Source says where it came from, for messages (never the key).
	Source string
}

// NewKey makes a Key of secret, which must be at least MinKeyLen bytes.
func NewKey(secret []byte, source string) (*Key, error) {
	if len(secret) < MinKeyLen {
		return nil, fmt.Errorf("backup key (%s) is %d bytes; it must be at least %d (for instance `openssl rand -hex 32`)", source, len(secret), MinKeyLen)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("splitschema backup key id"))
	return &Key{secret: bytes.Clone(secret), ID: hex.EncodeToString(mac.Sum(nil)[:8]), Source: source}, nil
}

func (k *Key) sign(body []byte) string {
	mac := hmac.New(sha256.New, k.secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// encode renders m as manifest.json: its body, then its seal, checksum of
// the body and, with a key, signature.
func encode(m *Manifest, key *Key) ([]byte, error) {
	m.Seal = nil
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	seal := &Seal{SHA256: hex.EncodeToString(sum[:])}
	if key != nil {
		seal.HMACSHA256, seal.KeyID = key.sign(body), key.ID
	}
	sealJSON, err := json.Marshal(seal)
	if err != nil {
		return nil, err
	}
	m.Seal, m.body = seal, body
	// body ends with "\n}": the seal goes in as the last key.
	out := append(bytes.Clone(body[:len(body)-2]), sealMark...)
	out = append(out, sealJSON...)
	return append(out, "\n}\n"...), nil
}

// ErrManifestChecksum is wrapped by Read's error when manifest.json does
// not match its own checksum: it was damaged (or edited).
var ErrManifestChecksum = errors.New("manifest.json does not match its own checksum")

// checkSeal finds the body of data, a manifest.json m was read from, and
// checks it against m's seal.
func checkSeal(data []byte, m *Manifest) error {
	i := bytes.LastIndex(data, sealMark)
	if m.Seal == nil || i < 0 {
		return fmt.Errorf("%w: it has no checksum (seal), which manifests of format %d always have", ErrManifestChecksum, m.Format)
	}
	body := append(bytes.Clone(data[:i]), "\n}"...)
	sum := sha256.Sum256(body)
	if got := hex.EncodeToString(sum[:]); got != m.Seal.SHA256 {
		return fmt.Errorf("%w: its SHA-256 is %s, its seal says %s: the file was damaged or edited", ErrManifestChecksum, short(got), short(m.Seal.SHA256))
	}
	m.body = body
	return nil
}

// Signature is what a manifest's signature check found.
type Signature string

// The outcomes of CheckSignature.
const (
	// SignatureValid: signed with the configured key, and it matches.
	SignatureValid Signature = "valid"
	// SignatureBad: signed, and it does not match the configured key.
	SignatureBad Signature = "bad"
	// SignatureOtherKey: signed with another key than the configured one.
	SignatureOtherKey Signature = "other key"
	// Unsigned: no signature (no key was configured at backup time, or
	// the manifest predates signing).
	Unsigned Signature = "unsigned"
	// SignatureNotChecked: signed, but no key is configured to check it.
	SignatureNotChecked Signature = "not checked"
)

// CheckSignature checks m's signature with key (nil: none configured).
func (m *Manifest) CheckSignature(key *Key) Signature {
	switch {
	case m.Seal == nil || m.Seal.HMACSHA256 == "":
		return Unsigned
	case key == nil:
		return SignatureNotChecked
	case m.Seal.KeyID != key.ID:
		return SignatureOtherKey
	case m.body == nil || !hmac.Equal([]byte(key.sign(m.body)), []byte(m.Seal.HMACSHA256)):
		return SignatureBad
	}
	return SignatureValid
}
