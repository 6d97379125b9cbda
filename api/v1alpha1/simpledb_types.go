package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PostgreSQL major versions a SimpleDB can run. The newest is the default for
// new SimpleDBs; an existing SimpleDB keeps the major it was created with.
const (
	PostgresVersion14      = "14"
	PostgresVersion15      = "15"
	PostgresVersion16      = "16"
	PostgresVersion17      = "17"
	PostgresVersion18      = "18"
	DefaultPostgresVersion = PostgresVersion18
)

// SimpleDBDeletionPolicy says what happens to the data when a SimpleDB is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type SimpleDBDeletionPolicy string

const (
	// SimpleDBRetain keeps the PersistentVolumeClaim and the credentials Secret
	// so a SimpleDB of the same name adopts them again. They never carry an
	// owner reference to the SimpleDB (the member's garbage collector would
	// delete them under foreground or background deletion while the hub is
	// away); their owner is recorded in annotations instead.
	SimpleDBRetain SimpleDBDeletionPolicy = "Retain"
	// SimpleDBDelete deletes every child, data included.
	SimpleDBDelete SimpleDBDeletionPolicy = "Delete"
)

// SimpleDB condition types, next to the shared Ready, Available and Degraded.
const (
	// ConditionStorageReady is True when the data claim is bound at the requested size.
	ConditionStorageReady = "StorageReady"
	// ConditionCredentialsReady is True when the credentials Secret exists and is usable.
	ConditionCredentialsReady = "CredentialsReady"
)

// SimpleDB condition reasons. Like the shared ones they are CamelCase and stable.
const (
	ReasonClaimBound            = "ClaimBound"
	ReasonClaimPending          = "ClaimPending"
	ReasonClaimLost             = "ClaimLost"
	ReasonClaimMissing          = "ClaimMissing"
	ReasonClaimConflict         = "ClaimConflict"
	ReasonResizing              = "Resizing"
	ReasonExpansionNotSupported = "ExpansionNotSupported"
	ReasonExpansionPending      = "ExpansionPending"
	ReasonSecretReady           = "SecretReady"
	ReasonSecretMissing         = "SecretMissing"
	ReasonSecretConflict        = "SecretConflict"
	ReasonInvalidCredentials    = "InvalidCredentials"
	ReasonServiceMissing        = "ServiceMissing"
	ReasonDataRetained          = "DataRetained"
	ReasonDataAdopted           = "DataAdopted"
)

// AnnotationPostgresMajor on a SimpleDB's data claim records the PostgreSQL
// major version whose data it holds, so a SimpleDB of another major never
// adopts it (PostgreSQL cannot open another major's data directory).
const AnnotationPostgresMajor = "app.54b3r.io/postgres-major"

// SimpleDBSpec is the desired state of a SimpleDB: one single-node PostgreSQL
// server with its data on a PersistentVolumeClaim.
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="storageClassName cannot be changed after creation: the data volume is already provisioned from its class"
type SimpleDBSpec struct {
	// StorageSize is the size of the data volume, e.g. "10Gi". It can grow (if
	// the StorageClass allows volume expansion) but never shrink.
	// +kubebuilder:default="1Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="storageSize must be greater than zero"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",message="storageSize cannot be decreased: a PersistentVolumeClaim can grow but never shrink"
	// +optional
	StorageSize *resource.Quantity `json:"storageSize,omitempty"`

	// DatabaseName is the database created for the application. When omitted
	// it is the SimpleDB's name with '-' replaced by '_'. It cannot be changed
	// after creation.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="!(self in ['template0', 'template1'])",message="databaseName must not be a PostgreSQL template database"
	// +optional
	DatabaseName string `json:"databaseName,omitempty"`

	// PostgresVersion is the PostgreSQL major version. It cannot be changed in
	// place: major upgrades need a dump and restore into a new SimpleDB.
	// +kubebuilder:validation:Enum="14";"15";"16";"17";"18"
	// +kubebuilder:default="18"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="postgresVersion cannot be changed: major upgrades are not done in place; create a new SimpleDB with the new version and move the data (pg_dump/pg_restore)"
	// +optional
	PostgresVersion string `json:"postgresVersion,omitempty"`

	// StorageClassName selects the StorageClass of the data volume; the
	// cluster's default class is used when omitted. Fixed at creation.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`

	// Resources are the PostgreSQL container's compute requests and limits.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// DeletionPolicy decides the fate of the data volume and the credentials
	// when the SimpleDB is deleted: Retain (default) keeps both so a SimpleDB
	// of the same name picks them up again; Delete removes them.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy SimpleDBDeletionPolicy `json:"deletionPolicy,omitempty"`
}

// SimpleDBStatus is what fleethub last observed of the SimpleDB's children.
type SimpleDBStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Ready is true when PostgreSQL is available behind its Service
	// (the Ready condition, as a boolean for simple clients).
	// +kubebuilder:default=false
	// +optional
	Ready bool `json:"ready"`

	// ServiceName is the Service in front of PostgreSQL, once it exists.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceName string `json:"serviceName,omitempty"`

	// SecretName is the Secret holding the connection credentials (keys
	// username, password, database, host, port, uri), once it exists.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// Endpoint is host:port of PostgreSQL inside the member cluster.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Database is the name of the application database.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Database string `json:"database,omitempty"`

	// Capacity is the size of the data volume as reported by its claim.
	// +optional
	Capacity *resource.Quantity `json:"capacity,omitempty"`

	// Conditions: Ready (summary), Available, StorageReady, CredentialsReady, Degraded.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SimpleDB is a single-node PostgreSQL server in the member cluster it is
// applied in: a credentials Secret, a data PersistentVolumeClaim, a Deployment
// and a Service.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=fleethub,shortName=sdb
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && self.metadata.name.size() <= 63",message="metadata.name must start with a letter, contain only lowercase letters, digits and '-', and be at most 63 characters: it names the Service and the default database"
// +kubebuilder:validation:XValidation:rule="(has(self.spec.databaseName) ? self.spec.databaseName : self.metadata.name.replace('-', '_')) == (has(oldSelf.spec.databaseName) ? oldSelf.spec.databaseName : oldSelf.metadata.name.replace('-', '_'))",message="spec.databaseName cannot be changed after creation: the database already exists under its first name; create a new SimpleDB to use another one"
// +kubebuilder:printcolumn:name="Version",type="string",JSONPath=".spec.postgresVersion"
// +kubebuilder:printcolumn:name="Storage",type="string",JSONPath=".spec.storageSize"
// +kubebuilder:printcolumn:name="Ready",type="boolean",JSONPath=".status.ready"
// +kubebuilder:printcolumn:name="Endpoint",type="string",JSONPath=".status.endpoint",priority=1
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].reason",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type SimpleDB struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={}
	Spec   SimpleDBSpec   `json:"spec"`
	Status SimpleDBStatus `json:"status,omitempty"`
}

// SimpleDBList is a list of SimpleDBs.
// +kubebuilder:object:root=true
type SimpleDBList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SimpleDB `json:"items"`
}

func init() {
	register(&SimpleDB{}, &SimpleDBList{})
}
