package framework

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// SamplesDir holds the sample CRs (deploy/samples).
func SamplesDir() string { return filepath.Join(ModuleRoot(), "deploy", "samples") }

// Sample is one object from deploy/samples and where it was applied.
type Sample struct {
	File   string
	Object *unstructured.Unstructured
}

// ApplySamples applies every sample in deploy/samples to a member, in
// namespace for samples that name none. Samples of kinds the member has no
// CRD for are skipped and reported. Sample images are replaced by the
// fleet's local ones where the backend runs real containers.
// Samples for which include returns false are skipped too (nil includes all).
func (f *Fleet) ApplySamples(ctx context.Context, member, namespace string, include func(*unstructured.Unstructured) bool) (applied []Sample, skipped []string, err error) {
	m := f.Member(member)
	if m == nil {
		return nil, nil, fmt.Errorf("no member %q", member)
	}
	files, _ := filepath.Glob(filepath.Join(SamplesDir(), "*.yaml"))
	sort.Strings(files)
	for _, file := range files {
		objs, err := ReadObjects(file)
		if err != nil {
			return applied, skipped, err
		}
		for _, o := range objs {
			if include != nil && !include(o) {
				skipped = append(skipped, fmt.Sprintf("%s (%s %s)", filepath.Base(file), o.GetKind(), o.GetName()))
				continue
			}
			f.localizeImages(o)
			if err := Apply(ctx, m.Client, o, namespace); err != nil {
				if meta.IsNoMatchError(err) {
					skipped = append(skipped, fmt.Sprintf("%s (%s: no CRD in %s)", filepath.Base(file), o.GetKind(), member))
					continue
				}
				return applied, skipped, fmt.Errorf("%s: %s %s: %w", filepath.Base(file), o.GetKind(), o.GetName(), err)
			}
			applied = append(applied, Sample{File: filepath.Base(file), Object: o})
		}
	}
	return applied, skipped, nil
}

// localizeImages points sample images at the fleet's local images: an nginx
// becomes Images.Web, and a SimpleDB asks for a PostgreSQL version that was
// built locally. On kwok the samples stay as they are.
func (f *Fleet) localizeImages(o *unstructured.Unstructured) {
	if o.GetKind() == "SimpleDB" && len(f.Images.PostgresTags) > 0 {
		v, _, _ := unstructured.NestedString(o.Object, "spec", "postgresVersion")
		if !slices.Contains(f.Images.PostgresTags, v) {
			_ = unstructured.SetNestedField(o.Object, f.Images.PostgresTags[0], "spec", "postgresVersion")
		}
	}
	for _, path := range [][]string{{"spec", "image"}, {"spec", "initContainer", "image"}} {
		img, ok, _ := unstructured.NestedString(o.Object, path...)
		if !ok {
			continue
		}
		repo, _, _ := strings.Cut(img, "@")
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		if repo == "nginx" || repo == "docker.io/library/nginx" {
			_ = unstructured.SetNestedField(o.Object, f.Images.Web, path...)
		}
	}
}
