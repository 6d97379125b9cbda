package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// GetConditions returns the WebApp's status conditions.
func (w *WebApp) GetConditions() []metav1.Condition { return w.Status.Conditions }

// SetConditions replaces the WebApp's status conditions.
func (w *WebApp) SetConditions(c []metav1.Condition) { w.Status.Conditions = c }

// GetConditions returns the SimpleDB's status conditions.
func (s *SimpleDB) GetConditions() []metav1.Condition { return s.Status.Conditions }

// SetConditions replaces the SimpleDB's status conditions.
func (s *SimpleDB) SetConditions(c []metav1.Condition) { s.Status.Conditions = c }

// GetConditions returns the DomainManager's status conditions.
func (d *DomainManager) GetConditions() []metav1.Condition { return d.Status.Conditions }

// SetConditions replaces the DomainManager's status conditions.
func (d *DomainManager) SetConditions(c []metav1.Condition) { d.Status.Conditions = c }
