package secrets

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// scramIterations is PostgreSQL's default (scram_iterations).
const scramIterations = 4096

// Verifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for pw, with
// a fresh salt, in the form of pg_authid.rolpassword. Handing the server the
// verifier (ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...') instead of the
// password keeps the password itself off the wire and out of server logs.
// pw must pass Check (ASCII needs no SASLprep).
func Verifier(pw string) (string, error) {
	return verifier(pw, scramIterations)
}

// oneRunIterations is the iteration count of OneRunVerifier.
const oneRunIterations = 64

// OneRunVerifier is Verifier for a password made by Generate for one run
// and cleared after it (a migrator's login): its iteration count is low.
// Iterations slow down guessing a password a person chose; against 32
// random characters guessing is hopeless at any count, while every login
// pays the count twice, on the client and on the server, and a run logs
// in once per migration file.
func OneRunVerifier(pw string) (string, error) {
	return verifier(pw, oneRunIterations)
}

func verifier(pw string, iterations int) (string, error) {
	if err := Check(pw); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	stored, server, err := scramKeys(pw, salt, iterations)
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored), b64(server)), nil
}

func scramKeys(pw string, salt []byte, iter int) (stored, server []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, pw, salt, iter, sha256.Size)
	if err != nil {
		return nil, nil, err
	}
	clientKey := hmacSum(salted, "Client Key")
	sum := sha256.Sum256(clientKey)
	return sum[:], hmacSum(salted, "Server Key"), nil
}

func hmacSum(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// Matches reports whether verifier, as stored in pg_authid.rolpassword for
// role user, accepts pw. It understands SCRAM-SHA-256 and md5 verifiers; an
// empty or unknown verifier matches nothing.
func Matches(verifier, user, pw string) bool {
	switch {
	case strings.HasPrefix(verifier, "SCRAM-SHA-256$"):
		// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
		head, keys, ok := strings.Cut(strings.TrimPrefix(verifier, "SCRAM-SHA-256$"), "$")
		if !ok {
			return false
		}
		iterText, saltText, ok1 := strings.Cut(head, ":")
		storedText, serverText, ok2 := strings.Cut(keys, ":")
		iter, err := strconv.Atoi(iterText)
		if !ok1 || !ok2 || err != nil || iter < 1 || iter > 1<<24 {
			return false
		}
		dec := base64.StdEncoding.DecodeString
		salt, err1 := dec(saltText)
		wantStored, err2 := dec(storedText)
		wantServer, err3 := dec(serverText)
		if err1 != nil || err2 != nil || err3 != nil {
			return false
		}
		stored, server, err := scramKeys(pw, salt, iter)
		if err != nil {
			return false
		}
		return subtle.ConstantTimeCompare(stored, wantStored) == 1 && subtle.ConstantTimeCompare(server, wantServer) == 1
	case strings.HasPrefix(verifier, "md5") && len(verifier) == 35:
		sum := md5.Sum([]byte(pw + user))
		return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(verifier[3:])) == 1
	}
	return false
}
