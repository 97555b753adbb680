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
