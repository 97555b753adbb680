package pgtest

import (
	"strings"
	"testing"
)

func TestDatabaseName(t *testing.T) {
	tests := []struct {
		test string
		n    int64
		want string
	}{
		{"TestApply", 1, "t_testapply_1"},
		{"TestApply/second run#01", 12, "t_testapply_second_run_01_12"},
		{"Test/ünïcode—and \"quotes\"", 3, "t_test_n_code_and_quotes_3"},
		{strings.Repeat("TestLong", 20), 123456, "t_" + strings.Repeat("testlong", 7)[:54] + "_123456"},
	}
	for _, tt := range tests {
		got := databaseName(tt.test, tt.n)
		if got != tt.want {
			t.Errorf("databaseName(%q, %d) = %q, want %q", tt.test, tt.n, got, tt.want)
		}
		if len(got) > 63 {
			t.Errorf("databaseName(%q) is %d bytes, more than 63", tt.test, len(got))
		}
	}
}
