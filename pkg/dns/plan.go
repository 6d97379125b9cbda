package dns

import (
	"sort"
	"strings"
)

// PlanInput is everything Plan decides on.
type PlanInput struct {
	// Desired is the record the DomainManager asks for (ID and Comment ignored).
	Desired Record
	// Owner is the DomainManager; its marker goes into the comment.
	Owner Owner
	// Adopt lets the plan take over one unmarked record of the same name and type.
	Adopt bool
	// Inherit are owners whose records at the desired name are ours: the
	// holders a hub claim passed on from (their DomainManager or member is
	// gone). Their markers are replaced by ours.
	Inherit []Owner
	// PreferID is the record the DomainManager last owned (status.recordID):
	// if duplicates carrying our marker exist, this one is kept.
	PreferID string
	// Records are the provider's records in the zone (any names).
	Records []Record
}

// Blocked says why a plan cannot put the desired record in place.
type Blocked string

const (
	// NotBlocked: nothing is in the way.
	NotBlocked Blocked = ""
	// BlockedUnmanaged: a record without a fleethub marker is in the way.
	BlockedUnmanaged Blocked = "Unmanaged"
	// BlockedForeign: a record with another owner's marker is in the way.
	BlockedForeign Blocked = "Foreign"
)

// Plan is the set of writes that bring the provider in line with a
// DomainManager. Deletes run first (a CNAME we owned must go before an A
// record of the same name can be created), then updates, then the create.
type Plan struct {
	// Delete are records carrying our marker that are no longer wanted:
	// duplicates, or records for a previous name or type.
	Delete []Record
	// Update are existing records rewritten to the desired state (with our
	// marker); an adopted record is updated too.
	Update []Record
	// Create is the record to create, if we own none.
	Create *Record
	// Current is our record when it is already as desired (no write needed).
	Current *Record
	// Adopted is set when Update takes over an unmarked record.
	Adopted bool
	// Blocked and Blocker say what stands in the way, if anything.
	Blocked Blocked
	Blocker *Record
}

// Writes is the number of provider writes the plan makes.
func (p Plan) Writes() int {
	n := len(p.Delete) + len(p.Update)
	if p.Create != nil {
		n++
	}
	return n
}

// Clashes reports whether records of types a and b cannot both be claimed at
// one name: the same type (fleethub owns a name+type as a whole), or a CNAME
// next to anything (DNS forbids it).
func Clashes(a, b string) bool {
	return strings.EqualFold(a, b) || strings.EqualFold(a, TypeCNAME) || strings.EqualFold(b, TypeCNAME)
}

// MakePlan compares what a DomainManager wants with the provider's records.
// It never touches a record without our marker unless adopting it, and never
// one with another owner's marker. It is pure: same input, same plan.
func MakePlan(in PlanInput) Plan {
	want := in.Desired
	want.ID = ""
	want.Name = NormalizeName(want.Name)
	want.Comment = Marker(in.Owner)

	var matching, stale, blockers []Record
	for _, r := range in.Records {
		switch {
		case OwnedBy(r.Comment, in.Owner) || (SameName(r.Name, want.Name) && ownedByAny(r.Comment, in.Inherit)):
			if SameName(r.Name, want.Name) && strings.EqualFold(r.Type, want.Type) {
				matching = append(matching, r)
			} else {
				stale = append(stale, r)
			}
		case SameName(r.Name, want.Name) && Clashes(r.Type, want.Type):
			blockers = append(blockers, r)
		}
	}
	sort.SliceStable(matching, func(i, j int) bool {
		pi, pj := matching[i].ID == in.PreferID, matching[j].ID == in.PreferID
		if pi != pj {
			return pi
		}
		return matching[i].ID < matching[j].ID
	})
	sortByID(stale)
	sortByID(blockers)

	var p Plan
	p.Delete = append(p.Delete, stale...)
	if len(matching) > 0 {
		keep := matching[0]
		p.Delete = append(p.Delete, matching[1:]...)
		if InSync(want, keep) {
			p.Current = &keep
		} else {
			upd := want
			upd.ID = keep.ID
			p.Update = append(p.Update, upd)
		}
		return p
	}
	if len(blockers) > 0 {
		for i := range blockers {
			if HasMarker(blockers[i].Comment) {
				p.Blocked, p.Blocker = BlockedForeign, &blockers[i]
				return p
			}
		}
		if in.Adopt && len(blockers) == 1 && strings.EqualFold(blockers[0].Type, want.Type) {
			upd := want
			upd.ID = blockers[0].ID
			p.Update = append(p.Update, upd)
			p.Adopted = true
			return p
		}
		p.Blocked, p.Blocker = BlockedUnmanaged, &blockers[0]
		return p
	}
	p.Create = &want
	return p
}

// Owned returns the records in records that carry o's marker.
func Owned(records []Record, o Owner) []Record {
	var out []Record
	for _, r := range records {
		if OwnedBy(r.Comment, o) {
			out = append(out, r)
		}
	}
	sortByID(out)
	return out
}

func sortByID(rs []Record) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
}

func ownedByAny(comment string, owners []Owner) bool {
	for _, o := range owners {
		if OwnedBy(comment, o) {
			return true
		}
	}
	return false
}
