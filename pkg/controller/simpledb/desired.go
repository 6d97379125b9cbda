package simpledb

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/childmeta"
)

// DefaultImageRepository is the image repository of PostgreSQL when the hub
// configures none; the tag is the SimpleDB's major version.
const DefaultImageRepository = "postgres"

const (
	componentName = "simpledb"

	// Username is the database role applications connect as. The official
	// image creates it as the superuser of an empty data directory.
	Username = "postgres"
	// Port is PostgreSQL's port in the container and on the Service.
	Port     = 5432
	portName = "postgres"

	// SecretType marks the credentials for Service Binding
	// (servicebinding.io/spec): workloads can project them as they are.
	SecretType corev1.SecretType = "servicebinding.io/postgresql"

	// Keys of the credentials Secret.
	KeyUsername = "username"
	KeyPassword = "password"
	KeyDatabase = "database"
	KeyHost     = "host"
	KeyPort     = "port"
	KeyURI      = "uri"
	KeyType     = "type"
	KeyProvider = "provider"

	bindingType     = "postgresql"
	bindingProvider = "fleethub"

	// ChecksumAnnotation on the pod template holds a digest of the
	// credentials: when they change the pod is replaced, and its init
	// container applies the new password to the existing data directory.
	ChecksumAnnotation = "app.54b3r.io/credentials-checksum"

	// DataMountPath is where the claim is mounted; PGDATA is a subdirectory,
	// because a volume root is owned by root and may hold lost+found, and
	// PostgreSQL insists on an empty directory it owns with mode 0700.
	DataMountPath = "/var/lib/postgresql/data"
	PGDATA        = DataMountPath + "/pgdata"
	socketDir     = "/var/run/postgresql"

	postgresContainer = "postgres"
	passwordContainer = "apply-password"
	dataVolume        = "data"
	socketVolume      = "run"
	tmpVolume         = "tmp"

	// postgresUID is the postgres user of the official (Debian-based) image;
	// with other images the entrypoint fakes a passwd entry for it (nss_wrapper).
	postgresUID int64 = 999
)

// SecretName is the name of a SimpleDB's credentials Secret.
func SecretName(db *v1alpha1.SimpleDB) string { return db.Name + "-credentials" }

// ClaimName is the name of a SimpleDB's data claim. It carries the SimpleDB's
// name so that a re-created SimpleDB finds its data again.
func ClaimName(db *v1alpha1.SimpleDB) string { return db.Name + "-data" }

// ServiceName is the name of the Service (and the Deployment).
func ServiceName(db *v1alpha1.SimpleDB) string { return db.Name }

// DatabaseName is the application database: spec.databaseName, or the
// SimpleDB's name made a valid identifier ('-' becomes '_').
func DatabaseName(db *v1alpha1.SimpleDB) string {
	if db.Spec.DatabaseName != "" {
		return db.Spec.DatabaseName
	}
	return strings.ReplaceAll(db.Name, "-", "_")
}

// Host is the Service's DNS name inside the member, without the cluster
// domain, so it resolves whatever the domain is.
func Host(db *v1alpha1.SimpleDB) string {
	return ServiceName(db) + "." + db.Namespace + ".svc"
}

// Endpoint is host:port of the database inside the member.
func Endpoint(db *v1alpha1.SimpleDB) string {
	return net.JoinHostPort(Host(db), strconv.Itoa(Port))
}

// Image is the PostgreSQL image of a SimpleDB: repository:major.
func Image(repository string, db *v1alpha1.SimpleDB) string {
	if repository == "" {
		repository = DefaultImageRepository
	}
	return repository + ":" + postgresVersion(db)
}

func postgresVersion(db *v1alpha1.SimpleDB) string {
	if db.Spec.PostgresVersion == "" {
		return v1alpha1.DefaultPostgresVersion
	}
	return db.Spec.PostgresVersion
}

// StorageSize is the requested size of the data volume (1Gi when unset).
func StorageSize(db *v1alpha1.SimpleDB) resource.Quantity {
	if db.Spec.StorageSize == nil || db.Spec.StorageSize.IsZero() {
		return resource.MustParse("1Gi")
	}
	return *db.Spec.StorageSize
}

// DeletionPolicy is the effective deletion policy (Retain when unset).
func DeletionPolicy(db *v1alpha1.SimpleDB) v1alpha1.SimpleDBDeletionPolicy {
	if db.Spec.DeletionPolicy == "" {
		return v1alpha1.SimpleDBRetain
	}
	return db.Spec.DeletionPolicy
}

func selectorLabels(db *v1alpha1.SimpleDB) map[string]string {
	return childmeta.SelectorLabels(componentName, db.Name)
}

func childLabels(db *v1alpha1.SimpleDB) map[string]string {
	return childmeta.Labels(componentName, db.Name)
}

func ownerRef(db *v1alpha1.SimpleDB) *metav1ac.OwnerReferenceApplyConfiguration {
	return childmeta.ControllerRef(db, "SimpleDB")
}

// dataAnnotations record who owns the credentials Secret and the data claim.
// Under Retain this is their only ownership record: an owner reference would
// let the member's garbage collector delete them with the SimpleDB.
func dataAnnotations(db *v1alpha1.SimpleDB) map[string]string {
	return map[string]string{
		v1alpha1.AnnotationOwnerUID:  string(db.UID),
		v1alpha1.AnnotationOwnerKind: kindName,
	}
}

// dataOwnerRefs are the owner references of the Secret and the claim: the
// controller reference with deletionPolicy Delete, none with Retain.
func dataOwnerRefs(db *v1alpha1.SimpleDB) []metav1.OwnerReference {
	if DeletionPolicy(db) != v1alpha1.SimpleDBDelete {
		return nil
	}
	return []metav1.OwnerReference{ownerReference(db)}
}

func dataOwnerRefsAC(db *v1alpha1.SimpleDB) []*metav1ac.OwnerReferenceApplyConfiguration {
	if DeletionPolicy(db) != v1alpha1.SimpleDBDelete {
		return nil
	}
	return []*metav1ac.OwnerReferenceApplyConfiguration{ownerRef(db)}
}

func ownerReference(db *v1alpha1.SimpleDB) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{
		APIVersion:         v1alpha1.GroupVersion.String(),
		Kind:               "SimpleDB",
		Name:               db.Name,
		UID:                db.UID,
		Controller:         &t,
		BlockOwnerDeletion: &t,
	}
}

// URI is the connection URI for the given password, escaped as URIs need.
func URI(db *v1alpha1.SimpleDB, username, password string) string {
	u := url.URL{
		Scheme: "postgresql",
		User:   url.UserPassword(username, password),
		Host:   Endpoint(db),
		Path:   "/" + DatabaseName(db),
	}
	return u.String()
}

// bindingData is every key of the credentials Secret except the password,
// plus the URI derived from the password.
func bindingData(db *v1alpha1.SimpleDB, password string) map[string][]byte {
	return map[string][]byte{
		KeyUsername: []byte(Username),
		KeyDatabase: []byte(DatabaseName(db)),
		KeyHost:     []byte(Host(db)),
		KeyPort:     []byte(strconv.Itoa(Port)),
		KeyType:     []byte(bindingType),
		KeyProvider: []byte(bindingProvider),
		KeyURI:      []byte(URI(db, Username, password)),
	}
}

// NewCredentialsSecret is the credentials Secret to create when none exists,
// holding a freshly generated password. It is created once, with a plain
// Create that fails if the Secret exists, so a password is never replaced.
func NewCredentialsSecret(db *v1alpha1.SimpleDB, password string) *corev1.Secret {
	data := bindingData(db, password)
	data[KeyPassword] = []byte(password)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:            SecretName(db),
			Namespace:       db.Namespace,
			Labels:          childLabels(db),
			Annotations:     dataAnnotations(db),
			OwnerReferences: dataOwnerRefs(db),
		},
		Type: SecretType,
		Data: data,
	}
}

// CredentialsSecret is what fleethub keeps applied on an existing credentials
// Secret: labels, ownership (annotations; the owner reference only with
// deletionPolicy Delete), and the keys derived from the spec and the Secret's
// current password. The password itself is never part of it, so a password
// rotated by hand stays and the URI follows it.
func CredentialsSecret(db *v1alpha1.SimpleDB, currentPassword string) *corev1ac.SecretApplyConfiguration {
	return corev1ac.Secret(SecretName(db), db.Namespace).
		WithLabels(childLabels(db)).
		WithAnnotations(dataAnnotations(db)).
		WithOwnerReferences(dataOwnerRefsAC(db)...).
		WithData(bindingData(db, currentPassword))
}

// PersistentVolumeClaim is the desired data claim with the given request.
// The caller decides the size: the spec's, or the claim's current one when
// the claim cannot grow (yet).
func PersistentVolumeClaim(db *v1alpha1.SimpleDB, size resource.Quantity) *corev1ac.PersistentVolumeClaimApplyConfiguration {
	spec := corev1ac.PersistentVolumeClaimSpec().
		WithAccessModes(corev1.ReadWriteOnce).
		WithResources(corev1ac.VolumeResourceRequirements().
			WithRequests(corev1.ResourceList{corev1.ResourceStorage: size}))
	if db.Spec.StorageClassName != nil {
		spec.WithStorageClassName(*db.Spec.StorageClassName)
	}
	annotations := dataAnnotations(db)
	annotations[v1alpha1.AnnotationPostgresMajor] = postgresVersion(db)
	return corev1ac.PersistentVolumeClaim(ClaimName(db), db.Namespace).
		WithLabels(childLabels(db)).
		WithAnnotations(annotations).
		WithOwnerReferences(dataOwnerRefsAC(db)...).
		WithSpec(spec)
}

// Service is the desired ClusterIP Service on the PostgreSQL port.
func Service(db *v1alpha1.SimpleDB) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(ServiceName(db), db.Namespace).
		WithLabels(childLabels(db)).
		WithOwnerReferences(ownerRef(db)).
		WithSpec(corev1ac.ServiceSpec().
			WithSelector(selectorLabels(db)).
			WithPorts(corev1ac.ServicePort().
				WithName(portName).
				WithPort(Port).
				WithTargetPort(intstr.FromString(portName)).
				WithProtocol(corev1.ProtocolTCP)))
}

// applyPasswordScript runs before PostgreSQL on every start. The image sets
// POSTGRES_PASSWORD only when it initialises an empty data directory, so on an
// existing one this sets the role's password to the Secret's current value:
// a rotated or re-created Secret keeps working. PostgreSQL is started on its
// unix socket only (no TCP), the password is passed as a psql variable (so
// any character is quoted correctly and it never appears on a command line),
// and the server is stopped again whatever happens.
const applyPasswordScript = `set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "fleethub: empty data directory; the image initialises it with the password from the Secret"
  exit 0
fi
chmod 0700 "$PGDATA"
sock="${PGHOST:-/var/run/postgresql}"
pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories='$sock'" -w -t 600 start
trap 'pg_ctl -D "$PGDATA" -m fast -w stop' EXIT
psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --quiet -h "$sock" -U "$POSTGRES_USER" -d postgres \
  --set=dbrole="$POSTGRES_USER" --set=password="$POSTGRES_PASSWORD" <<'SQL'
SET log_statement = 'none';
SET log_min_duration_statement = -1;
ALTER ROLE :"dbrole" WITH PASSWORD :'password';
SQL
echo "fleethub: applied the password of the credentials Secret to role $POSTGRES_USER"
`

// readyCommand asks the server over TCP, which it only opens once any
// initialisation is over.
var readyCommand = []string{"sh", "-c", `exec pg_isready --host=127.0.0.1 --port=` + strconv.Itoa(Port) + ` --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" --timeout=3`}

// DeploymentOptions are the inputs of Deployment besides the SimpleDB.
type DeploymentOptions struct {
	// ImageRepository of PostgreSQL, tagged with the major version.
	ImageRepository string
	// CredentialsChecksum is the digest of the credentials the pod must use.
	CredentialsChecksum string
}

// Deployment is the desired single-replica PostgreSQL Deployment.
func Deployment(db *v1alpha1.SimpleDB, opts DeploymentOptions) *appsv1ac.DeploymentApplyConfiguration {
	image := Image(opts.ImageRepository, db)
	secretEnv := func(name, key string) *corev1ac.EnvVarApplyConfiguration {
		return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
			WithSecretKeyRef(corev1ac.SecretKeySelector().WithName(SecretName(db)).WithKey(key)))
	}
	env := func() []*corev1ac.EnvVarApplyConfiguration {
		return []*corev1ac.EnvVarApplyConfiguration{
			corev1ac.EnvVar().WithName("PGDATA").WithValue(PGDATA),
			secretEnv("POSTGRES_USER", KeyUsername),
			secretEnv("POSTGRES_PASSWORD", KeyPassword),
			secretEnv("POSTGRES_DB", KeyDatabase),
		}
	}
	mounts := func() []*corev1ac.VolumeMountApplyConfiguration {
		return []*corev1ac.VolumeMountApplyConfiguration{
			corev1ac.VolumeMount().WithName(dataVolume).WithMountPath(DataMountPath),
			corev1ac.VolumeMount().WithName(socketVolume).WithMountPath(socketDir),
			corev1ac.VolumeMount().WithName(tmpVolume).WithMountPath("/tmp"),
		}
	}
	securityContext := func() *corev1ac.SecurityContextApplyConfiguration {
		return corev1ac.SecurityContext().
			WithRunAsNonRoot(true).
			WithRunAsUser(postgresUID).
			WithRunAsGroup(postgresUID).
			WithAllowPrivilegeEscalation(false).
			WithReadOnlyRootFilesystem(true).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL"))
	}
	resources := resourceRequirements(db.Spec.Resources)

	initC := corev1ac.Container().
		WithName(passwordContainer).
		WithImage(image).
		WithCommand("sh", "-c", applyPasswordScript).
		WithEnv(env()...).
		WithVolumeMounts(mounts()...).
		WithSecurityContext(securityContext())
	main := corev1ac.Container().
		WithName(postgresContainer).
		WithImage(image).
		WithPorts(corev1ac.ContainerPort().WithName(portName).WithContainerPort(Port).WithProtocol(corev1.ProtocolTCP)).
		WithEnv(env()...).
		WithVolumeMounts(mounts()...).
		WithSecurityContext(securityContext()).
		WithStartupProbe(probe(readyCommand, 5, 120)).
		WithReadinessProbe(probe(readyCommand, 5, 3)).
		WithLivenessProbe(probe(readyCommand, 10, 6)).
		// Kubernetes sends SIGTERM, which PostgreSQL treats as "wait for every
		// client to leave"; a fast shutdown first avoids being killed mid-write.
		WithLifecycle(corev1ac.Lifecycle().WithPreStop(corev1ac.LifecycleHandler().
			WithExec(corev1ac.ExecAction().WithCommand("sh", "-c", `pg_ctl -D "$PGDATA" -m fast -w -t 50 stop || true`))))
	if resources != nil {
		initC.WithResources(resources)
		main.WithResources(resourceRequirements(db.Spec.Resources))
	}

	pod := corev1ac.PodSpec().
		WithAutomountServiceAccountToken(false).
		WithEnableServiceLinks(false).
		WithTerminationGracePeriodSeconds(60).
		WithSecurityContext(corev1ac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithRunAsUser(postgresUID).
			WithRunAsGroup(postgresUID).
			WithFSGroup(postgresUID).
			// Only fix ownership when the volume root is wrong (first mount):
			// a recursive change on every start would be slow on big volumes
			// and loosen the permissions PostgreSQL requires on PGDATA.
			WithFSGroupChangePolicy(corev1.FSGroupChangeOnRootMismatch).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithInitContainers(initC).
		WithContainers(main).
		WithVolumes(
			corev1ac.Volume().WithName(dataVolume).
				WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName(ClaimName(db))),
			corev1ac.Volume().WithName(socketVolume).WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
			corev1ac.Volume().WithName(tmpVolume).WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
		)

	template := corev1ac.PodTemplateSpec().
		WithLabels(childLabels(db)).
		WithSpec(pod)
	if opts.CredentialsChecksum != "" {
		template.WithAnnotations(map[string]string{ChecksumAnnotation: opts.CredentialsChecksum})
	}

	return appsv1ac.Deployment(ServiceName(db), db.Namespace).
		WithLabels(childLabels(db)).
		WithOwnerReferences(ownerRef(db)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(1).
			// The ReadWriteOnce volume and the data directory's lock admit one
			// server at a time: the old pod must be gone before the new starts.
			WithStrategy(appsv1ac.DeploymentStrategy().WithType(appsv1.RecreateDeploymentStrategyType)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(selectorLabels(db))).
			WithTemplate(template))
}

func probe(command []string, period, failures int32) *corev1ac.ProbeApplyConfiguration {
	return corev1ac.Probe().
		WithExec(corev1ac.ExecAction().WithCommand(command...)).
		WithPeriodSeconds(period).
		WithTimeoutSeconds(5).
		WithFailureThreshold(failures)
}

func resourceRequirements(r *corev1.ResourceRequirements) *corev1ac.ResourceRequirementsApplyConfiguration {
	if r == nil || (len(r.Limits) == 0 && len(r.Requests) == 0) {
		return nil
	}
	res := corev1ac.ResourceRequirements()
	if len(r.Limits) > 0 {
		res.WithLimits(r.Limits)
	}
	if len(r.Requests) > 0 {
		res.WithRequests(r.Requests)
	}
	return res
}
