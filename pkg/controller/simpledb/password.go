package simpledb

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// PasswordLength is the length of generated passwords: 32 characters of a
// 62-letter alphabet carry about 190 bits of entropy.
const PasswordLength = 32

// passwordAlphabet needs no escaping in URIs, shells, SQL or YAML.
const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// GeneratePassword returns a new password drawn uniformly from
// passwordAlphabet with crypto/rand.
func GeneratePassword() (string, error) {
	return generatePassword(rand.Reader, PasswordLength)
}

// generatePassword draws n characters from src. Bytes at or above the largest
// multiple of the alphabet size are rejected, so every character is equally
// likely (plain modulo would favour the first letters).
func generatePassword(src io.Reader, n int) (string, error) {
	if n <= 0 {
		return "", errors.New("password length must be positive")
	}
	const size = len(passwordAlphabet)
	const limit = 256 - 256%size
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := io.ReadFull(src, buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, passwordAlphabet[int(b)%size])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// CredentialsChecksum is the digest the pod template carries of the
// credentials it runs with; a different username or password gives a
// different digest, which rolls the pod.
func CredentialsChecksum(username, password string) string {
	h := sha256.New()
	h.Write([]byte(username))
	h.Write([]byte{0})
	h.Write([]byte(password))
	return hex.EncodeToString(h.Sum(nil))
}
