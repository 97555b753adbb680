// Package secrets keeps the passwords of the services' application roles.
//
// A service's password comes from the environment variable
// SPLITSCHEMA_PASSWORD_<SERVICE> (the service name upper-cased) when it is
// set, else from <project>/.splitschema/secrets/<service>.env, a file of
// mode 0600 in a folder of mode 0700 that holds
//
//	DATABASE_URL=postgres://<service>_app:<password>@host:port/<database>?sslmode=...
//	# verifier: SCRAM-SHA-256$4096:...
//
// so that an application can read it as an env file; the comment records
// the verifier the server was given, so that a plan can tell the password
// is unchanged without deriving its keys again. Provisioning writes it
// whenever it sets a password. Passwords never go to argv, logs or errors.
package secrets

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Dir is the folder, relative to the project, that holds the secrets files.
const Dir = ".splitschema/secrets"

// urlKey is the variable the secrets file sets.
const urlKey = "DATABASE_URL"

// ErrNoPassword is returned by Password and URL when a service has neither
// its environment variable nor a secrets file.
var ErrNoPassword = errors.New("no password")

// Source says where a password came from.
type Source string

// The sources of a password.
const (
	FromEnv  Source = "env"
	FromFile Source = "file"
)

// Describe names, for messages, where svc's password from src came from:
// its environment variable or the secrets file.
func (src Source) Describe(svc string) string {
	if src == FromEnv {
		return EnvVar(svc)
	}
	return "the secrets file"
}

// EnvVar is the environment variable that sets svc's password.
func EnvVar(svc string) string {
	return "SPLITSCHEMA_PASSWORD_" + strings.ToUpper(svc)
}

// Path is svc's secrets file in the project folder dir.
func Path(dir, svc string) string {
	return filepath.Join(dir, Dir, svc+".env")
}

// Password returns svc's application password: SPLITSCHEMA_PASSWORD_<SVC>
// when set, else the password in <dir>/.splitschema/secrets/<svc>.env.
// Without either it returns an error wrapping ErrNoPassword.
func Password(dir, svc string) (string, error) {
	pw, _, err := Lookup(dir, svc)
	return pw, err
}

// Lookup is Password that also says where the password came from.
func Lookup(dir, svc string) (string, Source, error) {
	if pw, ok := os.LookupEnv(EnvVar(svc)); ok && pw != "" {
		if err := Check(pw); err != nil {
			return "", "", fmt.Errorf("%s: %w", EnvVar(svc), err)
		}
		return pw, FromEnv, nil
	}
	pw, err := FilePassword(dir, svc)
	if err != nil {
		return "", "", err
	}
	return pw, FromFile, nil
}

// FilePassword returns the password in svc's secrets file, ignoring the
// environment.
func FilePassword(dir, svc string) (string, error) {
	u, err := URL(dir, svc)
	if err != nil {
		return "", err
	}
	pw, err := passwordOf(u)
	if err != nil {
		return "", fmt.Errorf("%s: %w", Path(dir, svc), err)
	}
	return pw, nil
}

// verifierPrefix starts the comment line that records the verifier.
const verifierPrefix = "# verifier: "

// Recorded returns the password in svc's secrets file and the verifier
// recorded with it ("", "" when there is none): when the server still stores
// that verifier, the password is unchanged.
func Recorded(dir, svc string) (password, verifier string) {
	data, err := os.ReadFile(Path(dir, svc))
	if err != nil {
		return "", ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, urlKey+"="); ok {
			password, _ = passwordOf(v)
		}
		if v, ok := strings.CutPrefix(line, verifierPrefix); ok {
			verifier = v
		}
	}
	if password == "" {
		return "", ""
	}
	return password, verifier
}

// URL returns the connection URL in svc's secrets file. It holds the
// password: print it only on purpose.
func URL(dir, svc string) (string, error) {
	path := Path(dir, svc)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("service %s: %w: %s is not set and %s does not exist (`splitschema provision` writes it)",
			svc, ErrNoPassword, EnvVar(svc), path)
	}
	if err != nil {
		return "", fmt.Errorf("read secrets of %s: %w", svc, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), urlKey+"="); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s: no %s= line", path, urlKey)
}

func passwordOf(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		// url.Error would repeat the URL, password included.
		return "", fmt.Errorf("%s is not a postgres:// URL with a user", urlKey)
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return "", fmt.Errorf("%s holds no password", urlKey)
	}
	return pw, nil
}

// Check accepts passwords of printable ASCII without spaces, 8 to 200
// bytes long: they need no SASLprep, so a verifier computed here is the one
// the server would compute.
func Check(pw string) error {
	if len(pw) < 8 || len(pw) > 200 {
		return fmt.Errorf("the password must be 8 to 200 characters long, it has %d", len(pw))
	}
	for _, c := range []byte(pw) {
		if c <= ' ' || c > '~' {
			return errors.New("the password may only hold printable ASCII characters, without spaces")
		}
	}
	return nil
}

// alphabet is what Generate draws from: letters and digits need no quoting
// in a URL, a shell or an env file.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Generate returns a new random password of 32 letters and digits (about
// 190 bits), drawn from crypto/rand.
func Generate() string {
	b := make([]byte, 32)
	for i := range b {
		var one [1]byte
		for {
			_, _ = rand.Read(one[:])                 // crypto/rand.Read never fails
			if int(one[0]) < 256-256%len(alphabet) { // no modulo bias
				break
			}
		}
		b[i] = alphabet[int(one[0])%len(alphabet)]
	}
	return string(b)
}
