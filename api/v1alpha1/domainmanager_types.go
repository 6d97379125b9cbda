package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DNSRecordType is a DNS record type a DomainManager can manage.
// +kubebuilder:validation:Enum=A;AAAA;CNAME;TXT
type DNSRecordType string

// Record types.
const (
	DNSRecordA     DNSRecordType = "A"
	DNSRecordAAAA  DNSRecordType = "AAAA"
	DNSRecordCNAME DNSRecordType = "CNAME"
	DNSRecordTXT   DNSRecordType = "TXT"
)

// Annotations a DomainManager (or the hub) is steered with.
const (
	// AnnotationDNSAdopt, set to "true" on a DomainManager, lets it take over
	// a pre-existing record of the same name and type that carries no owner
	// marker, where the hub DNS policy allows the member to adopt. Without
	// both such a record is left alone (RecordExistsUnmanaged).
	AnnotationDNSAdopt = "app.54b3r.io/dns-adopt"
	// AnnotationDNSDeletionPolicy, set to "Orphan" on a DomainManager, makes
	// its deletion leave the record at the provider (with its owner marker)
	// instead of deleting it. It also releases a finalizer that is stuck
	// because the provider is failing.
	AnnotationDNSDeletionPolicy = "app.54b3r.io/dns-deletion-policy"
	// DNSDeletionPolicyOrphan is the value of AnnotationDNSDeletionPolicy
	// that keeps the record.
	DNSDeletionPolicyOrphan = "Orphan"
	// AnnotationDNSAllowedSuffixes was the per-member DNS policy on a
	// member's kubeconfig Secret. It is retired and ignored (a Secret that
	// still has it gets a Warning Event): whoever may register a member
	// could grant it any name. Policy lives in the hub's DNS policy
	// ConfigMap (--dns-policy-configmap).
	AnnotationDNSAllowedSuffixes = "app.54b3r.io/dns-allowed-suffixes"
)

// DomainManager condition reasons (on the Ready condition).
const (
	// ReasonRecordSynced: the record exists at the provider as specified.
	ReasonRecordSynced = "RecordSynced"
	// ReasonRecordExistsUnmanaged: a record of that name (and a clashing
	// type) exists without fleethub's owner marker; it is left alone unless
	// the adopt annotation is set.
	ReasonRecordExistsUnmanaged = "RecordExistsUnmanaged"
	// ReasonConflict: another DomainManager (in any member) holds the hub's
	// claim on the name (or on the base of an underscore name), or the
	// record carries another owner's marker.
	ReasonConflict = "Conflict"
	// ReasonDomainNotAllowed: the member may not claim this name (hub policy).
	ReasonDomainNotAllowed = "DomainNotAllowed"
	// ReasonZoneNotFound: no zone visible to the credentials contains the name.
	ReasonZoneNotFound = "ZoneNotFound"
	// ReasonCredentialsMissing: the hub's DNS credentials Secret (or its key) is missing.
	ReasonCredentialsMissing = "CredentialsMissing"
	// ReasonCredentialsInvalid: the DNS provider rejected the credentials.
	ReasonCredentialsInvalid = "CredentialsInvalid"
	// ReasonZoneForbidden: the credentials are valid but may not edit this
	// zone or record; other zones are unaffected.
	ReasonZoneForbidden = "ZoneForbidden"
	// ReasonRateLimited: the DNS provider rate-limits the hub; retried later.
	ReasonRateLimited = "RateLimited"
	// ReasonProviderError: the DNS provider failed (5xx, timeout, network).
	ReasonProviderError = "ProviderError"
	// ReasonRecordRejected: the DNS provider refused the record as specified.
	ReasonRecordRejected = "RecordRejected"
	// ReasonDeletionBlocked: the record could not be deleted yet; the
	// finalizer stays until it is (or the deletion policy is Orphan).
	ReasonDeletionBlocked = "DeletionBlocked"
)

// DomainManagerSpec is one DNS record fleethub keeps at the hub's DNS provider.
// +kubebuilder:validation:XValidation:rule="self.recordType != 'A' || (isIP(self.value) && ip(self.value).family() == 4)",message="value of an A record must be an IPv4 address"
// +kubebuilder:validation:XValidation:rule="self.recordType != 'AAAA' || (isIP(self.value) && ip(self.value).family() == 6)",message="value of an AAAA record must be an IPv6 address"
// +kubebuilder:validation:XValidation:rule="self.recordType != 'CNAME' || (self.value.size() <= 254 && self.value.matches('^([a-zA-Z0-9_]([-a-zA-Z0-9_]{0,61}[a-zA-Z0-9_])?\\\\.)+[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?\\\\.?$'))",message="value of a CNAME record must be a hostname"
// +kubebuilder:validation:XValidation:rule="self.recordType != 'CNAME' || !(self.value.lowerAscii() in [self.domainName.lowerAscii(), self.domainName.lowerAscii() + '.'])",message="a CNAME record must not point to itself"
// +kubebuilder:validation:XValidation:rule="!has(self.proxied) || !self.proxied || self.recordType in ['A', 'AAAA', 'CNAME']",message="only A, AAAA and CNAME records can be proxied"
// +kubebuilder:validation:XValidation:rule="!has(self.proxied) || !self.proxied || !has(self.ttl) || self.ttl == 1",message="a proxied record must have ttl 1 (automatic)"
// +kubebuilder:validation:XValidation:rule="!has(self.zone) || self.domainName.lowerAscii() == self.zone.lowerAscii() || self.domainName.lowerAscii().endsWith('.' + self.zone.lowerAscii())",message="domainName must be inside zone"
type DomainManagerSpec struct {
	// DomainName is the fully qualified name of the record, without a
	// trailing dot, e.g. "shop.example.com". A leading "*." makes a wildcard
	// record. Compared case-insensitively.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^(\\\\*\\\\.)?([a-zA-Z0-9_]([-a-zA-Z0-9_]{0,61}[a-zA-Z0-9_])?\\\\.)+[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$')",message="domainName must be a fully qualified hostname: dot-separated labels of at most 63 letters, digits, '-' or '_', no trailing dot"
	DomainName string `json:"domainName"`

	// RecordType is A, AAAA, CNAME or TXT.
	RecordType DNSRecordType `json:"recordType"`

	// Value is the record content: an IPv4 address (A), an IPv6 address
	// (AAAA), a hostname (CNAME) or text (TXT).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Value string `json:"value"`

	// TTL in seconds: 1 means automatic, otherwise 60 to 86400.
	// +kubebuilder:default=1
	// +kubebuilder:validation:XValidation:rule="self == 1 || (self >= 60 && self <= 86400)",message="ttl must be 1 (automatic) or between 60 and 86400"
	// +optional
	TTL int32 `json:"ttl,omitempty"`

	// Proxied routes traffic through the provider's proxy (Cloudflare).
	// Only A, AAAA and CNAME records; requires ttl 1.
	// +kubebuilder:default=false
	// +optional
	Proxied bool `json:"proxied,omitempty"`

	// Zone is the DNS zone to write in, e.g. "example.com". When omitted,
	// the longest zone visible to the hub's credentials that contains
	// domainName is used.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^([a-zA-Z0-9_]([-a-zA-Z0-9_]{0,61}[a-zA-Z0-9_])?\\\\.)*[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$')",message="zone must be a domain name without a trailing dot"
	// +optional
	Zone string `json:"zone,omitempty"`
}

// DomainManagerStatus is what fleethub last observed at the DNS provider.
type DomainManagerStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// FQDN is the normalized (lower-case) name of the record.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	FQDN string `json:"fqdn,omitempty"`

	// Zone is the name of the zone the record is written in.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Zone string `json:"zone,omitempty"`

	// ZoneID is the provider's id of that zone. It is set once fleethub
	// first writes there; deletion cleans up in this zone.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	ZoneID string `json:"zoneID,omitempty"`

	// RecordID is the provider's id of the record fleethub owns for this
	// DomainManager; empty while it owns none.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	RecordID string `json:"recordID,omitempty"`

	// LastSyncTime is when fleethub last changed the record at the provider,
	// or first found it as specified. Periodic checks that find nothing to
	// change do not move it, so a converged object is never rewritten.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// Conditions: Ready, with a reason for every way the record can fail to
	// be in place (RecordExistsUnmanaged, Conflict, DomainNotAllowed, ...).
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// DomainManager keeps one DNS record at the hub's DNS provider (Cloudflare)
// for as long as it exists in a member cluster.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=fleethub,shortName=dm
// +kubebuilder:printcolumn:name="Domain",type="string",JSONPath=".spec.domainName"
// +kubebuilder:printcolumn:name="Type",type="string",JSONPath=".spec.recordType"
// +kubebuilder:printcolumn:name="Value",type="string",JSONPath=".spec.value"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].reason",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type DomainManager struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DomainManagerSpec   `json:"spec"`
	Status DomainManagerStatus `json:"status,omitempty"`
}

// DomainManagerList is a list of DomainManagers.
// +kubebuilder:object:root=true
type DomainManagerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DomainManager `json:"items"`
}

func init() {
	register(&DomainManager{}, &DomainManagerList{})
}
