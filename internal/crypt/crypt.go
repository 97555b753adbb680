// Package crypt encrypts backup files at rest with age (filippo.io/age):
// each file on its own, to the recipients named in splitschema.yaml, and
// decrypts them with an identity given by file or environment variable,
// never on the command line.
//
// A lost identity is a lost backup: nothing here, or anywhere, can read an
// encrypted file without one of its recipients' identities.
package crypt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// Environment variables that give the identity for restore.
const (
	// IdentityEnv holds the identity itself (AGE-SECRET-KEY-1...).
	IdentityEnv = "SPLITSCHEMA_AGE_IDENTITY"
	// IdentityFileEnv names a file of identities, as age-keygen writes.
	IdentityFileEnv = "SPLITSCHEMA_AGE_IDENTITY_FILE"
)

// ParseRecipients reads age recipients (age1...). It refuses an empty list
// and anything that is not a recipient, quoting only the recipient, which is
// public.
func ParseRecipients(rs []string) ([]age.Recipient, error) {
	if len(rs) == 0 {
		return nil, errors.New("encryption: no recipient; name at least one age1... public key")
	}
	out := make([]age.Recipient, 0, len(rs))
	for _, r := range rs {
		r = strings.TrimSpace(r)
		if strings.HasPrefix(r, "AGE-SECRET-KEY-") {
			return nil, errors.New("encryption: a recipient is an AGE-SECRET-KEY: that is the private identity, which must never be in splitschema.yaml; name its public key (age-keygen -y) instead, and treat the identity as exposed")
		}
		x, err := age.ParseX25519Recipient(r)
		if err != nil {
			return nil, fmt.Errorf("encryption: recipient %q: %w", r, err)
		}
		out = append(out, x)
	}
	return out, nil
}

// Encrypt returns a writer that encrypts to recipients into w. Close it to
// finish the file; closing does not close w.
func Encrypt(w io.Writer, recipients []age.Recipient) (io.WriteCloser, error) {
	ew, err := age.Encrypt(w, recipients...)
	if err != nil {
		return nil, fmt.Errorf("encryption: %w", err)
	}
	return ew, nil
}

// Decrypt returns a reader of r's plaintext. It reads r's header first, so a
// file none of the identities can open fails here, before any plaintext is
// read.
func Decrypt(r io.Reader, identities []age.Identity) (io.Reader, error) {
	dr, err := age.Decrypt(r, identities...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, fmt.Errorf("decryption: the identity given is not one this backup was encrypted to (wrong identity, or a lost one: without the right identity the backup cannot be read)")
		}
		return nil, fmt.Errorf("decryption: %w", err)
	}
	return dr, nil
}

// LoadIdentities reads the identities for restore from file (a setting;
// readable by its owner only), else the file named by SPLITSCHEMA_AGE_IDENTITY_FILE, else the
// identity in SPLITSCHEMA_AGE_IDENTITY. Errors never hold the identity.
func LoadIdentities(file string) ([]age.Identity, error) {
	source := "identity file " + file
	var data []byte
	switch {
	case file != "":
	case os.Getenv(IdentityFileEnv) != "":
		file = os.Getenv(IdentityFileEnv)
		source = IdentityFileEnv + "=" + file
	case os.Getenv(IdentityEnv) != "":
		data = []byte(os.Getenv(IdentityEnv))
		source = IdentityEnv
	default:
		return nil, fmt.Errorf("decryption: the backup is encrypted and no identity was given: set encryption.identity_file in splitschema.yaml, %s or %s", IdentityFileEnv, IdentityEnv)
	}
	if data == nil {
		fi, err := os.Stat(file)
		if err != nil {
			return nil, fmt.Errorf("decryption: %s: %w", source, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("decryption: %s is readable by others (mode %v): chmod 600 it, and treat the identity as exposed if others could read it", source, fi.Mode().Perm())
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("decryption: %s: %w", source, err)
		}
		data = b
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		// age's parse errors may quote a line: give only the source.
		return nil, fmt.Errorf("decryption: %s holds no valid age identity (AGE-SECRET-KEY-1..., one a line, # comments)", source)
	}
	return ids, nil
}
