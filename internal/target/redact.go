package target

import "regexp"

var (
	urlPassword = regexp.MustCompile(`(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@`)
	kvPassword  = regexp.MustCompile(`(password=)('(?:[^'\\]|\\.)*'|\S+)`)
)

// Redact hides passwords in a connection string or in a message that holds
// one, so the text can go to a log or an error.
func Redact(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}xxxxx@")
	return kvPassword.ReplaceAllString(s, "${1}xxxxx")
}

// redacted wraps an error so that its message is redacted while errors.As
// still reaches the cause (a *pgconn.PgError, for example).
type redacted struct{ err error }

func (r redacted) Error() string { return Redact(r.err.Error()) }
func (r redacted) Unwrap() error { return r.err }
