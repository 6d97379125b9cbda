package dns

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Owner identifies the DomainManager a record belongs to: the hub that wrote
// it and the DomainManager's member cluster, namespace and name.
type Owner struct {
	Hub       string
	Cluster   string
	Namespace string
	Name      string
}

// String renders the owner as hub/cluster/namespace/name.
func (o Owner) String() string {
	return o.Hub + "/" + o.Cluster + "/" + o.Namespace + "/" + o.Name
}

// Hash is the short hash that identifies the owner inside its marker: the
// first 16 hex digits of SHA-256 over the four fields. It is what ownership is
// decided on, so a marker whose readable part was truncated (or edited to
// look like someone else's) cannot pass for another owner.
func (o Owner) Hash() string {
	sum := sha256.Sum256([]byte("fleethub/v1\x00" + o.Hub + "\x00" + o.Cluster + "\x00" + o.Namespace + "\x00" + o.Name))
	return hex.EncodeToString(sum[:8])
}

// MarkerPrefix starts every owner marker.
const MarkerPrefix = "fleethub/"

// MaxCommentLength is the longest record comment fleethub writes: Cloudflare's
// limit on free zones (paid plans allow more).
const MaxCommentLength = 100

// truncatedSuffix ends a readable part that was cut to fit the comment.
const truncatedSuffix = "~"

// Marker is the owner marker fleethub puts in the comment of every record it
// writes: "fleethub/<hash> <hub>/<cluster>/<namespace>/<name>". The readable
// part is cut (and ends in "~") when the comment would exceed
// MaxCommentLength; the hash is never cut.
func Marker(o Owner) string {
	head := MarkerPrefix + o.Hash() + " "
	readable := o.String()
	if room := MaxCommentLength - len(head); len(readable) > room {
		readable = readable[:room-len(truncatedSuffix)] + truncatedSuffix
	}
	return head + readable
}

var markerRE = regexp.MustCompile(`^fleethub/([0-9a-f]{16}) (\S+)`)

// ParsedMarker is what a comment's owner marker says.
type ParsedMarker struct {
	// Hash identifies the owner (see Owner.Hash).
	Hash string
	// Readable is the hub/cluster/namespace/name part, possibly cut short
	// (then it ends in "~"). It is for people; ownership is decided on Hash.
	Readable string
}

// Truncated reports whether the readable part was cut to fit.
func (m ParsedMarker) Truncated() bool { return strings.HasSuffix(m.Readable, truncatedSuffix) }

// ParseMarker reads the owner marker at the start of a record comment.
func ParseMarker(comment string) (ParsedMarker, bool) {
	m := markerRE.FindStringSubmatch(strings.TrimSpace(comment))
	if m == nil {
		return ParsedMarker{}, false
	}
	return ParsedMarker{Hash: m[1], Readable: m[2]}, true
}

// OwnedBy reports whether comment carries o's marker: the hash must match,
// and the readable part must agree with o as far as it goes.
func OwnedBy(comment string, o Owner) bool {
	m, ok := ParseMarker(comment)
	if !ok || m.Hash != o.Hash() {
		return false
	}
	want := o.String()
	if m.Truncated() {
		return strings.HasPrefix(want, strings.TrimSuffix(m.Readable, truncatedSuffix))
	}
	return m.Readable == want
}

// HasMarker reports whether comment carries any fleethub owner marker.
func HasMarker(comment string) bool {
	_, ok := ParseMarker(comment)
	return ok
}

// DescribeOwner renders the owner a comment names, for condition messages.
func DescribeOwner(comment string) string {
	m, ok := ParseMarker(comment)
	if !ok {
		return "nobody (no fleethub marker)"
	}
	parts := strings.SplitN(strings.TrimSuffix(m.Readable, truncatedSuffix), "/", 4)
	if len(parts) == 4 && !m.Truncated() {
		return fmt.Sprintf("DomainManager %s/%s in cluster %s (hub %s)", parts[2], parts[3], parts[1], parts[0])
	}
	return fmt.Sprintf("%q (marker %s)", m.Readable, m.Hash)
}
