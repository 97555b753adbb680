package svcrestore_test

import (
	"os"
	"testing"

	"github.com/splitschema/splitschema/cli"
	"github.com/splitschema/splitschema/internal/pgtest"
)

// runCLIEnv makes the test binary the splitschema command, so that tests
// can run it as a process of its own and kill it.
const runCLIEnv = "SPLITSCHEMA_SVCRESTORE_TEST_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(runCLIEnv) == "1" {
		os.Exit(cli.Main(append([]string{"splitschema"}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr))
	}
	pgtest.Main(m)
}
