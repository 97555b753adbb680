// Command bench is `make bench`: splitschema measured against the plain
// PostgreSQL tools on the example shop (see internal/bench).
package main

import (
	"os"

	"github.com/splitschema/splitschema/internal/bench"
)

func main() { os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr)) }
