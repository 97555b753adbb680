// Command splitschema gives every microservice its own PostgreSQL schema and
// roles in one shared database, so that one snapshot backs up them all.
package main

import (
	"os"

	"github.com/splitschema/splitschema/cli"
)

func main() { os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
