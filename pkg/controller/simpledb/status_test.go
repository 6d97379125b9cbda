package simpledb

import (
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

func deployment(gen, observed int64, replicas, updated, available int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Generation: gen},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated,
			AvailableReplicas: available, Conditions: conds,
		},
	}
}

func claim(phase corev1.PersistentVolumeClaimPhase, request, capacity string) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "order-db-data"},
		Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(request)},
		}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: phase},
	}
	if capacity != "" {
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(capacity)}
	}
	return pvc
}

var (
	secret         = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "order-db-credentials"}}
	secretConflict = &reconciler.ConflictError{Kind: "Secret", Name: "order-db-credentials", Holder: "an object fleethub does not manage"}
	claimConflict  = &reconciler.ConflictError{Kind: "PersistentVolumeClaim", Name: "order-db-data", Holder: "WebApp order-db (its controller)"}
)

// healthy is what a converged SimpleDB observes; cases change one thing.
func healthy(mut ...func(*statusInput)) statusInput {
	o := statusInput{
		Secret:        secret,
		Claim:         claim(corev1.ClaimBound, "1Gi", "1Gi"),
		Deployment:    deployment(3, 3, 1, 1, 1),
		ServiceExists: true,
	}
	for _, f := range mut {
		f(&o)
	}
	return o
}

func TestComputeStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	type want struct {
		ready, available, storage, credentials, degraded string // "Status/Reason"
		message                                          string // part of the Ready message
	}
	tests := []struct {
		name string
		obs  statusInput
		want want
	}{
		{"converged", healthy(), want{
			ready: "True/Available", available: "True/Available", storage: "True/ClaimBound", credentials: "True/SecretReady", degraded: "False/AsExpected",
			message: "PostgreSQL 18 is available at order-db.team-a.svc:5432"}},
		{"nothing created yet", statusInput{}, want{
			ready: "False/SecretMissing", available: "False/DeploymentMissing", storage: "False/ClaimMissing", credentials: "False/SecretMissing", degraded: "False/AsExpected"}},
		{"secret refused by the apiserver", statusInput{ApplyErr: errors.New("secrets is forbidden")}, want{
			ready: "False/ApplyFailed", available: "False/DeploymentMissing", storage: "False/ClaimMissing", credentials: "False/SecretMissing", degraded: "True/ApplyFailed",
			message: "secrets is forbidden"}},
		{"foreign secret", statusInput{Credentials: &problem{v1alpha1.ReasonSecretConflict, "Secret order-db-credentials already exists"}, Conflict: secretConflict}, want{
			ready: "False/ChildConflict", available: "False/DeploymentMissing", storage: "False/ClaimMissing", credentials: "False/SecretConflict", degraded: "False/AsExpected",
			message: "Secret order-db-credentials already exists and is held by an object fleethub does not manage"}},
		{"claim pending with an event", healthy(func(o *statusInput) {
			o.Claim = claim(corev1.ClaimPending, "1Gi", "")
			o.ClaimEvent = &problem{"ProvisioningFailed", `storageclass "fast" not found`}
			o.Deployment = deployment(3, 3, 1, 1, 0)
		}), want{
			ready: "False/ProvisioningFailed", available: "False/ReplicasUnavailable", storage: "False/ProvisioningFailed", credentials: "True/SecretReady", degraded: "False/AsExpected",
			message: `PersistentVolumeClaim order-db-data is Pending: storageclass "fast" not found`}},
		{"claim pending without events", healthy(func(o *statusInput) {
			o.Claim = claim(corev1.ClaimPending, "1Gi", "")
			o.Deployment = deployment(3, 3, 1, 1, 0)
		}), want{
			ready: "False/ClaimPending", available: "False/ReplicasUnavailable", storage: "False/ClaimPending", credentials: "True/SecretReady", degraded: "False/AsExpected"}},
		{"claim controlled by someone else", healthy(func(o *statusInput) {
			o.Storage = &problem{v1alpha1.ReasonClaimConflict, "PersistentVolumeClaim order-db-data is held by WebApp order-db"}
			o.Conflict = claimConflict
			o.Deployment, o.ServiceExists = nil, false
		}), want{
			ready: "False/ChildConflict", available: "False/DeploymentMissing", storage: "False/ClaimConflict", credentials: "True/SecretReady", degraded: "False/AsExpected",
			message: "held by WebApp order-db (its controller)"}},
		{"retained claim of another major", healthy(func(o *statusInput) {
			o.Storage = &problem{v1alpha1.ReasonAdoptionRefused, "PersistentVolumeClaim order-db-data holds the data of PostgreSQL 16"}
			o.Deployment, o.ServiceExists = nil, false
		}), want{
			ready: "False/AdoptionRefused", available: "False/DeploymentMissing", storage: "False/AdoptionRefused", credentials: "True/SecretReady", degraded: "False/AsExpected",
			message: "PostgreSQL 16"}},
		{"claim lost", healthy(func(o *statusInput) {
			o.Claim = claim(corev1.ClaimLost, "1Gi", "")
			o.Deployment = deployment(3, 3, 1, 1, 0)
		}), want{
			ready: "False/ClaimLost", available: "False/ReplicasUnavailable", storage: "False/ClaimLost", credentials: "True/SecretReady", degraded: "False/AsExpected"}},
		{"expansion not supported does not take the database down", healthy(func(o *statusInput) {
			o.Storage = &problem{v1alpha1.ReasonExpansionNotSupported, "cannot grow"}
		}), want{
			ready: "True/Available", available: "True/Available", storage: "False/ExpansionNotSupported", credentials: "True/SecretReady", degraded: "False/AsExpected"}},
		{"volume growing", healthy(func(o *statusInput) { o.Claim = claim(corev1.ClaimBound, "5Gi", "1Gi") }), want{
			ready: "True/Available", available: "True/Available", storage: "False/Resizing", credentials: "True/SecretReady", degraded: "False/AsExpected"}},
		{"deployment controller behind", healthy(func(o *statusInput) { o.Deployment = deployment(4, 3, 1, 1, 1) }), want{
			ready: "False/Progressing", available: "False/Progressing", storage: "True/ClaimBound", credentials: "True/SecretReady", degraded: "False/AsExpected"}},
		{"old pod still there (Recreate in progress)", healthy(func(o *statusInput) { o.Deployment = deployment(3, 3, 1, 0, 0) }), want{
			ready: "False/Progressing", available: "False/Progressing", storage: "True/ClaimBound", credentials: "True/SecretReady", degraded: "False/AsExpected"}},
		{"pod not ready", healthy(func(o *statusInput) { o.Deployment = deployment(3, 3, 1, 1, 0) }), want{
			ready: "False/ReplicasUnavailable", available: "False/ReplicasUnavailable", storage: "True/ClaimBound", credentials: "True/SecretReady", degraded: "False/AsExpected"}},
		{"rollout stalled", healthy(func(o *statusInput) {
			o.Deployment = deployment(3, 3, 1, 1, 0, appsv1.DeploymentCondition{
				Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "image pull back-off"})
		}), want{
			ready: "False/RolloutStalled", available: "False/RolloutStalled", storage: "True/ClaimBound", credentials: "True/SecretReady", degraded: "False/AsExpected",
			message: "image pull back-off"}},
		{"service missing", healthy(func(o *statusInput) { o.ServiceExists = false }), want{
			ready: "False/ServiceMissing", available: "True/Available", storage: "True/ClaimBound", credentials: "True/SecretReady", degraded: "False/AsExpected"}},
		{"deployment rejected", healthy(func(o *statusInput) { o.ApplyErr = errors.New(`Deployment "order-db" is invalid`) }), want{
			ready: "False/ApplyFailed", available: "True/Available", storage: "True/ClaimBound", credentials: "True/SecretReady", degraded: "True/ApplyFailed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := sample(func(d *v1alpha1.SimpleDB) { d.Generation = 7 })
			st := computeStatus(db, tc.obs, now)
			for typ, w := range map[string]string{
				v1alpha1.ConditionReady: tc.want.ready, v1alpha1.ConditionAvailable: tc.want.available,
				v1alpha1.ConditionStorageReady: tc.want.storage, v1alpha1.ConditionCredentialsReady: tc.want.credentials,
				v1alpha1.ConditionDegraded: tc.want.degraded,
			} {
				c := meta.FindStatusCondition(st.Conditions, typ)
				if c == nil {
					t.Fatalf("condition %s missing", typ)
				}
				if got := string(c.Status) + "/" + c.Reason; got != w {
					t.Errorf("%s = %s (%s), want %s", typ, got, c.Message, w)
				}
				if c.ObservedGeneration != 7 || c.Message == "" {
					t.Errorf("%s: observedGeneration %d, message %q", typ, c.ObservedGeneration, c.Message)
				}
			}
			ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
			if !strings.Contains(ready.Message, tc.want.message) {
				t.Errorf("Ready message %q lacks %q", ready.Message, tc.want.message)
			}
			if st.Ready != (ready.Status == metav1.ConditionTrue) || st.ObservedGeneration != 7 || st.Database != "order_db" {
				t.Errorf("status = %+v", st)
			}
			if st.Endpoint != "" != tc.obs.ServiceExists || (st.ServiceName == "order-db") != tc.obs.ServiceExists {
				t.Errorf("endpoint %q / service %q with ServiceExists=%v", st.Endpoint, st.ServiceName, tc.obs.ServiceExists)
			}
			if (st.SecretName != "") != (tc.obs.Secret != nil && tc.obs.Credentials == nil) {
				t.Errorf("secretName = %q", st.SecretName)
			}
		})
	}
}

// Recomputing from the same observations must give an identical status, so
// that a steady state writes nothing.
func TestComputeStatusIsStable(t *testing.T) {
	t1 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t2 := metav1.NewTime(t1.Add(time.Hour))
	for name, obs := range map[string]statusInput{
		"converged": healthy(),
		"degraded":  healthy(func(o *statusInput) { o.ApplyErr = errors.New("boom") }),
		"pending":   healthy(func(o *statusInput) { o.Claim = claim(corev1.ClaimPending, "1Gi", "") }),
	} {
		t.Run(name, func(t *testing.T) {
			db := sample()
			db.Status = computeStatus(db, obs, t1)
			again := computeStatus(db, obs, t2)
			if !equality.Semantic.DeepEqual(db.Status, again) {
				t.Errorf("status changed without a change in the world:\n%+v\n%+v", db.Status, again)
			}
			if st := computeStatus(db, healthy(func(o *statusInput) { o.ServiceExists = false }), t2); equality.Semantic.DeepEqual(db.Status, st) {
				t.Errorf("a real change left the status unchanged")
			}
		})
	}
}

func TestCapacityReported(t *testing.T) {
	st := computeStatus(sample(), healthy(func(o *statusInput) { o.Claim = claim(corev1.ClaimBound, "5Gi", "5Gi") }), metav1.Now())
	if st.Capacity == nil || st.Capacity.String() != "5Gi" {
		t.Errorf("capacity = %v", st.Capacity)
	}
	if st := computeStatus(sample(), statusInput{}, metav1.Now()); st.Capacity != nil {
		t.Errorf("capacity without a claim = %v", st.Capacity)
	}
}

func TestNewestEvent(t *testing.T) {
	at := func(sec int) metav1.Time { return metav1.NewTime(time.Date(2026, 1, 1, 0, 0, sec, 0, time.UTC)) }
	ev := func(typ, reason, msg string, sec int) corev1.Event {
		return corev1.Event{Type: typ, Reason: reason, Message: msg, LastTimestamp: at(sec)}
	}
	tests := map[string]struct {
		events []corev1.Event
		want   *problem
	}{
		"none": {nil, nil},
		"newest wins": {[]corev1.Event{ev("Warning", "ProvisioningFailed", "old", 1), ev("Warning", "ProvisioningFailed", "new", 5)},
			&problem{"ProvisioningFailed", "new"}},
		"warnings before normal events": {[]corev1.Event{ev("Warning", "ProvisioningFailed", "no class", 1), ev("Normal", "WaitForFirstConsumer", "waiting", 9)},
			&problem{"ProvisioningFailed", "no class"}},
		"normal event when that is all": {[]corev1.Event{ev("Normal", "WaitForFirstConsumer", "waiting for first consumer", 9)},
			&problem{"WaitForFirstConsumer", "waiting for first consumer"}},
		"reason unusable as a condition reason": {[]corev1.Event{ev("Warning", "bad reason!", "x", 1)},
			&problem{v1alpha1.ReasonClaimPending, "x"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := newestEvent(tc.events)
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
