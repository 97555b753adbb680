package cli

import (
	"testing"

	"github.com/splitschema/splitschema/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
