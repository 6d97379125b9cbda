package simpledb

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestGeneratePassword(t *testing.T) {
	tests := map[string]struct {
		src     io.Reader
		n       int
		want    string
		wantErr string
	}{
		"maps bytes onto the alphabet, wrapping at 62": {
			src: bytes.NewReader(append([]byte{0, 1, 25, 26, 51, 52, 61, 62, 123}, make([]byte, 32)...)), n: 8,
			want: "ABZaz09A",
		},
		"rejects bytes that would bias the alphabet": {
			// 248..255 are ≥ 4*62 and skipped; 247 maps to 247%62 = 61.
			src: bytes.NewReader(append(bytes.Repeat([]byte{255, 248}, 8), 247, 0, 0, 0)), n: 2,
			want: "9A",
		},
		"keeps reading until long enough": {
			src: io.MultiReader(bytes.NewReader(bytes.Repeat([]byte{250}, 100)), bytes.NewReader(bytes.Repeat([]byte{2}, 100))), n: 3,
			want: "CCC",
		},
		"random source fails": {
			src: iotest.ErrReader(errors.New("entropy exhausted")), n: 8, wantErr: "entropy exhausted",
		},
		"source runs dry": {
			src: bytes.NewReader([]byte{1, 2}), n: 8, wantErr: "reading random bytes",
		},
		"zero length": {
			src: bytes.NewReader(nil), n: 0, wantErr: "must be positive",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := generatePassword(tc.src, tc.n)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error %q, got %q, %v", tc.wantErr, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestGeneratePasswordFromCryptoRand(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	const n = 2000
	for range n {
		p, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) < 24 || len(p) != PasswordLength {
			t.Fatalf("length %d", len(p))
		}
		if strings.Trim(p, passwordAlphabet) != "" {
			t.Fatalf("%q has characters outside the URL-safe alphabet", p)
		}
		if seen[p] {
			t.Fatalf("password repeated: %q", p)
		}
		seen[p] = true
		for _, r := range p {
			counts[r]++
		}
	}
	// Every letter turns up, none wildly more often than the others
	// (expected 2000*32/62 ≈ 1032 each).
	if len(counts) != len(passwordAlphabet) {
		t.Errorf("only %d of %d letters used", len(counts), len(passwordAlphabet))
	}
	for r, c := range counts {
		if c < 800 || c > 1300 {
			t.Errorf("letter %q drawn %d times", r, c)
		}
	}
}

func TestCredentialsChecksum(t *testing.T) {
	tests := map[string]struct {
		a, b [2]string
		same bool
	}{
		"same credentials":     {[2]string{"postgres", "pw"}, [2]string{"postgres", "pw"}, true},
		"new password":         {[2]string{"postgres", "pw"}, [2]string{"postgres", "pw2"}, false},
		"other user":           {[2]string{"postgres", "pw"}, [2]string{"app", "pw"}, false},
		"no ambiguous joining": {[2]string{"ab", "c"}, [2]string{"a", "bc"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			x, y := CredentialsChecksum(tc.a[0], tc.a[1]), CredentialsChecksum(tc.b[0], tc.b[1])
			if (x == y) != tc.same || len(x) != 64 {
				t.Errorf("%s vs %s", x, y)
			}
		})
	}
}
