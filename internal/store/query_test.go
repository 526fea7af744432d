package store

import "testing"

func TestFoldASCII(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "ABC-Déf": "abc-déf", "ÀÉ": "ÀÉ", "Ǆ": "Ǆ", "İ": "İ", "K\u212a": "k\u212a"} {
		if got := FoldASCII(in); got != want {
			t.Errorf("FoldASCII(%q) = %q, want %q (ASCII letters only)", in, got, want)
		}
	}
}
